"""SecureBucket: the platform's S3 baseline, written once.

Every bucket gets owner-enforced object ownership, a full public-access block, default encryption (SSE-KMS with
an S3 Bucket Key, or SSE-S3 where AWS allows nothing else: server access log targets), versioning, lifecycle
rules that wait for versioning, and a bucket policy that refuses plain HTTP; optionally server access logging
to another bucket, a default Object Lock retention and replication to other buckets.

It is a builder, not a component: the resources are created under ``parent`` with the names given, so a
component that switches to it keeps its URNs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from components.blocks.iam import allow, bucket_and_objects, deny_insecure_transport, document, to_json

#: The sub-resources a SecureBucket may create, by role; their default name is ``<name>-<role>``.
ROLES = (
    "ownership",
    "public-access-block",
    "encryption",
    "versioning",
    "lifecycle",
    "object-lock",
    "policy",
    "logging",
)


@dataclass(frozen=True)
class AccessLogTarget:
    """Where the bucket's server access logs go: a bucket (name or id) and a key prefix."""

    bucket: pulumi.Input[str]
    prefix: str


@dataclass(frozen=True)
class ReplicaDestination:
    """One destination of replication: its rule id, bucket ARN and the key replicas are encrypted with."""

    rule_id: str
    bucket_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]


@dataclass(frozen=True)
class SecureBucketArgs:
    """What varies between the platform's buckets; everything else is the baseline.

    ``policy_statements`` receives the bucket ARN (then the resolved ``policy_inputs``) and returns the bucket
    policy's statements other than the TLS-only one, which ``tls_statement`` places first or last.
    ``names`` overrides the resource name of a sub-resource role (see ``ROLES``): ``{"policy": "x-policy"}``.
    """

    tags: Mapping[str, str]
    lifecycle_rules: Sequence[aws.s3.BucketLifecycleConfigurationRuleArgs]
    bucket_name: str | None = None
    # None: SSE-S3 (AES256), the only default encryption S3 server access log delivery accepts.
    kms_key_arn: pulumi.Input[str] | None = None
    # Dev's buckets are emptied on destroy; elsewhere a bucket with objects outlives a destroy.
    keeps_data: bool = True
    # An explicit value wins over the one derived from keeps_data (True or unset).
    force_destroy: bool | None = None
    protect: bool = False
    retain_on_delete: bool | None = None
    ownership_controls: bool = True
    policy_statements: Callable[..., Sequence[dict[str, Any]]] | None = None
    policy_inputs: Sequence[pulumi.Input[Any]] = ()
    tls_statement: Literal["first", "last"] = "last"
    sort_keys: bool = False
    # Sub-resource roles the bucket policy waits for (e.g. "public-access-block": a Deny-to-"*" policy is safe
    # once public policies are blocked).
    policy_waits_for: Sequence[str] = ()
    access_log: AccessLogTarget | None = None
    logging_depends_on: Sequence[pulumi.Resource] = ()
    # Object Lock is turned on by its configuration resource, which S3 accepts on an existing versioned bucket,
    # so enabling it never replaces the bucket (the bucket's own object_lock_enabled would).
    object_lock_days: int | None = None
    names: Mapping[str, str] = field(default_factory=dict)


def bucket_policy_document(
    bucket_arn: str, extra: Sequence[dict[str, Any]], tls: Literal["first", "last"]
) -> dict:
    """The bucket policy: the caller's statements and the TLS-only statement on the bucket and its objects."""
    deny = deny_insecure_transport(bucket_and_objects(bucket_arn))
    return document(deny, *extra) if tls == "first" else document(*extra, deny)


def encryption_default(
    kms_key_arn: pulumi.Input[str] | None,
) -> aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs:
    if kms_key_arn is None:
        return aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
            sse_algorithm="AES256"
        )
    return aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
        sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn
    )


def encryption_configuration(
    name: str, bucket: aws.s3.Bucket, kms_key_arn: pulumi.Input[str] | None, opts: pulumi.ResourceOptions
) -> aws.s3.BucketServerSideEncryptionConfiguration:
    """Default encryption: SSE-KMS with ``kms_key_arn`` and an S3 Bucket Key, or SSE-S3 when it is None."""
    return aws.s3.BucketServerSideEncryptionConfiguration(
        name,
        aws.s3.BucketServerSideEncryptionConfigurationInitArgs(
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=encryption_default(kms_key_arn),
                    # A Bucket Key cuts KMS requests; it means nothing for SSE-S3.
                    bucket_key_enabled=True if kms_key_arn is not None else None,
                )
            ],
        ),
        opts=opts,
    )


class SecureBucket:
    """A bucket per the baseline, built under ``parent``; the created resources are its attributes."""

    bucket: aws.s3.Bucket
    ownership: aws.s3.BucketOwnershipControls | None
    public_access_block: aws.s3.BucketPublicAccessBlock
    encryption: aws.s3.BucketServerSideEncryptionConfiguration
    versioning: aws.s3.BucketVersioning
    lifecycle: aws.s3.BucketLifecycleConfiguration
    object_lock: aws.s3.BucketObjectLockConfiguration | None
    policy: aws.s3.BucketPolicy | None
    logging: aws.s3.BucketLogging | None
    replication: aws.s3.BucketReplicationConfig | None

    def __init__(
        self,
        name: str,
        args: SecureBucketArgs,
        parent: pulumi.Resource,
        provider: pulumi.ProviderResource | None = None,
    ):
        self.name, self.args, self._parent, self._provider = name, args, parent, provider
        force_destroy = (
            args.force_destroy if args.force_destroy is not None else (not args.keeps_data or None)
        )
        self.bucket = aws.s3.Bucket(
            args.names.get("bucket", name),
            aws.s3.BucketArgs(bucket=args.bucket_name, force_destroy=force_destroy, tags=dict(args.tags)),
            opts=self._opts(protect=args.protect or None, retain_on_delete=args.retain_on_delete),
        )
        self.ownership = None
        if args.ownership_controls:
            self.ownership = aws.s3.BucketOwnershipControls(
                self._name("ownership"),
                aws.s3.BucketOwnershipControlsArgs(
                    bucket=self.bucket.id,
                    rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
                ),
                opts=self._opts(),
            )
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            self._name("public-access-block"),
            aws.s3.BucketPublicAccessBlockArgs(
                bucket=self.bucket.id,
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
            ),
            opts=self._opts(),
        )
        self.encryption = encryption_configuration(
            self._name("encryption"), self.bucket, args.kms_key_arn, self._opts()
        )
        self.versioning = aws.s3.BucketVersioning(
            self._name("versioning"),
            aws.s3.BucketVersioningInitArgs(
                bucket=self.bucket.id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            ),
            opts=self._opts(),
        )
        # Noncurrent-version rules on an unversioned bucket are refused: lifecycle waits for versioning.
        self.lifecycle = aws.s3.BucketLifecycleConfiguration(
            self._name("lifecycle"),
            aws.s3.BucketLifecycleConfigurationArgs(bucket=self.bucket.id, rules=list(args.lifecycle_rules)),
            opts=self._opts(depends_on=[self.versioning]),
        )
        self.object_lock = None
        if args.object_lock_days:
            self.object_lock = object_lock_configuration(
                self._name("object-lock"),
                self.bucket,
                args.object_lock_days,
                self._opts(depends_on=[self.versioning]),
            )
        self.policy = self._policy()
        self.logging = None
        if args.access_log is not None:
            self.logging = aws.s3.BucketLogging(
                self._name("logging"),
                aws.s3.BucketLoggingInitArgs(
                    bucket=self.bucket.id,
                    target_bucket=args.access_log.bucket,
                    target_prefix=args.access_log.prefix,
                ),
                opts=self._opts(depends_on=list(args.logging_depends_on) or None),
            )
        self.replication = None

    @property
    def id(self) -> pulumi.Output[str]:
        return self.bucket.id

    @property
    def arn(self) -> pulumi.Output[str]:
        return self.bucket.arn

    def _name(self, role: str) -> str:
        return self.args.names.get(role, f"{self.name}-{role}")

    def _opts(self, **extra: Any) -> pulumi.ResourceOptions:
        # A bucket kept on delete keeps its configuration too: deleting the children of a kept bucket would leave
        # it without its policy and public-access block, and deleting the versioning of a bucket with Object Lock
        # fails (S3 refuses to suspend versioning there), which would stop the destroy.
        if self.args.retain_on_delete:
            extra.setdefault("retain_on_delete", True)
        extra = {key: value for key, value in extra.items() if value is not None}
        return pulumi.ResourceOptions(parent=self._parent, provider=self._provider, **extra)

    def _policy(self) -> aws.s3.BucketPolicy:
        args = self.args
        build = args.policy_statements or (lambda _arn, *_values: ())

        def render(values: list[Any]) -> str:
            doc = bucket_policy_document(values[0], list(build(values[0], *values[1:])), args.tls_statement)
            return to_json(doc, sort_keys=args.sort_keys)

        waits = {"ownership": self.ownership, "public-access-block": self.public_access_block}
        depends_on = [waits[role] for role in args.policy_waits_for if waits.get(role) is not None]
        return aws.s3.BucketPolicy(
            self._name("policy"),
            aws.s3.BucketPolicyArgs(
                bucket=self.bucket.id,
                policy=pulumi.Output.all(self.bucket.arn, *args.policy_inputs).apply(render),
            ),
            opts=self._opts(depends_on=depends_on or None),
        )

    def replicate(
        self,
        name: str,
        role_arn: pulumi.Input[str],
        destinations: Sequence[ReplicaDestination],
        depends_on: Sequence[pulumi.Resource] = (),
        delete_markers: bool = True,
    ) -> aws.s3.BucketReplicationConfig:
        """Replicate every object (SSE-KMS ones included) to each destination, re-encrypted with the
        destination's key, and delete markers unless ``delete_markers`` is False; the destinations' versioning
        must exist first (S3 refuses otherwise)."""
        self.replication = aws.s3.BucketReplicationConfig(
            name,
            aws.s3.BucketReplicationConfigArgs(
                bucket=self.bucket.id,
                role=role_arn,
                rules=[
                    replication_rule(index, destination, delete_markers)
                    for index, destination in enumerate(destinations, 1)
                ],
            ),
            opts=self._opts(depends_on=[self.versioning, *depends_on]),
        )
        return self.replication


def object_lock_configuration(
    name: str, bucket: aws.s3.Bucket, days: int, opts: pulumi.ResourceOptions
) -> aws.s3.BucketObjectLockConfiguration:
    """Object Lock with a default GOVERNANCE retention of ``days`` (S3 needs versioning first)."""
    return aws.s3.BucketObjectLockConfiguration(
        name,
        aws.s3.BucketObjectLockConfigurationInitArgs(
            bucket=bucket.id,
            object_lock_enabled="Enabled",
            rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                    mode="GOVERNANCE", days=days
                )
            ),
        ),
        opts=opts,
    )


def replication_rule(
    priority: int, destination: ReplicaDestination, delete_markers: bool = True
) -> aws.s3.BucketReplicationConfigRuleArgs:
    """One replication rule: the whole bucket, delete markers (or not), SSE-KMS objects, STANDARD storage."""
    return aws.s3.BucketReplicationConfigRuleArgs(
        id=destination.rule_id,
        priority=priority,
        status="Enabled",
        filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
        delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
            status="Enabled" if delete_markers else "Disabled"
        ),
        source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
            sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                status="Enabled"
            )
        ),
        destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
            bucket=destination.bucket_arn,
            storage_class="STANDARD",
            encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                replica_kms_key_id=destination.kms_key_arn
            ),
        ),
    )


def replication_policy(
    source_arn: str, source_key: str, destinations: Sequence[tuple[str, str]], region: str
) -> dict[str, Any]:
    """Least privilege for S3 replication: read the source's versions, write replicas, use exactly these keys.

    ``destinations`` are (bucket ARN, replica key ARN) pairs. S3 User Guide, "Replicating encrypted objects":
    kms:Decrypt on the source key through S3 in the source region, kms:Encrypt on each replica key; and ("Amazon
    S3 Bucket Keys and replication") kms:Decrypt on the replica key too, which S3 calls to check the destination's
    Bucket Key (every SecureBucket has one). The keys' policies enable IAM policies for the account (their
    AccountAdministersKey statement), so this identity policy is what grants the role their use.
    """
    return document(
        allow(["s3:GetReplicationConfiguration", "s3:ListBucket"], source_arn, sid="ReadSourceConfiguration"),
        # Retention and legal hold: replicating from an Object Lock source copies both with each version.
        allow(
            [
                "s3:GetObjectVersionForReplication",
                "s3:GetObjectVersionAcl",
                "s3:GetObjectVersionTagging",
                "s3:GetObjectRetention",
                "s3:GetObjectLegalHold",
            ],
            f"{source_arn}/*",
            sid="ReadSourceVersions",
        ),
        allow(
            ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            [f"{arn}/*" for arn, _ in destinations],
            sid="WriteReplicas",
        ),
        allow(
            "kms:Decrypt",
            source_key,
            sid="DecryptSource",
            condition={"StringLike": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
        ),
        allow(
            ["kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"],
            [key for _, key in destinations],
            sid="EncryptReplicas",
        ),
    )
