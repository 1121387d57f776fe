"""CIDR planning for the three subnet tiers of a VPC (pure: used by config validation and the network)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

MIN_SUBNET_PREFIX = 28  # the smallest subnet AWS allows


class SubnetPlanError(ValueError):
    pass


def plan_subnets(vpc_cidr: str, zones: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """Carve the VPC into (zone, cidr) per tier.

    Private subnets (nodes and pods: the VPC CNI gives every pod a VPC address) get an eighth of the VPC each,
    for up to six zones; the last quarter is split in eight per tier for the public and isolated subnets.
    """
    vpc = ipaddress.IPv4Network(vpc_cidr)
    if not 1 <= len(zones) <= 6:
        raise SubnetPlanError(f"{len(zones)} availability zones; allowed: 1 to 6")
    small_prefix = vpc.prefixlen + 6
    if small_prefix > MIN_SUBNET_PREFIX:
        raise SubnetPlanError(
            f"{vpc_cidr} is too small for 3 tiers of subnets in {len(zones)} zones; "
            f"allowed: /{MIN_SUBNET_PREFIX - 6} or larger"
        )
    eighths = list(vpc.subnets(new_prefix=vpc.prefixlen + 3))
    public_block = list(eighths[6].subnets(new_prefix=small_prefix))
    isolated_block = list(eighths[7].subnets(new_prefix=small_prefix))
    return {
        "public": [(zone, str(public_block[index])) for index, zone in enumerate(zones)],
        "private": [(zone, str(eighths[index])) for index, zone in enumerate(zones)],
        "isolated": [(zone, str(isolated_block[index])) for index, zone in enumerate(zones)],
    }
