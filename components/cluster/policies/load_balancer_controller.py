"""The AWS Load Balancer Controller's policy, a scoped subset of the upstream iam_policy.json."""

from __future__ import annotations

from typing import Any


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

