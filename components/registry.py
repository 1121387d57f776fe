"""The model registry: versioned, encrypted, replicated artifacts; model image repositories; MLflow.

Artifacts live in one S3 bucket in the primary region, replicated to a bucket in every other region with that
region's replica key, so a region failure loses no model. Images live in ECR with immutable tags and are
replicated by the registry to every serving region. MLflow tracks experiments and registers model versions:
its database is RDS PostgreSQL in the isolated subnets, its server a hardened Deployment on the serving cluster
whose Pod Identity role reaches only the artifact bucket and the database secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.base import child_opts
from components.cluster import mirror_image
from components.config import RegistryConfig
from components.serving.ingress import (
    ingress_hostname,
    internal_alb_annotations,
    mlflow_host,
    mlflow_load_balancer_name,
)
from components.serving.workload import (
    POD_IDENTITY_AGENT,
    ContainerSpec,
    hardened_container,
    hardened_pod_spec,
)

MLFLOW_NAMESPACE = "mlflow"
DB_LOG_EXPORTS = ("postgresql", "upgrade")
MLFLOW_PORT = 5000
DB_USER = "mlflow_admin"
IMAGE_LIFECYCLE = {
    "rules": [
        {"rulePriority": 1, "description": "Drop untagged layers after 14 days",
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14},
         "action": {"type": "expire"}},
        {"rulePriority": 2, "description": "Keep the newest 200 tagged images",
         "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 200},
         "action": {"type": "expire"}},
    ]
}


def bucket_names(environment: str, account_id: str, region: str) -> dict[str, str]:
    """Globally unique, predictable bucket names (account and region in the name)."""
    return {
        "artifacts": f"mlops-{environment}-{account_id}-artifacts-{region}",
        "access-logs": f"mlops-{environment}-{account_id}-access-logs-{region}",
    }


def artifact_bucket_policy(bucket_arn: str, vpc_endpoint_id: str | None, exempt_role_arns: Sequence[str]) -> dict[str, Any]:
    """TLS only; no upload with another encryption than SSE-KMS; in internet-free mode, only through the endpoint.

    The endpoint rule exempts the roles that reach the bucket from outside the VPC on purpose: S3 replication
    (it runs inside S3) and the deployer (it manages the bucket's configuration, wherever `pulumi up` runs).
    """
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
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
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {
                    "StringNotEquals": {"aws:sourceVpce": vpc_endpoint_id},
                    "ArnNotLike": {"aws:PrincipalArn": list(exempt_role_arns)},
                },
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def access_log_bucket_policy(bucket_arn: str, account_id: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "S3ServerAccessLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
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


def replication_policy(source_arn: str, source_key: str, destinations: Sequence[tuple[str, str]], region: str) -> dict[str, Any]:
    """Least privilege for S3 replication: read the source's versions, write replicas, use exactly these keys."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadSourceConfiguration", "Effect": "Allow",
             "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"], "Resource": source_arn},
            {"Sid": "ReadSourceVersions", "Effect": "Allow",
             # Retention and legal hold: replicating from an Object Lock source copies both with each version.
             "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging",
                        "s3:GetObjectRetention", "s3:GetObjectLegalHold"],
             "Resource": f"{source_arn}/*"},
            {"Sid": "WriteReplicas", "Effect": "Allow",
             "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
             "Resource": [f"{arn}/*" for arn, _ in destinations]},
            {"Sid": "DecryptSource", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": source_key,
             "Condition": {"StringLike": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}},
            {"Sid": "EncryptReplicas", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
             "Resource": [key for _, key in destinations]},
        ],
    }


def pod_identity_trust(account_id: str, partition: str, region: str, cluster: str) -> dict[str, Any]:
    """EKS Pod Identity trust limited to this account and, on EKS, to this cluster (no confused deputy)."""
    condition: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": account_id}}
    if cluster:
        condition["ArnEquals"] = {"aws:SourceArn": f"arn:{partition}:eks:{region}:{account_id}:cluster/{cluster}"}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": condition,
            }
        ],
    }


def ecr_template_role_policy(repository_arns: Sequence[str], key_arns: Sequence[str]) -> dict[str, Any]:
    """What ECR needs to create repositories from a template with KMS encryption and tags."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "CreateFromTemplate", "Effect": "Allow",
             "Action": ["ecr:CreateRepository", "ecr:ReplicateImage", "ecr:TagResource"], "Resource": list(repository_arns)},
            {"Sid": "EncryptWithImagesKeys", "Effect": "Allow",
             "Action": ["kms:CreateGrant", "kms:RetireGrant", "kms:DescribeKey"], "Resource": list(key_arns)},
        ],
    }


def mlflow_access_policy(bucket_arn: str, artifacts_key: str, secret_arn: str, database_key: str) -> dict[str, Any]:
    """MLflow's role: its own prefix of the artifact bucket, and the database's managed secret."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ListMlflowPrefix", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn,
             "Condition": {"StringLike": {"s3:prefix": ["mlflow/*"]}}},
            {"Sid": "ReadWriteMlflowArtifacts", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "Resource": f"{bucket_arn}/mlflow/*"},
            {"Sid": "ArtifactsKeyThroughS3", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
             "Resource": artifacts_key, "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}}},
            {"Sid": "ReadDatabaseSecret", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
             "Resource": secret_arn},
            {"Sid": "DatabaseKeyThroughSecretsManager", "Effect": "Allow", "Action": "kms:Decrypt",
             "Resource": database_key, "Condition": {"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}}},
        ],
    }


def ecr_template_role(
    name: str,
    what: str,
    account_id: str,
    repository_arns: Sequence[str],
    key_arns: Sequence[pulumi.Input[str]],
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """The role ECR assumes to create repositories from templates (with KMS and tags), and its policy."""
    role = aws.iam.Role(
        f"{name}-role",
        aws.iam.RoleArgs(
            description=f"ECR creates {what} from the platform's templates",
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "ecr.amazonaws.com"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}}]}),
            tags=dict(tags),
        ),
        opts=opts,
    )
    policy = aws.iam.RolePolicy(
        f"{name}-policy",
        aws.iam.RolePolicyArgs(
            role=role.id,
            policy=pulumi.Output.all(*key_arns).apply(
                lambda keys: json.dumps(ecr_template_role_policy(list(repository_arns), keys))
            ),
        ),
        opts=opts,
    )
    return role, policy


@dataclass(frozen=True)
class RegionStore:
    """One region's part of the registry: its provider and keys."""

    region: str
    provider: aws.Provider
    artifacts_key_arn: pulumi.Input[str]
    images_key_arn: pulumi.Input[str]


@dataclass(frozen=True)
class ModelRegistryArgs:
    environment: str
    partition: str
    account_id: str
    config: RegistryConfig
    regions: Sequence[RegionStore]  # the first is the primary
    isolated_subnet_ids: Sequence[pulumi.Input[str]]
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    database_key_arn: pulumi.Input[str]
    cluster_security_group_id: pulumi.Input[str] | None
    k8s_provider: k8s.Provider | None
    # The EKS cluster MLflow's Pod Identity association belongs to (None on bring-your-own clusters).
    pod_identity_cluster: pulumi.Input[str] | None = None
    # Internet-free stacks: each region's S3 gateway endpoint, the only way into that region's bucket.
    s3_endpoint_ids: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # The role `pulumi up` runs as: exempt from the endpoint-only rule, so that it keeps managing the buckets.
    deployer_role_arn: str | None = None
    # The primary region's S3 prefix-list CIDRs: where MLflow's artifact traffic goes (gateway endpoint).
    s3_cidrs: pulumi.Input[Sequence[str]] = ()
    # What MLflow's workloads wait for on the cluster (node pools, the load balancer controller).
    workload_ready: Sequence[pulumi.Resource] = ()
    # The account's ECR registry host in internet-free stacks: the MLflow image is pulled through it.
    mirror: str | None = None
    logs_key_arn: pulumi.Input[str] | None = None
    log_retention_days: int = 30
    # The platform's private hosted zone, where MLflow's name points at its load balancer.
    private_zone_id: pulumi.Input[str] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def keeps_data(self) -> bool:
        """Whether this environment's data outlives a destroy (deletion protection, final snapshots); dev's does not."""
        return self.environment != "dev"


def model_repository(
    name: str,
    repository: str,
    images_key_arn: pulumi.Input[str],
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
    force_delete: bool = False,
) -> tuple[aws.ecr.Repository, aws.ecr.LifecyclePolicy]:
    """A model image repository with the platform's defaults; team stacks create theirs with this.

    ``force_delete``: destroy deletes the repository with its images (DeleteRepository refuses a repository that
    holds images unless forced); set outside prod, where images are rebuilt rather than kept.
    """
    repo = aws.ecr.Repository(
        name,
        aws.ecr.RepositoryArgs(
            name=repository,
            force_delete=force_delete or None,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[
                aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=images_key_arn)
            ],
            tags=dict(tags),
        ),
        opts=opts,
    )
    policy = aws.ecr.LifecyclePolicy(
        f"{name}-lifecycle",
        aws.ecr.LifecyclePolicyArgs(repository=repo.name, policy=json.dumps(IMAGE_LIFECYCLE)),
        opts=opts,
    )
    return repo, policy


class ModelRegistry(pulumi.ComponentResource):
    """Artifact buckets (replicated), image repository defaults and replication, and the MLflow server."""

    artifact_bucket: aws.s3.Bucket
    replica_buckets: dict[str, aws.s3.Bucket]
    log_buckets: dict[str, aws.s3.Bucket]
    replication_role: aws.iam.Role | None
    database: aws.rds.Instance
    mlflow_deployment: k8s.apps.v1.Deployment | None
    mlflow_url: str | None

    def __init__(self, name: str, args: ModelRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:registry:ModelRegistry", name, None, opts)
        self._args = args
        cfg = args.config
        primary, secondaries = args.regions[0], list(args.regions[1:])
        tags = dict(args.tags)
        self.log_buckets, self.replica_buckets = {}, {}

        buckets: dict[str, aws.s3.Bucket] = {}
        versionings: dict[str, aws.s3.BucketVersioning] = {}
        for store in args.regions:
            names = bucket_names(args.environment, args.account_id, store.region)
            log_bucket = self._bucket(f"{name}-access-logs-{store.region}", names["access-logs"], store, tags,
                                      kms_key=None, expire_days=365, object_lock=False)
            self.log_buckets[store.region] = log_bucket
            aws.s3.BucketPolicy(
                f"{name}-access-logs-{store.region}-policy",
                aws.s3.BucketPolicyArgs(
                    bucket=log_bucket.id,
                    policy=log_bucket.arn.apply(lambda arn: json.dumps(access_log_bucket_policy(arn, args.account_id))),
                ),
                opts=child_opts(self, provider=store.provider),
            )
            bucket = self._bucket(
                f"{name}-artifacts-{store.region}", names["artifacts"], store, tags,
                kms_key=store.artifacts_key_arn, expire_days=None,
                # Replicating locked objects needs object lock on the destination too.
                object_lock=cfg.object_lock and args.is_prod,
            )
            buckets[store.region] = bucket
            versionings[store.region] = self._last_versioning
            aws.s3.BucketLogging(
                f"{name}-artifacts-{store.region}-logging",
                aws.s3.BucketLoggingInitArgs(bucket=bucket.id, target_bucket=log_bucket.id,
                                             target_prefix=f"{names['artifacts']}/"),
                opts=child_opts(self, provider=store.provider),
            )
        self.artifact_bucket = buckets[primary.region]
        self.replica_buckets = {store.region: buckets[store.region] for store in secondaries}

        self.replication_role = None
        exempt = [f"arn:{args.partition}:iam::{args.account_id}:role/mlops-{args.environment}-artifact-replication"]
        if args.deployer_role_arn:
            exempt.append(args.deployer_role_arn)
        if secondaries:
            self.replication_role = aws.iam.Role(
                f"{name}-replication-role",
                aws.iam.RoleArgs(
                    name=f"mlops-{args.environment}-artifact-replication",
                    assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"aws:SourceAccount": args.account_id}}}]}),
                    tags=tags,
                ),
                opts=child_opts(self, provider=primary.provider),
            )
            destinations = [(buckets[s.region].arn, s.artifacts_key_arn) for s in secondaries]
            policy = pulumi.Output.all(
                self.artifact_bucket.arn, primary.artifacts_key_arn,
                pulumi.Output.all(*[arn for arn, _ in destinations]), pulumi.Output.all(*[key for _, key in destinations]),
            ).apply(lambda v: json.dumps(replication_policy(v[0], v[1], list(zip(v[2], v[3], strict=True)), primary.region)))
            aws.iam.RolePolicy(
                f"{name}-replication-policy",
                aws.iam.RolePolicyArgs(role=self.replication_role.id, policy=policy),
                opts=child_opts(self, provider=primary.provider),
            )
            aws.s3.BucketReplicationConfig(
                f"{name}-replication",
                aws.s3.BucketReplicationConfigArgs(
                    bucket=self.artifact_bucket.id,
                    role=self.replication_role.arn,
                    rules=[
                        aws.s3.BucketReplicationConfigRuleArgs(
                            id=f"to-{store.region}",
                            priority=index,
                            status="Enabled",
                            filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
                            delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
                                status="Enabled"
                            ),
                            source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                                sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                                    status="Enabled"
                                )
                            ),
                            destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
                                bucket=buckets[store.region].arn,
                                storage_class="STANDARD",
                                encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                                    replica_kms_key_id=store.artifacts_key_arn
                                ),
                            ),
                        )
                        for index, store in enumerate(secondaries, start=1)
                    ],
                ),
                opts=child_opts(self, provider=primary.provider, depends_on=list(versionings.values())),
            )
        # Every region's bucket (the primary and its replicas) accepts only its own region's S3 endpoint when the
        # stack is internet-free.
        for store in args.regions:
            bucket = buckets[store.region]
            suffix = "" if store is primary else f"-{store.region}"
            aws.s3.BucketPolicy(
                f"{name}-artifacts{suffix}-policy",
                aws.s3.BucketPolicyArgs(
                    bucket=bucket.id,
                    policy=pulumi.Output.all(bucket.arn, args.s3_endpoint_ids.get(store.region)).apply(
                        lambda v: json.dumps(artifact_bucket_policy(v[0], v[1], exempt))
                    ),
                ),
                opts=child_opts(self, provider=store.provider),
            )

        self._images(name, args, primary, secondaries, tags)
        self._database(name, args, primary, tags)
        self.mlflow_deployment, self.mlflow_url = None, None
        if args.k8s_provider is not None:
            self._mlflow(name, args, primary, tags)
        self.register_outputs({"artifactBucket": self.artifact_bucket.bucket, "databaseEndpoint": self.database.address})

    # ---------------------------------------------------------------------------------------------------

    def _bucket(self, name, bucket_name, store, tags, *, kms_key, expire_days, object_lock) -> aws.s3.Bucket:
        """A bucket per the baseline: public access blocked, encrypted, versioned, with lifecycle rules."""
        cfg_opts = child_opts(self, provider=store.provider)
        stateful = child_opts(self, provider=store.provider, protect=self._prod, retain_on_delete=self._prod)
        # Object lock is enabled by its configuration resource, which S3 accepts on an existing versioned bucket,
        # so turning it on never replaces the bucket (the bucket's own object_lock_enabled would). Dev buckets
        # are emptied on destroy; elsewhere a bucket with objects stays, and prod's are protected.
        bucket = aws.s3.Bucket(
            name,
            aws.s3.BucketArgs(bucket=bucket_name, force_destroy=not self._args.keeps_data or None, tags=dict(tags)),
            opts=stateful,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            aws.s3.BucketOwnershipControlsArgs(
                bucket=bucket.id, rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced")
            ),
            opts=cfg_opts,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            aws.s3.BucketPublicAccessBlockArgs(bucket=bucket.id, block_public_acls=True, ignore_public_acls=True,
                                               block_public_policy=True, restrict_public_buckets=True),
            opts=cfg_opts,
        )
        default = (
            aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="aws:kms", kms_master_key_id=kms_key)
            if kms_key is not None
            # S3 server access log delivery supports SSE-S3 only.
            else aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(sse_algorithm="AES256")
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            aws.s3.BucketServerSideEncryptionConfigurationInitArgs(
                bucket=bucket.id,
                rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=default, bucket_key_enabled=kms_key is not None or None)],
            ),
            opts=cfg_opts,
        )
        self._last_versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            aws.s3.BucketVersioningInitArgs(
                bucket=bucket.id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            ),
            opts=cfg_opts,
        )
        rules = [
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="abort-incomplete-uploads", status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=7),
            ),
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="noncurrent-versions", status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                noncurrent_version_transitions=[aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionTransitionArgs(
                    noncurrent_days=30, storage_class="STANDARD_IA")],
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=self._config.noncurrent_version_days),
            ),
        ]
        if expire_days:
            rules.append(aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-logs", status="Enabled", filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=expire_days)))
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", aws.s3.BucketLifecycleConfigurationArgs(bucket=bucket.id, rules=rules),
            opts=child_opts(self, provider=store.provider, depends_on=[self._last_versioning]),
        )
        if object_lock:
            aws.s3.BucketObjectLockConfiguration(
                f"{name}-object-lock",
                aws.s3.BucketObjectLockConfigurationInitArgs(
                    bucket=bucket.id,
                    object_lock_enabled="Enabled",
                    rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                        default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                            mode="GOVERNANCE", days=self._config.object_lock_days)),
                ),
                opts=child_opts(self, provider=store.provider, depends_on=[self._last_versioning]),
            )
        return bucket

    @property
    def _prod(self) -> bool:
        return self._args.is_prod

    def _images(self, name, args, primary, secondaries, tags) -> None:
        on_primary = child_opts(self, provider=primary.provider)
        self.replication_configuration = None
        if secondaries:
            self.replication_configuration = aws.ecr.ReplicationConfiguration(
                f"{name}-image-replication",
                aws.ecr.ReplicationConfigurationArgs(
                    replication_configuration=aws.ecr.ReplicationConfigurationReplicationConfigurationArgs(
                        rules=[aws.ecr.ReplicationConfigurationReplicationConfigurationRuleArgs(
                            destinations=[
                                aws.ecr.ReplicationConfigurationReplicationConfigurationRuleDestinationArgs(
                                    region=store.region, registry_id=args.account_id)
                                for store in secondaries
                            ],
                            repository_filters=[
                                aws.ecr.ReplicationConfigurationReplicationConfigurationRuleRepositoryFilterArgs(
                                    filter="models/", filter_type="PREFIX_MATCH")
                            ],
                        )]
                    )
                ),
                opts=on_primary,
            )
        # Repositories created by replication or on push get the platform's defaults. ECR needs a role of ours
        # to create KMS-encrypted, tagged repositories from a template.
        repositories = [f"arn:{args.partition}:ecr:{store.region}:{args.account_id}:repository/models/*" for store in args.regions]
        self.template_role, template_policy = ecr_template_role(
            f"{name}-image-template", "model repositories", args.account_id, repositories,
            [store.images_key_arn for store in args.regions], tags, on_primary,
        )
        for store in args.regions:
            aws.ecr.RepositoryCreationTemplate(
                f"{name}-image-template-{store.region}",
                aws.ecr.RepositoryCreationTemplateArgs(
                    prefix="models",
                    applied_fors=["REPLICATION", "CREATE_ON_PUSH"],
                    description="Model images: immutable tags, KMS, expiring untagged layers",
                    image_tag_mutability="IMMUTABLE",
                    encryption_configurations=[aws.ecr.RepositoryCreationTemplateEncryptionConfigurationArgs(
                        encryption_type="KMS", kms_key=store.images_key_arn)],
                    lifecycle_policy=json.dumps(IMAGE_LIFECYCLE),
                    resource_tags=dict(tags),
                    custom_role_arn=self.template_role.arn,
                ),
                opts=child_opts(self, provider=store.provider, depends_on=[template_policy]),
            )

    def _database(self, name, args, primary, tags) -> None:
        cfg = args.config
        on_primary = child_opts(self, provider=primary.provider)
        subnets = aws.rds.SubnetGroup(
            f"{name}-db-subnets",
            aws.rds.SubnetGroupArgs(subnet_ids=list(args.isolated_subnet_ids), description="MLflow database, isolated tier", tags=tags),
            opts=on_primary,
        )
        # The group has no inline rules: its one ingress rule names the cluster's security group, which exists only
        # once the cluster does, so it is a resource of its own and the database never waits for the cluster.
        self.database_security_group = aws.ec2.SecurityGroup(
            f"{name}-db-sg",
            aws.ec2.SecurityGroupArgs(
                vpc_id=args.vpc_id, description="PostgreSQL from the serving cluster only", egress=[], tags=tags,
            ),
            opts=on_primary,
        )
        self.database_ingress = None
        if args.cluster_security_group_id is not None:
            self.database_ingress = aws.vpc.SecurityGroupIngressRule(
                f"{name}-db-from-cluster",
                aws.vpc.SecurityGroupIngressRuleArgs(
                    security_group_id=self.database_security_group.id,
                    referenced_security_group_id=args.cluster_security_group_id,
                    ip_protocol="tcp", from_port=5432, to_port=5432,
                    description="MLflow on the serving cluster", tags=tags,
                ),
                opts=on_primary,
            )
        # One group per major (the family is the major): a major upgrade replaces it, the new group first (no
        # explicit name, no delete-before-replace), so the instance moves to it before the old one is deleted.
        parameters = aws.rds.ParameterGroup(
            f"{name}-db-parameters",
            aws.rds.ParameterGroupArgs(
                family=f"postgres{cfg.postgres_major}",
                description="TLS only, connection and statement logging",
                parameters=[
                    aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
                    aws.rds.ParameterGroupParameterArgs(name="log_connections", value="1"),
                    aws.rds.ParameterGroupParameterArgs(name="log_disconnections", value="1"),
                ],
                tags=tags,
            ),
            opts=on_primary,
        )
        identifier = f"mlops-{args.environment}-mlflow"
        # RDS would create the exported log groups itself, unencrypted and kept forever: own them first.
        self.database_log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-db-logs-{export}",
                aws.cloudwatch.LogGroupArgs(
                    name=f"/aws/rds/instance/{identifier}/{export}",
                    kms_key_id=args.logs_key_arn,
                    retention_in_days=args.log_retention_days,
                    tags=tags,
                ),
                opts=on_primary,
            )
            for export in DB_LOG_EXPORTS
        ]
        snapshot = self._final_snapshot(name, identifier) if args.keeps_data else None
        self.database = aws.rds.Instance(
            f"{name}-db",
            aws.rds.InstanceArgs(
                identifier=identifier,
                engine="postgres",
                # A major alone: RDS applies minor upgrades and the version stays what it was set to (no diff).
                engine_version=cfg.postgres_version,
                auto_minor_version_upgrade=not cfg.postgres_minor_pinned,
                # A new major in the stack file is an intended upgrade: let RDS apply it instead of failing. It
                # needs db-apply-immediately for that deployment: RDS would otherwise defer it to the maintenance
                # window while the old major's parameter group, which the instance still uses, is deleted.
                allow_major_version_upgrade=True,
                apply_immediately=cfg.db_apply_immediately,
                instance_class=cfg.db_instance_class,
                allocated_storage=cfg.db_allocated_storage,
                storage_type="gp3",
                storage_encrypted=True,
                kms_key_id=args.database_key_arn,
                db_name="mlflow",
                username=DB_USER,
                manage_master_user_password=True,
                master_user_secret_kms_key_id=args.database_key_arn,
                iam_database_authentication_enabled=True,
                multi_az=args.is_prod,
                backup_retention_period=30 if args.is_prod else 7,
                deletion_protection=args.keeps_data,
                publicly_accessible=False,
                db_subnet_group_name=subnets.name,
                vpc_security_group_ids=[self.database_security_group.id],
                parameter_group_name=parameters.name,
                enabled_cloudwatch_logs_exports=list(DB_LOG_EXPORTS),
                performance_insights_enabled=True,
                performance_insights_kms_key_id=args.database_key_arn,
                copy_tags_to_snapshot=True,
                skip_final_snapshot=snapshot is None,
                final_snapshot_identifier=snapshot,
                tags=tags,
            ),
            opts=child_opts(self, provider=primary.provider, protect=args.is_prod, depends_on=self.database_log_groups),
        )

    def _final_snapshot(self, name: str, identifier: str) -> pulumi.Output[str]:
        """A final snapshot name no earlier destroy used: the suffix is drawn once per database (stored in state,
        so previews do not change), and drawn again when the database is created anew."""
        suffix = random.RandomId(
            f"{name}-db-final-snapshot-suffix",
            random.RandomIdArgs(byte_length=4, keepers={"identifier": identifier}),
            opts=child_opts(self),
        )
        return suffix.hex.apply(lambda value: f"{identifier}-final-{value}")

    def _mlflow(self, name, args, primary, tags) -> None:
        provider = args.k8s_provider
        on_cluster = child_opts(self, provider=provider)
        labels = {"app.kubernetes.io/name": "mlflow", "app": "mlflow", "environment": args.environment}
        namespace = k8s.core.v1.Namespace(
            f"{name}-mlflow-ns",
            k8s.core.v1.NamespaceInitArgs(metadata=k8s.meta.v1.ObjectMetaArgs(
                name=MLFLOW_NAMESPACE,
                labels={**labels, "pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/audit": "restricted"},
            )),
            opts=on_cluster,
        )
        in_ns = child_opts(self, provider=provider, depends_on=[namespace])
        secret_arn = self.database.master_user_secrets.apply(lambda secrets: secrets[0].secret_arn if secrets else "")
        role = aws.iam.Role(
            f"{name}-mlflow-role",
            aws.iam.RoleArgs(
                name=f"mlops-{args.environment}-mlflow",
                assume_role_policy=pulumi.Output.from_input(args.pod_identity_cluster or "").apply(
                    lambda cluster: json.dumps(pod_identity_trust(args.account_id, args.partition, primary.region, cluster))
                ),
                tags=tags,
            ),
            opts=child_opts(self, provider=primary.provider),
        )
        aws.iam.RolePolicy(
            f"{name}-mlflow-policy",
            aws.iam.RolePolicyArgs(
                role=role.id,
                policy=pulumi.Output.all(self.artifact_bucket.arn, primary.artifacts_key_arn, secret_arn,
                                         args.database_key_arn).apply(lambda v: json.dumps(mlflow_access_policy(*v))),
            ),
            opts=child_opts(self, provider=primary.provider),
        )
        account = k8s.core.v1.ServiceAccount(
            f"{name}-mlflow-sa",
            k8s.core.v1.ServiceAccountInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(name="mlflow", namespace=MLFLOW_NAMESPACE, labels=labels),
                automount_service_account_token=False,
            ),
            opts=in_ns,
        )
        pod_identity: list[pulumi.Resource] = []
        if args.pod_identity_cluster is not None:
            pod_identity.append(aws.eks.PodIdentityAssociation(
                f"{name}-mlflow-pod-identity",
                aws.eks.PodIdentityAssociationArgs(
                    cluster_name=args.pod_identity_cluster, namespace=MLFLOW_NAMESPACE,
                    service_account="mlflow", role_arn=role.arn, tags=tags,
                ),
                opts=child_opts(self, provider=primary.provider, depends_on=[account]),
            ))
        bucket_uri = self.artifact_bucket.bucket.apply(lambda bucket: f"s3://{bucket}/mlflow")
        host = mlflow_host(args.environment)
        # Every name a client in the cluster may use for the Service (the short ones from its own namespace or
        # through the search path, Kubernetes docs "DNS for Services and Pods").
        service_hosts = [f"mlflow:{MLFLOW_PORT}", f"mlflow.{MLFLOW_NAMESPACE}:{MLFLOW_PORT}",
                         f"mlflow.{MLFLOW_NAMESPACE}.svc:{MLFLOW_PORT}",
                         f"mlflow.{MLFLOW_NAMESPACE}.svc.cluster.local:{MLFLOW_PORT}"]
        # The image's entry point (images/mlflow/bootstrap.py) reads the RDS-managed password with the pod's
        # Pod Identity credentials into a libpq password file under /tmp and runs `mlflow server`: no password
        # in Kubernetes, in Pulumi state or on a command line.
        container = hardened_container(ContainerSpec(
            name="mlflow",
            image=mirror_image(args.config.mlflow_image, args.mirror),
            port=MLFLOW_PORT,
            health_path="/health",
            cpu=args.config.mlflow_cpu,
            memory=args.config.mlflow_memory,
            env={
                "DB_USER": DB_USER,
                "DB_SECRET_ARN": secret_arn,
                "DB_HOST": self.database.address,
                "DB_NAME": "mlflow",
                "AWS_REGION": primary.region,
                # Artifacts are served through the server, so clients need no S3 access.
                "MLFLOW_ARTIFACTS_DESTINATION": bucket_uri,
                "MLFLOW_PORT": str(MLFLOW_PORT),
                # MLflow's server refuses Host headers it does not know (DNS-rebinding protection); /health
                # is exempt, so probes need no entry.
                "MLFLOW_SERVER_ALLOWED_HOSTS": ",".join([host, *service_hosts]),
                "MLFLOW_WORKERS": "2",
            },
            scratch=args.config.mlflow_scratch,
        ))
        pod = hardened_pod_spec(
            [container], account.metadata.name, spread_labels={"app": "mlflow"}, scratch=args.config.mlflow_scratch
        )
        self.mlflow_deployment = k8s.apps.v1.Deployment(
            f"{name}-mlflow",
            k8s.apps.v1.DeploymentInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(name="mlflow", namespace=MLFLOW_NAMESPACE, labels=labels),
                spec=k8s.apps.v1.DeploymentSpecArgs(
                    replicas=args.config.mlflow_replicas,
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app": "mlflow"}),
                    template=k8s.core.v1.PodTemplateSpecArgs(
                        metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                        spec=pod,
                    ),
                ),
            ),
            # Pods started before their Pod Identity association get no AWS credentials; they also need a node
            # pool to run on and the load balancer controller's pod webhook in place.
            opts=child_opts(
                self, provider=provider, depends_on=[namespace, *pod_identity, *args.workload_ready]
            ),
        )
        k8s.core.v1.Service(
            f"{name}-mlflow-svc",
            k8s.core.v1.ServiceInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(name="mlflow", namespace=MLFLOW_NAMESPACE, labels=labels),
                spec=k8s.core.v1.ServiceSpecArgs(type="ClusterIP", selector={"app": "mlflow"},
                                                 ports=[k8s.core.v1.ServicePortArgs(name="http", port=MLFLOW_PORT, target_port="http")]),
            ),
            opts=in_ns,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-mlflow-pdb",
            k8s.policy.v1.PodDisruptionBudgetInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(name="mlflow", namespace=MLFLOW_NAMESPACE, labels=labels),
                spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                    max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app": "mlflow"})),
            ),
            opts=in_ns,
        )
        self._mlflow_network_policies(name, args, in_ns)
        # Its own internal ALB with a fixed name; the certificate is required by the config (an HTTPS listener
        # without one never becomes ready).
        annotations = internal_alb_annotations(
            certificate_arn=args.config.certificate_arn,
            health_path="/health",
            load_balancer_name=mlflow_load_balancer_name(args.environment),
        )
        self.mlflow_ingress = k8s.networking.v1.Ingress(
            f"{name}-mlflow-ingress",
            k8s.networking.v1.IngressInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(name="mlflow", namespace=MLFLOW_NAMESPACE, labels=labels,
                                                    annotations=annotations),
                spec=k8s.networking.v1.IngressSpecArgs(
                    ingress_class_name="alb",
                    rules=[k8s.networking.v1.IngressRuleArgs(
                        host=host,
                        http=k8s.networking.v1.HTTPIngressRuleValueArgs(paths=[k8s.networking.v1.HTTPIngressPathArgs(
                            path="/", path_type="Prefix",
                            backend=k8s.networking.v1.IngressBackendArgs(service=k8s.networking.v1.IngressServiceBackendArgs(
                                name="mlflow", port=k8s.networking.v1.ServiceBackendPortArgs(number=MLFLOW_PORT))),
                        )]),
                    )],
                ),
            ),
            # After the load balancer controller (its webhook admits Ingresses) and so destroyed before it: the
            # controller removes the ALB and the Ingress's finalizer only while it runs.
            opts=child_opts(self, provider=provider, depends_on=[namespace, *args.workload_ready]),
        )
        self.mlflow_record = None
        if args.private_zone_id is not None:
            # Pulumi waits for an Ingress until the controller has written the ALB's address into its status
            # (pulumi-kubernetes' Ingress await logic), so the record is created from the real DNS name.
            self.mlflow_record = aws.route53.Record(
                f"{name}-mlflow-record",
                aws.route53.RecordArgs(
                    zone_id=args.private_zone_id,
                    name=host,
                    type="CNAME",
                    ttl=60,
                    records=[self.mlflow_ingress.status.apply(ingress_hostname)],
                ),
                opts=child_opts(self, provider=primary.provider),
            )
        self.mlflow_url = f"https://{host}"

    def _mlflow_network_policies(self, name, args, opts) -> None:
        def policy(role, spec):
            k8s.networking.v1.NetworkPolicy(
                f"{name}-mlflow-netpol-{role}",
                k8s.networking.v1.NetworkPolicyInitArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=role, namespace=MLFLOW_NAMESPACE), spec=spec),
                opts=opts,
            )

        every_pod = k8s.meta.v1.LabelSelectorArgs()
        vpc = k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=args.vpc_cidr))

        policy("default-deny", k8s.networking.v1.NetworkPolicySpecArgs(pod_selector=every_pod, policy_types=["Ingress", "Egress"]))
        policy("allow-clients", k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=every_pod, policy_types=["Ingress"],
            ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[vpc], ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=MLFLOW_PORT, protocol="TCP")])]))

        def egress(s3_cidrs):
            # An egress rule without peers allows every destination: S3's rule exists only with its CIDRs.
            s3 = [k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                to=[k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=c)) for c in s3_cidrs],
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=443, protocol="TCP")])] if s3_cidrs else []
            return [
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                    to=[k8s.networking.v1.NetworkPolicyPeerArgs(
                        namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": "kube-system"}),
                        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}))],
                    ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=53, protocol="UDP"),
                           k8s.networking.v1.NetworkPolicyPortArgs(port=53, protocol="TCP")]),
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                    to=[vpc], ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=5432, protocol="TCP")]),
                # HTTPS to AWS APIs: the interface endpoints (Secrets Manager, STS) answer inside the VPC; S3 behind
                # its gateway endpoint keeps its public addresses, the region's S3 prefix list.
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                    to=[vpc], ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=443, protocol="TCP")]),
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                    to=[k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=POD_IDENTITY_AGENT))],
                    ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=80, protocol="TCP")]),
            *s3]

        policy("allow-egress", k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=every_pod, policy_types=["Egress"], egress=pulumi.Output.from_input(args.s3_cidrs).apply(egress)))

    @property
    def _config(self) -> RegistryConfig:
        return self._args.config
