"""S3, KMS and ECR: where model artifacts, keys and images live."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import Severity, StackValidationArgs

from policies.base import (
    as_strings,
    document,
    environment,
    get,
    items,
    linked,
    mapping,
    purpose,
    resource_policy,
    shown,
    stack_policy,
    statements,
)

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
KEY = "aws:kms/key:Key"
REPLICA_KEY = "aws:kms/replicaKey:ReplicaKey"
REPOSITORY = "aws:ecr/repository:Repository"
PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")


def truthy(value: object) -> bool:
    return value is True or value == "true"


def _public_access_block(props, _args):
    flags = ("blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets")
    off = [flag for flag in flags if not truthy(props.get(flag))]
    return f"public access block leaves {', '.join(off)} off; all four must be true" if off else None


def _no_public_acl(props, _args):
    acl = props.get("acl")
    if acl in PUBLIC_ACLS:
        return f"acl {acl!r} makes the bucket public"
    grants = items(get(props, "accessControlPolicy", "grants", default=[]))
    public = [
        g
        for g in grants
        if str(get(g, "grantee", "uri", default="")).endswith(("/AllUsers", "/AuthenticatedUsers"))
    ]
    return "the bucket ACL grants access to all (authenticated) users" if public else None


def sse_problems(props, log_bucket: bool) -> list[str]:
    """What is wrong with a default-encryption configuration; `log_bucket` allows SSE-S3, which S3 server
    access log delivery needs on its target bucket."""
    rules = items(props.get("rules"))
    if not rules:
        return ["no default encryption rule"]
    problems = []
    for rule in rules:
        default = get(rule, "applyServerSideEncryptionByDefault", default={})
        algorithm = get(default, "sseAlgorithm")
        if algorithm in ("aws:kms", "aws:kms:dsse"):
            if not get(default, "kmsMasterKeyId"):
                problems.append(
                    "SSE-KMS without a customer key (kmsMasterKeyId): the AWS managed key cannot be scoped"
                )
        elif algorithm == "AES256" and log_bucket:
            continue
        else:
            problems.append(f"default encryption {shown(algorithm)}; allowed: aws:kms with a customer key")
    return problems


def _sse_kms(args: StackValidationArgs) -> Iterator[tuple[str, str]]:
    # A stack policy: only the bucket the configuration belongs to says (by its tag) whether it holds access logs.
    for resource in args.resources:
        if resource.resource_type != SSE:
            continue
        log_bucket = any(purpose(bucket) == "access-logs" for bucket in linked(resource, "bucket"))
        for problem in sse_problems(mapping(resource.props), log_bucket):
            yield problem, resource.urn


def _bucket_key(props, _args):
    rules = items(props.get("rules"))
    kms_rules = [
        r for r in rules if get(r, "applyServerSideEncryptionByDefault", "sseAlgorithm") == "aws:kms"
    ]
    if any(not truthy(get(r, "bucketKeyEnabled")) for r in kms_rules):
        return "SSE-KMS without bucket keys: every object costs a KMS request"
    return None


def _versioning(props, _args):
    status = get(props, "versioningConfiguration", "status")
    return None if status == "Enabled" else f"versioning is {shown(status)}; must be 'Enabled'"


def _denies_insecure_transport(props, _args):
    doc = document(props.get("policy"))
    if doc is None:
        return "the bucket policy is missing or is not a JSON policy document"
    for statement in statements(doc):
        condition = get(statement, "Condition", "Bool", "aws:SecureTransport")
        if statement.get("Effect") == "Deny" and str(condition).lower() == "false":
            return None
    return "no statement denies requests without TLS (Deny with Bool aws:SecureTransport false)"


def _no_public_statement(props, _args):
    problems = []
    for statement in statements(document(props.get("policy"))):
        principal = statement.get("Principal")
        everyone = (
            principal == "*" or get(principal, "AWS") == "*" or "*" in as_strings(get(principal, "AWS"))
        )
        if statement.get("Effect") == "Allow" and everyone and not statement.get("Condition"):
            problems.append(
                f"statement {shown(statement.get('Sid', '?'))} allows everyone without a condition"
            )
    return problems


def _lifecycle(props, _args):
    rules = [r for r in items(props.get("rules")) if get(r, "status") == "Enabled"]
    if not any(get(r, "abortIncompleteMultipartUpload", "daysAfterInitiation") for r in rules):
        return "no enabled rule aborts incomplete multipart uploads"
    return None


def _rotation(props, _args):
    # KMS rotates symmetric encryption keys only ("Rotate AWS KMS keys": asymmetric keys are not supported): a
    # signing key such as a DNSSEC key-signing key's is rolled by replacing it, not rotated.
    spec = props.get("customerMasterKeySpec") or props.get("keySpec") or "SYMMETRIC_DEFAULT"
    if spec != "SYMMETRIC_DEFAULT":
        return None
    return None if truthy(props.get("enableKeyRotation")) else "key rotation is off"


def _explicit_key_policy(props, _args):
    doc = document(props.get("policy"))
    if doc is None or not statements(doc):
        return "no explicit key policy: the default policy grants the whole account"
    return None


def _no_public_key_statement(props, args):
    return _no_public_statement(props, args)


def _deletion_window(props, args):
    window = props.get("deletionWindowInDays")
    if window is None:
        window = 30  # the AWS default
    if not isinstance(window, (int, float)):
        return f"deletion window {shown(window)} is not a number of days"
    if environment(args) == "prod" and window < 30:
        return f"deletion window of {int(window)} days in prod; must be 30"
    if window < 7:
        return f"deletion window of {int(window)} days; at least 7"
    return None


def _immutable(props, _args):
    mutability = props.get("imageTagMutability", "MUTABLE")
    return (
        None
        if str(mutability).startswith("IMMUTABLE")
        else f"image tags are {shown(mutability)}; must be IMMUTABLE"
    )


def _scan_on_push(props, _args):
    return (
        None
        if truthy(get(props, "imageScanningConfiguration", "scanOnPush"))
        else "images are not scanned on push"
    )


def _ecr_kms(props, _args):
    configs = items(props.get("encryptionConfigurations"))
    if not any(get(c, "encryptionType") == "KMS" for c in configs):
        return "repository is not encrypted with KMS"
    return None


POLICIES = [
    resource_policy(
        "s3-public-access-block-all",
        area="s3",
        severity=Severity.CRITICAL,
        description="S3 public access blocks turn on all four settings.",
        types=[PUBLIC_ACCESS_BLOCK],
        check=_public_access_block,
        remediation="Set blockPublicAcls, ignorePublicAcls, blockPublicPolicy and restrictPublicBuckets to true.",
        remediate=lambda args: {
            **args.props,
            "blockPublicAcls": True,
            "ignorePublicAcls": True,
            "blockPublicPolicy": True,
            "restrictPublicBuckets": True,
        },
    ),
    resource_policy(
        "s3-no-public-acl",
        area="s3",
        severity=Severity.CRITICAL,
        description="S3 buckets and bucket ACLs never grant public access.",
        types=[BUCKET, BUCKET_ACL],
        check=_no_public_acl,
        remediation="Remove the public canned ACL or grant; use bucket policies scoped to principals.",
    ),
    stack_policy(
        "s3-sse-kms-customer-key",
        area="s3",
        severity=Severity.HIGH,
        description="S3 default encryption uses SSE-KMS with a customer-managed key.",
        check=_sse_kms,
        remediation="Use sseAlgorithm aws:kms with kmsMasterKeyId set to the platform's artifacts key "
        "(SSE-S3 only on buckets tagged mlops:purpose=access-logs).",
    ),
    resource_policy(
        "s3-bucket-key-enabled",
        area="s3",
        severity=Severity.LOW,
        description="SSE-KMS buckets use S3 bucket keys.",
        types=[SSE],
        check=_bucket_key,
        remediation="Set bucketKeyEnabled: true on the encryption rule.",
    ),
    resource_policy(
        "s3-versioning-enabled",
        area="s3",
        severity=Severity.HIGH,
        description="S3 bucket versioning is enabled.",
        types=[VERSIONING],
        check=_versioning,
        remediation="Set versioningConfiguration.status to Enabled.",
    ),
    resource_policy(
        "s3-tls-only",
        area="s3",
        severity=Severity.HIGH,
        description="S3 bucket policies deny requests made without TLS.",
        types=[BUCKET_POLICY],
        check=_denies_insecure_transport,
        remediation="Add a Deny statement for s3:* with Condition Bool aws:SecureTransport false.",
    ),
    resource_policy(
        "s3-no-public-policy",
        area="s3",
        severity=Severity.CRITICAL,
        description="S3 bucket policies never allow everyone without a condition.",
        types=[BUCKET_POLICY],
        check=_no_public_statement,
        remediation="Name the principals, or add conditions (aws:SourceAccount, aws:sourceVpce).",
    ),
    resource_policy(
        "s3-lifecycle-abort-uploads",
        area="s3",
        severity=Severity.LOW,
        description="S3 lifecycle configurations abort incomplete multipart uploads.",
        types=[LIFECYCLE],
        check=_lifecycle,
        remediation="Add an enabled rule with abortIncompleteMultipartUpload.daysAfterInitiation.",
    ),
    resource_policy(
        "kms-rotation-enabled",
        area="kms",
        severity=Severity.HIGH,
        description="Customer-managed KMS keys rotate their key material.",
        types=[KEY],
        check=_rotation,
        remediation="Set enableKeyRotation: true.",
        remediate=lambda args: {**args.props, "enableKeyRotation": True},
    ),
    resource_policy(
        "kms-explicit-key-policy",
        area="kms",
        severity=Severity.MEDIUM,
        description="KMS keys carry an explicit key policy.",
        types=[KEY, REPLICA_KEY],
        check=_explicit_key_policy,
        remediation="Give the key a policy naming its administrators and the services that use it.",
    ),
    resource_policy(
        "kms-no-public-principal",
        area="kms",
        severity=Severity.CRITICAL,
        description="KMS key policies never allow everyone without a condition.",
        types=[KEY, REPLICA_KEY],
        check=_no_public_key_statement,
        remediation="Name the principals or add conditions such as kms:CallerAccount.",
    ),
    resource_policy(
        "kms-deletion-window",
        area="kms",
        severity=Severity.MEDIUM,
        description="KMS keys wait 30 days before deletion in prod (7 at least elsewhere).",
        types=[KEY, REPLICA_KEY],
        check=_deletion_window,
        environment_aware=True,
        remediation="Set deletionWindowInDays to 30.",
    ),
    resource_policy(
        "ecr-immutable-tags",
        area="ecr",
        severity=Severity.HIGH,
        description="ECR repositories have immutable image tags.",
        types=[REPOSITORY],
        check=_immutable,
        remediation="Set imageTagMutability: IMMUTABLE.",
    ),
    resource_policy(
        "ecr-scan-on-push",
        area="ecr",
        severity=Severity.MEDIUM,
        description="ECR repositories scan images on push.",
        types=[REPOSITORY],
        check=_scan_on_push,
        remediation="Set imageScanningConfiguration.scanOnPush: true.",
    ),
    resource_policy(
        "ecr-kms-encryption",
        area="ecr",
        severity=Severity.MEDIUM,
        description="ECR repositories are encrypted with KMS.",
        types=[REPOSITORY],
        check=_ecr_kms,
        remediation="Set encryptionConfigurations to KMS with the images key.",
    ),
]
