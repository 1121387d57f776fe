"""The controller policies against the upstream documents they follow (copies in tests/data/upstream, with their
source and version in its README): every difference is listed here with its reason, so a new difference, or an
upstream change picked up without review, fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from components.cluster.policies.karpenter import karpenter_controller_policy
from components.cluster.policies.load_balancer_controller import DOCUMENT, load_balancer_controller_policy

UPSTREAM = Path(__file__).resolve().parents[1] / "data" / "upstream"
ACCOUNT, REGION, CLUSTER = "333333333333", "us-east-1", "mlops-prod-us-east-1"
NODE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/node"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{CLUSTER}"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/volumes-0000-0000-0000-000000000000"


def _list(value: Any) -> list[Any]:
    return sorted(value) if isinstance(value, list) else [value]


def _actions(document: dict[str, Any]) -> set[str]:
    return {action for statement in document["Statement"] for action in _list(statement["Action"])}


# -- AWS Load Balancer Controller v2.13.2 ---------------------------------------------------------------------

LBC_LEFT_OUT = {
    # The chart values turn these integrations off (enableShield, enableWaf, enableWafv2: false).
    "shield:CreateProtection": "Shield integration disabled",
    "shield:DeleteProtection": "Shield integration disabled",
    "shield:DescribeProtection": "Shield integration disabled",
    "shield:GetSubscriptionState": "Shield integration disabled",
    "waf-regional:AssociateWebACL": "WAF Classic integration disabled",
    "waf-regional:DisassociateWebACL": "WAF Classic integration disabled",
    "waf-regional:GetWebACL": "WAF Classic integration disabled",
    "waf-regional:GetWebACLForResource": "WAF Classic integration disabled",
    "wafv2:AssociateWebACL": "WAFv2 integration disabled",
    "wafv2:DisassociateWebACL": "WAFv2 integration disabled",
    "wafv2:GetWebACL": "WAFv2 integration disabled",
    "wafv2:GetWebACLForResource": "WAFv2 integration disabled",
    "elasticloadbalancing:SetWebAcl": "WAF integration disabled",
    "cognito-idp:DescribeUserPoolClient": "no Cognito authentication on the platform's Ingresses",
    # Features the platform's Ingresses and Services do not use.
    "iam:GetServerCertificate": "certificates come from ACM, not IAM server certificates",
    "iam:ListServerCertificates": "certificates come from ACM, not IAM server certificates",
    "ec2:DescribeCoipPools": "no Outposts customer-owned IP pools",
    "ec2:GetCoipPoolUsage": "no Outposts customer-owned IP pools",
    "ec2:DescribeIpamPools": "no IPAM pools for balancer addresses",
    "elasticloadbalancing:ModifyIpPools": "no IPAM pools for balancer addresses",
    "elasticloadbalancing:ModifyCapacityReservation": "no load balancer capacity reservations",
    "ec2:DescribeVpcPeeringConnections": "targets are in the cluster's own VPC, never in a peered one",
}


def test_load_balancer_controller_policy_grants_no_action_upstream_does_not():
    upstream = json.loads((UPSTREAM / "aws-load-balancer-controller-v2.13.2-iam_policy.json").read_text())
    ours = load_balancer_controller_policy(partition="aws", region=REGION, account_id=ACCOUNT, vpc_id="vpc-1")
    assert _actions(ours) - _actions(upstream) == set()
    assert _actions(upstream) - _actions(ours) == set(LBC_LEFT_OUT)


def test_load_balancer_controller_policy_data_file_follows_the_charts_app_version():
    """The data file is named after the upstream version whose copy the comparison reads."""
    assert DOCUMENT.name == "aws-load-balancer-controller-v2.13.2.json"
    assert (UPSTREAM / "aws-load-balancer-controller-v2.13.2-iam_policy.json").exists()


def test_load_balancer_controller_policy_in_another_partition_names_it_everywhere():
    ours = json.dumps(
        load_balancer_controller_policy(
            partition="aws-us-gov", region="us-gov-west-1", account_id=ACCOUNT, vpc_id="v"
        )
    )
    assert "arn:aws:" not in ours and "${" not in ours
    assert f"arn:aws-us-gov:ec2:us-gov-west-1:{ACCOUNT}:vpc/v" in ours


# -- Karpenter v1.5.0 -----------------------------------------------------------------------------------------


class _CloudFormation(yaml.SafeLoader):
    """CloudFormation's short-form intrinsic functions (!Sub, !GetAtt, !Ref) read as their plain values."""


_CloudFormation.add_multi_constructor(
    "!",
    lambda loader, _tag, node: (
        loader.construct_scalar(node)
        if isinstance(node, yaml.ScalarNode)
        else loader.construct_sequence(node)
    ),
)


def upstream_karpenter_policy() -> dict[str, Any]:
    template = yaml.load(
        (UPSTREAM / "karpenter-v1.5.0-cloudformation.yaml").read_text(), Loader=_CloudFormation
    )
    text = template["Resources"]["KarpenterControllerPolicy"]["Properties"]["PolicyDocument"]
    for name, value in {
        "AWS::Partition": "aws",
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT,
        "ClusterName": CLUSTER,
        "KarpenterInterruptionQueue.Arn": QUEUE,
        "KarpenterNodeRole.Arn": NODE_ROLE,
    }.items():
        text = text.replace(f"${{{name}}}", value)
    return json.loads(text)


def _difference(upstream: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    """What differs in one statement: per key, (only upstream, only ours) for lists, or both values."""
    found: dict[str, Any] = {}
    for key in sorted(set(upstream) | set(ours)):
        old, new = upstream.get(key), ours.get(key)
        if key in ("Action", "Resource"):
            gone, added = set(_list(old)) - set(_list(new)), set(_list(new)) - set(_list(old))
            if gone or added:
                found[key] = (gone, added)
        elif old != new:
            found[key] = (old, new)
    return found


# The condition on iam:PassRole: upstream also names ec2.amazonaws.com.cn, the aws-cn form of EC2's principal.
PASSED_TO_CN = (
    {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}},
    {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
)
KARPENTER_DIFFERENCES = {
    # The EC2NodeClass names the stack's instance profile (spec.instanceProfile): the controller gets no IAM
    # instance-profile actions at all (see karpenter_controller_policy's docstring).
    "AllowScopedInstanceProfileCreationActions": "only upstream",
    "AllowScopedInstanceProfileTagActions": "only upstream",
    "AllowScopedInstanceProfileActions": "only upstream",
    "AllowInstanceProfileReadActions": "only upstream",
    # Node volumes are encrypted with the platform's customer key (EC2NodeClass blockDeviceMappings kmsKeyID).
    "UseVolumeKeyThroughEc2": "only ours",
    "GrantVolumeKeyToEc2": "only ours",
    # Capacity reservations are already granted without conditions by AllowScopedEC2InstanceAccessActions.
    "AllowScopedEC2InstanceActionsWithTags": {
        "Resource": ({f"arn:aws:ec2:{REGION}:*:capacity-reservation/*"}, set())
    },
    "AllowRegionalReadActions": {"Action": (set(), {"ec2:DescribeAvailabilityZones"})},
    "AllowPassingInstanceRole": {"Condition": PASSED_TO_CN},
}


def test_karpenter_policy_differs_from_upstream_only_as_listed():
    upstream = {statement["Sid"]: statement for statement in upstream_karpenter_policy()["Statement"]}
    ours = {
        statement["Sid"]: statement
        for statement in karpenter_controller_policy(
            partition="aws",
            region=REGION,
            account_id=ACCOUNT,
            cluster=CLUSTER,
            node_role_arn=NODE_ROLE,
            queue_arn=QUEUE,
            volume_key_arn=KEY,
        )["Statement"]
    }
    found: dict[str, Any] = {}
    for sid in sorted(set(upstream) | set(ours)):
        if sid not in ours:
            found[sid] = "only upstream"
        elif sid not in upstream:
            found[sid] = "only ours"
        elif difference := _difference(upstream[sid], ours[sid]):
            found[sid] = difference
    assert found == KARPENTER_DIFFERENCES
