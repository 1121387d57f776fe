"""The cluster's nodes: the small managed system node group (its role and IMDSv2-only launch template) and the
role and instance profile of the nodes Karpenter launches."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks import PlatformContext, ServiceRole
from components.cluster.args import ServingClusterArgs
from components.cluster.naming import NODE_ROLE_LABEL, SYSTEM_TAINT_KEY
from components.cluster.policies import node_trust, pull_through_import_policy

NODE_MANAGED_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonSSMManagedInstanceCore",
)


def node_role(
    parent: pulumi.Resource, name: str, args: ServingClusterArgs, description: str, tags: dict[str, str]
) -> ServiceRole:
    """An EC2 role for nodes with the managed worker policies; in internet-free stacks it may also import images
    through the pull-through cache (`<name>-pull-through`)."""
    ctx = args.context
    return ServiceRole(
        name,
        ctx,
        parent=parent,
        trust=node_trust(),
        description=description,
        managed_policy_arns=NODE_MANAGED_POLICIES,
        policy=pull_through_import_policy(ctx) if args.mirror is not None else None,
        role_resource=name,
        policy_resource=f"{name}-pull-through",
        policy_by="name",
        tags=tags,
    )


def karpenter_node_role_resource(name: str) -> str:
    """The resource name of the role of the nodes Karpenter launches, in the cluster component ``name``."""
    return f"{name}-node-role"


def karpenter_node_role_pattern(ctx: PlatformContext, name: str) -> str:
    """An ARN pattern matching only that role once created: Pulumi's default auto-naming names it after its
    resource name plus a random suffix (``<resource>-<7 hex>``), with IAM's default path ``/``. The permissions
    boundary names the role this way because the role itself carries the boundary: the policy cannot wait
    for the role's ARN."""
    return ctx.arn.role(f"{karpenter_node_role_resource(name)}-*")


def encode_user_data(text: str) -> str:
    """A launch template takes its user data base64-encoded (EC2 API, RequestLaunchTemplateData UserData)."""
    return base64.b64encode(text.encode()).decode()


def policies_of(role: ServiceRole) -> list[pulumi.Resource]:
    """What a node needs of its role before it joins: the attachments and the inline policy."""
    return [*role.attachments, *([role.policy] if role.policy is not None else [])]


@dataclass(frozen=True)
class SystemNodes:
    """The managed node group cluster-critical controllers run on (tainted CriticalAddonsOnly)."""

    role: ServiceRole
    launch_template: aws.ec2.LaunchTemplate
    node_group: aws.eks.NodeGroup


def build_system_nodes(
    parent: pulumi.Resource,
    name: str,
    args: ServingClusterArgs,
    cluster: aws.eks.Cluster,
    security_group_id: pulumi.Input[str],
    depends_on: Sequence[pulumi.Resource],
    tags: dict[str, str],
) -> SystemNodes:
    """The system node group through an IMDSv2-only launch template (encrypted gp3 root, no public IP); it
    waits for ``depends_on`` (the networking add-ons) and for the network nodes need to join."""
    cname = args.name
    system = args.cluster.system
    role = node_role(parent, f"{name}-system-node-role", args, f"system node group of {cname}", tags)
    launch_template = aws.ec2.LaunchTemplate(
        f"{name}-system-lt",
        aws.ec2.LaunchTemplateArgs(
            description=f"system nodes of {cname}: IMDSv2 only, encrypted gp3 root, no public IP",
            update_default_version=True,
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                # One hop: pods cannot reach the node's credentials; they use Pod Identity instead.
                http_put_response_hop_limit=1,
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=system.disk_size_gib,
                        volume_type="gp3",
                        encrypted="true",
                        kms_key_id=args.volumes_key_arn,
                        delete_on_termination="true",
                    ),
                )
            ],
            network_interfaces=[
                aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                    device_index=0,
                    associate_public_ip_address="false",
                    delete_on_termination="true",
                    security_groups=[security_group_id],
                )
            ],
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags)
                for kind in ("instance", "volume", "network-interface")
            ],
            tags=tags,
            user_data=pulumi.Output.from_input(args.system_user_data).apply(encode_user_data)
            if args.system_user_data is not None
            else None,
        ),
        opts=child_opts(parent),
    )
    node_group = aws.eks.NodeGroup(
        f"{name}-system-nodes",
        aws.eks.NodeGroupArgs(
            cluster_name=cluster.name,
            node_role_arn=role.role.arn,
            subnet_ids=list(args.private_subnet_ids),
            ami_type="AL2023_x86_64_STANDARD",
            capacity_type="ON_DEMAND",
            instance_types=list(system.instance_types),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=system.min_size, desired_size=system.desired_size, max_size=system.max_size
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=launch_template.id,
                version=launch_template.latest_version.apply(str),
            ),
            labels={NODE_ROLE_LABEL: "system"},
            taints=[aws.eks.NodeGroupTaintArgs(key=SYSTEM_TAINT_KEY, value="true", effect="NO_SCHEDULE")],
            tags=tags,
        ),
        opts=child_opts(
            parent,
            depends_on=[*depends_on, *policies_of(role), *args.node_network],
        ),
    )
    return SystemNodes(role, launch_template, node_group)


@dataclass(frozen=True)
class KarpenterNodes:
    """What the nodes Karpenter launches run as: the role, its instance profile and its EC2_LINUX access entry."""

    role: ServiceRole
    instance_profile: aws.iam.InstanceProfile
    access_entry: aws.eks.AccessEntry


def build_karpenter_nodes(
    parent: pulumi.Resource,
    name: str,
    args: ServingClusterArgs,
    cluster: aws.eks.Cluster,
    tags: dict[str, str],
) -> KarpenterNodes:
    cname = args.name
    role = node_role(
        parent, karpenter_node_role_resource(name), args, f"Karpenter-launched nodes of {cname}", tags
    )
    # The EC2NodeClass names this profile, so Karpenter needs no IAM access (see karpenter.node_class_spec).
    instance_profile = aws.iam.InstanceProfile(
        f"{name}-node-instance-profile",
        aws.iam.InstanceProfileArgs(name=f"{cname}-nodes", role=role.role.name, tags=tags),
        opts=child_opts(parent),
    )
    access_entry = aws.eks.AccessEntry(
        f"{name}-node-access",
        aws.eks.AccessEntryArgs(
            cluster_name=cluster.name, principal_arn=role.role.arn, type="EC2_LINUX", tags=tags
        ),
        opts=child_opts(parent),
    )
    return KarpenterNodes(role, instance_profile, access_entry)
