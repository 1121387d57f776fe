"""The governance trail: a multi-region CloudTrail, its hardened bucket (and, without a platform access-log
bucket, one for the bucket's server access logs), its CloudWatch log group and the role that delivers to it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.observability.config import TrailConfig


def trail_bucket_policy(bucket_arn: str, *, trail_arn: str, account_id: str) -> dict[str, Any]:
    """CloudTrail may check the ACL and write its own prefix, for this trail only; nobody may use plain HTTP."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": bucket_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": trail_arn}},
            },
            {
                "Sid": "CloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/AWSLogs/{account_id}/*",
                "Condition": {
                    "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"},
                    "ArnEquals": {"aws:SourceArn": trail_arn},
                },
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def service_trust(service: str, *, account_id: str, source_arn: str | None = None, tag_session: bool = False) -> dict:
    """A trust policy for an AWS service principal, pinned to this account (and a source ARN when known)."""
    condition: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": account_id}}
    if source_arn is not None:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": ["sts:AssumeRole", "sts:TagSession"] if tag_session else "sts:AssumeRole",
                "Condition": condition,
            }
        ],
    }


@dataclass(frozen=True)
class GovernanceTrailArgs:
    environment: str
    account_id: str
    partition: str
    region: str
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    trail: TrailConfig
    tags: Mapping[str, str]
    protect: bool = False
    # Server access logs of the trail bucket go here when a platform access-log bucket exists.
    access_log_bucket: pulumi.Input[str] | None = None

    @property
    def trail_name(self) -> str:
        return f"mlops-{self.environment}-trail"

    @property
    def trail_arn(self) -> str:
        return f"arn:{self.partition}:cloudtrail:{self.region}:{self.account_id}:trail/{self.trail_name}"


class GovernanceTrail(pulumi.ComponentResource):
    """A multi-region CloudTrail with log file validation, KMS, a hardened bucket and a CloudWatch log group."""

    def __init__(self, name: str, args: GovernanceTrailArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:observability:GovernanceTrail", name, None, opts)
        tags = dict(args.tags)
        self._bucket(name, args, tags)
        self._log_delivery(name, args, tags)
        self.trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            aws.cloudtrail.TrailArgs(
                name=args.trail_name,
                s3_bucket_name=self.bucket.id,
                kms_key_id=args.logs_key_arn,
                is_multi_region_trail=True,
                include_global_service_events=True,
                enable_log_file_validation=True,
                enable_logging=True,
                cloud_watch_logs_group_arn=pulumi.Output.concat(self.log_group.arn, ":*"),
                cloud_watch_logs_role_arn=self.logs_role.arn,
                event_selectors=[
                    aws.cloudtrail.TrailEventSelectorArgs(read_write_type="All", include_management_events=True)
                ],
                tags={**tags, "Name": args.trail_name},
            ),
            opts=child_opts(
                self, depends_on=[self.bucket_policy, self.encryption, self.logs_role_policy]
            ),
        )
        self.register_outputs(
            {"trailArn": self.trail.arn, "bucket": self.bucket.id, "logGroupArn": self.log_group.arn}
        )

    def _bucket(self, name: str, args: GovernanceTrailArgs, tags: dict) -> None:
        """The trail bucket: private, KMS-encrypted, versioned, archived then expired, TLS-only, access-logged."""
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            # Dev is disposable: its trail bucket is emptied on destroy; elsewhere the audit trail outlives it.
            aws.s3.BucketArgs(force_destroy=args.environment == "dev", tags={**tags, "Name": f"{name}-bucket"}),
            opts=child_opts(self, protect=args.protect),
        )
        self.ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            aws.s3.BucketOwnershipControlsArgs(
                bucket=self.bucket.id,
                rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            ),
            opts=child_opts(self),
        )
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            aws.s3.BucketPublicAccessBlockArgs(
                bucket=self.bucket.id,
                block_public_acls=True, block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True,
            ),
            opts=child_opts(self),
        )
        self.encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            aws.s3.BucketServerSideEncryptionConfigurationInitArgs(
                bucket=self.bucket.id,
                rules=[
                    aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                        apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                            sse_algorithm="aws:kms", kms_master_key_id=args.logs_key_arn
                        ),
                        bucket_key_enabled=True,
                    )
                ],
            ),
            opts=child_opts(self),
        )
        self.versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            aws.s3.BucketVersioningInitArgs(
                bucket=self.bucket.id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            ),
            opts=child_opts(self),
        )
        self.lifecycle = aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            aws.s3.BucketLifecycleConfigurationArgs(
                bucket=self.bucket.id,
                rules=[
                    aws.s3.BucketLifecycleConfigurationRuleArgs(
                        id="archive-then-expire",
                        status="Enabled",
                        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                        transitions=[
                            aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                                days=args.trail.glacier_after_days, storage_class="GLACIER"
                            )
                        ],
                        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                            days=args.trail.retention_days
                        ),
                        noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                            noncurrent_days=30
                        ),
                        abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                            days_after_initiation=7
                        ),
                    )
                ],
            ),
            opts=child_opts(self, depends_on=[self.versioning]),
        )
        # Server access logs go to the platform's access-log bucket, or to one of the trail's own.
        self.access_log_bucket: aws.s3.Bucket | None = None
        target = args.access_log_bucket
        if target is None:
            self._own_access_log_bucket(name, args, tags)
            target = self.access_log_bucket.id
        self.access_logging = aws.s3.BucketLogging(
            f"{name}-access-logging",
            aws.s3.BucketLoggingInitArgs(bucket=self.bucket.id, target_bucket=target, target_prefix="cloudtrail/"),
            opts=child_opts(self, depends_on=[self.access_log_policy] if self.access_log_bucket else None),
        )
        self.bucket_policy = aws.s3.BucketPolicy(
            f"{name}-bucket-policy",
            aws.s3.BucketPolicyArgs(
                bucket=self.bucket.id,
                policy=self.bucket.arn.apply(
                    lambda arn: json.dumps(
                        trail_bucket_policy(arn, trail_arn=args.trail_arn, account_id=args.account_id), sort_keys=True
                    )
                ),
            ),
            # The public access block must exist first: it is what makes a Deny-to-"*" policy safe to apply.
            opts=child_opts(self, depends_on=[self.public_access_block, self.ownership]),
        )

    def _log_delivery(self, name: str, args: GovernanceTrailArgs, tags: dict) -> None:
        """The trail's CloudWatch log group and the role CloudTrail delivers to it with."""
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-log-group",
            aws.cloudwatch.LogGroupArgs(
                name=f"/aws/cloudtrail/mlops-{args.environment}",
                kms_key_id=args.logs_key_arn,
                retention_in_days=args.log_retention_days,
                tags={**tags, "Name": f"{name}-log-group"},
            ),
            opts=child_opts(self),
        )
        self.logs_role = aws.iam.Role(
            f"{name}-logs-role",
            aws.iam.RoleArgs(
                description="CloudTrail delivers the platform's trail to its CloudWatch log group",
                assume_role_policy=json.dumps(
                    service_trust("cloudtrail.amazonaws.com", account_id=args.account_id, source_arn=args.trail_arn)
                ),
                tags={**tags, "Name": f"{name}-logs-role"},
            ),
            opts=child_opts(self),
        )
        self.logs_role_policy = aws.iam.RolePolicy(
            f"{name}-logs-role-policy",
            aws.iam.RolePolicyArgs(
                role=self.logs_role.id,
                policy=pulumi.Output.json_dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "WriteTrailLogStreams",
                                "Effect": "Allow",
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                "Resource": pulumi.Output.concat(self.log_group.arn, ":log-stream:*"),
                            }
                        ],
                    }
                ),
            ),
            opts=child_opts(self),
        )

    def _own_access_log_bucket(self, name: str, args: GovernanceTrailArgs, tags: dict) -> None:
        """A bucket for the trail bucket's server access logs: private, versioned, TLS-only, expiring.

        S3 server access logging only delivers to SSE-S3 buckets, so this one cannot use the logs key.
        """
        bucket = aws.s3.Bucket(
            f"{name}-access-logs",
            aws.s3.BucketArgs(force_destroy=args.environment == "dev", tags={**tags, "Name": f"{name}-access-logs"}),
            opts=child_opts(self, protect=args.protect),
        )
        self.access_log_bucket = bucket
        self.access_log_public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-access-logs-public-access-block",
            aws.s3.BucketPublicAccessBlockArgs(
                bucket=bucket.id,
                block_public_acls=True, block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True,
            ),
            opts=child_opts(self),
        )
        self.access_log_encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-access-logs-encryption",
            aws.s3.BucketServerSideEncryptionConfigurationInitArgs(
                bucket=bucket.id,
                rules=[
                    aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                        apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                            sse_algorithm="AES256"
                        ),
                    )
                ],
            ),
            opts=child_opts(self),
        )
        self.access_log_versioning = aws.s3.BucketVersioning(
            f"{name}-access-logs-versioning",
            aws.s3.BucketVersioningInitArgs(
                bucket=bucket.id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            ),
            opts=child_opts(self),
        )
        self.access_log_lifecycle = aws.s3.BucketLifecycleConfiguration(
            f"{name}-access-logs-lifecycle",
            aws.s3.BucketLifecycleConfigurationArgs(
                bucket=bucket.id,
                rules=[
                    aws.s3.BucketLifecycleConfigurationRuleArgs(
                        id="expire",
                        status="Enabled",
                        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=365),
                        noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                            noncurrent_days=30
                        ),
                        abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                            days_after_initiation=7
                        ),
                    )
                ],
            ),
            opts=child_opts(self, depends_on=[self.access_log_versioning]),
        )
        self.access_log_policy = aws.s3.BucketPolicy(
            f"{name}-access-logs-policy",
            aws.s3.BucketPolicyArgs(
                bucket=bucket.id,
                policy=bucket.arn.apply(
                    lambda arn: json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Sid": "S3ServerAccessLogsWrite",
                                    "Effect": "Allow",
                                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                                    "Action": "s3:PutObject",
                                    "Resource": f"{arn}/cloudtrail/*",
                                    "Condition": {"StringEquals": {"aws:SourceAccount": args.account_id}},
                                },
                                {
                                    "Sid": "DenyInsecureTransport",
                                    "Effect": "Deny",
                                    "Principal": "*",
                                    "Action": "s3:*",
                                    "Resource": [arn, f"{arn}/*"],
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                },
                            ],
                        },
                        sort_keys=True,
                    )
                ),
            ),
            opts=child_opts(self, depends_on=[self.access_log_public_access_block]),
        )
