"""Databases, audit trails, log groups and alert topics: the stateful and forensic parts."""

from __future__ import annotations

from pulumi_policy import Severity

from policies.aws_storage import truthy
from policies.base import as_strings, environment, resource_policy, shown

DB_INSTANCE = "aws:rds/instance:Instance"
DB_CLUSTER = "aws:rds/cluster:Cluster"
DATABASES = (DB_INSTANCE, DB_CLUSTER)
# Aurora and Multi-AZ DB clusters decide public reachability per member instance.
CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
TRAIL = "aws:cloudtrail/trail:Trail"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TOPIC = "aws:sns/topic:Topic"


def _db_encrypted(props, _args):
    if not truthy(props.get("storageEncrypted")):
        return "storage is not encrypted"
    if not props.get("kmsKeyId"):
        return "storage is encrypted with the AWS managed key; use the platform's database key (kmsKeyId)"
    return None


def _db_multi_az(props, args):
    if environment(args) != "prod" or props.get("replicateSourceDb"):
        return None
    return None if truthy(props.get("multiAz")) else "a prod database runs in one availability zone (multiAz)"


def _db_backups(props, args):
    days = props.get("backupRetentionPeriod", 1)
    if not isinstance(days, (int, float)):
        return f"backup retention {shown(days)} is not a number of days"
    floor = 30 if environment(args) == "prod" else 7
    return None if days >= floor else f"backups kept {int(days)} days; at least {floor}"


def _db_deletion_protection(props, _args):
    return None if truthy(props.get("deletionProtection")) else "deletion protection is off"


def _db_private(props, _args):
    return "the database is publicly accessible" if truthy(props.get("publiclyAccessible")) else None


def _db_iam_auth(props, _args):
    return (
        None
        if truthy(props.get("iamDatabaseAuthenticationEnabled"))
        else "IAM database authentication is off"
    )


def _db_logs(props, _args):
    return None if as_strings(props.get("enabledCloudwatchLogsExports")) else "no database logs are exported"


def _db_performance_insights_key(props, _args):
    if not truthy(props.get("performanceInsightsEnabled")):
        return None
    return (
        None
        if props.get("performanceInsightsKmsKeyId")
        else "Performance Insights data is encrypted with the AWS managed key; set performanceInsightsKmsKeyId "
        "to the platform's database key"
    )


def _trail_multi_region(props, _args):
    return None if truthy(props.get("isMultiRegionTrail")) else "the trail records one region only"


def _trail_validation(props, _args):
    return None if truthy(props.get("enableLogFileValidation")) else "log file validation is off"


def _trail_kms(props, _args):
    return None if props.get("kmsKeyId") else "trail logs are not encrypted with a customer key"


def _log_group_kms(props, _args):
    return None if props.get("kmsKeyId") else "the log group is not encrypted with a customer key"


def _log_group_retention(props, args):
    days = props.get("retentionInDays")
    if not isinstance(days, (int, float)) or days <= 0:
        return "the log group keeps logs forever or has no retention; set retentionInDays"
    if environment(args) == "prod" and days < 365:
        return f"prod log group keeps {int(days)} days; at least 365"
    return None


def _topic_kms(props, _args):
    return None if props.get("kmsMasterKeyId") else "the topic is not encrypted (kmsMasterKeyId)"


PRIVATE_CA = "aws:acmpca/certificateAuthority:CertificateAuthority"


def _no_root_ca(props, _args):
    """A root CA belongs in the organisation's PKI account, not in a workload account (ACM Private CA User Guide,
    "Designing a CA hierarchy": https://docs.aws.amazon.com/privateca/latest/userguide/ca-hierarchy.html)."""
    if props.get("type") == "SUBORDINATE":
        return None
    return (
        f"certificate authority type {shown(props.get('type'))}: the workload account creates SUBORDINATE CAs "
        "only (an omitted type is ROOT)"
    )


POLICIES = [
    resource_policy(
        "rds-encrypted-customer-key",
        area="rds",
        severity=Severity.CRITICAL,
        description="Databases encrypt storage with a customer-managed key.",
        types=DATABASES,
        check=_db_encrypted,
        remediation="Set storageEncrypted: true and kmsKeyId.",
    ),
    resource_policy(
        "rds-multi-az-prod",
        area="rds",
        severity=Severity.HIGH,
        description="Prod databases run in more than one availability zone.",
        types=[DB_INSTANCE],
        check=_db_multi_az,
        environment_aware=True,
        remediation="Set multiAz: true.",
    ),
    resource_policy(
        "rds-backup-retention",
        area="rds",
        severity=Severity.HIGH,
        description="Databases keep backups 7 days or more (30 in prod).",
        types=DATABASES,
        check=_db_backups,
        environment_aware=True,
        remediation="Set backupRetentionPeriod to 7 or more (30 in prod).",
    ),
    resource_policy(
        "rds-deletion-protection",
        area="rds",
        severity=Severity.HIGH,
        description="Databases have deletion protection.",
        types=DATABASES,
        check=_db_deletion_protection,
        remediation="Set deletionProtection: true.",
    ),
    resource_policy(
        "rds-not-public",
        area="rds",
        severity=Severity.CRITICAL,
        description="Databases are not publicly accessible.",
        types=[*DATABASES, CLUSTER_INSTANCE],
        check=_db_private,
        remediation="Set publiclyAccessible: false; use isolated subnets.",
    ),
    resource_policy(
        "rds-performance-insights-customer-key",
        area="rds",
        severity=Severity.MEDIUM,
        description="Databases and DB cluster instances encrypt Performance Insights data with a customer key.",
        types=[*DATABASES, CLUSTER_INSTANCE],
        check=_db_performance_insights_key,
        remediation="Set performanceInsightsKmsKeyId to the database key wherever performanceInsightsEnabled is "
        "true.",
    ),
    resource_policy(
        "rds-iam-auth",
        area="rds",
        severity=Severity.MEDIUM,
        description="Databases accept IAM authentication.",
        types=DATABASES,
        check=_db_iam_auth,
        remediation="Set iamDatabaseAuthenticationEnabled: true.",
    ),
    resource_policy(
        "rds-log-exports",
        area="rds",
        severity=Severity.LOW,
        description="Databases export their logs to CloudWatch.",
        types=DATABASES,
        check=_db_logs,
        remediation="Set enabledCloudwatchLogsExports (e.g. postgresql, upgrade).",
    ),
    resource_policy(
        "cloudtrail-multi-region",
        area="cloudtrail",
        severity=Severity.HIGH,
        description="CloudTrail trails record every region.",
        types=[TRAIL],
        check=_trail_multi_region,
        remediation="Set isMultiRegionTrail: true.",
    ),
    resource_policy(
        "cloudtrail-log-validation",
        area="cloudtrail",
        severity=Severity.HIGH,
        description="CloudTrail trails validate their log files.",
        types=[TRAIL],
        check=_trail_validation,
        remediation="Set enableLogFileValidation: true.",
    ),
    resource_policy(
        "cloudtrail-kms",
        area="cloudtrail",
        severity=Severity.HIGH,
        description="CloudTrail trails encrypt logs with a customer key.",
        types=[TRAIL],
        check=_trail_kms,
        remediation="Set kmsKeyId to the platform's logs key.",
    ),
    resource_policy(
        "log-group-kms",
        area="logging",
        severity=Severity.MEDIUM,
        description="CloudWatch log groups are encrypted with a customer key.",
        types=[LOG_GROUP],
        check=_log_group_kms,
        remediation="Set kmsKeyId to the logs key of the region.",
    ),
    resource_policy(
        "log-group-retention",
        area="logging",
        severity=Severity.MEDIUM,
        description="CloudWatch log groups have a retention (365 days or more in prod).",
        types=[LOG_GROUP],
        check=_log_group_retention,
        environment_aware=True,
        remediation="Set retentionInDays (365 in prod).",
    ),
    resource_policy(
        "sns-kms",
        area="logging",
        severity=Severity.MEDIUM,
        description="SNS topics are encrypted with a customer key.",
        types=[TOPIC],
        check=_topic_kms,
        remediation="Set kmsMasterKeyId.",
    ),
    resource_policy(
        "acmpca-no-root-ca",
        area="pki",
        severity=Severity.HIGH,
        description="Private CAs the platform creates are subordinate CAs, never a root CA.",
        types=[PRIVATE_CA],
        check=_no_root_ca,
        remediation="Set type: SUBORDINATE and sign its certificate with the organisation's root (private-ca.subordinate).",
    ),
]
