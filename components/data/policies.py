"""The IAM documents of data access, as plain dicts (tested by value and linted with parliament).

- ``own_prefix_policy``: the platform's data policy of one purpose (``read`` for serving, ``read-write`` for
  training and writers), attached to every team's workload role. Its S3 statements name
  ``teams/${aws:PrincipalTag/team}/`` and hold only while the EKS Pod Identity session tag
  ``kubernetes-namespace`` is ``team-${aws:PrincipalTag/team}``: a role reaches the prefix of the namespace its
  pod runs in, whatever tag its team stack wrote. Namespaces named ``team-*`` are created by the platform only
  (components.data.guard).
- ``location_trust`` / ``location_policy``: the role S3 Access Grants assumes to vend credentials for the
  platform's declared locations.
- ``grants_statement``: what a team's workload role needs to ask S3 Access Grants for credentials.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.blocks.iam import document

NAMESPACE_TAG = "aws:PrincipalTag/kubernetes-namespace"  # set by EKS Pod Identity on every session
TEAM_TAG = "aws:PrincipalTag/team"  # the workload role's own `team` tag
TEAM_PREFIX = "teams/${aws:PrincipalTag/team}/"
TEAM_NAMESPACE = "team-${aws:PrincipalTag/team}"
ACCESS_GRANTS_PRINCIPAL = "access-grants.s3.amazonaws.com"
READ_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion"]
WRITE_ACTIONS = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]


def _in_team_namespace() -> dict[str, Any]:
    return {"StringEquals": {NAMESPACE_TAG: TEAM_NAMESPACE}}


def _key_statement(
    sid: str, write: bool, key_arns: Sequence[str], bucket_arns: Sequence[str]
) -> dict[str, Any]:
    """The artifacts keys, through S3 only, for these buckets only: with S3 Bucket Keys the encryption context
    is the bucket's ARN."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"] if write else ["kms:Decrypt"],
        "Resource": list(key_arns),
        "Condition": {
            "StringLike": {"kms:ViaService": "s3.*.amazonaws.com"},
            "StringEquals": {"kms:EncryptionContext:aws:s3:arn": list(bucket_arns)},
        },
    }


def own_prefix_policy(
    access: str, read_bucket_arns: Sequence[str], write_bucket_arn: str | None, key_arns: Sequence[str]
) -> dict[str, Any]:
    """The team's own prefix of every artifact bucket (read), of the primary's too (write, for ``read-write``):
    ``teams/<team>/`` for a role tagged ``team=<team>`` in namespace ``team-<team>`` only."""
    if access not in ("read", "read-write"):
        raise ValueError(f"access {access!r}; allowed: read, read-write")
    buckets = list(dict.fromkeys(read_bucket_arns))
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ListOwnTeamPrefix",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": buckets,
            "Condition": {
                "StringEquals": {NAMESPACE_TAG: TEAM_NAMESPACE},
                "StringLike": {"s3:prefix": [f"{TEAM_PREFIX}*"]},
            },
        },
        {
            "Sid": "ReadOwnTeamPrefix",
            "Effect": "Allow",
            "Action": READ_ACTIONS,
            "Resource": [f"{bucket}/{TEAM_PREFIX}*" for bucket in buckets],
            "Condition": _in_team_namespace(),
        },
    ]
    write = access == "read-write"
    if write:
        if write_bucket_arn is None:
            raise ValueError("read-write needs the primary region's bucket")
        statements.append(
            {
                "Sid": "WriteOwnTeamPrefix",
                "Effect": "Allow",
                "Action": WRITE_ACTIONS,
                "Resource": [f"{write_bucket_arn}/{TEAM_PREFIX}*"],
                "Condition": _in_team_namespace(),
            }
        )
    statements.append(_key_statement("UseArtifactsKeyThroughS3", write, key_arns, buckets))
    return document(*statements)


def location_trust(account_id: str, instance_arn: str) -> dict[str, Any]:
    """S3 Access Grants assumes the location role (sts:AssumeRole, sts:SetSourceIdentity, sts:SetContext), for
    this account's instance only."""
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Service": ACCESS_GRANTS_PRINCIPAL},
            "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:SetContext"],
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnEquals": {"aws:SourceArn": instance_arn},
            },
        }
    )


def location_policy(
    bucket_arn: str, locations: Sequence[tuple[str, bool]], key_arns: Sequence[str]
) -> dict[str, Any]:
    """What the vended credentials can ever reach: each declared location (prefix, writable) of one bucket;
    Access Grants scopes them down further to the grant."""
    prefixes = [prefix for prefix, _ in locations]
    writable = [prefix for prefix, write in locations if write]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ListDeclaredLocations",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in prefixes]}},
        },
        {
            "Sid": "ReadDeclaredLocations",
            "Effect": "Allow",
            "Action": READ_ACTIONS,
            "Resource": [f"{bucket_arn}/{prefix}*" for prefix in prefixes],
        },
    ]
    if writable:
        statements.append(
            {
                "Sid": "WriteDeclaredLocations",
                "Effect": "Allow",
                "Action": WRITE_ACTIONS,
                "Resource": [f"{bucket_arn}/{prefix}*" for prefix in writable],
            }
        )
    statements.append(_key_statement("UseArtifactsKeyThroughS3", bool(writable), key_arns, [bucket_arn]))
    return document(*statements)


def grants_statement(instance_arns: Sequence[str]) -> dict[str, Any]:
    """A grantee asks S3 Access Grants for credentials (GetDataAccess), lists its grants, and finds the instance
    that holds a prefix (GetAccessGrantsInstanceForPrefix, which the boto3 S3 Access Grants plugin calls before
    GetDataAccess), on the platform's instances only (all three act on the accessgrantsinstance resource type)."""
    return {
        "Sid": "AskAccessGrants",
        "Effect": "Allow",
        "Action": ["s3:GetDataAccess", "s3:ListCallerAccessGrants", "s3:GetAccessGrantsInstanceForPrefix"],
        "Resource": list(instance_arns),
    }
