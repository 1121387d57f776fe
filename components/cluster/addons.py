"""The cluster's EKS managed add-ons, each pinned: networking (VPC CNI with the network policy agent,
kube-proxy), the Pod Identity agent, CoreDNS and the EBS CSI driver with its Pod Identity role."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks import Association, PodIdentityRole, document, to_json
from components.cluster.args import ServingClusterArgs
from components.cluster.naming import EBS_CSI_SERVICE_ACCOUNT
from components.cluster.policies import cluster_pod_identity_trust, volume_key_statements

# The agent's default `standard` enforcing mode: `strict` (NETWORK_POLICY_ENFORCING_MODE) denies all traffic of
# every pod no NetworkPolicy selects, and the cluster's own controllers (CoreDNS, Karpenter, KEDA, the load
# balancer controller, the EBS CSI driver) run without policies.
VPC_CNI_CONFIGURATION = {"enableNetworkPolicy": "true"}


def addon(
    parent: pulumi.Resource,
    name: str,
    cluster: aws.eks.Cluster,
    addon_name: str,
    version: str,
    tags: dict[str, str],
    depends_on: list[pulumi.Resource] | None = None,
    **kwargs: Any,
) -> aws.eks.Addon:
    """A managed add-on at an exact version; EKS's copy wins over manual edits on create and update."""
    return aws.eks.Addon(
        name,
        aws.eks.AddonArgs(
            cluster_name=cluster.name,
            addon_name=addon_name,
            addon_version=version,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=tags,
            **kwargs,
        ),
        opts=child_opts(parent, depends_on=depends_on),
    )


@dataclass(frozen=True)
class NetworkAddons:
    """The add-ons nodes need before they join."""

    vpc_cni: aws.eks.Addon
    kube_proxy: aws.eks.Addon
    pod_identity_agent: aws.eks.Addon

    @property
    def all(self) -> list[pulumi.Resource]:
        return [self.vpc_cni, self.kube_proxy, self.pod_identity_agent]


def build_network_addons(
    parent: pulumi.Resource,
    name: str,
    args: ServingClusterArgs,
    cluster: aws.eks.Cluster,
    tags: dict[str, str],
) -> NetworkAddons:
    versions = args.cluster.addons
    assert versions is not None  # guaranteed by the eks cluster config
    # The network policy agent enforces NetworkPolicies; without it they are stored and ignored
    # (https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html).
    return NetworkAddons(
        vpc_cni=addon(
            parent,
            f"{name}-addon-vpc-cni",
            cluster,
            "vpc-cni",
            versions.vpc_cni,
            tags,
            configuration_values=json.dumps(VPC_CNI_CONFIGURATION, sort_keys=True),
        ),
        kube_proxy=addon(
            parent, f"{name}-addon-kube-proxy", cluster, "kube-proxy", versions.kube_proxy, tags
        ),
        pod_identity_agent=addon(
            parent,
            f"{name}-addon-pod-identity-agent",
            cluster,
            "eks-pod-identity-agent",
            versions.eks_pod_identity_agent,
            tags,
        ),
    )


@dataclass(frozen=True)
class WorkloadAddons:
    """The add-ons that run on the system nodes: CoreDNS and the EBS CSI driver with its identity."""

    coredns: aws.eks.Addon
    ebs_csi_role: PodIdentityRole
    ebs_csi: aws.eks.Addon


def build_workload_addons(
    parent: pulumi.Resource,
    name: str,
    args: ServingClusterArgs,
    cluster: aws.eks.Cluster,
    network: NetworkAddons,
    system_nodes: aws.eks.NodeGroup,
    tags: dict[str, str],
) -> WorkloadAddons:
    """CoreDNS and the EBS CSI controller need somewhere to run: they come after the system nodes."""
    versions = args.cluster.addons
    assert versions is not None  # guaranteed by the eks cluster config
    coredns = addon(
        parent, f"{name}-addon-coredns", cluster, "coredns", versions.coredns, tags, [system_nodes]
    )
    ctx = args.context
    role = PodIdentityRole(
        f"{name}-ebs-csi",
        ctx,
        parent=parent,
        trust=cluster_pod_identity_trust(ctx, args.name),
        description=f"EBS CSI controller of {args.name}",
        managed_policy_arns=("service-role/AmazonEBSCSIDriverPolicy",),
        policy=pulumi.Output.from_input(args.volumes_key_arn).apply(
            lambda arn: to_json(document(*volume_key_statements(arn, args.region)))
        ),
        policy_resource=f"{name}-ebs-csi-kms",
        policy_by="name",
        associations=[
            Association(
                cluster.name,
                "kube-system",
                EBS_CSI_SERVICE_ACCOUNT,
                pulumi.ResourceOptions(depends_on=[network.pod_identity_agent]),
            )
        ],
        tags=tags,
    )
    assert role.policy is not None
    identity = role.associations[0]
    ebs_csi = addon(
        parent,
        f"{name}-addon-ebs-csi",
        cluster,
        "aws-ebs-csi-driver",
        versions.aws_ebs_csi_driver,
        tags,
        [system_nodes, identity, role.policy],
    )
    return WorkloadAddons(coredns, role, ebs_csi)
