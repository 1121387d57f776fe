"""The registry's buckets: in every region an artifact bucket (SSE-KMS with the region's artifacts key, Object
Lock in prod when configured) and its server access-log bucket; the primary's artifacts replicated to the others."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_aws as aws

from components.blocks import (
    AccessLogTarget,
    ReplicaDestination,
    SecureBucket,
    SecureBucketArgs,
    ServiceRole,
    bucket_and_objects,
    bucket_policy_document,
    replication_policy,
    to_json,
)
from components.registry.args import ModelRegistryArgs, RegionStore

LOG_EXPIRY_DAYS = 365
# What a bucket is for, as the policy pack reads it (access-logs, model-artifacts).
PURPOSE_TAG = "mlops:purpose"


def bucket_names(environment: str, account_id: str, region: str) -> dict[str, str]:
    """Globally unique, predictable bucket names (account and region in the name)."""
    return {
        "artifacts": f"mlops-{environment}-{account_id}-artifacts-{region}",
        "access-logs": f"mlops-{environment}-{account_id}-access-logs-{region}",
    }


def artifact_bucket_statements(
    bucket_arn: str, vpc_endpoint_id: str | None, exempt_role_arns: Sequence[str]
) -> list[dict[str, Any]]:
    """The artifact bucket's statements besides TLS-only: no upload with another encryption than SSE-KMS; in
    internet-free mode, only through the endpoint.

    The endpoint rule exempts the roles that reach the bucket from outside the VPC on purpose: S3 replication
    (it runs inside S3) and the deployer (it manages the bucket's configuration, wherever `pulumi up` runs).
    """
    statements: list[dict[str, Any]] = [
        {
            # Uploads without the header get the bucket's default SSE-KMS; any other algorithm is refused.
            "Sid": "DenyUnencryptedUploads",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/*",
            "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
        },
    ]
    if vpc_endpoint_id:
        statements.append(
            {
                "Sid": "DenyOutsideTheVpcEndpoint",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": bucket_and_objects(bucket_arn),
                "Condition": {
                    "StringNotEquals": {"aws:sourceVpce": vpc_endpoint_id},
                    "ArnNotLike": {"aws:PrincipalArn": list(exempt_role_arns)},
                },
            }
        )
    return statements


def artifact_bucket_policy(
    bucket_arn: str, vpc_endpoint_id: str | None, exempt_role_arns: Sequence[str]
) -> dict[str, Any]:
    """TLS only, SSE-KMS uploads only, and in internet-free mode only through the endpoint."""
    return bucket_policy_document(
        bucket_arn, artifact_bucket_statements(bucket_arn, vpc_endpoint_id, exempt_role_arns), "first"
    )


def access_log_statements(bucket_arn: str, account_id: str) -> list[dict[str, Any]]:
    """S3 server access log delivery from this account's buckets (S3 user guide, "Permissions for log delivery")."""
    return [
        {
            "Sid": "S3ServerAccessLogDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
    ]


def access_log_bucket_policy(bucket_arn: str, account_id: str) -> dict[str, Any]:
    return bucket_policy_document(bucket_arn, access_log_statements(bucket_arn, account_id), "last")


def lifecycle_rules(
    noncurrent_days: int, expire_days: int | None
) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    """Abort stale multipart uploads, tier then expire noncurrent versions, and (log buckets) expire objects."""
    every = aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix="")
    rules = [
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="abort-incomplete-uploads",
            status="Enabled",
            filter=every,
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=7
            ),
        ),
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="noncurrent-versions",
            status="Enabled",
            filter=every,
            noncurrent_version_transitions=[
                aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionTransitionArgs(
                    noncurrent_days=30, storage_class="STANDARD_IA"
                )
            ],
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=noncurrent_days
            ),
        ),
    ]
    if expire_days:
        rules.append(
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-logs",
                status="Enabled",
                filter=every,
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=expire_days),
            )
        )
    return rules


@dataclass
class ArtifactStores:
    """What the registry's buckets are: per region the artifact and the access-log bucket, and replication."""

    artifacts: dict[str, SecureBucket]
    logs: dict[str, SecureBucket]
    replication_role: aws.iam.Role | None


def artifact_stores(owner: pulumi.Resource, name: str, args: ModelRegistryArgs) -> ArtifactStores:
    """Every region's buckets, the artifact buckets' policies, and replication from the primary to the others."""
    ctx, cfg = args.context, args.config
    primary, secondaries = args.regions[0], list(args.regions[1:])
    replication_role_name = f"{ctx.prefix}-artifact-replication"
    exempt = [ctx.arn.role(replication_role_name)]
    if args.deployer_role_arn:
        exempt.append(args.deployer_role_arn)
    stores = ArtifactStores({}, {}, None)
    for store in args.regions:
        names = bucket_names(ctx.environment, ctx.account_id, store.region)
        logs = _bucket(
            owner,
            f"{name}-access-logs-{store.region}",
            names["access-logs"],
            store,
            args,
            SecureBucketArgs(
                # The policy pack knows a log bucket by this tag alone (and holds it to receiving logs).
                tags=ctx.tagged(**{PURPOSE_TAG: "access-logs"}),
                lifecycle_rules=lifecycle_rules(cfg.noncurrent_version_days, LOG_EXPIRY_DAYS),
                policy_statements=lambda arn: access_log_statements(arn, ctx.account_id),
            ),
        )
        suffix = "" if store is primary else f"-{store.region}"
        # Every region's bucket (the primary and its replicas) accepts only its own region's S3 endpoint when
        # the stack is internet-free.
        stores.artifacts[store.region] = _bucket(
            owner,
            f"{name}-artifacts-{store.region}",
            names["artifacts"],
            store,
            args,
            SecureBucketArgs(
                tags=ctx.tagged(**{PURPOSE_TAG: "model-artifacts"}),
                lifecycle_rules=lifecycle_rules(cfg.noncurrent_version_days, None),
                kms_key_arn=store.artifacts_key_arn,
                # Replicating locked objects needs object lock on the destination too.
                object_lock_days=cfg.object_lock_days if cfg.object_lock and ctx.is_prod else None,
                policy_statements=lambda arn, endpoint: artifact_bucket_statements(arn, endpoint, exempt),
                policy_inputs=(args.s3_endpoint_ids.get(store.region),),
                tls_statement="first",
                names={"policy": f"{name}-artifacts{suffix}-policy"},
                access_log=AccessLogTarget(logs.id, f"{names['artifacts']}/"),
            ),
        )
        stores.logs[store.region] = logs
    if secondaries:
        stores.replication_role = _replicate(owner, name, args, stores.artifacts, replication_role_name)
    return stores


def _bucket(
    owner: pulumi.Resource,
    name: str,
    bucket_name: str,
    store: RegionStore,
    args: ModelRegistryArgs,
    spec: SecureBucketArgs,
) -> SecureBucket:
    """A registry bucket: named, kept outside dev, protected and retained in prod."""
    ctx = args.context
    spec = replace(
        spec,
        bucket_name=bucket_name,
        keeps_data=ctx.keeps_data,
        protect=ctx.is_prod,
        retain_on_delete=ctx.is_prod,
    )
    return SecureBucket(name, spec, parent=owner, provider=store.provider)


def _replicate(
    owner: pulumi.Resource,
    name: str,
    args: ModelRegistryArgs,
    buckets: Mapping[str, SecureBucket],
    role_name: str,
) -> aws.iam.Role:
    """The replication role (S3 from this account) and the primary bucket's replication to every replica."""
    ctx = args.context
    primary, secondaries = args.regions[0], list(args.regions[1:])
    source = buckets[primary.region]
    destinations = [(buckets[s.region].arn, s.artifacts_key_arn) for s in secondaries]
    policy = pulumi.Output.all(
        source.arn,
        primary.artifacts_key_arn,
        pulumi.Output.all(*[arn for arn, _ in destinations]),
        pulumi.Output.all(*[key for _, key in destinations]),
    ).apply(
        lambda v: to_json(replication_policy(v[0], v[1], list(zip(v[2], v[3], strict=True)), primary.region))
    )
    role = ServiceRole(
        f"{name}-replication",
        ctx,
        parent=owner,
        provider=primary.provider,
        service="s3",
        role_name=role_name,
        policy=policy,
    )
    source.replicate(
        f"{name}-replication",
        role.arn,
        [
            ReplicaDestination(f"to-{s.region}", buckets[s.region].arn, s.artifacts_key_arn)
            for s in secondaries
        ],
        depends_on=[buckets[s.region].versioning for s in secondaries],
    )
    return role.role
