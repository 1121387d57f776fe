"""The AWS managed policies the platform attaches to its roles, as AWS publishes them (AWS Managed Policy
Reference Guide, one page per policy, "JSON policy document"; the version is the default version recorded
here). Tests evaluate the platform's roles with them, e.g. under the permissions boundary; a policy the
platform starts to attach must be added here (tests/components/test_permissions_boundary.py fails until it is).
"""

from __future__ import annotations

from typing import Any

Statement = dict[str, Any]

MANAGED_POLICIES: dict[str, tuple[str, list[Statement]]] = {
    # name: (default version, statements)
    "AmazonEKSClusterPolicy": (
        "v10",
        [
            {
                "Sid": "AmazonEKSClusterPolicy",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:UpdateAutoScalingGroup",
                    "ec2:AttachVolume",
                    "ec2:AuthorizeSecurityGroupIngress",
                    "ec2:CreateRoute",
                    "ec2:CreateSecurityGroup",
                    "ec2:CreateTags",
                    "ec2:CreateVolume",
                    "ec2:DeleteRoute",
                    "ec2:DeleteSecurityGroup",
                    "ec2:DeleteVolume",
                    "ec2:DescribeInstances",
                    "ec2:DescribeRouteTables",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeVolumes",
                    "ec2:DescribeVolumesModifications",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeAvailabilityZones",
                    "ec2:DetachVolume",
                    "ec2:ModifyInstanceAttribute",
                    "ec2:ModifyVolume",
                    "ec2:RevokeSecurityGroupIngress",
                    "ec2:DescribeAccountAttributes",
                    "ec2:DescribeAddresses",
                    "ec2:DescribeInternetGateways",
                    "ec2:DescribeInstanceTopology",
                    "elasticloadbalancing:AddTags",
                    "elasticloadbalancing:ApplySecurityGroupsToLoadBalancer",
                    "elasticloadbalancing:AttachLoadBalancerToSubnets",
                    "elasticloadbalancing:ConfigureHealthCheck",
                    "elasticloadbalancing:CreateListener",
                    "elasticloadbalancing:CreateLoadBalancer",
                    "elasticloadbalancing:CreateLoadBalancerListeners",
                    "elasticloadbalancing:CreateLoadBalancerPolicy",
                    "elasticloadbalancing:CreateTargetGroup",
                    "elasticloadbalancing:DeleteListener",
                    "elasticloadbalancing:DeleteLoadBalancer",
                    "elasticloadbalancing:DeleteLoadBalancerListeners",
                    "elasticloadbalancing:DeleteTargetGroup",
                    "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
                    "elasticloadbalancing:DeregisterTargets",
                    "elasticloadbalancing:DescribeListeners",
                    "elasticloadbalancing:DescribeLoadBalancerAttributes",
                    "elasticloadbalancing:DescribeLoadBalancerPolicies",
                    "elasticloadbalancing:DescribeLoadBalancers",
                    "elasticloadbalancing:DescribeTargetGroupAttributes",
                    "elasticloadbalancing:DescribeTargetGroups",
                    "elasticloadbalancing:DescribeTargetHealth",
                    "elasticloadbalancing:DetachLoadBalancerFromSubnets",
                    "elasticloadbalancing:ModifyListener",
                    "elasticloadbalancing:ModifyLoadBalancerAttributes",
                    "elasticloadbalancing:ModifyTargetGroup",
                    "elasticloadbalancing:ModifyTargetGroupAttributes",
                    "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
                    "elasticloadbalancing:RegisterTargets",
                    "elasticloadbalancing:SetLoadBalancerPoliciesForBackendServer",
                    "elasticloadbalancing:SetLoadBalancerPoliciesOfListener",
                    "kms:DescribeKey",
                ],
                "Resource": "*",
            },
            {
                "Sid": "AmazonEKSClusterPolicySLRCreate",
                "Effect": "Allow",
                "Action": "iam:CreateServiceLinkedRole",
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}},
            },
            {
                "Sid": "AmazonEKSClusterPolicyENIDelete",
                "Effect": "Allow",
                "Action": "ec2:DeleteNetworkInterface",
                "Resource": "*",
                "Condition": {"StringEquals": {"ec2:ResourceTag/eks:eni:owner": "amazon-vpc-cni"}},
            },
        ],
    ),
    "AmazonEKSWorkerNodePolicy": (
        "v3",
        [
            {
                "Sid": "WorkerNodePermissions",
                "Effect": "Allow",
                "Action": [
                    "ec2:DescribeInstances",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeRouteTables",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeVolumes",
                    "ec2:DescribeVolumesModifications",
                    "ec2:DescribeVpcs",
                    "eks:DescribeCluster",
                    "eks-auth:AssumeRoleForPodIdentity",
                ],
                "Resource": "*",
            }
        ],
    ),
    "AmazonEKS_CNI_Policy": (
        "v5",
        [
            {
                "Sid": "AmazonEKSCNIPolicy",
                "Effect": "Allow",
                "Action": [
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:AttachNetworkInterface",
                    "ec2:CreateNetworkInterface",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DescribeInstances",
                    "ec2:DescribeTags",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeSubnets",
                    "ec2:DetachNetworkInterface",
                    "ec2:ModifyNetworkInterfaceAttribute",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                "Resource": "*",
            },
            {
                "Sid": "AmazonEKSCNIPolicyENITag",
                "Effect": "Allow",
                "Action": ["ec2:CreateTags"],
                "Resource": ["arn:aws:ec2:*:*:network-interface/*"],
            },
        ],
    ),
    "AmazonEC2ContainerRegistryPullOnly": (
        "v1",
        [
            {
                "Effect": "Allow",
                "Action": [
                    "ecr:GetAuthorizationToken",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchImportUpstreamImage",
                ],
                "Resource": "*",
            }
        ],
    ),
    "AmazonSSMManagedInstanceCore": (
        "v2",
        [
            {
                "Effect": "Allow",
                "Action": [
                    "ssm:DescribeAssociation",
                    "ssm:GetDeployablePatchSnapshotForInstance",
                    "ssm:GetDocument",
                    "ssm:DescribeDocument",
                    "ssm:GetManifest",
                    "ssm:GetParameter",
                    "ssm:GetParameters",
                    "ssm:ListAssociations",
                    "ssm:ListInstanceAssociations",
                    "ssm:PutInventory",
                    "ssm:PutComplianceItems",
                    "ssm:PutConfigurePackageResult",
                    "ssm:UpdateAssociationStatus",
                    "ssm:UpdateInstanceAssociationStatus",
                    "ssm:UpdateInstanceInformation",
                ],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel",
                ],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "ec2messages:AcknowledgeMessage",
                    "ec2messages:DeleteMessage",
                    "ec2messages:FailMessage",
                    "ec2messages:GetEndpoint",
                    "ec2messages:GetMessages",
                    "ec2messages:SendReply",
                ],
                "Resource": "*",
            },
        ],
    ),
    "service-role/AmazonEBSCSIDriverPolicy": (
        "v2",
        [
            {
                "Effect": "Allow",
                "Action": [
                    "ec2:CreateSnapshot",
                    "ec2:AttachVolume",
                    "ec2:DetachVolume",
                    "ec2:ModifyVolume",
                    "ec2:DescribeAvailabilityZones",
                    "ec2:DescribeInstances",
                    "ec2:DescribeSnapshots",
                    "ec2:DescribeTags",
                    "ec2:DescribeVolumes",
                    "ec2:DescribeVolumesModifications",
                ],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": ["ec2:CreateTags"],
                "Resource": ["arn:aws:ec2:*:*:volume/*", "arn:aws:ec2:*:*:snapshot/*"],
                "Condition": {"StringEquals": {"ec2:CreateAction": ["CreateVolume", "CreateSnapshot"]}},
            },
            {
                "Effect": "Allow",
                "Action": ["ec2:DeleteTags"],
                "Resource": ["arn:aws:ec2:*:*:volume/*", "arn:aws:ec2:*:*:snapshot/*"],
            },
            {
                "Effect": "Allow",
                "Action": ["ec2:CreateVolume"],
                "Resource": "*",
                "Condition": {"StringLike": {"aws:RequestTag/ebs.csi.aws.com/cluster": "true"}},
            },
            {
                "Effect": "Allow",
                "Action": ["ec2:CreateVolume"],
                "Resource": "*",
                "Condition": {"StringLike": {"aws:RequestTag/CSIVolumeName": "*"}},
            },
            {
                "Effect": "Allow",
                "Action": ["ec2:DeleteVolume"],
                "Resource": "*",
                "Condition": {"StringLike": {"ec2:ResourceTag/ebs.csi.aws.com/cluster": "true"}},
            },
            {
                "Effect": "Allow",
                "Action": ["ec2:DeleteVolume"],
                "Resource": "*",
                "Condition": {"StringLike": {"ec2:ResourceTag/CSIVolumeName": "*"}},
            },
            {
                "Effect": "Allow",
                "Action": ["ec2:DeleteVolume"],
                "Resource": "*",
                "Condition": {"StringLike": {"ec2:ResourceTag/kubernetes.io/created-for/pvc/name": "*"}},
            },
            {
                "Effect": "Allow",
                "Action": ["ec2:DeleteSnapshot"],
                "Resource": "*",
                "Condition": {"StringLike": {"ec2:ResourceTag/CSIVolumeSnapshotName": "*"}},
            },
            {
                "Effect": "Allow",
                "Action": ["ec2:DeleteSnapshot"],
                "Resource": "*",
                "Condition": {"StringLike": {"ec2:ResourceTag/ebs.csi.aws.com/cluster": "true"}},
            },
        ],
    ),
    "CloudWatchAgentServerPolicy": (
        "v3",
        [
            {
                "Sid": "CWACloudWatchServerPermissions",
                "Effect": "Allow",
                "Action": [
                    "cloudwatch:PutMetricData",
                    "ec2:DescribeVolumes",
                    "ec2:DescribeTags",
                    "logs:PutLogEvents",
                    "logs:PutRetentionPolicy",
                    "logs:DescribeLogStreams",
                    "logs:DescribeLogGroups",
                    "logs:CreateLogStream",
                    "logs:CreateLogGroup",
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:GetSamplingStatisticSummaries",
                ],
                "Resource": "*",
            },
            {
                "Sid": "CWASSMServerPermissions",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter"],
                "Resource": "arn:aws:ssm:*:*:parameter/AmazonCloudWatch-*",
            },
        ],
    ),
    "service-role/AmazonRDSEnhancedMonitoringRole": (
        "v1",
        [
            {
                "Sid": "EnableCreationAndManagementOfRDSCloudwatchLogGroups",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:PutRetentionPolicy"],
                "Resource": ["arn:aws:logs:*:*:log-group:RDS*"],
            },
            {
                "Sid": "EnableCreationAndManagementOfRDSCloudwatchLogStreams",
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                    "logs:GetLogEvents",
                ],
                "Resource": ["arn:aws:logs:*:*:log-group:RDS*:log-stream:*"],
            },
        ],
    ),
}


def managed_statements(arn: str) -> list[Statement]:
    """The statements of the AWS managed policy ``arn`` (``arn:<partition>:iam::aws:policy/<path/name>``)."""
    name = arn.split(":policy/", 1)[1]
    if name not in MANAGED_POLICIES:
        raise KeyError(f"AWS managed policy {name} is not recorded in tests/aws_managed.py")
    return MANAGED_POLICIES[name][1]
