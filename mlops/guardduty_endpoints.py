"""What GuardDuty Runtime Monitoring leaves in a platform stack's VPCs, which keeps `pulumi destroy` from deleting
their subnets and the VPCs.

With automated agent management (``EKS_ADDON_MANAGEMENT``) GuardDuty creates, in each VPC with a monitored
cluster, a ``guardduty-data`` interface endpoint and a security group for it, both tagged
``GuardDutyManaged: true`` and neither in the stack's state. Turning the automated agent management off does not
delete the endpoint (GuardDuty User Guide, "Disabling, uninstalling, and cleaning up resources in Runtime
Monitoring"); turning Runtime Monitoring off would, but that is account- and region-wide and would stop it for
every other workload there. Deleting the platform's detector feature resource does not turn anything off either
(pulumi-aws ``guardduty.DetectorFeature``: deleting it only removes it from the state).

So `mlops purge-guardduty-endpoints STACK` finds the stack's VPCs (those of its private subnets, tagged
``karpenter.sh/discovery: mlops-<env>-<region>``), lists the GuardDuty-managed endpoints and security groups
there and, with ``--delete``, deletes the endpoints, waits until they are gone (their network interfaces hold
the security group) and deletes the security groups. Run it once the clusters are destroyed: while a
monitored cluster is in the VPC, GuardDuty sets the endpoint up again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from components.cluster.naming import DISCOVERY_TAG, cluster_name
from components.config import PlatformConfig

Clients = Callable[[str, str], Any]
MANAGED_TAG = {"Name": "tag:GuardDutyManaged", "Values": ["true"]}
GONE = ("deleted",)


def data_service(region: str) -> str:
    """The endpoint service the GuardDuty agent sends runtime events to (``com.amazonaws.<region>.guardduty-data``)."""
    return f"com.amazonaws.{region}.guardduty-data"


@dataclass(frozen=True)
class Leftovers:
    """One VPC's GuardDuty-managed endpoints and security groups."""

    region: str
    vpc_id: str
    endpoint_ids: list[str]
    security_group_ids: list[str]


def stack_vpcs(clients: Clients, cfg: PlatformConfig, region: str) -> list[str]:
    """The VPCs of the stack's private subnets in ``region`` (found by their Karpenter discovery tag)."""
    subnets = clients("ec2", region).describe_subnets(
        Filters=[{"Name": f"tag:{DISCOVERY_TAG}", "Values": [cluster_name(cfg.environment, region)]}]
    )["Subnets"]
    return sorted({subnet["VpcId"] for subnet in subnets})


def endpoints(ec2: Any, region: str, vpc_id: str) -> list[dict[str, Any]]:
    """The GuardDuty-managed ``guardduty-data`` endpoints of a VPC that are not deleted yet."""
    found = ec2.describe_vpc_endpoints(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "service-name", "Values": [data_service(region)]},
            MANAGED_TAG,
        ]
    )["VpcEndpoints"]
    return [e for e in found if e.get("State", "").lower() not in GONE]


def leftovers(clients: Clients, cfg: PlatformConfig) -> list[Leftovers]:
    """Every region's VPCs with what GuardDuty created in them."""
    found = []
    for region in (r.name for r in cfg.regions):
        ec2 = clients("ec2", region)
        for vpc_id in stack_vpcs(clients, cfg, region):
            groups = ec2.describe_security_groups(
                Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, MANAGED_TAG]
            )["SecurityGroups"]
            found.append(
                Leftovers(
                    region,
                    vpc_id,
                    sorted(e["VpcEndpointId"] for e in endpoints(ec2, region, vpc_id)),
                    sorted(g["GroupId"] for g in groups),
                )
            )
    return found


def wait_until_gone(
    ec2: Any, region: str, vpc_id: str, *, timeout: float, sleep: Callable[[float], None]
) -> None:
    """Poll until the VPC has no GuardDuty endpoint left: the security group is in use until its network
    interfaces are released."""
    waited = 0.0
    while endpoints(ec2, region, vpc_id):
        if waited >= timeout:
            raise TimeoutError(
                f"{region} {vpc_id}: GuardDuty's endpoints still exist after {timeout:g}s; run the purge again"
            )
        sleep(5.0)
        waited += 5.0


def purge(
    clients: Clients,
    cfg: PlatformConfig,
    delete: bool,
    *,
    timeout: float = 600.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """One line per endpoint and security group found: deleted (with ``delete``) or that would be deleted."""
    lines = []
    verb = "deleted" if delete else "would delete"
    for place in leftovers(clients, cfg):
        ec2 = clients("ec2", place.region)
        if delete and place.endpoint_ids:
            ec2.delete_vpc_endpoints(VpcEndpointIds=place.endpoint_ids)
            wait_until_gone(ec2, place.region, place.vpc_id, timeout=timeout, sleep=sleep)
        lines += [f"{verb} {place.region} {place.vpc_id} endpoint {e}" for e in place.endpoint_ids]
        for group in place.security_group_ids:
            if delete:
                ec2.delete_security_group(GroupId=group)
            lines.append(f"{verb} {place.region} {place.vpc_id} security group {group}")
    return lines
