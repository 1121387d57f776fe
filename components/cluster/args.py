"""The inputs of the cluster components (ServingCluster, ByoCluster), which the parts that build a cluster
(control plane, nodes, add-ons, charts, Karpenter) and component.py import.

The inputs are plain values (ids, ARNs, config), not the network or key objects, so the component can be
built and tested on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from components.blocks import PlatformContext
from components.cluster.config import ByoClusterConfig, EksClusterConfig
from components.cluster.naming import cluster_name


@dataclass(frozen=True)
class ServingClusterArgs:
    """Plain inputs of a serving cluster: ids and ARNs from the network and key ring, and the cluster config."""

    environment: str
    region: str
    partition: str
    account_id: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    cluster_secrets_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    volumes_key_arn: pulumi.Input[str]
    cluster: EksClusterConfig
    log_retention_days: int = 30
    tags: Mapping[str, str] = field(default_factory=dict)
    # What nodes need of the network before they can join (NAT routes or VPC endpoints): the node group waits
    # for these, the control plane does not.
    node_network: Sequence[pulumi.Resource] = ()
    # CIDRs `pulumi up` runs from: HTTPS to the API endpoint through the cluster security group.
    deployer_networks: Sequence[str] = ()
    # The account's ECR registry host in internet-free stacks: charts and images come through it.
    mirror: str | None = None
    # The account's Spot service-linked role when the stack creates it (spot_service_linked_role): spot pools
    # are applied after it, so Karpenter's first spot launch finds it.
    spot_service_linked_role: pulumi.Resource | None = None
    # The permissions boundary the cluster's roles carry (the platform context's), or None.
    permissions_boundary: pulumi.Input[str] | None = None
    # Private networks (components/trust): the nodes' user data (the system node group's is AL2023, the
    # EC2NodeClass's follows its AMI family) and the proxy variables of the charts that take them.
    system_user_data: pulumi.Input[str] | None = None
    node_class_user_data: pulumi.Input[str] | None = None
    proxy_env: Mapping[str, str] = field(default_factory=dict)
    # Where this cluster runs the platform's training side (components.training): GPU training pools need the
    # NVIDIA device plugin (it tolerates the training taint), capacity reservations Karpenter's ReservedCapacity
    # feature gate.
    training_gpus: bool = False
    reserved_capacity: bool = False

    def __post_init__(self) -> None:
        if self.cluster.mode != "eks":
            raise ValueError(
                f"ServingCluster needs cluster mode 'eks', got {self.cluster.mode!r} (use ByoCluster)"
            )
        if len(self.private_subnet_ids) < 2:
            raise ValueError("EKS needs private subnets in at least two availability zones")
        if self.environment == "prod" and self.cluster.endpoint_public_access:
            raise ValueError("a prod cluster's API endpoint must be private")

    @property
    def name(self) -> str:
        return cluster_name(self.environment, self.region)

    @property
    def context(self) -> PlatformContext:
        """The cluster's region of the platform context its roles, ARNs and documents are built in."""
        return PlatformContext(
            self.environment,
            self.partition,
            self.account_id,
            self.region,
            dict(self.tags),
            permissions_boundary=self.permissions_boundary,
        )


@dataclass(frozen=True)
class ByoClusterArgs:
    """An existing cluster reached through a kubeconfig (content or path) and an explicit context."""

    cluster: ByoClusterConfig

    def __post_init__(self) -> None:
        if self.cluster.mode != "byo":
            raise ValueError(
                f"ByoCluster needs cluster mode 'byo', got {self.cluster.mode!r} (use ServingCluster)"
            )
