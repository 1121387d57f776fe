"""CIDR planning for the four subnet tiers of a VPC (pure: used by config validation and the network)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

MIN_SUBNET_PREFIX = 28  # the smallest subnet AWS allows
# A load balancer's subnet needs at least a /27 and 8 free addresses, so that the load balancer can scale
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#subnets-load-balancer).
MIN_LB_SUBNET_PREFIX = 27


class SubnetPlanError(ValueError):
    pass


def plan_subnets(vpc_cidr: str, zones: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """Carve the VPC into (zone, cidr) per tier.

    Private subnets (nodes and pods: the VPC CNI gives every pod a VPC address) get an eighth of the VPC each,
    for up to six zones; the last quarter is split in eight per tier for the public and isolated subnets, of
    which six are used. The internal load balancers' subnets (lb) take the unused rest, so that their addresses
    are never a pod's: the last quarter of each of those two eighths, split in four (a 128th of the VPC per
    zone, a /23 of a /16), the public eighth's for the first four zones, the isolated eighth's for the next two.
    No tier moves another's subnets: a changed CIDR would replace a subnet.
    """
    vpc = ipaddress.IPv4Network(vpc_cidr)
    if not 1 <= len(zones) <= 6:
        raise SubnetPlanError(f"{len(zones)} availability zones; allowed: 1 to 6")
    small_prefix, lb_prefix = vpc.prefixlen + 6, vpc.prefixlen + 7
    if lb_prefix > MIN_LB_SUBNET_PREFIX:
        raise SubnetPlanError(
            f"{vpc_cidr} is too small for 4 tiers of subnets in {len(zones)} zones (load balancers need a "
            f"/{MIN_LB_SUBNET_PREFIX} or larger per zone); allowed: /{MIN_LB_SUBNET_PREFIX - 7} or larger"
        )
    eighths = list(vpc.subnets(new_prefix=vpc.prefixlen + 3))
    public_block = list(eighths[6].subnets(new_prefix=small_prefix))
    isolated_block = list(eighths[7].subnets(new_prefix=small_prefix))
    lb_block = [
        piece
        for eighth in (eighths[6], eighths[7])
        for piece in list(eighth.subnets(new_prefix=vpc.prefixlen + 5))[3].subnets(new_prefix=lb_prefix)
    ]
    return {
        "public": [(zone, str(public_block[index])) for index, zone in enumerate(zones)],
        "private": [(zone, str(eighths[index])) for index, zone in enumerate(zones)],
        "isolated": [(zone, str(isolated_block[index])) for index, zone in enumerate(zones)],
        "lb": [(zone, str(lb_block[index])) for index, zone in enumerate(zones)],
    }
