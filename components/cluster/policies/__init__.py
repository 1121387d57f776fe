"""The cluster's IAM documents: trust policies, the small grants its roles share, and (in their own modules)
the controller policies that follow an upstream document."""

from __future__ import annotations

from typing import Any

from components.blocks import (
    PlatformContext,
    allow,
    document,
    pod_identity_trust,
    service_principal,
    service_trust,
)
from components.configbase import PULL_THROUGH_UPSTREAMS


def node_trust() -> dict[str, Any]:
    """What EC2 instances (the nodes) assume their role with."""
    return service_trust(service_principal("ec2"), tag_session=True)


def cluster_pod_identity_trust(ctx: PlatformContext, cluster: str) -> dict[str, Any]:
    """Trust for EKS Pod Identity, limited to this account's cluster (no IRSA web-identity federation)."""
    return pod_identity_trust(account_id=ctx.account_id, cluster_arn=ctx.arn.cluster(cluster))


def volume_key_statements(key_arn: str, region: str) -> list[dict[str, Any]]:
    """What a principal needs to create or attach EBS volumes encrypted with the customer key."""
    use = [
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:DescribeKey",
    ]
    return [
        allow(
            use,
            key_arn,
            "UseVolumeKeyThroughEc2",
            {"StringEquals": {"kms:ViaService": f"ec2.{region}.amazonaws.com"}},
        ),
        allow(
            ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
            key_arn,
            "GrantVolumeKeyToEc2",
            {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        ),
    ]


def pull_through_import_policy(ctx: PlatformContext) -> dict[str, Any]:
    """What nodes need to pull an image through a pull-through cache rule for the first time.

    ECR imports the upstream image on the first pull and creates its repository then: the puller needs
    ecr:BatchImportUpstreamImage and ecr:CreateRepository on the rules' prefixes
    (https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-iam.html).
    """
    return document(
        allow(
            ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
            [ctx.arn.repository(f"{prefix}/*") for prefix in PULL_THROUGH_UPSTREAMS],
            "ImportThroughPullThroughCache",
        )
    )
