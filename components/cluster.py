"""Serving clusters: one EKS cluster per region that autoscales nodes (Karpenter) and workloads (KEDA, HPA).

``ServingCluster`` builds the cluster from pulumi_aws primitives so that every control-plane, IAM and node
setting is visible to the policy pack: a private (or allow-listed) API endpoint, secrets envelope encryption,
all control-plane logs in a KMS-encrypted log group, access entries instead of the aws-auth ConfigMap, a
small managed node group for cluster-critical controllers, and Karpenter with on-demand, spot and GPU pools
for everything else. ``ByoCluster`` targets an existing cluster through a kubeconfig context and installs the
pieces that make sense on any cluster (KEDA, metrics-server).

The inputs are plain values (ids, ARNs, config), not the network or key objects, so the component can be
built and tested on its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.base import child_opts
from components.config import (
    PULL_THROUGH_UPSTREAMS,
    ChartVersions,
    ClusterConfig,
    NodePoolConfig,
    image_registry,
)

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
DISCOVERY_TAG = "karpenter.sh/discovery"
NODE_ROLE_LABEL = "mlops.io/node-role"
POOL_LABEL = "mlops.io/pool"
ACCELERATOR_LABEL = "mlops.io/accelerator"
GPU_RESOURCE = "nvidia.com/gpu"
SYSTEM_TAINT_KEY = "CriticalAddonsOnly"
NODE_CLASS_NAME = "default"
NONROOT_UID = 65532

KARPENTER_NAMESPACE = "karpenter"
KARPENTER_SERVICE_ACCOUNT = "karpenter"
KEDA_NAMESPACE = "keda"
# The chart's operator service account (kedacore/charts v2.17.1 values.yaml serviceAccount.operator.name); the
# operator runs the scalers, so its Pod Identity role is what KEDA's `aws` pod identity provider uses.
KEDA_OPERATOR_SERVICE_ACCOUNT = "keda-operator"
# The ClusterTriggerAuthentication team ScaledObjects reference to query the managed Prometheus with SigV4.
KEDA_AWS_AUTHENTICATION = "aws-pod-identity"
LBC_NAMESPACE = "aws-load-balancer-controller"
LBC_SERVICE_ACCOUNT = "aws-load-balancer-controller"
NVIDIA_NAMESPACE = "nvidia-device-plugin"
METRICS_SERVER_NAMESPACE = "kube-system"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"

CHART_SOURCES = {
    # chart key: (chart reference, repository or None for OCI)
    "karpenter": ("oci://public.ecr.aws/karpenter/karpenter", None),
    "keda": ("keda", "https://kedacore.github.io/charts"),
    "metrics-server": ("metrics-server", "https://kubernetes-sigs.github.io/metrics-server/"),
    "aws-load-balancer-controller": ("aws-load-balancer-controller", "https://aws.github.io/eks-charts"),
    "nvidia-device-plugin": ("nvidia-device-plugin", "https://nvidia.github.io/k8s-device-plugin"),
}

# Internet-free clusters pull charts as OCI artifacts from the account's ECR (`charts/<chart>`, pushed there
# before the first deployment) and images through ECR pull-through cache rules, one per upstream registry.
CHART_REPOSITORY_PREFIX = "charts"
# Images from a registry pull-through cache cannot reach (nvcr.io) are copied into this prefix instead.
COPIED_IMAGE_PREFIX = "copies"
# Each chart's image value, as the chart's values.yaml names it (karpenter-provider-aws charts/karpenter,
# eks-charts aws-load-balancer-controller, metrics-server charts/metrics-server, NVIDIA k8s-device-plugin
# deployments/helm), and the mirror prefix and path its image is pulled from.
CHART_IMAGES = {
    "karpenter": ("controller.image.repository", "ecr-public", "karpenter/controller"),
    "aws-load-balancer-controller": ("image.repository", "ecr-public", "eks/aws-load-balancer-controller"),
    "metrics-server": ("image.repository", "k8s", "metrics-server/metrics-server"),
    # KEDA 2.17 composes "<global.image.registry>/<image.<part>.repository>" for all three of its images.
    "keda": ("global.image.registry", "ghcr", None),
    "nvidia-device-plugin": ("image.repository", COPIED_IMAGE_PREFIX, "nvidia/k8s-device-plugin"),
}

# What Karpenter's interruption handling listens for (the EventBridge rules feeding its SQS queue).
INTERRUPTION_EVENTS = {
    "scheduled-change": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
    "spot-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
    "rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    "instance-state-change": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
}

# The agent's default `standard` enforcing mode: `strict` (NETWORK_POLICY_ENFORCING_MODE) denies all traffic of
# every pod no NetworkPolicy selects, and the cluster's own controllers (CoreDNS, Karpenter, KEDA, the load
# balancer controller, the EBS CSI driver) run without policies.
VPC_CNI_CONFIGURATION = {"enableNetworkPolicy": "true"}

NODE_MANAGED_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonSSMManagedInstanceCore",
)


# ---------------------------------------------------------------------------------------------------------
# Pure helpers (naming, documents, manifests): tested without Pulumi


def cluster_name(environment: str, region: str) -> str:
    """The EKS cluster name, also the value of the `karpenter.sh/discovery` tag on its subnets."""
    return f"mlops-{environment}-{region}"


def managed_policy_arn(partition: str, name: str) -> str:
    return f"arn:{partition}:iam::aws:policy/{name}"


def cluster_arn(partition: str, region: str, account_id: str, name: str) -> str:
    return f"arn:{partition}:eks:{region}:{account_id}:cluster/{name}"


def registry_host(account_id: str, region: str, partition: str = "aws") -> str:
    """The account's private ECR registry in a region."""
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"{account_id}.dkr.ecr.{region}.{suffix}"


def mirror_image(image: str, mirror: str | None) -> str:
    """An image through the mirror: an upstream with a pull-through rule becomes `<mirror>/<prefix>/<path>`."""
    registry = image_registry(image)
    prefixes = {upstream: prefix for prefix, upstream in PULL_THROUGH_UPSTREAMS.items()}
    if mirror is None or registry not in prefixes:
        return image
    return f"{mirror}/{prefixes[registry]}/{image[len(registry) + 1:]}"


def chart_source(chart: str, mirror: str | None) -> tuple[str, str | None]:
    """(chart reference, Helm repository or None for OCI): upstream, or the OCI copy in the mirror registry."""
    if mirror is not None:
        return f"oci://{mirror}/{CHART_REPOSITORY_PREFIX}/{chart}", None
    return CHART_SOURCES[chart]


def mirrored_values(chart: str, values: Mapping[str, Any], mirror: str | None) -> dict[str, Any]:
    """A chart's values with its images pulled through the mirror registry (unchanged without a mirror)."""
    if mirror is None or chart not in CHART_IMAGES:
        return dict(values)
    path, prefix, repository = CHART_IMAGES[chart]
    target = f"{mirror}/{prefix}" + (f"/{repository}" if repository else "")
    return _with_path(values, path.split("."), target)


def _with_path(mapping: Mapping[str, Any], keys: Sequence[str], value: Any) -> dict[str, Any]:
    head, *rest = keys
    copy = dict(mapping)
    copy[head] = _with_path(mapping.get(head) or {}, rest, value) if rest else value
    return copy


def service_trust_policy(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": ["sts:AssumeRole", "sts:TagSession"]}
        ],
    }


def pod_identity_trust_policy(account_id: str, cluster: str, partition: str, region: str) -> dict[str, Any]:
    """Trust for EKS Pod Identity, limited to this account's cluster (no IRSA web-identity federation)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnEquals": {"aws:SourceArn": cluster_arn(partition, region, account_id, cluster)},
                },
            }
        ],
    }


def kubeconfig_document(name: str, endpoint: str, ca_data: str, region: str) -> dict[str, Any]:
    """A kubeconfig whose user fetches a short-lived token with `aws eks get-token` (no static credentials)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "users": [
            {
                "name": name,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "aws",
                        "args": ["eks", "get-token", "--cluster-name", name, "--region", region, "--output", "json"],
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
    }


def volume_key_statements(key_arn: str, region: str) -> list[dict[str, Any]]:
    """What a principal needs to create or attach EBS volumes encrypted with the customer key."""
    return [
        {
            "Sid": "UseVolumeKeyThroughEc2",
            "Effect": "Allow",
            "Action": [
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncryptFrom",
                "kms:ReEncryptTo",
                "kms:GenerateDataKeyWithoutPlaintext",
                "kms:DescribeKey",
            ],
            "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"ec2.{region}.amazonaws.com"}},
        },
        {
            "Sid": "GrantVolumeKeyToEc2",
            "Effect": "Allow",
            "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
            "Resource": key_arn,
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
    ]


def spot_service_linked_role(
    name: str, tags: Mapping[str, str], provider: pulumi.ProviderResource
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
            tags={**tags, "Name": "AWSServiceRoleForEC2Spot"},
        ),
        opts=pulumi.ResourceOptions(provider=provider, retain_on_delete=True),
    )


def karpenter_controller_policy(
    *,
    partition: str,
    region: str,
    account_id: str,
    cluster: str,
    node_role_arn: str,
    queue_arn: str,
    volume_key_arn: str,
) -> dict[str, Any]:
    """Karpenter v1's controller permissions (after its reference CloudFormation), scoped to this cluster.

    Instances and launch templates can only be created with, and changed when they carry, the cluster's ownership
    tag; reads are limited to the region; the node role is the only role it can pass. No IAM instance-profile
    actions: the EC2NodeClass names the instance profile the stack owns (``spec.instanceProfile``), and Karpenter
    calls IAM's instance-profile API only for a ``spec.role`` (karpenter-provider-aws v1.5.0
    pkg/controllers/nodeclass/instanceprofile.go), so the controller cannot attach roles to profiles at all.
    """
    ec2 = f"arn:{partition}:ec2:{region}"
    owned = f"kubernetes.io/cluster/{cluster}"
    instance_resources = [
        f"{ec2}:*:fleet/*",
        f"{ec2}:*:instance/*",
        f"{ec2}:*:volume/*",
        f"{ec2}:*:network-interface/*",
        f"{ec2}:*:launch-template/*",
        f"{ec2}:*:spot-instances-request/*",
    ]
    request_owned = {
        f"aws:RequestTag/{owned}": "owned",
        "aws:RequestTag/eks:eks-cluster-name": cluster,
    }
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowScopedEC2InstanceAccessActions",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
                "Resource": [
                    f"{ec2}::image/*",
                    f"{ec2}::snapshot/*",
                    f"{ec2}:*:security-group/*",
                    f"{ec2}:*:subnet/*",
                    f"{ec2}:*:capacity-reservation/*",
                ],
            },
            {
                "Sid": "AllowScopedEC2LaunchTemplateAccessActions",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
                "Resource": f"{ec2}:*:launch-template/*",
                "Condition": {
                    "StringEquals": {f"aws:ResourceTag/{owned}": "owned"},
                    "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowScopedEC2InstanceActionsWithTags",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
                "Resource": instance_resources,
                "Condition": {
                    "StringEquals": request_owned,
                    "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowScopedResourceCreationTagging",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": instance_resources,
                "Condition": {
                    "StringEquals": {
                        **request_owned,
                        "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
                    },
                    "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowScopedResourceTagging",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": f"{ec2}:*:instance/*",
                "Condition": {
                    "StringEquals": {f"aws:ResourceTag/{owned}": "owned"},
                    "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                    "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": cluster},
                    "ForAllValues:StringEquals": {
                        "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]
                    },
                },
            },
            {
                "Sid": "AllowScopedDeletion",
                "Effect": "Allow",
                "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
                "Resource": [f"{ec2}:*:instance/*", f"{ec2}:*:launch-template/*"],
                "Condition": {
                    "StringEquals": {f"aws:ResourceTag/{owned}": "owned"},
                    "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowRegionalReadActions",
                "Effect": "Allow",
                "Action": [
                    "ec2:DescribeAvailabilityZones",
                    "ec2:DescribeCapacityReservations",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstances",
                    "ec2:DescribeInstanceTypeOfferings",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplates",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSpotPriceHistory",
                    "ec2:DescribeSubnets",
                ],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
            },
            {
                "Sid": "AllowSSMReadActions",
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": f"arn:{partition}:ssm:{region}::parameter/aws/service/*",
            },
            {"Sid": "AllowPricingReadActions", "Effect": "Allow", "Action": "pricing:GetProducts", "Resource": "*"},
            {
                "Sid": "AllowInterruptionQueueActions",
                "Effect": "Allow",
                "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
                "Resource": queue_arn,
            },
            {
                "Sid": "AllowPassingInstanceRole",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": node_role_arn,
                "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
            },
            {
                "Sid": "AllowAPIServerEndpointDiscovery",
                "Effect": "Allow",
                "Action": "eks:DescribeCluster",
                "Resource": cluster_arn(partition, region, account_id, cluster),
            },
            *volume_key_statements(volume_key_arn, region),
        ],
    }


def load_balancer_controller_policy(
    *, partition: str, region: str, account_id: str, cluster: str, vpc_id: str
) -> dict[str, Any]:
    """A scoped subset of the AWS Load Balancer Controller policy: ALB/NLB and their security groups.

    Follows the condition model of the upstream policy (kubernetes-sigs/aws-load-balancer-controller
    v2.13.2, docs/install/iam_policy.json, the app version of chart 1.13.2): the controller may change only
    security groups, balancers and target groups that carry its `elbv2.k8s.aws/cluster` tag (request tag on
    create, resource tag afterwards). Where upstream grants ingress rules on every security group ("*") --
    the controller opens the nodes' security group to its balancers -- this policy limits them to security
    groups of this VPC, with an ARN operator on the ARN-typed `ec2:Vpc` key. Left out on purpose (the chart
    disables them): WAF, WAFv2 and Shield integration, and Cognito.
    """
    elb = f"arn:{partition}:elasticloadbalancing:{region}:{account_id}"
    ec2 = f"arn:{partition}:ec2:{region}:{account_id}"
    tagged = {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}
    request_tagged = {"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"}}
    balancers = [f"{elb}:loadbalancer/app/*/*", f"{elb}:loadbalancer/net/*/*", f"{elb}:targetgroup/*/*"]
    listeners = [
        f"{elb}:listener/app/*/*/*",
        f"{elb}:listener/net/*/*/*",
        f"{elb}:listener-rule/app/*/*/*/*",
        f"{elb}:listener-rule/net/*/*/*/*",
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CreateElbServiceLinkedRole",
                "Effect": "Allow",
                "Action": "iam:CreateServiceLinkedRole",
                "Resource": f"arn:{partition}:iam::{account_id}:role/aws-service-role/"
                "elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing",
                "Condition": {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}},
            },
            {
                "Sid": "RegionalReads",
                "Effect": "Allow",
                "Action": [
                    "ec2:DescribeAccountAttributes",
                    "ec2:DescribeAddresses",
                    "ec2:DescribeAvailabilityZones",
                    "ec2:DescribeInternetGateways",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeInstances",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeTags",
                    "ec2:DescribeRouteTables",
                    "elasticloadbalancing:DescribeLoadBalancers",
                    "elasticloadbalancing:DescribeLoadBalancerAttributes",
                    "elasticloadbalancing:DescribeListeners",
                    "elasticloadbalancing:DescribeListenerAttributes",
                    "elasticloadbalancing:DescribeListenerCertificates",
                    "elasticloadbalancing:DescribeSSLPolicies",
                    "elasticloadbalancing:DescribeRules",
                    "elasticloadbalancing:DescribeTargetGroups",
                    "elasticloadbalancing:DescribeTargetGroupAttributes",
                    "elasticloadbalancing:DescribeTargetHealth",
                    "elasticloadbalancing:DescribeTags",
                    "elasticloadbalancing:DescribeTrustStores",
                    "elasticloadbalancing:DescribeCapacityReservation",
                    "acm:ListCertificates",
                ],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
            },
            {
                "Sid": "ReadVpcSecurityGroupsAndCertificates",
                "Effect": "Allow",
                "Action": ["ec2:GetSecurityGroupsForVpc", "acm:DescribeCertificate"],
                "Resource": [f"{ec2}:vpc/{vpc_id}", f"arn:{partition}:acm:{region}:{account_id}:certificate/*"],
            },
            {
                "Sid": "SecurityGroupsInVpc",
                "Effect": "Allow",
                "Action": "ec2:CreateSecurityGroup",
                "Resource": [f"{ec2}:vpc/{vpc_id}", f"{ec2}:security-group/*"],
            },
            {
                "Sid": "TagNewSecurityGroups",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": f"{ec2}:security-group/*",
                "Condition": {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}, **request_tagged},
            },
            {
                # Retagging its own groups, never removing or moving the cluster tag itself.
                "Sid": "RetagOwnSecurityGroups",
                "Effect": "Allow",
                "Action": ["ec2:CreateTags", "ec2:DeleteTags"],
                "Resource": f"{ec2}:security-group/*",
                "Condition": {
                    "Null": {
                        "aws:RequestTag/elbv2.k8s.aws/cluster": "true",
                        "aws:ResourceTag/elbv2.k8s.aws/cluster": "false",
                    }
                },
            },
            {
                "Sid": "ManageOwnSecurityGroups",
                "Effect": "Allow",
                "Action": [
                    "ec2:AuthorizeSecurityGroupIngress",
                    "ec2:RevokeSecurityGroupIngress",
                    "ec2:DeleteSecurityGroup",
                ],
                "Resource": f"{ec2}:security-group/*",
                "Condition": tagged,
            },
            {
                # The nodes' (cluster) security group is not the controller's: it only opens it to its balancers.
                "Sid": "OpenBackendSecurityGroupsInVpc",
                "Effect": "Allow",
                "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
                "Resource": f"{ec2}:security-group/*",
                "Condition": {"ArnEquals": {"ec2:Vpc": f"{ec2}:vpc/{vpc_id}"}},
            },
            {
                "Sid": "CreateTaggedBalancers",
                "Effect": "Allow",
                "Action": ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"],
                "Resource": [f"{elb}:loadbalancer/app/*/*", f"{elb}:loadbalancer/net/*/*", f"{elb}:targetgroup/*/*"],
                "Condition": request_tagged,
            },
            {
                "Sid": "TagOnCreate",
                "Effect": "Allow",
                "Action": "elasticloadbalancing:AddTags",
                "Resource": balancers,
                "Condition": {
                    "StringEquals": {
                        "elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"]
                    },
                    **request_tagged,
                },
            },
            {
                "Sid": "ManageTaggedBalancers",
                "Effect": "Allow",
                "Action": [
                    "elasticloadbalancing:ModifyLoadBalancerAttributes",
                    "elasticloadbalancing:SetIpAddressType",
                    "elasticloadbalancing:SetSecurityGroups",
                    "elasticloadbalancing:SetSubnets",
                    "elasticloadbalancing:DeleteLoadBalancer",
                    "elasticloadbalancing:ModifyTargetGroup",
                    "elasticloadbalancing:ModifyTargetGroupAttributes",
                    "elasticloadbalancing:DeleteTargetGroup",
                    "elasticloadbalancing:AddTags",
                    "elasticloadbalancing:RemoveTags",
                ],
                "Resource": balancers,
                "Condition": tagged,
            },
            {
                "Sid": "ManageListenersAndRules",
                "Effect": "Allow",
                "Action": [
                    "elasticloadbalancing:CreateListener",
                    "elasticloadbalancing:DeleteListener",
                    "elasticloadbalancing:ModifyListener",
                    "elasticloadbalancing:ModifyListenerAttributes",
                    "elasticloadbalancing:AddListenerCertificates",
                    "elasticloadbalancing:RemoveListenerCertificates",
                    "elasticloadbalancing:CreateRule",
                    "elasticloadbalancing:DeleteRule",
                    "elasticloadbalancing:ModifyRule",
                    "elasticloadbalancing:SetRulePriorities",
                    "elasticloadbalancing:AddTags",
                    "elasticloadbalancing:RemoveTags",
                ],
                "Resource": [*balancers, *listeners],
            },
            {
                "Sid": "RegisterTargets",
                "Effect": "Allow",
                "Action": ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
                "Resource": f"{elb}:targetgroup/*/*",
            },
        ],
    }


def pull_through_import_policy(*, partition: str, region: str, account_id: str) -> dict[str, Any]:
    """What nodes need to pull an image through a pull-through cache rule for the first time.

    ECR imports the upstream image on the first pull and creates its repository then: the puller needs
    ecr:BatchImportUpstreamImage and ecr:CreateRepository on the rules' prefixes
    (https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-iam.html).
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ImportThroughPullThroughCache",
                "Effect": "Allow",
                "Action": ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
                "Resource": [
                    f"arn:{partition}:ecr:{region}:{account_id}:repository/{prefix}/*" for prefix in PULL_THROUGH_UPSTREAMS
                ],
            }
        ],
    }


def interruption_queue_policy(queue_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Id": "KarpenterInterruptionQueue",
        "Statement": [
            {
                "Sid": "EventBridgeDelivers",
                "Effect": "Allow",
                "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": queue_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def node_pool_spec(pool: NodePoolConfig, node_class: str = NODE_CLASS_NAME) -> dict[str, Any]:
    """The `spec` of a karpenter.sh/v1 NodePool for one configured pool."""
    requirements: list[dict[str, Any]] = [
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": [pool.capacity_type]},
        {"key": "kubernetes.io/arch", "operator": "In", "values": list(pool.architectures)},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
    ]
    if pool.instance_families is not None:
        requirements.append(
            {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": list(pool.instance_families)}
        )
    else:
        requirements.append(
            {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": list(pool.instance_categories or [])}
        )
        # Older generations cost more per unit of work and lack Nitro features the AMIs expect.
        requirements.append({"key": "karpenter.k8s.aws/instance-generation", "operator": "Gt", "values": ["5"]})
    labels = {POOL_LABEL: pool.name}
    taints: list[dict[str, str]] = []
    limits: dict[str, str] = {"cpu": str(pool.cpu_limit), "memory": f"{pool.memory_limit_gib}Gi"}
    if pool.gpu:
        labels[ACCELERATOR_LABEL] = "nvidia"
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


def _hardened_container() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": NONROOT_UID,
        "runAsGroup": NONROOT_UID,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, Any]:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}


SYSTEM_SCHEDULING = {
    "nodeSelector": {NODE_ROLE_LABEL: "system"},
    "tolerations": [{"key": SYSTEM_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
}


def keda_values(system_nodes: bool) -> dict[str, Any]:
    scheduling = SYSTEM_SCHEDULING if system_nodes else {}
    return {
        "operator": {"replicaCount": 2},
        "serviceAccount": {"operator": {"create": True, "name": KEDA_OPERATOR_SERVICE_ACCOUNT}},
        "metricsServer": {"replicaCount": 2},
        "webhooks": {"replicaCount": 2},
        "podDisruptionBudget": {
            "operator": {"minAvailable": 1},
            "metricServer": {"minAvailable": 1},
            "webhooks": {"minAvailable": 1},
        },
        "resources": {
            "operator": _resources("100m", "128Mi", "1", "512Mi"),
            "metricServer": _resources("100m", "128Mi", "1", "512Mi"),
            "webhooks": _resources("50m", "64Mi", "500m", "256Mi"),
        },
        "securityContext": {
            "operator": _hardened_container(),
            "metricServer": _hardened_container(),
            "webhooks": _hardened_container(),
        },
        "podSecurityContext": {
            part: {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
            for part in ("operator", "metricServer", "webhooks")
        },
        **scheduling,
    }


def keda_aws_authentication_spec() -> dict[str, Any]:
    """KEDA's AWS pod identity: scalers sign their requests with the KEDA operator's own role (EKS Pod Identity
    credentials through the SDK's default chain), not with a role of the scaled workload."""
    return {"podIdentity": {"provider": "aws", "identityOwner": "keda"}}


def metrics_server_values(system_nodes: bool) -> dict[str, Any]:
    scheduling = SYSTEM_SCHEDULING if system_nodes else {}
    return {
        "replicas": 2,
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        "resources": _resources("100m", "200Mi", "1", "500Mi"),
        "securityContext": _hardened_container(),
        **scheduling,
    }


# ---------------------------------------------------------------------------------------------------------
# Components


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
    cluster: ClusterConfig
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

    def __post_init__(self) -> None:
        if self.cluster.mode != "eks":
            raise ValueError(f"ServingCluster needs cluster mode 'eks', got {self.cluster.mode!r} (use ByoCluster)")
        if len(self.private_subnet_ids) < 2:
            raise ValueError("EKS needs private subnets in at least two availability zones")
        if self.environment == "prod" and self.cluster.endpoint_public_access:
            raise ValueError("a prod cluster's API endpoint must be private")

    @property
    def name(self) -> str:
        return cluster_name(self.environment, self.region)


class ServingCluster(pulumi.ComponentResource):
    """One region's EKS serving cluster with Karpenter node pools and in-cluster autoscaling add-ons.

    Creates: the cluster IAM role, a KMS-encrypted control-plane log group, the EKS cluster (API auth mode,
    secrets envelope encryption, every log type, private endpoint in prod), its IAM OIDC provider, pinned
    managed add-ons, a tainted system node group through an IMDSv2-only launch template, Karpenter (IAM
    through Pod Identity, node role with an EC2_LINUX access entry and the instance profile nodes launch with,
    interruption queue and EventBridge rules,
    the Helm release, an EC2NodeClass and one NodePool per configured pool), the NVIDIA device plugin when a
    pool has GPUs, metrics-server, KEDA and the AWS Load Balancer Controller, and an encrypted gp3
    StorageClass. Every Kubernetes object goes through ``k8s_provider``, built from the cluster's outputs.
    """

    eks_cluster: aws.eks.Cluster
    k8s_provider: k8s.Provider
    node_role: aws.iam.Role
    oidc_provider: aws.iam.OpenIdConnectProvider
    cluster_security_group_id: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(self, name: str, args: ServingClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:cluster:ServingCluster", name, None, opts)
        self.args = args
        cfg = args.cluster
        cname = args.name
        tags = dict(args.tags)
        self._build_control_plane(name, args, cname, tags)
        self._build_addons_and_system_nodes(name, args, cname, tags)
        self._build_admin_access(name, args, tags)
        self._build_karpenter_aws(name, args, cname, tags)
        self._build_load_balancer_identity(name, args, cname, tags)
        self._build_keda_identity(name, cname, tags)
        self._build_kubernetes(name, args, cname, cfg)
        self.register_outputs(
            {
                "name": self.name,
                "endpoint": self.eks_cluster.endpoint,
                "oidcIssuer": self.oidc_issuer,
                "clusterSecurityGroupId": self.cluster_security_group_id,
                "nodeRoleArn": self.node_role.arn,
                "interruptionQueue": self.interruption_queue.name,
            }
        )

    # -- control plane ----------------------------------------------------------------------------------
    def _build_control_plane(self, name: str, args: ServingClusterArgs, cname: str, tags: dict[str, str]) -> None:
        cfg = args.cluster
        self.cluster_role = aws.iam.Role(
            f"{name}-cluster-role",
            aws.iam.RoleArgs(
                assume_role_policy=json.dumps(service_trust_policy("eks.amazonaws.com")),
                description=f"EKS control plane of {cname}",
                tags=tags,
            ),
            opts=child_opts(self),
        )
        self.cluster_role_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-role-policy",
            aws.iam.RolePolicyAttachmentArgs(
                role=self.cluster_role.name,
                policy_arn=managed_policy_arn(args.partition, "AmazonEKSClusterPolicy"),
            ),
            opts=child_opts(self),
        )
        # EKS would create this group itself, unencrypted and kept forever; owning it sets KMS and retention.
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            aws.cloudwatch.LogGroupArgs(
                name=f"/aws/eks/{cname}/cluster",
                kms_key_id=args.logs_key_arn,
                retention_in_days=args.log_retention_days,
                tags=tags,
            ),
            opts=child_opts(self),
        )
        public = cfg.endpoint_public_access
        self.eks_cluster = aws.eks.Cluster(
            f"{name}-eks",
            aws.eks.ClusterArgs(
                name=cname,
                version=cfg.kubernetes_version,
                role_arn=self.cluster_role.arn,
                vpc_config=aws.eks.ClusterVpcConfigArgs(
                    subnet_ids=list(args.private_subnet_ids),
                    endpoint_private_access=True,
                    endpoint_public_access=public,
                    public_access_cidrs=list(cfg.public_access_cidrs or []) if public else None,
                ),
                encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                    provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=args.cluster_secrets_key_arn),
                    resources=["secrets"],
                ),
                enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
                access_config=aws.eks.ClusterAccessConfigArgs(
                    authentication_mode="API",
                    bootstrap_cluster_creator_admin_permissions=False,
                ),
                # The add-ons below are managed and pinned; no unmanaged copies installed at creation.
                bootstrap_self_managed_addons=False,
                upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
                deletion_protection=args.environment == "prod",
                tags=tags,
            ),
            opts=child_opts(self, depends_on=[self.log_group, self.cluster_role_policy]),
        )
        self.name = self.eks_cluster.name
        self.cluster_security_group_id = self.eks_cluster.vpc_config.apply(
            lambda vpc: vpc.cluster_security_group_id
        )
        self.oidc_issuer = self.eks_cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
        self.oidc_provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            aws.iam.OpenIdConnectProviderArgs(url=self.oidc_issuer, client_id_lists=["sts.amazonaws.com"], tags=tags),
            opts=child_opts(self),
        )
        # Karpenter finds the node security group by the same discovery tag as the subnets.
        self.cluster_security_group_discovery_tag = aws.ec2.Tag(
            f"{name}-cluster-sg-discovery",
            aws.ec2.TagArgs(resource_id=self.cluster_security_group_id, key=DISCOVERY_TAG, value=cname),
            opts=child_opts(self),
        )
        # The private endpoint's network interfaces carry the cluster security group, which admits only itself:
        # the deployer's networks get HTTPS to the API server, nothing else.
        self.deployer_rules = [
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-deployer-{index}",
                aws.vpc.SecurityGroupIngressRuleArgs(
                    security_group_id=self.cluster_security_group_id,
                    cidr_ipv4=cidr,
                    ip_protocol="tcp",
                    from_port=443,
                    to_port=443,
                    description="Kubernetes API from the deployer's network",
                    tags={**tags, "Name": f"{cname}-deployer-{index}"},
                ),
                opts=child_opts(self),
            )
            for index, cidr in enumerate(args.deployer_networks)
        ]

    def _role_with_policies(
        self, name: str, trust: pulumi.Input[str], description: str, policies: Sequence[str], tags: dict[str, str]
    ) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
        role = aws.iam.Role(
            name,
            aws.iam.RoleArgs(assume_role_policy=trust, description=description, tags=tags),
            opts=child_opts(self),
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-{policy.lower().replace('_', '-')}",
                aws.iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=managed_policy_arn(self.args.partition, policy)),
                opts=child_opts(self),
            )
            for policy in policies
        ]
        return role, attachments

    def _pull_through_policies(self, name: str, role: aws.iam.Role) -> list[aws.iam.RolePolicy]:
        """In internet-free stacks, a node role may import images through the pull-through cache rules."""
        if self.args.mirror is None:
            return []
        a = self.args
        policy = pull_through_import_policy(partition=a.partition, region=a.region, account_id=a.account_id)
        return [
            aws.iam.RolePolicy(
                f"{name}-pull-through",
                aws.iam.RolePolicyArgs(role=role.name, policy=json.dumps(policy)),
                opts=child_opts(self),
            )
        ]

    def _pod_identity_trust(self) -> str:
        a = self.args
        return json.dumps(pod_identity_trust_policy(a.account_id, a.name, a.partition, a.region))

    # -- managed add-ons and the system node group ------------------------------------------------------
    def _addon(self, name: str, addon: str, version: str, tags: dict[str, str], **kwargs: Any) -> aws.eks.Addon:
        depends_on = kwargs.pop("depends_on", None)
        return aws.eks.Addon(
            name,
            aws.eks.AddonArgs(
                cluster_name=self.eks_cluster.name,
                addon_name=addon,
                addon_version=version,
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                tags=tags,
                **kwargs,
            ),
            opts=child_opts(self, depends_on=depends_on),
        )

    def _build_addons_and_system_nodes(
        self, name: str, args: ServingClusterArgs, cname: str, tags: dict[str, str]
    ) -> None:
        versions = args.cluster.addons
        assert versions is not None  # guaranteed by ClusterConfig in mode eks
        system = args.cluster.system
        # The network policy agent enforces NetworkPolicies; without it they are stored and ignored
        # (https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html).
        self.addon_vpc_cni = self._addon(
            f"{name}-addon-vpc-cni", "vpc-cni", versions.vpc_cni, tags,
            configuration_values=json.dumps(VPC_CNI_CONFIGURATION, sort_keys=True),
        )
        self.addon_kube_proxy = self._addon(f"{name}-addon-kube-proxy", "kube-proxy", versions.kube_proxy, tags)
        self.addon_pod_identity_agent = self._addon(
            f"{name}-addon-pod-identity-agent", "eks-pod-identity-agent", versions.eks_pod_identity_agent, tags
        )
        self.system_node_role, self.system_node_role_policies = self._role_with_policies(
            f"{name}-system-node-role",
            json.dumps(service_trust_policy("ec2.amazonaws.com")),
            f"system node group of {cname}",
            NODE_MANAGED_POLICIES,
            tags,
        )
        self.system_node_import_policies = self._pull_through_policies(f"{name}-system-node-role", self.system_node_role)
        self.system_launch_template = aws.ec2.LaunchTemplate(
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
                        security_groups=[self.cluster_security_group_id],
                    )
                ],
                tag_specifications=[
                    aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags)
                    for kind in ("instance", "volume", "network-interface")
                ],
                tags=tags,
            ),
            opts=child_opts(self),
        )
        self.system_node_group = aws.eks.NodeGroup(
            f"{name}-system-nodes",
            aws.eks.NodeGroupArgs(
                cluster_name=self.eks_cluster.name,
                node_role_arn=self.system_node_role.arn,
                subnet_ids=list(args.private_subnet_ids),
                ami_type="AL2023_x86_64_STANDARD",
                capacity_type="ON_DEMAND",
                instance_types=list(system.instance_types),
                scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                    min_size=system.min_size, desired_size=system.desired_size, max_size=system.max_size
                ),
                update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
                launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                    id=self.system_launch_template.id,
                    version=self.system_launch_template.latest_version.apply(str),
                ),
                labels={NODE_ROLE_LABEL: "system"},
                taints=[aws.eks.NodeGroupTaintArgs(key=SYSTEM_TAINT_KEY, value="true", effect="NO_SCHEDULE")],
                tags=tags,
            ),
            opts=child_opts(
                self,
                depends_on=[
                    self.addon_vpc_cni,
                    self.addon_kube_proxy,
                    self.addon_pod_identity_agent,
                    *self.system_node_role_policies,
                    *self.system_node_import_policies,
                    *args.node_network,
                ],
            ),
        )
        # CoreDNS and the EBS CSI controller need somewhere to run: after the system nodes.
        self.addon_coredns = self._addon(
            f"{name}-addon-coredns", "coredns", versions.coredns, tags, depends_on=[self.system_node_group]
        )
        self.ebs_csi_role, self.ebs_csi_role_policies = self._role_with_policies(
            f"{name}-ebs-csi-role",
            self._pod_identity_trust(),
            f"EBS CSI controller of {cname}",
            ("service-role/AmazonEBSCSIDriverPolicy",),
            tags,
        )
        self.ebs_csi_kms_policy = aws.iam.RolePolicy(
            f"{name}-ebs-csi-kms",
            aws.iam.RolePolicyArgs(
                role=self.ebs_csi_role.name,
                policy=pulumi.Output.from_input(args.volumes_key_arn).apply(
                    lambda arn: json.dumps(
                        {"Version": "2012-10-17", "Statement": volume_key_statements(arn, args.region)}
                    )
                ),
            ),
            opts=child_opts(self),
        )
        self.ebs_csi_identity = aws.eks.PodIdentityAssociation(
            f"{name}-ebs-csi-identity",
            aws.eks.PodIdentityAssociationArgs(
                cluster_name=self.eks_cluster.name,
                namespace="kube-system",
                service_account=EBS_CSI_SERVICE_ACCOUNT,
                role_arn=self.ebs_csi_role.arn,
                tags=tags,
            ),
            opts=child_opts(self, depends_on=[self.addon_pod_identity_agent]),
        )
        self.addon_ebs_csi = self._addon(
            f"{name}-addon-ebs-csi",
            "aws-ebs-csi-driver",
            versions.aws_ebs_csi_driver,
            tags,
            depends_on=[self.system_node_group, self.ebs_csi_identity, self.ebs_csi_kms_policy],
        )

    # -- who may administer the cluster -----------------------------------------------------------------
    def _build_admin_access(self, name: str, args: ServingClusterArgs, tags: dict[str, str]) -> None:
        self.admin_access_entries: list[aws.eks.AccessEntry] = []
        self.admin_policy_associations: list[aws.eks.AccessPolicyAssociation] = []
        for index, arn in enumerate(args.cluster.admin_role_arns or []):
            entry = aws.eks.AccessEntry(
                f"{name}-admin-{index}",
                aws.eks.AccessEntryArgs(cluster_name=self.eks_cluster.name, principal_arn=arn, type="STANDARD", tags=tags),
                opts=child_opts(self),
            )
            association = aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{index}-policy",
                aws.eks.AccessPolicyAssociationArgs(
                    cluster_name=self.eks_cluster.name,
                    principal_arn=entry.principal_arn,
                    policy_arn=f"arn:{args.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                ),
                opts=child_opts(self),
            )
            self.admin_access_entries.append(entry)
            self.admin_policy_associations.append(association)

    # -- Karpenter's AWS side -------------------------------------------------------------------------
    def _build_karpenter_aws(self, name: str, args: ServingClusterArgs, cname: str, tags: dict[str, str]) -> None:
        self.node_role, self.node_role_policies = self._role_with_policies(
            f"{name}-node-role",
            json.dumps(service_trust_policy("ec2.amazonaws.com")),
            f"Karpenter-launched nodes of {cname}",
            NODE_MANAGED_POLICIES,
            tags,
        )
        self.node_role_import_policies = self._pull_through_policies(f"{name}-node-role", self.node_role)
        # The EC2NodeClass names this profile, so Karpenter needs no IAM access (see node_class_spec).
        self.node_instance_profile = aws.iam.InstanceProfile(
            f"{name}-node-instance-profile",
            aws.iam.InstanceProfileArgs(name=f"{cname}-nodes", role=self.node_role.name, tags=tags),
            opts=child_opts(self),
        )
        self.node_access_entry = aws.eks.AccessEntry(
            f"{name}-node-access",
            aws.eks.AccessEntryArgs(
                cluster_name=self.eks_cluster.name, principal_arn=self.node_role.arn, type="EC2_LINUX", tags=tags
            ),
            opts=child_opts(self),
        )
        self.interruption_queue = aws.sqs.Queue(
            f"{name}-interruption-queue",
            aws.sqs.QueueArgs(
                name=cname,
                message_retention_seconds=300,
                # SQS-managed SSE: EventBridge can deliver without a grant on a customer key.
                sqs_managed_sse_enabled=True,
                tags=tags,
            ),
            opts=child_opts(self),
        )
        self.interruption_queue_policy = aws.sqs.QueuePolicy(
            f"{name}-interruption-queue-policy",
            aws.sqs.QueuePolicyArgs(
                queue_url=self.interruption_queue.url,
                policy=self.interruption_queue.arn.apply(lambda arn: json.dumps(interruption_queue_policy(arn))),
            ),
            opts=child_opts(self),
        )
        self.interruption_rules: dict[str, aws.cloudwatch.EventRule] = {}
        self.interruption_targets: dict[str, aws.cloudwatch.EventTarget] = {}
        for kind, pattern in INTERRUPTION_EVENTS.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-{kind}",
                aws.cloudwatch.EventRuleArgs(
                    description=f"Karpenter interruption handling for {cname}: {kind}",
                    event_pattern=json.dumps(pattern),
                    tags=tags,
                ),
                opts=child_opts(self),
            )
            self.interruption_rules[kind] = rule
            self.interruption_targets[kind] = aws.cloudwatch.EventTarget(
                f"{name}-{kind}-target",
                aws.cloudwatch.EventTargetArgs(rule=rule.name, arn=self.interruption_queue.arn, target_id="karpenter"),
                opts=child_opts(self, depends_on=[self.interruption_queue_policy]),
            )
        self.karpenter_role = aws.iam.Role(
            f"{name}-karpenter-role",
            aws.iam.RoleArgs(
                assume_role_policy=self._pod_identity_trust(),
                description=f"Karpenter controller of {cname}",
                tags=tags,
            ),
            opts=child_opts(self),
        )
        self.karpenter_policy = aws.iam.RolePolicy(
            f"{name}-karpenter-policy",
            aws.iam.RolePolicyArgs(
                role=self.karpenter_role.name,
                policy=pulumi.Output.all(
                    self.node_role.arn, self.interruption_queue.arn, args.volumes_key_arn
                ).apply(
                    lambda values: json.dumps(
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
                ),
            ),
            opts=child_opts(self),
        )
        self.karpenter_identity = aws.eks.PodIdentityAssociation(
            f"{name}-karpenter-identity",
            aws.eks.PodIdentityAssociationArgs(
                cluster_name=self.eks_cluster.name,
                namespace=KARPENTER_NAMESPACE,
                service_account=KARPENTER_SERVICE_ACCOUNT,
                role_arn=self.karpenter_role.arn,
                tags=tags,
            ),
            opts=child_opts(self, depends_on=[self.addon_pod_identity_agent]),
        )

    def _build_load_balancer_identity(
        self, name: str, args: ServingClusterArgs, cname: str, tags: dict[str, str]
    ) -> None:
        self.lbc_role, self.lbc_identity = self._service_account_role(
            f"{name}-lbc", LBC_NAMESPACE, LBC_SERVICE_ACCOUNT, f"AWS Load Balancer Controller of {cname}", tags
        )
        self.lbc_policy = aws.iam.RolePolicy(
            f"{name}-lbc-policy",
            aws.iam.RolePolicyArgs(
                role=self.lbc_role.name,
                policy=pulumi.Output.from_input(args.vpc_id).apply(
                    lambda vpc_id: json.dumps(
                        load_balancer_controller_policy(
                            partition=args.partition, region=args.region, account_id=args.account_id,
                            cluster=cname, vpc_id=vpc_id,
                        )
                    )
                ),
            ),
            opts=child_opts(self),
        )

    def _build_keda_identity(self, name: str, cname: str, tags: dict[str, str]) -> None:
        """The KEDA operator's role, associated before KEDA starts (a pod gets Pod Identity credentials only
        if the association exists when it is created). Observability grants it query access to this
        region's managed Prometheus workspace."""
        self.keda_role, self.keda_identity = self._service_account_role(
            f"{name}-keda", KEDA_NAMESPACE, KEDA_OPERATOR_SERVICE_ACCOUNT,
            f"KEDA operator of {cname}: queries the region's managed Prometheus", tags,
        )

    def _service_account_role(
        self, prefix: str, namespace: str, service_account: str, description: str, tags: dict[str, str]
    ) -> tuple[aws.iam.Role, aws.eks.PodIdentityAssociation]:
        """A role this cluster's Pod Identity may assume, associated with one service account (`<prefix>-role`,
        `<prefix>-identity`); the association waits for the Pod Identity agent."""
        role = aws.iam.Role(
            f"{prefix}-role",
            aws.iam.RoleArgs(assume_role_policy=self._pod_identity_trust(), description=description, tags=tags),
            opts=child_opts(self),
        )
        association = aws.eks.PodIdentityAssociation(
            f"{prefix}-identity",
            aws.eks.PodIdentityAssociationArgs(
                cluster_name=self.eks_cluster.name,
                namespace=namespace,
                service_account=service_account,
                role_arn=role.arn,
                tags=tags,
            ),
            opts=child_opts(self, depends_on=[self.addon_pod_identity_agent]),
        )
        return role, association

    # -- inside the cluster -----------------------------------------------------------------------------
    def _build_kubernetes(self, name: str, args: ServingClusterArgs, cname: str, cfg: ClusterConfig) -> None:
        kubeconfig = pulumi.Output.all(
            self.eks_cluster.endpoint, self.eks_cluster.certificate_authority.apply(lambda ca: ca.data)
        ).apply(lambda values: json.dumps(kubeconfig_document(cname, values[0], values[1], args.region)))
        self.kubeconfig = kubeconfig
        self.k8s_provider = k8s.Provider(
            f"{name}-k8s",
            k8s.ProviderArgs(kubeconfig=kubeconfig, enable_server_side_apply=True),
            opts=child_opts(self, depends_on=[*self.admin_policy_associations, *self.deployer_rules]),
        )
        ready: list[pulumi.Resource] = [self.system_node_group, self.addon_coredns, *self.admin_policy_associations]
        charts = cfg.charts

        self.namespaces: dict[str, k8s.core.v1.Namespace] = {}
        for namespace, enforce in (
            (KARPENTER_NAMESPACE, "restricted"),
            (KEDA_NAMESPACE, "restricted"),
            (LBC_NAMESPACE, "restricted"),
        ):
            self.namespaces[namespace] = self._namespace(name, namespace, enforce, ready)

        self.storage_class = k8s.storage.v1.StorageClass(
            f"{name}-gp3-encrypted",
            k8s.storage.v1.StorageClassInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name="gp3-encrypted",
                    annotations={"storageclass.kubernetes.io/is-default-class": "true"},
                ),
                provisioner="ebs.csi.aws.com",
                parameters={
                    "type": "gp3",
                    "encrypted": "true",
                    "kmsKeyId": pulumi.Output.from_input(args.volumes_key_arn),
                },
                reclaim_policy="Delete",
                volume_binding_mode="WaitForFirstConsumer",
                allow_volume_expansion=True,
            ),
            opts=child_opts(self, provider=self.k8s_provider, depends_on=[self.addon_ebs_csi]),
        )

        self.karpenter = self._release(
            name,
            "karpenter",
            charts.karpenter,
            KARPENTER_NAMESPACE,
            {
                "settings": {
                    "clusterName": cname,
                    "clusterEndpoint": self.eks_cluster.endpoint,
                    "interruptionQueue": self.interruption_queue.name,
                    # No internet: AWS is reached only through VPC endpoints, and the pricing API has none.
                    "isolatedVPC": args.mirror is not None,
                },
                "replicas": 2,
                "serviceAccount": {"create": True, "name": KARPENTER_SERVICE_ACCOUNT},
                "podDisruptionBudget": {"name": "karpenter", "maxUnavailable": 1},
                "controller": {"resources": _resources("500m", "512Mi", "1", "1Gi")},
                "podSecurityContext": {"fsGroup": NONROOT_UID, "runAsNonRoot": True},
                **SYSTEM_SCHEDULING,
            },
            depends_on=[
                self.namespaces[KARPENTER_NAMESPACE],
                self.karpenter_identity,
                self.karpenter_policy,
                self.node_access_entry,
                *self.interruption_targets.values(),
                *self.node_role_import_policies,
            ],
        )
        self.metrics_server = self._release(
            name, "metrics-server", charts.metrics_server, METRICS_SERVER_NAMESPACE,
            metrics_server_values(system_nodes=True), depends_on=ready,
        )
        self.keda = self._release(
            name, "keda", charts.keda, KEDA_NAMESPACE, keda_values(system_nodes=True),
            depends_on=[self.namespaces[KEDA_NAMESPACE], self.keda_identity],
        )
        self.keda_aws_authentication = k8s.apiextensions.CustomResource(
            f"{name}-keda-aws-auth",
            api_version="keda.sh/v1alpha1",
            kind="ClusterTriggerAuthentication",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=KEDA_AWS_AUTHENTICATION),
            spec=keda_aws_authentication_spec(),
            opts=child_opts(self, provider=self.k8s_provider, depends_on=[self.keda]),
        )
        self.load_balancer_controller = self._release(
            name,
            "aws-load-balancer-controller",
            charts.aws_load_balancer_controller,
            LBC_NAMESPACE,
            {
                "clusterName": cname,
                "region": args.region,
                "vpcId": args.vpc_id,
                "replicaCount": 2,
                "serviceAccount": {"create": True, "name": LBC_SERVICE_ACCOUNT},
                "resources": _resources("100m", "128Mi", "500m", "512Mi"),
                "securityContext": _hardened_container(),
                "podSecurityContext": {"fsGroup": NONROOT_UID, "seccompProfile": {"type": "RuntimeDefault"}},
                # The IAM policy above does not grant these integrations.
                "enableShield": False,
                "enableWaf": False,
                "enableWafv2": False,
                # Plain `type: LoadBalancer` Services keep the in-tree behaviour unless they opt in.
                "enableServiceMutatorWebhook": False,
                **SYSTEM_SCHEDULING,
            },
            depends_on=[self.namespaces[LBC_NAMESPACE], self.lbc_identity, self.lbc_policy],
            short="lbc",
        )

        self.node_class = k8s.apiextensions.CustomResource(
            f"{name}-node-class",
            api_version="karpenter.k8s.aws/v1",
            kind="EC2NodeClass",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=NODE_CLASS_NAME),
            spec=node_class_spec(
                cluster=cname,
                instance_profile=self.node_instance_profile.name,
                ami_alias=cfg.ami_alias,
                volume_key_arn=args.volumes_key_arn,
                volume_size_gib=cfg.system.disk_size_gib * 2,
                tags=args.tags,
            ),
            opts=child_opts(
                self,
                provider=self.k8s_provider,
                depends_on=[self.karpenter, self.cluster_security_group_discovery_tag, *self.node_role_policies],
            ),
        )
        self.node_pools: dict[str, k8s.apiextensions.CustomResource] = {}
        for pool in cfg.node_pools or []:
            spot_role = args.spot_service_linked_role if pool.capacity_type == "spot" else None
            self.node_pools[pool.name] = k8s.apiextensions.CustomResource(
                f"{name}-pool-{pool.name}",
                api_version="karpenter.sh/v1",
                kind="NodePool",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=pool.name),
                spec=node_pool_spec(pool),
                opts=child_opts(
                    self,
                    provider=self.k8s_provider,
                    depends_on=[self.karpenter, self.node_class, *([spot_role] if spot_role else [])],
                ),
            )

        self.nvidia_device_plugin: k8s.helm.v3.Release | None = None
        if any(pool.gpu for pool in cfg.node_pools or []):
            self.namespaces[NVIDIA_NAMESPACE] = self._namespace(
                name, NVIDIA_NAMESPACE, "privileged", ready,
                exception="the NVIDIA device plugin registers GPUs through the kubelet's host device-plugin socket",
            )
            self.nvidia_device_plugin = self._release(
                name,
                "nvidia-device-plugin",
                charts.nvidia_device_plugin,
                NVIDIA_NAMESPACE,
                {
                    # Only on GPU nodes, which carry the pool's taint; the chart's default affinity expects
                    # node-feature-discovery labels this platform does not install.
                    "nodeSelector": {ACCELERATOR_LABEL: "nvidia"},
                    "affinity": {},
                    "tolerations": [
                        {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"},
                        {"key": SYSTEM_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"},
                    ],
                    "resources": _resources("50m", "64Mi", "200m", "256Mi"),
                    "priorityClassName": "system-node-critical",
                },
                depends_on=[self.namespaces[NVIDIA_NAMESPACE]],
            )

    @property
    def workload_ready(self) -> list[pulumi.Resource]:
        """What a workload on this cluster waits for: somewhere to run (the node pools) and the load balancer
        controller (its webhooks admit pods and Ingresses; destroy then removes Ingresses before it)."""
        return [self.node_class, *self.node_pools.values(), self.load_balancer_controller]

    def _namespace(
        self, name: str, namespace: str, enforce: str, depends_on: Sequence[pulumi.Resource], exception: str | None = None
    ) -> k8s.core.v1.Namespace:
        return _namespace(self, name, namespace, enforce, self.k8s_provider, depends_on, exception)

    def _release(
        self,
        name: str,
        chart: str,
        version: str | None,
        namespace: str,
        values: dict[str, Any],
        depends_on: Sequence[pulumi.Resource],
        short: str | None = None,
    ) -> k8s.helm.v3.Release:
        return _release(
            self, name, chart, version, namespace, values, self.k8s_provider, depends_on, short, self.args.mirror
        )


POD_SECURITY_EXCEPTION = "mlops.dev/pod-security-exception"


def _namespace(
    owner: pulumi.Resource,
    name: str,
    namespace: str,
    enforce: str,
    provider: k8s.Provider,
    depends_on: Sequence[pulumi.Resource],
    exception: str | None = None,
) -> k8s.core.v1.Namespace:
    """A namespace with Pod Security admission labels (enforce as given, warn and audit at restricted).

    A namespace that cannot enforce `restricted` says why in the annotation the policy pack reads.
    """
    return k8s.core.v1.Namespace(
        f"{name}-ns-{namespace}",
        k8s.core.v1.NamespaceInitArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=namespace,
                labels={
                    "pod-security.kubernetes.io/enforce": enforce,
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                    "app.kubernetes.io/managed-by": "pulumi",
                },
                annotations={POD_SECURITY_EXCEPTION: exception} if exception else None,
            )
        ),
        opts=child_opts(owner, provider=provider, depends_on=list(depends_on)),
    )


def _release(
    owner: pulumi.Resource,
    name: str,
    chart: str,
    version: str | None,
    namespace: str,
    values: dict[str, Any],
    provider: k8s.Provider,
    depends_on: Sequence[pulumi.Resource],
    short: str | None = None,
    mirror: str | None = None,
) -> k8s.helm.v3.Release:
    """A Helm release pinned to an exact chart version, atomic so a failed upgrade rolls back.

    With a mirror (internet-free), the chart is the OCI copy in the account's ECR and its images come through
    the mirror's pull-through cache rules.
    """
    if version is None:
        raise ValueError(f"chart {chart!r} has no pinned version in the cluster config")
    reference, repository = chart_source(chart, mirror)
    values = mirrored_values(chart, values, mirror)
    return k8s.helm.v3.Release(
        f"{name}-{short or chart}",
        k8s.helm.v3.ReleaseArgs(
            name=chart,
            chart=reference,
            version=version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repository) if repository else None,
            namespace=namespace,
            create_namespace=False,
            atomic=True,
            cleanup_on_fail=True,
            max_history=10,
            timeout=900,
            values=values,
        ),
        opts=child_opts(owner, provider=provider, depends_on=list(depends_on)),
    )


@dataclass(frozen=True)
class ByoClusterArgs:
    """An existing cluster reached through a kubeconfig (content or path) and an explicit context."""

    cluster: ClusterConfig

    def __post_init__(self) -> None:
        if self.cluster.mode != "byo":
            raise ValueError(f"ByoCluster needs cluster mode 'byo', got {self.cluster.mode!r} (use ServingCluster)")


class ByoCluster(pulumi.ComponentResource):
    """An existing (bring-your-own) cluster: a Kubernetes provider for it, plus KEDA and metrics-server.

    No AWS resources are created. The kubeconfig is handed to the provider as a secret (it may hold
    credentials); the context is always explicit so a deployment never lands on whatever context happens to
    be current. Karpenter, the load balancer controller and the GPU plugin are AWS/EKS specific and are not
    installed here.
    """

    k8s_provider: k8s.Provider
    name: pulumi.Output[str]

    def __init__(self, name: str, args: ByoClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:cluster:ByoCluster", name, None, opts)
        self.args = args
        cfg = args.cluster
        charts: ChartVersions = cfg.charts
        self.k8s_provider = k8s.Provider(
            f"{name}-k8s",
            k8s.ProviderArgs(
                kubeconfig=pulumi.Output.secret(cfg.kubeconfig) if cfg.kubeconfig is not None else None,
                context=cfg.kubeconfig_context,
                enable_server_side_apply=True,
            ),
            opts=child_opts(self),
        )
        self.name = pulumi.Output.from_input(cfg.kubeconfig_context or name)
        self.keda_namespace = _namespace(self, name, KEDA_NAMESPACE, "restricted", self.k8s_provider, [])
        self.metrics_server = _release(
            self, name, "metrics-server", charts.metrics_server, METRICS_SERVER_NAMESPACE,
            metrics_server_values(system_nodes=False), self.k8s_provider, [],
        )
        self.keda = _release(
            self, name, "keda", charts.keda, KEDA_NAMESPACE, keda_values(system_nodes=False),
            self.k8s_provider, [self.keda_namespace],
        )
        self.register_outputs({"name": self.name, "context": cfg.kubeconfig_context})


def cluster_outputs(cluster: ServingCluster | ByoCluster) -> dict[str, Any]:
    """The values of the outputs contract's `ClusterOutputs` (by field name) for either kind of cluster."""
    if isinstance(cluster, ServingCluster):
        return {
            "mode": "eks",
            "name": cluster.name,
            "endpoint": cluster.eks_cluster.endpoint,
            "certificate_authority": cluster.eks_cluster.certificate_authority.data,
            "oidc_issuer": cluster.oidc_issuer,
            "oidc_provider_arn": cluster.oidc_provider.arn,
            "node_role_arn": cluster.node_role.arn,
            "cluster_security_group_id": cluster.cluster_security_group_id,
        }
    return {
        "mode": "byo",
        "name": cluster.name,
        "endpoint": None,
        "certificate_authority": None,
        "oidc_issuer": None,
        "oidc_provider_arn": None,
        "node_role_arn": None,
        "cluster_security_group_id": None,
    }
