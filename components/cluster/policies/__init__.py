"""The cluster's IAM documents: trust policies, the small grants its roles share, and (in their own modules)
the controller policies that follow an upstream document."""

from __future__ import annotations

from typing import Any

from components.cluster.naming import cluster_arn
from components.config import PULL_THROUGH_UPSTREAMS


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

