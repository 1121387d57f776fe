"""Karpenter's side of the cluster: the interruption queue and the EventBridge rules feeding it, the
controller's Pod Identity role, and the EC2NodeClass and NodePools it launches nodes from."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.base import child_opts
from components.blocks import (
    Association,
    PlatformContext,
    PodIdentityRole,
    deny_insecure_transport,
    document,
    to_json,
)
from components.cluster.args import ServingClusterArgs
from components.cluster.config import NodePoolConfig
from components.cluster.naming import (
    ACCELERATOR_LABEL,
    DISCOVERY_TAG,
    GPU_PRESENT_LABEL,
    GPU_RESOURCE,
    KARPENTER_NAMESPACE,
    KARPENTER_SERVICE_ACCOUNT,
    NODE_CLASS_NAME,
    POOL_LABEL,
)
from components.cluster.policies import cluster_pod_identity_trust
from components.cluster.policies.karpenter import karpenter_controller_policy

# What Karpenter's interruption handling listens for (the EventBridge rules feeding its SQS queue).
INTERRUPTION_EVENTS = {
    "scheduled-change": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
    "spot-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
    "rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    "instance-state-change": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Instance State-change Notification"],
    },
}


def spot_service_linked_role(
    name: str, ctx: PlatformContext, provider: pulumi.ProviderResource
) -> aws.iam.ServiceLinkedRole:
    """The account's AWSServiceRoleForEC2Spot, which EC2 needs before it launches a Spot Instance requested
    through the API, as Karpenter does (EC2 User Guide, "Service-linked role for Spot Instance requests"; the
    upstream Karpenter policy does not let the controller create it). Account-wide, so a platform stack makes
    one for all its regions (ClusterConfig.spot-service-linked-role says what each choice costs). Kept on
    destroy: deleting it fails while Karpenter's spot nodes are still terminating, and it grants nobody but
    EC2 Spot anything."""
    return aws.iam.ServiceLinkedRole(
        name,
        aws.iam.ServiceLinkedRoleArgs(
            aws_service_name="spot.amazonaws.com",
            tags=ctx.tagged(Name="AWSServiceRoleForEC2Spot"),
        ),
        opts=pulumi.ResourceOptions(provider=provider, retain_on_delete=True),
    )


def interruption_queue_policy(queue_arn: str) -> dict[str, Any]:
    """EventBridge (and SQS itself) may deliver to the queue; nothing reaches it without TLS."""
    deliver = {
        "Sid": "EventBridgeDelivers",
        "Effect": "Allow",
        "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
    }
    return document(
        deliver, deny_insecure_transport(queue_arn, action="sqs:*"), policy_id="KarpenterInterruptionQueue"
    )


def node_pool_spec(pool: NodePoolConfig, node_class: str = NODE_CLASS_NAME) -> dict[str, Any]:
    """The `spec` of a karpenter.sh/v1 NodePool for one configured pool."""
    requirements: list[dict[str, Any]] = [
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": [pool.capacity_type]},
        {"key": "kubernetes.io/arch", "operator": "In", "values": list(pool.architectures)},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
    ]
    if pool.instance_families is not None:
        requirements.append(
            {
                "key": "karpenter.k8s.aws/instance-family",
                "operator": "In",
                "values": list(pool.instance_families),
            }
        )
    else:
        requirements.append(
            {
                "key": "karpenter.k8s.aws/instance-category",
                "operator": "In",
                "values": list(pool.instance_categories or []),
            }
        )
        # Older generations cost more per unit of work and lack Nitro features the AMIs expect.
        requirements.append(
            {"key": "karpenter.k8s.aws/instance-generation", "operator": "Gt", "values": ["5"]}
        )
    labels = {POOL_LABEL: pool.name}
    taints: list[dict[str, str]] = []
    limits: dict[str, str] = {"cpu": str(pool.cpu_limit), "memory": f"{pool.memory_limit_gib}Gi"}
    if pool.gpu:
        labels[ACCELERATOR_LABEL] = "nvidia"
        # What the device plugin chart's default affinity selects a GPU node by (no node-feature-discovery here).
        labels[GPU_PRESENT_LABEL] = "true"
        taints.append({"key": GPU_RESOURCE, "value": "true", "effect": "NoSchedule"})
        limits[GPU_RESOURCE] = str(pool.gpu_limit)
    template_spec: dict[str, Any] = {
        "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": node_class},
        "requirements": requirements,
        "expireAfter": pool.expire_after,
    }
    if taints:
        template_spec["taints"] = taints
    spec: dict[str, Any] = {
        "template": {"metadata": {"labels": labels}, "spec": template_spec},
        "limits": limits,
        "disruption": {
            "consolidationPolicy": pool.consolidation_policy,
            "consolidateAfter": pool.consolidate_after,
            "budgets": [{"nodes": pool.disruption_budget}],
        },
    }
    if pool.weight is not None:
        spec["weight"] = pool.weight
    return spec


def node_class_spec(
    *,
    cluster: str,
    instance_profile: pulumi.Input[str],
    ami_alias: str,
    volume_key_arn: pulumi.Input[str],
    volume_size_gib: int,
    tags: Mapping[str, str],
) -> dict[str, Any]:
    """The `spec` of the karpenter.k8s.aws/v1 EC2NodeClass all pools share: discovery by tag, IMDSv2, CMK disks.

    Nodes get the stack's instance profile (`instanceProfile`), not a role Karpenter would wrap in a profile of
    its own through IAM: IAM has no VPC endpoint, so an internet-free cluster could never create one ("Private
    Clusters", Karpenter's Getting Started), and the CRD refuses a later switch between the two fields in either
    direction (EC2NodeClassSpec's CEL rule), so every stack uses the profile from the start.
    """
    discovery = [{"tags": {DISCOVERY_TAG: cluster}}]
    return {
        "instanceProfile": instance_profile,
        "amiSelectorTerms": [{"alias": ami_alias}],
        "subnetSelectorTerms": discovery,
        "securityGroupSelectorTerms": discovery,
        "associatePublicIPAddress": False,
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": 1,
            "httpTokens": "required",
        },
        "blockDeviceMappings": [
            {
                "deviceName": "/dev/xvda",
                "ebs": {
                    "volumeSize": f"{volume_size_gib}Gi",
                    "volumeType": "gp3",
                    "encrypted": True,
                    "kmsKeyID": volume_key_arn,
                    "deleteOnTermination": True,
                },
            }
        ],
        "tags": dict(tags),
    }


@dataclass(frozen=True)
class InterruptionHandling:
    """The SQS queue Karpenter reads and the EventBridge rules (with their targets) that feed it."""

    queue: aws.sqs.Queue
    queue_policy: aws.sqs.QueuePolicy
    rules: dict[str, aws.cloudwatch.EventRule]
    targets: dict[str, aws.cloudwatch.EventTarget]


def build_interruption_handling(
    parent: pulumi.Resource, name: str, args: ServingClusterArgs, tags: dict[str, str]
) -> InterruptionHandling:
    cname = args.name
    queue = aws.sqs.Queue(
        f"{name}-interruption-queue",
        aws.sqs.QueueArgs(
            name=cname,
            message_retention_seconds=300,
            # SQS-managed SSE: EventBridge can deliver without a grant on a customer key.
            sqs_managed_sse_enabled=True,
            tags=tags,
        ),
        opts=child_opts(parent),
    )
    queue_policy = aws.sqs.QueuePolicy(
        f"{name}-interruption-queue-policy",
        aws.sqs.QueuePolicyArgs(
            queue_url=queue.url,
            policy=queue.arn.apply(lambda arn: to_json(interruption_queue_policy(arn))),
        ),
        opts=child_opts(parent),
    )
    handling = InterruptionHandling(queue, queue_policy, {}, {})
    for kind, pattern in INTERRUPTION_EVENTS.items():
        rule = aws.cloudwatch.EventRule(
            f"{name}-{kind}",
            aws.cloudwatch.EventRuleArgs(
                description=f"Karpenter interruption handling for {cname}: {kind}",
                event_pattern=json.dumps(pattern),
                tags=tags,
            ),
            opts=child_opts(parent),
        )
        handling.rules[kind] = rule
        handling.targets[kind] = aws.cloudwatch.EventTarget(
            f"{name}-{kind}-target",
            aws.cloudwatch.EventTargetArgs(rule=rule.name, arn=queue.arn, target_id="karpenter"),
            opts=child_opts(parent, depends_on=[queue_policy]),
        )
    return handling


@dataclass(frozen=True)
class KarpenterIdentity:
    """The controller's role, its inline policy and the Pod Identity association of its service account."""

    role: PodIdentityRole
    policy: aws.iam.RolePolicy
    association: aws.eks.PodIdentityAssociation


def build_karpenter_identity(
    parent: pulumi.Resource,
    name: str,
    args: ServingClusterArgs,
    cluster: aws.eks.Cluster,
    node_role_arn: pulumi.Output[str],
    queue_arn: pulumi.Output[str],
    pod_identity_agent: pulumi.Resource,
    tags: dict[str, str],
) -> KarpenterIdentity:
    cname = args.name
    ctx = args.context
    policy = pulumi.Output.all(node_role_arn, queue_arn, args.volumes_key_arn).apply(
        lambda values: to_json(
            karpenter_controller_policy(
                partition=args.partition,
                region=args.region,
                account_id=args.account_id,
                cluster=cname,
                node_role_arn=values[0],
                queue_arn=values[1],
                volume_key_arn=values[2],
            )
        )
    )
    role = PodIdentityRole(
        f"{name}-karpenter",
        ctx,
        parent=parent,
        trust=cluster_pod_identity_trust(ctx, cname),
        description=f"Karpenter controller of {cname}",
        policy=policy,
        policy_by="name",
        associations=[
            Association(
                cluster.name,
                KARPENTER_NAMESPACE,
                KARPENTER_SERVICE_ACCOUNT,
                pulumi.ResourceOptions(depends_on=[pod_identity_agent]),
            )
        ],
        tags=tags,
    )
    assert role.policy is not None
    return KarpenterIdentity(role, role.policy, role.associations[0])


@dataclass(frozen=True)
class NodePools:
    """The EC2NodeClass every pool shares and one NodePool per configured pool (by pool name)."""

    node_class: k8s.apiextensions.CustomResource
    pools: dict[str, k8s.apiextensions.CustomResource]


def build_node_pools(
    parent: pulumi.Resource,
    name: str,
    args: ServingClusterArgs,
    provider: k8s.Provider,
    instance_profile: pulumi.Input[str],
    node_class_depends_on: Sequence[pulumi.Resource],
    karpenter: pulumi.Resource,
) -> NodePools:
    """The node class waits for the Karpenter release (its CRDs) and ``node_class_depends_on``; spot pools
    also wait for the account's Spot service-linked role when the stack creates it."""
    cfg = args.cluster
    node_class = k8s.apiextensions.CustomResource(
        f"{name}-node-class",
        api_version="karpenter.k8s.aws/v1",
        kind="EC2NodeClass",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=NODE_CLASS_NAME),
        spec=node_class_spec(
            cluster=args.name,
            instance_profile=instance_profile,
            ami_alias=cfg.ami_alias,
            volume_key_arn=args.volumes_key_arn,
            volume_size_gib=cfg.system.disk_size_gib * 2,
            tags=args.tags,
        )
        | ({"userData": args.node_class_user_data} if args.node_class_user_data is not None else {}),
        opts=child_opts(parent, provider=provider, depends_on=[karpenter, *node_class_depends_on]),
    )
    pools: dict[str, k8s.apiextensions.CustomResource] = {}
    for pool in cfg.node_pools or []:
        spot_role = args.spot_service_linked_role if pool.capacity_type == "spot" else None
        pools[pool.name] = k8s.apiextensions.CustomResource(
            f"{name}-pool-{pool.name}",
            api_version="karpenter.sh/v1",
            kind="NodePool",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=pool.name),
            spec=node_pool_spec(pool),
            opts=child_opts(
                parent,
                provider=provider,
                depends_on=[karpenter, node_class, *([spot_role] if spot_role else [])],
            ),
        )
    return NodePools(node_class, pools)
