"""The VPC endpoints' policies: the per-region data, the documented rules they follow, and what they let through
(evaluated with tests/iam_eval.py, IAM's documented evaluation logic), in the prod preview and the internet-free
fixture."""

from __future__ import annotations

import json

import pytest

from components.network.endpoint_policies import (
    AWS_OWNED_BUCKETS,
    NO_ENDPOINT_POLICY,
    aws_owned_bucket_arns,
    gateway_endpoint_policy,
    interface_endpoint_policy,
)
from components.network.endpoints import INTERFACE_ENDPOINTS, PROMETHEUS_QUERY_ENDPOINT
from tests.conftest import FIXTURES, states
from tests.iam_eval import decision

ACCOUNT = "111122223333"
OTHER = "999988887777"


def test_aws_owned_bucket_names_follow_the_documented_names_per_region():
    """Amazon ECR User Guide, "Amazon ECR interface VPC endpoints (AWS PrivateLink)": image layers are read from
    arn:aws:s3:::prod-<region>-starport-layer-bucket/*; the Amazon Linux repositories are S3 buckets per region
    (amazonlinux-2-repos-<region>, al2023-repos-<region>-<suffix>)."""
    assert aws_owned_bucket_arns("us-east-1") == [
        "arn:aws:s3:::prod-us-east-1-starport-layer-bucket/*",
        "arn:aws:s3:::al2023-repos-us-east-1-*/*",
        "arn:aws:s3:::amazonlinux-2-repos-us-east-1/*",
    ]
    assert aws_owned_bucket_arns("eu-west-1") == [
        "arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*",
        "arn:aws:s3:::al2023-repos-eu-west-1-*/*",
        "arn:aws:s3:::amazonlinux-2-repos-eu-west-1/*",
    ]
    assert aws_owned_bucket_arns("cn-north-1", "aws-cn")[0] == (
        "arn:aws-cn:s3:::prod-cn-north-1-starport-layer-bucket/*"
    )
    assert all(bucket.source and bucket.reader for bucket in AWS_OWNED_BUCKETS)


def _statements(policy: dict) -> list[dict]:
    return policy["Statement"]


def test_s3_gateway_endpoint_admits_the_accounts_buckets_and_only_reads_of_aws_owned_ones():
    """AWS PrivateLink Guide, "Gateway endpoints for Amazon S3": an AWS service that needs an S3 bucket needs
    the endpoint policy to allow that bucket. ECR layer URLs are signed by AWS, not by the node, so the layer
    bucket is allowed by name; every other bucket must be the account's (aws:ResourceAccount)."""
    policy = _statements(gateway_endpoint_policy("s3", ACCOUNT, "us-east-1"))
    own = {"aws:ResourceAccount": ACCOUNT}
    layer = "arn:aws:s3:::prod-us-east-1-starport-layer-bucket/sha256/abc"
    assert decision(policy, "s3:GetObject", layer, {"aws:ResourceAccount": "aws-owned"}) == "Allow"
    assert decision(policy, "s3:PutObject", layer, {"aws:ResourceAccount": "aws-owned"}) == "ImplicitDeny"
    assert (
        decision(policy, "s3:GetObject", "arn:aws:s3:::al2023-repos-us-east-1-de612dc2/core/repomd.xml")
        == "Allow"
    )
    # Exfiltration to a bucket of another account, and the layer bucket of another region, are refused.
    assert decision(policy, "s3:PutObject", "arn:aws:s3:::drop/x", {"aws:ResourceAccount": OTHER}) == (
        "ImplicitDeny"
    )
    assert decision(policy, "s3:GetObject", "arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/x") == (
        "ImplicitDeny"
    )
    assert decision(policy, "s3:PutObject", "arn:aws:s3:::mlops-prod-artifacts/x", own) == "Allow"


def test_dynamodb_gateway_endpoint_admits_only_tables_of_the_account():
    """IAM User Guide, "AWS global condition context keys": aws:ResourceAccount is the account that owns the
    resource; the DynamoDB endpoint lets requests through to this account's tables only."""
    policy = gateway_endpoint_policy("dynamodb", ACCOUNT, "eu-west-1")
    assert _statements(policy) == [
        {
            "Sid": "AccountTables",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "dynamodb:*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceAccount": ACCOUNT}},
        }
    ]
    with pytest.raises(ValueError, match="gateway endpoints exist for s3 and dynamodb"):
        gateway_endpoint_policy("ecr.api", ACCOUNT, "eu-west-1")


def test_interface_endpoint_condition_on_principal_account_uses_exact_values():
    """AWS PrivateLink Guide, "Control access to VPC endpoints using endpoint policies": no wildcards with
    global keys that reference system-generated identifiers such as aws:PrincipalAccount; callers of this
    account pass, callers of another account do not, even on AWS-owned resources (EKS add-on images)."""
    policy = _statements(interface_endpoint_policy("ecr.api", ACCOUNT))
    assert policy[0]["Condition"] == {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}
    image = "arn:aws:ecr:us-east-1:602401143452:repository/eks/aws-ebs-csi-driver"
    assert decision(policy, "ecr:BatchGetImage", image, {"aws:PrincipalAccount": ACCOUNT}) == "Allow"
    assert decision(policy, "ecr:BatchGetImage", image, {"aws:PrincipalAccount": OTHER}) == "ImplicitDeny"
    assert len(policy) == 1


def test_sts_endpoint_still_allows_web_identity_federation_which_has_no_principal_account():
    """IAM User Guide, "Control access to AWS STS with VPC endpoint policies": federated callers
    (AssumeRoleWithWebIdentity) have no AWS identity, so aws:PrincipalAccount is absent from the request
    context; a policy relying on it alone blocks them. Web identity may assume roles of this account only."""
    policy = _statements(interface_endpoint_policy("sts", ACCOUNT))
    role = f"arn:aws:iam::{ACCOUNT}:role/mlflow"
    assert decision(policy, "sts:AssumeRoleWithWebIdentity", role, {}) == "Allow"
    assert decision(policy, "sts:AssumeRoleWithWebIdentity", f"arn:aws:iam::{OTHER}:role/x", {}) == (
        "ImplicitDeny"
    )
    assert decision(policy, "sts:AssumeRole", f"arn:aws:iam::{OTHER}:role/x", {}) == "ImplicitDeny"
    assert decision(policy, "sts:GetCallerIdentity", "*", {"aws:PrincipalAccount": ACCOUNT}) == "Allow"


def test_a_service_without_endpoint_policy_support_gets_no_policy():
    """AWS PrivateLink Guide, "Control access to VPC endpoints using endpoint policies": not every service
    supports endpoint policies; such a service allows full access and refuses any other policy."""
    assert interface_endpoint_policy("ec2messages", ACCOUNT) is None
    assert "ec2messages" in INTERFACE_ENDPOINTS and set(NO_ENDPOINT_POLICY) >= {"ec2messages", "oidc-eks"}
    for service in (*INTERFACE_ENDPOINTS, PROMETHEUS_QUERY_ENDPOINT):
        if service not in NO_ENDPOINT_POLICY:
            assert interface_endpoint_policy(service, ACCOUNT) is not None, service


def _endpoints(document: dict) -> dict[str, dict]:
    return {
        state["inputs"]["serviceName"]: state for state in states(document, "aws:ec2/vpcEndpoint:VpcEndpoint")
    }


def _assert_endpoint_policies(document: dict, account: str, regions: tuple[str, ...]) -> None:
    endpoints = _endpoints(document)
    for region in regions:
        s3 = json.loads(endpoints[f"com.amazonaws.{region}.s3"]["inputs"]["policy"])
        assert s3["Statement"][1]["Resource"] == [
            f"arn:aws:s3:::prod-{region}-starport-layer-bucket/*",
            f"arn:aws:s3:::al2023-repos-{region}-*/*",
            f"arn:aws:s3:::amazonlinux-2-repos-{region}/*",
        ]
        assert s3["Statement"][0]["Condition"] == {"StringEquals": {"aws:ResourceAccount": account}}
        dynamodb = json.loads(endpoints[f"com.amazonaws.{region}.dynamodb"]["inputs"]["policy"])
        assert dynamodb["Statement"][0]["Condition"] == {"StringEquals": {"aws:ResourceAccount": account}}
        assert "policy" not in endpoints[f"com.amazonaws.{region}.ec2messages"]["inputs"]
        for service in ("ecr.api", "ecr.dkr", "eks", "eks-auth", "kms", "logs", "sts"):
            policy = json.loads(endpoints[f"com.amazonaws.{region}.{service}"]["inputs"]["policy"])
            assert policy["Statement"][0]["Condition"] == {"StringEquals": {"aws:PrincipalAccount": account}}
        sts = json.loads(endpoints[f"com.amazonaws.{region}.sts"]["inputs"]["policy"])
        assert sts["Statement"][1]["Resource"] == f"arn:aws:iam::{account}:role/*"
    with_policy = [s for s in endpoints.values() if "policy" in s["inputs"]]
    assert len(with_policy) == len(endpoints) - len(regions)  # all but ec2messages, in every region


def test_prod_endpoints_carry_their_policies(synth):
    _assert_endpoint_policies(synth("prod"), "333333333333", ("us-east-1", "us-west-2"))


def test_internet_free_endpoints_carry_their_policies(synth):
    """Internet-free mode: the endpoints are the only way out; every one but ec2messages carries its policy,
    and the S3 endpoint reads ECR's layer bucket of its own region, which every image pull needs."""
    _assert_endpoint_policies(
        synth("airgapped-cluster", FIXTURES), "444444444444", ("eu-west-1", "eu-central-1")
    )


def test_the_pack_exempts_exactly_the_services_the_platform_leaves_without_a_policy():
    """The component and the policy pack keep their own copies (the pack reads previews, never the components);
    they must name the same services, or the pack flags an endpoint AWS would refuse a policy for."""
    from components.network.endpoint_policies import NO_ENDPOINT_POLICY
    from policies.aws_network import WITHOUT_ENDPOINT_POLICY

    assert set(WITHOUT_ENDPOINT_POLICY) == set(NO_ENDPOINT_POLICY)
