"""The network's config models: each region's zones and VPC CIDR, and where the deployer reaches the clusters from."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from components.configbase import REGION_RE, KeyedValueError, Model

_KeyedValueError = KeyedValueError  # the name check_deployer raises
_AZ_SUFFIX_RE = re.compile(r"^[a-z]$")


class RegionConfig(Model):
    """One AWS region of the platform: its availability zones and the VPC CIDR planned into them."""

    name: str
    availability_zones: Annotated[list[str], Field(alias="availability-zones", min_length=1, max_length=6)]
    vpc_cidr: Annotated[str, Field(alias="vpc-cidr")]

    @field_validator("name")
    @classmethod
    def _region_name(cls, value: str) -> str:
        if not REGION_RE.match(value):
            raise ValueError(
                f"{value!r} is not an AWS region name (allowed: names like us-east-1, eu-west-2)"
            )
        return value

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(
                f"{value!r} is not an IPv4 network in CIDR notation ({exc}); allowed: e.g. 10.10.0.0/16"
            ) from None
        if not 16 <= network.prefixlen <= 24:
            raise ValueError(f"{value!r} has prefix /{network.prefixlen}; allowed: /16 to /24")
        return str(network)

    @model_validator(mode="after")
    def _zones_in_region(self) -> RegionConfig:
        for index, zone in enumerate(self.availability_zones):
            suffix = zone[len(self.name) :] if zone.startswith(self.name) else None
            if suffix is None or not _AZ_SUFFIX_RE.match(suffix):
                raise KeyedValueError(
                    ("availability-zones", index),
                    f"{zone!r} is not an availability zone of {self.name} "
                    f"(allowed: {self.name} followed by one letter, e.g. {self.name}a)",
                )
        if len(set(self.availability_zones)) != len(self.availability_zones):
            raise KeyedValueError(("availability-zones",), "availability zones must be distinct")
        from components.cidr import SubnetPlanError, plan_subnets

        try:
            plan_subnets(self.vpc_cidr, self.availability_zones)
        except SubnetPlanError as exc:
            raise KeyedValueError(("vpc-cidr",), str(exc)) from None
        return self

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.vpc_cidr)


class DeployerConfig(Model):
    """Where `pulumi up` runs: the IAM role it uses and the networks it reaches the clusters' API from.

    A private EKS endpoint answers only inside the VPC: each network listed here (the CI runners' subnet, a VPN
    range routed to the VPC) may reach it on 443 through a rule on the cluster security group. The role is
    exempt from the artifact buckets' VPC-endpoint-only rule so that it can still manage them.
    """

    role_arn: Annotated[
        str,
        Field(
            alias="role-arn",
            pattern=r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[\w+=,.@/-]+$",
            max_length=2048,
        ),
    ]
    networks: Annotated[list[str], Field(min_length=1, max_length=20)]

    @field_validator("networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for index, cidr in enumerate(value):
            try:
                network = ipaddress.IPv4Network(cidr, strict=True)
            except ValueError:
                raise KeyedValueError(
                    (index,), f"{cidr!r} is not an IPv4 CIDR; allowed: e.g. 10.99.0.0/24"
                ) from None
            if network.prefixlen == 0:
                raise KeyedValueError(
                    (index,), f"{cidr} opens the API endpoint to every address; allowed: /1 or longer"
                )
        return value


def check_cluster_zones(cfg: Any) -> None:
    """An EKS cluster is created with subnets in at least two availability zones (EKS User Guide, "View Amazon EKS
    networking requirements for VPC and subnets", https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html),
    and an Application Load Balancer needs subnets in two zones as well."""
    if cfg.cluster is None or cfg.cluster.mode != "eks":
        return
    for index, region in enumerate(cfg.regions):
        if len(region.availability_zones) < 2:
            raise _KeyedValueError(
                ("regions", index, "availability-zones"),
                f"{len(region.availability_zones)} zone in {region.name}; an EKS cluster and its load balancers "
                "need subnets in two availability zones at least; allowed: 2 to 6 zones",
            )


def check_deployer(cfg: Any) -> None:
    """A private API endpoint needs the deployer's networks; the deployer role must administer the clusters."""
    eks = cfg.cluster is not None and cfg.cluster.mode == "eks"
    if cfg.deployer is None:
        if eks and not cfg.cluster.endpoint_public_access:
            raise _KeyedValueError(
                ("deployer",),
                "missing; a private API endpoint answers only inside the VPC: set deployer.role-arn and "
                "deployer.networks (the CIDRs `pulumi up` runs from, e.g. the CI runners' subnet)",
            )
        if cfg.internet_free and cfg.registry is not None:
            raise _KeyedValueError(
                ("deployer",),
                "missing; internet-free artifact buckets accept only the VPC endpoint and the deployer role "
                "named here (deployer.role-arn)",
            )
        return
    if eks and cfg.deployer.role_arn not in (cfg.cluster.admin_role_arns or []):
        raise _KeyedValueError(
            ("deployer", "role-arn"),
            f"{cfg.deployer.role_arn} is not in cluster.admin-role-arns; allowed: one of the cluster admins "
            "(the Kubernetes provider signs in as the deployer)",
        )
