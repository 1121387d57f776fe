"""Stack-level policies: what must exist beside a resource, which no single resource can show."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from pulumi_policy import Severity, StackValidationArgs

from policies.base import get, linked, purpose, stack_policy

BUCKET = "aws:s3/bucket:Bucket"
VPC = "aws:ec2/vpc:Vpc"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
REPOSITORY = "aws:ecr/repository:Repository"


def _covered(args: StackValidationArgs, kind: str, key: str) -> set[str]:
    """URNs that resources of `kind` point at through property `key` (their propertyDependencies)."""
    return {dep.urn for r in args.resources if r.resource_type == kind for dep in linked(r, key)}


def _every(target: str, companion: str, key: str, what: str, skip=lambda r: False):
    def check(args: StackValidationArgs) -> Iterator[tuple[str, str]]:
        covered = _covered(args, companion, key)
        for resource in args.resources:
            if resource.resource_type == target and resource.urn not in covered and not skip(resource):
                yield f"{resource.name} has no {what}", resource.urn

    return check


def _is_log_bucket(resource) -> bool:
    # Only the explicit tag counts: a name is no promise (s3-access-log-bucket-is-target holds the tag to it).
    return purpose(resource) == "access-logs"


def _team_namespaces_default_deny(args: StackValidationArgs) -> Iterator[tuple[str, str]]:
    denied: set[str] = set()
    for resource in args.resources:
        if resource.resource_type != NETWORK_POLICY:
            continue
        spec = get(resource.props, "spec", default={})
        types = set(get(spec, "policyTypes", default=[]) or [])
        selector = get(spec, "podSelector")
        selects_all = isinstance(selector, Mapping) and not any(
            selector.get(k) for k in ("matchLabels", "matchExpressions")
        )
        if (
            selects_all
            and {"Ingress", "Egress"} <= types
            and not get(spec, "ingress")
            and not get(spec, "egress")
        ):
            denied.add(str(get(resource.props, "metadata", "namespace")))
    for resource in args.resources:
        if resource.resource_type != NAMESPACE:
            continue
        labels = get(resource.props, "metadata", "labels", default={}) or {}
        name = str(get(resource.props, "metadata", "name"))
        if "team" in labels and name not in denied:
            yield f"team namespace {name} has no default-deny NetworkPolicy", resource.urn


POLICIES = [
    stack_policy(
        "stack-bucket-public-access-block",
        area="s3",
        severity=Severity.CRITICAL,
        description="Every S3 bucket has a public access block.",
        check=_every(
            BUCKET, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "bucket", "public access block"
        ),
        remediation="Add an aws.s3.BucketPublicAccessBlock for the bucket.",
    ),
    stack_policy(
        "stack-bucket-encryption",
        area="s3",
        severity=Severity.HIGH,
        description="Every S3 bucket has a default encryption configuration.",
        check=_every(
            BUCKET,
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "bucket",
            "default encryption",
        ),
        remediation="Add an aws.s3.BucketServerSideEncryptionConfiguration with the artifacts key.",
    ),
    stack_policy(
        "stack-bucket-versioning",
        area="s3",
        severity=Severity.HIGH,
        description="Every S3 bucket has versioning configured.",
        check=_every(BUCKET, "aws:s3/bucketVersioning:BucketVersioning", "bucket", "versioning"),
        remediation="Add an aws.s3.BucketVersioning with status Enabled.",
    ),
    stack_policy(
        "stack-bucket-access-logging",
        area="s3",
        severity=Severity.MEDIUM,
        description="Every S3 bucket except access-log buckets (tag mlops:purpose=access-logs) logs its access.",
        check=_every(
            BUCKET, "aws:s3/bucketLogging:BucketLogging", "bucket", "access logging", skip=_is_log_bucket
        ),
        remediation="Add an aws.s3.BucketLogging targeting the access-log bucket.",
    ),
    stack_policy(
        "stack-bucket-lifecycle",
        area="s3",
        severity=Severity.LOW,
        description="Every S3 bucket has lifecycle rules.",
        check=_every(
            BUCKET,
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
            "bucket",
            "lifecycle rules",
        ),
        remediation="Add an aws.s3.BucketLifecycleConfiguration.",
    ),
    stack_policy(
        "stack-vpc-flow-logs",
        area="network",
        severity=Severity.HIGH,
        description="Every VPC has a flow log.",
        check=_every(VPC, "aws:ec2/flowLog:FlowLog", "vpcId", "flow log"),
        remediation="Add an aws.ec2.FlowLog for the VPC into an encrypted log group.",
    ),
    stack_policy(
        "stack-ecr-lifecycle-policy",
        area="ecr",
        severity=Severity.LOW,
        description="Every ECR repository has a lifecycle policy.",
        check=_every(REPOSITORY, "aws:ecr/lifecyclePolicy:LifecyclePolicy", "repository", "lifecycle policy"),
        remediation="Add an aws.ecr.LifecyclePolicy expiring untagged and old images.",
    ),
    stack_policy(
        "stack-team-namespace-default-deny",
        area="kubernetes",
        severity=Severity.HIGH,
        description="Every team namespace has a default-deny NetworkPolicy (all pods, ingress and egress).",
        check=_team_namespaces_default_deny,
        remediation="Add a NetworkPolicy with podSelector {} and policyTypes [Ingress, Egress] and no rules.",
    ),
]
