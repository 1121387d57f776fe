"""The governance trail: a multi-region CloudTrail, its hardened bucket (and, without a platform access-log
bucket, one for the bucket's server access logs), its CloudWatch log group and the role that delivers to it.

In a multi-region platform the trail bucket replicates to a bucket in the secondary region, so the audit trail
survives the loss of the primary region; in prod both buckets lock every log file in GOVERNANCE mode.

Destroy: in prod the trail bucket and its replica are protected (a destroy stops at them) and retained (after
``pulumi state unprotect`` a destroy drops them from the stack and leaves them, with their locked logs, in the
account). Emptying a bucket with locked versions needs ``s3:BypassGovernanceRetention`` and the
``x-amz-bypass-governance-retention`` header on each delete (S3 User Guide, "Bypassing governance mode"); the
platform never does that for you. Outside prod nothing is locked: staging keeps its non-empty buckets (the
bucket delete fails until someone empties them), dev empties and deletes them.
"""

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
    ReplicaDestination,
    SecureBucket,
    SecureBucketArgs,
    ServiceRole,
    document,
    replication_policy,
    service_trust,
    to_json,
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


def trail_lifecycle_rule(trail: TrailConfig) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    """The trail bucket's (and its replica's) rule: Glacier after ``glacier-after-days``, expiry after
    ``retention-days``. A locked version is not removed before its retention date whatever the rule says."""
    return expiring_rule(
        "archive-then-expire",
        trail.retention_days,
        [
            aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                days=trail.glacier_after_days, storage_class="GLACIER"
            )
        ],
    )


# The explicit purpose tags (key and values) the platform and its policy pack agree on.
PURPOSE = "mlops:purpose"


def trail_bucket_args(
    args: GovernanceTrailArgs,
    ctx: PlatformContext,
    tag_name: str,
    purpose: str,
    kms_key_arn: pulumi.Input[str],
    **extra: Any,
) -> SecureBucketArgs:
    """What the trail bucket and its replica share: SSE-KMS with the region's logs key, the trail's lifecycle,
    the lock (prod), and what a destroy does to them; ``extra`` is the rest of SecureBucketArgs."""
    return SecureBucketArgs(
        tags=ctx.tagged(Name=tag_name, **{PURPOSE: purpose}),
        kms_key_arn=kms_key_arn,
        lifecycle_rules=[trail_lifecycle_rule(args.trail)],
        # Dev is disposable: its trail buckets are emptied on destroy; elsewhere the audit trail outlives it.
        force_destroy=not ctx.keeps_data,
        protect=args.protect,
        # Locked logs outlive the stack: a destroy (once unprotected) leaves the bucket in the account.
        retain_on_delete=args.lock_days is not None or None,
        object_lock_days=args.lock_days,
        sort_keys=True,
        # The public access block must exist first: it is what makes a Deny-to-"*" policy safe to apply.
        policy_waits_for=("public-access-block", "ownership"),
        **extra,
    )


def trail_advanced_selectors(
    bucket_arns: Sequence[pulumi.Input[str]],
) -> list[aws.cloudtrail.TrailAdvancedEventSelectorArgs]:
    """Management events, and data events on every object of ``bucket_arns`` (advanced event selectors:
    eventCategory Data, resources.type AWS::S3::Object, resources.ARN StartsWith ``<bucket ARN>/``). A trail
    with advanced selectors has no basic ones, so management events get their own selector."""
    field = aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs
    return [
        aws.cloudtrail.TrailAdvancedEventSelectorArgs(
            name="Management events", field_selectors=[field(field="eventCategory", equals=["Management"])]
        ),
        aws.cloudtrail.TrailAdvancedEventSelectorArgs(
            name="Artifact and data bucket objects",
            field_selectors=[
                field(field="eventCategory", equals=["Data"]),
                field(field="resources.type", equals=["AWS::S3::Object"]),
                field(
                    field="resources.ARN",
                    starts_withs=[pulumi.Output.concat(arn, "/") for arn in bucket_arns],
                ),
            ],
        ),
    ]


@dataclass(frozen=True)
class TrailReplica:
    """Where the trail bucket replicates: the secondary region, its provider and its logs key."""

    region: str
    provider: pulumi.ProviderResource
    logs_key_arn: pulumi.Input[str]


@dataclass(frozen=True)
class GovernanceTrailArgs:
    context: PlatformContext  # in the trail's home region
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    trail: TrailConfig
    protect: bool = False
    # Server access logs of the trail bucket go here when a platform access-log bucket exists.
    access_log_bucket: pulumi.Input[str] | None = None
    # A multi-region platform's secondary region: the trail bucket replicates there.
    replica: TrailReplica | None = None
    # Buckets whose object-level reads and writes the trail records as data events (prod's artifact buckets).
    data_event_bucket_arns: Sequence[pulumi.Input[str]] = ()

    @property
    def lock_days(self) -> int | None:
        """Prod locks the trail's log files (and their replicas) for the configured days; elsewhere nothing."""
        return self.trail.lock_days if self.context.is_prod else None

    @property
    def trail_name(self) -> str:
        return f"mlops-{self.context.environment}-trail"

    @property
    def trail_arn(self) -> str:
        return self.context.arn.of("cloudtrail", f"trail/{self.trail_name}", region=self.context.region)


class GovernanceTrail(pulumi.ComponentResource):
    """A multi-region CloudTrail with log file validation, KMS, a hardened bucket and a CloudWatch log group.

    Attributes: ``bucket`` (the trail bucket's SecureBucket), ``access_logs`` (the trail's own access-log
    bucket, a SecureBucket, or None with a platform access-log bucket), ``replica`` (the secondary region's
    SecureBucket, or None), ``replica_access_logs``, ``replication_role`` (ServiceRole or None),
    ``log_group``, ``logs_role`` (ServiceRole), ``trail``.
    """

    def __init__(self, name: str, args: GovernanceTrailArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:observability:GovernanceTrail", name, None, opts)
        ctx = args.context
        # Server access logs go to the platform's access-log bucket, or to one of the trail's own.
        self.access_logs = None if args.access_log_bucket is not None else self._access_log_bucket(name, args)
        self.bucket = SecureBucket(
            name,
            trail_bucket_args(
                args,
                ctx,
                f"{name}-bucket",
                "governance-trail",
                args.logs_key_arn,
                policy_statements=lambda arn: trail_bucket_statements(
                    arn, trail_arn=args.trail_arn, account_id=ctx.account_id
                ),
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
        self.replica = self.replica_access_logs = self.replication_role = None
        if args.replica is not None:
            self._replicate(name, args, args.replica)
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
                event_selectors=None
                if args.data_event_bucket_arns
                else [
                    aws.cloudtrail.TrailEventSelectorArgs(
                        read_write_type="All", include_management_events=True
                    )
                ],
                advanced_event_selectors=trail_advanced_selectors(args.data_event_bucket_arns)
                if args.data_event_bucket_arns
                else None,
                tags={**ctx.tags, "Name": args.trail_name},
            ),
            opts=child_opts(
                self, depends_on=[self.bucket.policy, self.bucket.encryption, self.logs_role.policy]
            ),
        )
        self.register_outputs(
            {"trailArn": self.trail.arn, "bucket": self.bucket.id, "logGroupArn": self.log_group.arn}
        )

    def _access_log_bucket(
        self,
        name: str,
        args: GovernanceTrailArgs,
        ctx: PlatformContext | None = None,
        provider: pulumi.ProviderResource | None = None,
    ) -> SecureBucket:
        """A bucket for a trail bucket's server access logs (in ``ctx``'s region, the trail's by default):
        private, versioned, TLS-only, expiring.

        S3 server access logging only delivers to SSE-S3 buckets (so this one cannot use the logs key), to a
        bucket in the source bucket's region, and never to an Object Lock bucket (S3 User Guide, "Object Lock
        considerations"): it is not locked.
        """
        ctx = ctx or args.context
        return SecureBucket(
            f"{name}-access-logs",
            SecureBucketArgs(
                tags=ctx.tagged(Name=f"{name}-access-logs", **{PURPOSE: "access-logs"}),
                kms_key_arn=None,
                lifecycle_rules=[expiring_rule("expire", ACCESS_LOG_DAYS)],
                force_destroy=not ctx.keeps_data,
                protect=args.protect,
                # Kept beside the locked trail bucket it logs (prod): a destroy would otherwise stop at this
                # non-empty bucket, or delete the target the kept trail bucket still logs to.
                retain_on_delete=args.lock_days is not None or None,
                ownership_controls=False,
                policy_statements=lambda arn: access_log_statements(arn, account_id=ctx.account_id),
                sort_keys=True,
                policy_waits_for=("public-access-block",),
            ),
            parent=self,
            provider=provider,
        )

    def _replicate(self, name: str, args: GovernanceTrailArgs, replica: TrailReplica) -> None:
        """The replica bucket in the secondary region (its own access-log bucket there, the region's logs key,
        the trail bucket's lifecycle and lock), the replication role, and the trail bucket's replication.

        Delete markers are not replicated: a delete in the primary region (by a compromised principal, say)
        must not hide the copy; the replica ages out by its own lifecycle, as the source does. Replicating from
        an Object Lock bucket needs Object Lock on the destination (S3 replication failure reason
        DstBucketObjectLockConfigMissing), so replication waits for the replica's lock configuration.
        """
        ctx = args.context.in_region(replica.region)
        self.replica_access_logs = self._access_log_bucket(
            f"{name}-replica", args, ctx, provider=replica.provider
        )
        self.replica = SecureBucket(
            f"{name}-replica",
            trail_bucket_args(
                args,
                ctx,
                f"{name}-replica",
                "governance-trail-replica",
                replica.logs_key_arn,
                access_log=AccessLogTarget(self.replica_access_logs.id, ACCESS_LOG_PREFIX),
                logging_depends_on=[self.replica_access_logs.policy],
            ),
            parent=self,
            provider=replica.provider,
        )
        home = args.context.region
        policy = pulumi.Output.all(
            self.bucket.arn, args.logs_key_arn, self.replica.arn, replica.logs_key_arn
        ).apply(lambda v: to_json(replication_policy(v[0], v[1], [(v[2], v[3])], home)))
        self.replication_role = ServiceRole(
            f"{name}-replication",
            args.context,
            parent=self,
            service="s3",
            role_name=f"{args.context.prefix}-trail-replication",
            description="S3 replicates the governance trail bucket to the secondary region",
            policy=policy,
            tags=args.context.tagged(Name=f"{name}-replication-role"),
        )
        replica_waits = [self.replica.versioning, self.replica.encryption]
        if self.replica.object_lock is not None:
            replica_waits.append(self.replica.object_lock)
        self.bucket.replicate(
            f"{name}-replication",
            self.replication_role.arn,
            [ReplicaDestination(f"to-{replica.region}", self.replica.arn, replica.logs_key_arn)],
            depends_on=[*replica_waits, self.replication_role.policy],
            delete_markers=False,
        )
