"""The VPC endpoints' policies: what may pass through each endpoint, in one place, as data and pure functions.

An endpoint policy does not grant anything; it is one more policy every request through the endpoint must
satisfy (AWS PrivateLink Guide, "Control access to VPC endpoints using endpoint policies"). In internet-free
mode the endpoints are the only way out of the VPC, so a statement missing here breaks node bootstrap; each one
says who needs it.

Who calls through the endpoints, and why the conditions below admit them:

- Nodes (kubelet, nodeadm, the ECR credential provider, the EKS Pod Identity Agent, the SSM Agent) sign with
  the node role, and pods (controllers, the CloudWatch agent, MLflow, models) with roles of this account given
  by EKS Pod Identity: ``aws:PrincipalAccount`` is this account for all of them, also when they read
  resources of AWS-owned accounts (EKS add-on images in Amazon's ECR accounts), which a resource-account
  condition would refuse.
- AWS services acting for us (ECR pull through cache fetching upstream, KMS calls S3 or EBS make on our
  behalf, EKS control-plane calls) run inside AWS, not through this VPC's endpoints.
- Unsigned calls carry no principal: ``sts:AssumeRoleWithWebIdentity`` (IAM roles for service accounts) is
  authenticated by the token, so its request context has no ``aws:PrincipalAccount`` (IAM User Guide,
  "Control access to AWS STS with VPC endpoint policies": federated callers). The STS endpoint allows it
  for roles of this account only.
- S3 objects of AWS-owned buckets are read with URLs AWS signs (ECR layer downloads) or anonymously (the
  Amazon Linux repositories): the S3 gateway endpoint allows reading exactly those buckets, and otherwise only
  buckets of this account (``aws:ResourceAccount``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.blocks.iam import document


@dataclass(frozen=True)
class AwsOwnedBucket:
    """An AWS-owned bucket nodes read through the S3 gateway endpoint: its name (``{region}`` filled in), who
    reads it, and the page that names it."""

    name: str
    reader: str
    source: str

    def arn(self, region: str, partition: str = "aws") -> str:
        """The ARN of every object of the bucket in ``region``."""
        return f"arn:{partition}:s3:::{self.name.format(region=region)}/*"


#: The AWS-owned buckets nodes in a VPC without internet read objects from; nothing else of another account.
AWS_OWNED_BUCKETS: tuple[AwsOwnedBucket, ...] = (
    AwsOwnedBucket(
        "prod-{region}-starport-layer-bucket",
        "every image pull from ECR: the registry answers layer requests with a URL of this bucket",
        'Amazon ECR User Guide, "Amazon ECR interface VPC endpoints (AWS PrivateLink)", "Creating the Amazon S3 '
        'gateway endpoint" (arn:aws:s3:::prod-region-starport-layer-bucket/*)',
    ),
    AwsOwnedBucket(
        # The suffix after the region is not part of any documented name, hence the wildcard (GetObject only).
        "al2023-repos-{region}-*",
        "dnf on Amazon Linux 2023 nodes (the EKS-optimized AL2023 AMIs)",
        "AL2023's dnf repository host al2023-repos-<region>-<suffix>.s3.dualstack.<region>.amazonaws.com "
        "(dnf repolist -v on an AL2023 instance): an S3 bucket per region, reached through the S3 endpoint",
    ),
    AwsOwnedBucket(
        "amazonlinux-2-repos-{region}",
        "yum on Amazon Linux 2 nodes (the EKS-optimized AL2 AMIs)",
        "Amazon Linux FAQs (Amazon Linux 2 repositories in S3 behind a gateway endpoint): "
        "arn:aws:s3:::amazonlinux-2-repos-<region>/*",
    ),
)

#: Interface endpoint services that take no endpoint policy: AWS answers a policy other than full access
#: with "Service ... only supports the full-access endpoint policy" (HTTP 400), so their endpoints get none.
#: The value is where that is documented ("View endpoint policy support": the VpcEndpointPolicySupported field
#: of DescribeVpcEndpointServices).
NO_ENDPOINT_POLICY: Mapping[str, str] = {
    "ec2messages": (
        "AWS CLI Command Reference, ec2 describe-vpc-endpoint-services example output: "
        'com.amazonaws.us-east-1.ec2messages "VpcEndpointPolicySupported": false'
    ),
    "oidc-eks": (
        'Amazon EKS User Guide, "Access the cluster OIDC endpoint using AWS PrivateLink": '
        '"This endpoint does not support VPC endpoint policies."'
    ),
}


def supports_endpoint_policy(service: str) -> bool:
    return service not in NO_ENDPOINT_POLICY


def aws_owned_bucket_arns(region: str, partition: str = "aws") -> list[str]:
    """The objects of the AWS-owned buckets of ``region`` the S3 gateway endpoint lets nodes read."""
    return [bucket.arn(region, partition) for bucket in AWS_OWNED_BUCKETS]


def _own_resources(sid: str, actions: str, account_id: str) -> dict[str, Any]:
    """Anything on resources of this account (``aws:ResourceAccount``), whoever signs."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": "*",
        "Action": actions,
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:ResourceAccount": account_id}},
    }


def gateway_endpoint_policy(service: str, account_id: str, region: str, partition: str = "aws") -> dict:
    """The S3 or DynamoDB gateway endpoint's policy: this account's buckets or tables, and (S3) reading the
    AWS-owned buckets of ``AWS_OWNED_BUCKETS``.

    S3: "Check whether you are using an AWS service that requires access to an S3 bucket ... ensure that the
    endpoint policy allows ... access to the buckets used by the AWS service" (AWS PrivateLink Guide, "Gateway
    endpoints for Amazon S3", Considerations). Those reads carry AWS's signature or none, so they are allowed
    by bucket, not by principal.
    """
    if service == "s3":
        return document(
            _own_resources("AccountBuckets", "s3:*", account_id),
            {
                "Sid": "AwsOwnedBucketsReadOnly",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": aws_owned_bucket_arns(region, partition),
            },
        )
    if service == "dynamodb":
        return document(_own_resources("AccountTables", "dynamodb:*", account_id))
    raise ValueError(f"{service}: no gateway endpoint policy; gateway endpoints exist for s3 and dynamodb")


def interface_endpoint_policy(service: str, account_id: str, partition: str = "aws") -> dict | None:
    """An interface endpoint's policy: principals of this account (``aws:PrincipalAccount``); for STS also
    web-identity federation into roles of this account. None for a service without endpoint-policy support.

    ``aws:PrincipalAccount`` takes exact values only ("You can't use wildcard characters ... with global context
    keys that reference system-generated identifiers (for example, aws:PrincipalAccount)", AWS PrivateLink
    Guide, "Control access to VPC endpoints using endpoint policies"): StringEquals with the account id.
    """
    if not supports_endpoint_policy(service):
        return None
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AccountPrincipals",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalAccount": account_id}},
        }
    ]
    if service == "sts":
        statements.append(
            {
                # The caller has no AWS identity yet, so no principal condition can match it: the role it
                # assumes must be one of this account's (the role's trust policy says which tokens may).
                "Sid": "WebIdentityIntoAccountRoles",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Resource": f"arn:{partition}:iam::{account_id}:role/*",
            }
        )
    return document(*statements)
