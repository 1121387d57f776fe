"""The governance trail: a multi-region CloudTrail, its hardened bucket (and, without a platform access-log
bucket, one for the bucket's server access logs), its CloudWatch log group and the role that delivers to it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks import (
    AccessLogTarget,
    PlatformContext,
    SecureBucket,
    SecureBucketArgs,
    ServiceRole,
    document,
    service_trust,
)
from components.observability.config import TrailConfig

# What the trail's own access-log bucket keeps: a year of server access logs.
ACCESS_LOG_DAYS = 365
ACCESS_LOG_PREFIX = "cloudtrail/"


def trail_bucket_statements(bucket_arn: str, *, trail_arn: str, account_id: str) -> list[dict[str, Any]]:
    """CloudTrail may check the ACL and write its own prefix, for this trail only (the TLS-only statement is
    SecureBucket's)."""
    principal = {"Service": PlatformContext.service_principal("cloudtrail")}
    return [
        {
            "Sid": "CloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": trail_arn}},
        },
        {
            "Sid": "CloudTrailWrite",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/AWSLogs/{account_id}/*",
            "Condition": {
                "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"},
                "ArnEquals": {"aws:SourceArn": trail_arn},
            },
        },
    ]


def access_log_statements(bucket_arn: str, *, account_id: str) -> list[dict[str, Any]]:
    """S3 server access log delivery (``logging.s3.amazonaws.com``) writes the trail bucket's logs, for this
    account's buckets only (S3 User Guide, "Permissions for log delivery": bucket policy with aws:SourceAccount)."""
    return [
        {
            "Sid": "S3ServerAccessLogsWrite",
            "Effect": "Allow",
            "Principal": {"Service": PlatformContext.service_principal("logging.s3")},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/{ACCESS_LOG_PREFIX}*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    ]


def expiring_rule(
    rule_id: str, days: int, transitions: Sequence[aws.s3.BucketLifecycleConfigurationRuleTransitionArgs] = ()
) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    """A whole-bucket rule: optional transitions, expiry after ``days``, old versions after 30 days and
    incomplete uploads after 7."""
    return aws.s3.BucketLifecycleConfigurationRuleArgs(
        id=rule_id,
        status="Enabled",
        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
        transitions=list(transitions) or None,
        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=days),
        noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
            noncurrent_days=30
        ),
        abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
            days_after_initiation=7
        ),
    )


@dataclass(frozen=True)
class GovernanceTrailArgs:
    context: PlatformContext  # in the trail's home region
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    trail: TrailConfig
    protect: bool = False
    # Server access logs of the trail bucket go here when a platform access-log bucket exists.
    access_log_bucket: pulumi.Input[str] | None = None

    @property
    def trail_name(self) -> str:
        return f"mlops-{self.context.environment}-trail"

    @property
    def trail_arn(self) -> str:
        return self.context.arn.of("cloudtrail", f"trail/{self.trail_name}", region=self.context.region)


class GovernanceTrail(pulumi.ComponentResource):
    """A multi-region CloudTrail with log file validation, KMS, a hardened bucket and a CloudWatch log group.

    Attributes: ``bucket`` (the trail bucket's SecureBucket), ``access_logs`` (the trail's own access-log
    bucket, a SecureBucket, or None with a platform access-log bucket), ``log_group``, ``logs_role``
    (ServiceRole), ``trail``.
    """

    def __init__(self, name: str, args: GovernanceTrailArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:observability:GovernanceTrail", name, None, opts)
        ctx = args.context
        # Server access logs go to the platform's access-log bucket, or to one of the trail's own.
        self.access_logs = None if args.access_log_bucket is not None else self._access_log_bucket(name, args)
        self.bucket = SecureBucket(
            name,
            SecureBucketArgs(
                tags={**ctx.tags, "Name": f"{name}-bucket"},
                kms_key_arn=args.logs_key_arn,
                lifecycle_rules=[
                    expiring_rule(
                        "archive-then-expire",
                        args.trail.retention_days,
                        [
                            aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                                days=args.trail.glacier_after_days, storage_class="GLACIER"
                            )
                        ],
                    )
                ],
                # Dev is disposable: its trail bucket is emptied on destroy; elsewhere the audit trail outlives it.
                force_destroy=not ctx.keeps_data,
                protect=args.protect,
                policy_statements=lambda arn: trail_bucket_statements(
                    arn, trail_arn=args.trail_arn, account_id=ctx.account_id
                ),
                sort_keys=True,
                # The public access block must exist first: it is what makes a Deny-to-"*" policy safe to apply.
                policy_waits_for=("public-access-block", "ownership"),
                access_log=AccessLogTarget(
                    args.access_log_bucket if self.access_logs is None else self.access_logs.id,
                    ACCESS_LOG_PREFIX,
                ),
                logging_depends_on=[self.access_logs.policy] if self.access_logs is not None else (),
                names={
                    "bucket": f"{name}-bucket",
                    "policy": f"{name}-bucket-policy",
                    "logging": f"{name}-access-logging",
                },
            ),
            parent=self,
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-log-group",
            aws.cloudwatch.LogGroupArgs(
                name=f"/aws/cloudtrail/mlops-{ctx.environment}",
                kms_key_id=args.logs_key_arn,
                retention_in_days=args.log_retention_days,
                tags={**ctx.tags, "Name": f"{name}-log-group"},
            ),
            opts=child_opts(self),
        )
        self.logs_role = ServiceRole(
            name,
            ctx,
            parent=self,
            description="CloudTrail delivers the platform's trail to its CloudWatch log group",
            trust=service_trust(
                ctx.service_principal("cloudtrail"), account_id=ctx.account_id, source_arn=args.trail_arn
            ),
            policy=pulumi.Output.json_dumps(
                document(
                    {
                        "Sid": "WriteTrailLogStreams",
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": pulumi.Output.concat(self.log_group.arn, ":log-stream:*"),
                    }
                )
            ),
            tags={**ctx.tags, "Name": f"{name}-logs-role"},
            role_resource=f"{name}-logs-role",
            policy_resource=f"{name}-logs-role-policy",
        )
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
                    aws.cloudtrail.TrailEventSelectorArgs(
                        read_write_type="All", include_management_events=True
                    )
                ],
                tags={**ctx.tags, "Name": args.trail_name},
            ),
            opts=child_opts(
                self, depends_on=[self.bucket.policy, self.bucket.encryption, self.logs_role.policy]
            ),
        )
        self.register_outputs(
            {"trailArn": self.trail.arn, "bucket": self.bucket.id, "logGroupArn": self.log_group.arn}
        )

    def _access_log_bucket(self, name: str, args: GovernanceTrailArgs) -> SecureBucket:
        """A bucket for the trail bucket's server access logs: private, versioned, TLS-only, expiring.

        S3 server access logging only delivers to SSE-S3 buckets, so this one cannot use the logs key.
        """
        return SecureBucket(
            f"{name}-access-logs",
            SecureBucketArgs(
                tags=args.context.tagged(Name=f"{name}-access-logs"),
                kms_key_arn=None,
                lifecycle_rules=[expiring_rule("expire", ACCESS_LOG_DAYS)],
                force_destroy=not args.context.keeps_data,
                protect=args.protect,
                ownership_controls=False,
                policy_statements=lambda arn: access_log_statements(arn, account_id=args.context.account_id),
                sort_keys=True,
                policy_waits_for=("public-access-block",),
            ),
            parent=self,
        )
