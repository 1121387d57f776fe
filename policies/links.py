"""Stack policies over resources that only work together: a database and its monitoring role, a zone and its
signing key, a bucket and its replication or lock, a role and the stack's permissions boundary, a log bucket and
the buckets that log into it.

Links are the engine's propertyDependencies (which resource a property was computed from), as in
policies/stack.py; what a resource is for is its `mlops:purpose` tag (policies.base.purpose).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import PolicyConfigSchema, Severity, StackValidationArgs

from policies.base import (
    as_strings,
    document,
    environment,
    get,
    items,
    linked,
    mapping,
    provider_region,
    purpose,
    resource_region,
    shown,
    stack_policy,
    stack_regions,
    statements,
)

DB_INSTANCE = "aws:rds/instance:Instance"
# An Aurora or Multi-AZ DB cluster's member: its monitoring is set per instance (ClusterInstance's
# monitoringInterval and monitoringRoleArn), like a single instance's.
CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
IAM_POLICY = "aws:iam/policy:Policy"
ZONE = "aws:route53/zone:Zone"
DNSSEC = "aws:route53/hostedZoneDnsSec:HostedZoneDnsSec"
QUERY_LOG = "aws:route53/queryLog:QueryLog"
KSK = "aws:route53/keySigningKey:KeySigningKey"
KMS_KEY = "aws:kms/key:Key"
BUCKET = "aws:s3/bucket:Bucket"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
TRAIL = "aws:cloudtrail/trail:Trail"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

MONITORING_INTERVALS = (1, 5, 10, 15, 30, 60)
MONITORING_PRINCIPAL = "monitoring.rds.amazonaws.com"
MONITORING_POLICY = re.compile(
    r"^arn:aws[a-z-]*:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole$"
)
DNSSEC_KEY_REGION = "us-east-1"  # Route 53 signs only with a KMS key in US East (N. Virginia)
# Route 53 writes a public zone's query log only to a log group in us-east-1 (API Reference,
# CreateQueryLoggingConfig: "You must create the log group in the us-east-1 region").
QUERY_LOG_REGION = "us-east-1"
BOUNDARY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:policy/.+$")
BOUNDARY_SCHEMA = PolicyConfigSchema(
    properties={
        "permissionsBoundaryArn": {
            "type": "string",
            "description": "The platform stack's permissions boundary (output identity.permissionsBoundaryArn); "
            "set in team stacks, whose roles must carry it.",
        }
    }
)


def _of(args: StackValidationArgs, kind: str) -> list[Any]:
    return [resource for resource in args.resources if resource.resource_type == kind]


def _linking(args: StackValidationArgs, kind: str, key: str) -> dict[str, list[Any]]:
    """URN -> the resources of `kind` whose property `key` was computed from it."""
    found: dict[str, list[Any]] = {}
    for resource in _of(args, kind):
        for dep in linked(resource, key):
            found.setdefault(dep.urn, []).append(resource)
    return found


def _number(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# ---------------------------------------------------------------------------------------------------------
# RDS enhanced monitoring


def _trusts(role: Any, service: str) -> bool:
    for statement in statements(document(get(role.props, "assumeRolePolicy"))):
        services = as_strings(get(statement, "Principal", "Service"))
        if statement.get("Effect") == "Allow" and service in services:
            return True
    return False


def monitoring_problem(db: Any, args: StackValidationArgs, attached: dict[str, list[Any]]) -> str | None:
    """Why a database's enhanced monitoring is off or cannot deliver (None when it works)."""
    interval = _number(get(db.props, "monitoringInterval", default=0))
    if interval in (None, 0):
        if environment(args) != "prod":
            return None
        return "enhanced monitoring is off (monitoringInterval unset or 0)"
    if interval not in MONITORING_INTERVALS:
        return f"monitoringInterval {interval} is not one of {', '.join(map(str, MONITORING_INTERVALS))}"
    roles = [r for r in linked(db, "monitoringRoleArn") if r.resource_type == ROLE]
    if not roles:
        return "monitoringRoleArn does not name a role of this stack"
    role = roles[0]
    if not _trusts(role, MONITORING_PRINCIPAL):
        return f"monitoring role {role.name} does not trust {MONITORING_PRINCIPAL}"
    if not any(
        MONITORING_POLICY.match(str(get(a.props, "policyArn", default="")))
        for a in attached.get(role.urn, [])
    ):
        return f"monitoring role {role.name} lacks the managed policy AmazonRDSEnhancedMonitoringRole"
    return None


def _enhanced_monitoring(args: StackValidationArgs) -> Iterator[tuple[str, str]]:
    attached = _linking(args, ATTACHMENT, "role")
    for db in [*_of(args, DB_INSTANCE), *_of(args, CLUSTER_INSTANCE)]:
        problem = monitoring_problem(db, args, attached)
        if problem:
            yield f"{db.name}: {problem}", db.urn


# ---------------------------------------------------------------------------------------------------------
# Public hosted zones


def _signing_key_problem(ksk: Any) -> str | None:
    if get(ksk.props, "status", default="ACTIVE") != "ACTIVE":
        return f"key-signing key {ksk.name} is {shown(get(ksk.props, 'status'))}"
    keys = [k for k in linked(ksk, "keyManagementServiceArn") if k.resource_type == KMS_KEY]
    if not keys:
        return None  # a key of another stack: nothing here to check it against
    key = keys[0]
    spec, usage = get(key.props, "customerMasterKeySpec"), get(key.props, "keyUsage")
    if spec != "ECC_NIST_P256" or usage != "SIGN_VERIFY":
        return f"signing key {key.name} is {shown(spec)}/{shown(usage)}; Route 53 needs ECC_NIST_P256/SIGN_VERIFY"
    region = provider_region(key)
    if region is not None and region != DNSSEC_KEY_REGION:
        return f"signing key {key.name} is in {region}; Route 53 uses keys in {DNSSEC_KEY_REGION} only"
    return None


def _arn_region(arn: Any) -> str | None:
    """The region part of an ARN given as text (``arn:aws:logs:<region>:...``), or None."""
    parts = arn.split(":") if isinstance(arn, str) else []
    return parts[3] if len(parts) > 5 and parts[0] == "arn" and parts[3] else None


def _query_log_problem(query_log: Any) -> str | None:
    """Why a query log cannot deliver: its log group (the stack's, by link, else the ARN's) is not in us-east-1."""
    groups = [g for g in linked(query_log, "cloudwatchLogGroupArn") if g.resource_type == LOG_GROUP]
    if groups:
        region, where = resource_region(groups[0]), f"log group {groups[0].name}"
    else:
        arn = get(query_log.props, "cloudwatchLogGroupArn")
        region, where = _arn_region(arn), f"log group {shown(arn)}"
    if region is not None and region != QUERY_LOG_REGION:
        return f"query log {query_log.name} writes to {where} in {region}; Route 53 logs only to {QUERY_LOG_REGION}"
    return None


def _public_zones(args: StackValidationArgs) -> Iterator[tuple[str, str]]:
    signed = _linking(args, DNSSEC, "hostedZoneId")
    logged = _linking(args, QUERY_LOG, "zoneId")
    keys = _linking(args, KSK, "hostedZoneId")
    for zone in _of(args, ZONE):
        if items(get(zone.props, "vpcs")):
            continue  # a private zone: neither DNSSEC nor query logging applies
        problems = []
        signing = [s for s in signed.get(zone.urn, []) if get(s.props, "signingStatus") != "NOT_SIGNING"]
        if not signing:
            problems.append("no DNSSEC signing (HostedZoneDnsSec)")
        if not keys.get(zone.urn):
            problems.append("no key-signing key")
        problems += [p for p in map(_signing_key_problem, keys.get(zone.urn, [])) if p]
        if not logged.get(zone.urn):
            problems.append("no query logging (QueryLog)")
        problems += [p for p in map(_query_log_problem, logged.get(zone.urn, [])) if p]
        if problems:
            yield f"public zone {zone.name}: {'; '.join(problems)}", zone.urn


# ---------------------------------------------------------------------------------------------------------
# Replication and object lock


def _enabled_rules(config: Any) -> list[Any]:
    return [rule for rule in items(get(config.props, "rules")) if get(rule, "status") == "Enabled"]


def _replica_destinations(args: StackValidationArgs) -> set[str]:
    """Buckets some replication configuration writes into (its rules were computed from them)."""
    return {dep.urn for config in _of(args, REPLICATION) for dep in linked(config, "rules")}


def _replicated(args: StackValidationArgs) -> dict[str, list[Any]]:
    """Source bucket URN -> its replication configurations with an enabled rule."""
    return {
        urn: [c for c in configs if _enabled_rules(c)]
        for urn, configs in _linking(args, REPLICATION, "bucket").items()
    }


def _artifacts_replicated(args: StackValidationArgs) -> Iterator[tuple[str, str]]:
    regions = stack_regions(args.resources)
    if len(regions) < 2:
        return
    destinations = _replica_destinations(args)
    replicated = _replicated(args)
    for bucket in _of(args, BUCKET):
        if purpose(bucket) != "model-artifacts" or bucket.urn in destinations:
            continue
        if not replicated.get(bucket.urn):
            yield (
                f"artifact bucket {bucket.name} is not replicated although the stack spans "
                f"{', '.join(sorted(regions))}",
                bucket.urn,
            )


def lock_problem(bucket: Any, locks: dict[str, list[Any]]) -> str | None:
    """Why a bucket's objects are not locked in governance mode by default (None when they are)."""
    modes = [get(lock.props, "rule", "defaultRetention", "mode") for lock in locks.get(bucket.urn, [])]
    if not modes:
        return f"{bucket.name} has no object lock configuration"
    if "GOVERNANCE" not in modes:
        return f"{bucket.name} locks objects in mode {shown(modes[0])}; expected GOVERNANCE"
    return None


def trail_buckets(trail: Any, args: StackValidationArgs) -> list[Any]:
    """The stack's buckets a trail writes to: the one its ``s3BucketName`` was computed from or, for a literal
    name, the stack's bucket of that name (a name that resolves to no bucket here gives none)."""
    found = [b for b in linked(trail, "s3BucketName") if b.resource_type == BUCKET]
    if found:
        return found
    name = get(trail.props, "s3BucketName")
    return [b for b in _of(args, BUCKET) if isinstance(name, str) and name and get(b.props, "bucket") == name]


def _trail_buckets(args: StackValidationArgs) -> Iterator[tuple[str, str]]:
    if environment(args) != "prod":
        return
    locks = _linking(args, OBJECT_LOCK, "bucket")
    replicated = _replicated(args)
    replicas = [b for b in _of(args, BUCKET) if purpose(b) == "governance-trail-replica"]
    multi_region = len(stack_regions(args.resources)) >= 2
    for trail in _of(args, TRAIL):
        buckets = trail_buckets(trail, args)
        if not buckets:
            name = get(trail.props, "s3BucketName")
            yield (
                f"trail {trail.name}: s3BucketName {shown(name)} is not a bucket of this stack, so nothing here "
                "locks or replicates it",
                trail.urn,
            )
        for bucket in buckets:
            problems = [p for p in (lock_problem(bucket, locks),) if p]
            if multi_region:
                targets = {d.urn for c in replicated.get(bucket.urn, []) for d in linked(c, "rules")}
                if not any(replica.urn in targets for replica in replicas):
                    problems.append(
                        f"{bucket.name} does not replicate to a bucket tagged mlops:purpose=governance-trail-replica"
                    )
            if problems:
                yield f"trail {trail.name}: {'; '.join(problems)}", bucket.urn
    for replica in replicas:
        problem = lock_problem(replica, locks)
        if problem:
            yield f"trail replica: {problem}", replica.urn


# ---------------------------------------------------------------------------------------------------------
# Permissions boundary


def _boundaries(args: StackValidationArgs) -> Iterator[tuple[str, str]]:
    configured = get(mapping(args.get_config()), "permissionsBoundaryArn")
    roles = _of(args, ROLE)
    if isinstance(configured, str) and configured:
        if not BOUNDARY_ARN.match(configured):
            yield (
                f"pack config permissionsBoundaryArn {configured!r} is not an IAM policy ARN; "
                "fill it from the platform stack's identity.permissionsBoundaryArn",
                "",
            )
            return
        for role in roles:
            found = get(role.props, "permissionsBoundary")
            if found != configured:
                yield (
                    f"role {role.name} has permissionsBoundary {shown(found)}; expected {configured}",
                    role.urn,
                )
        return
    boundaries = {p.urn for p in _of(args, IAM_POLICY) if purpose(p) == "permissions-boundary"}
    if not boundaries:
        return
    for role in roles:
        if not any(dep.urn in boundaries for dep in linked(role, "permissionsBoundary")):
            yield f"role {role.name} does not carry the stack's permissions boundary", role.urn


# ---------------------------------------------------------------------------------------------------------
# Access-log buckets


def _log_buckets_are_targets(args: StackValidationArgs) -> Iterator[tuple[str, str]]:
    targets = _linking(args, LOGGING, "targetBucket")
    for bucket in _of(args, BUCKET):
        if purpose(bucket) == "access-logs" and not targets.get(bucket.urn):
            yield (
                f"{bucket.name} is tagged mlops:purpose=access-logs but no bucket logs into it",
                bucket.urn,
            )


POLICIES = [
    stack_policy(
        "rds-enhanced-monitoring-prod",
        area="rds",
        severity=Severity.MEDIUM,
        description="Prod databases and DB cluster instances send enhanced monitoring through a role with the RDS "
        "monitoring policy.",
        check=_enhanced_monitoring,
        environment_aware=True,
        remediation="Set monitoringInterval (1, 5, 10, 15, 30 or 60) and monitoringRoleArn to a role trusting "
        "monitoring.rds.amazonaws.com with service-role/AmazonRDSEnhancedMonitoringRole attached.",
    ),
    stack_policy(
        "route53-public-zone-signed-and-logged",
        area="dns",
        severity=Severity.HIGH,
        description="Public hosted zones are DNSSEC-signed with an ECC_NIST_P256 key in us-east-1 and log queries to "
        "a log group in us-east-1.",
        check=_public_zones,
        remediation="Add a KeySigningKey (KMS key ECC_NIST_P256/SIGN_VERIFY in us-east-1), a HostedZoneDnsSec "
        "and a QueryLog into a log group in us-east-1 for the zone.",
    ),
    stack_policy(
        "s3-artifacts-replicated-multi-region",
        area="s3",
        severity=Severity.HIGH,
        description="In a multi-region stack every model-artifact bucket that is not a replica replicates.",
        check=_artifacts_replicated,
        remediation="Add an aws.s3.BucketReplicationConfig with an enabled rule from the bucket to the other "
        "regions' artifact buckets.",
    ),
    stack_policy(
        "cloudtrail-bucket-replicated-and-locked-prod",
        area="cloudtrail",
        severity=Severity.HIGH,
        description="In prod the trail writes to a bucket of the stack; that bucket and its replica lock objects "
        "(governance mode) and, in a "
        "multi-region stack, the trail's bucket replicates to the replica.",
        check=_trail_buckets,
        environment_aware=True,
        remediation="Add a BucketObjectLockConfiguration (defaultRetention mode GOVERNANCE) to the trail bucket "
        "and its replica (tag mlops:purpose=governance-trail-replica), and a BucketReplicationConfig between them.",
    ),
    stack_policy(
        "iam-role-permissions-boundary",
        area="iam",
        severity=Severity.HIGH,
        description="Roles carry the permissions boundary where one is configured.",
        check=_boundaries,
        config_schema=BOUNDARY_SCHEMA,
        remediation="Set permissionsBoundary to the policy tagged mlops:purpose=permissions-boundary (in team "
        "stacks: the platform's identity.permissionsBoundaryArn).",
    ),
    stack_policy(
        "s3-access-log-bucket-is-target",
        area="s3",
        severity=Severity.MEDIUM,
        description="A bucket tagged as an access-log bucket receives access logs.",
        check=_log_buckets_are_targets,
        remediation="Point an aws.s3.BucketLogging's targetBucket at it, or remove the mlops:purpose tag.",
    ),
]
