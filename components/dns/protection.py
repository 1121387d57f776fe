"""What signing and query logging of the public zone need from AWS, as pure functions of the context and the zone.

Route 53 takes both from us-east-1 only: the KMS key behind a key-signing key ("Working with customer managed keys
for DNSSEC") and the query log's log group and its CloudWatch Logs resource policy (API Reference,
CreateQueryLoggingConfig). The documents here are the ones those pages give, limited to this account and zone.
"""

from __future__ import annotations

import re
from typing import Any

from components.blocks import PlatformContext, document, key_root_statement, key_service_statement
from components.blocks.context import service_principal
from components.encryption import cloudwatch_logs_statements

ROUTE53_KEY_REGION = "us-east-1"
DNSSEC_PRINCIPAL = service_principal("dnssec-route53")
QUERY_LOG_PRINCIPAL = service_principal("route53")
KSK_NAME_RE = re.compile(r"^[A-Za-z0-9_]{3,128}$")  # API Reference, CreateKeySigningKey: Name


def zone_arn(ctx: PlatformContext, zone_id: str) -> str:
    """A hosted zone's ARN: Route 53 is global, so no region and no account (``arn:aws:route53:::hostedzone/Z…``)."""
    return ctx.arn.of("route53", f"hostedzone/{zone_id}", account="")


def ksk_name(environment: str) -> str:
    """The key-signing key's name: letters, digits and underscores only, 3 to 128 characters."""
    return f"mlops_{environment}_ksk"


def query_log_group_name(zone: str) -> str:
    """The log group of the zone's query log, with the prefix Route 53 recommends (``/aws/route53/<zone>``)."""
    return f"/aws/route53/{zone}"


def dnssec_key_policy(ctx: PlatformContext, zone_id: str) -> dict[str, Any]:
    """The signing key's policy: the account administers it; Route 53 DNSSEC signs with it for this zone only.

    The Route 53 statements are those of "Route 53 customer managed key permissions required for DNSSEC signing"
    (Developer Guide): DescribeKey, GetPublicKey and Sign under ``aws:SourceAccount`` and ``aws:SourceArn`` (the
    confused-deputy keys; here the one zone's ARN rather than ``hostedzone/*``), and CreateGrant only for an AWS
    resource (``kms:GrantIsForAWSResource``), the condition that page gives that statement.
    """
    dnssec = {"Service": DNSSEC_PRINCIPAL}
    return document(
        key_root_statement(ctx.arn.root()),
        key_service_statement(
            "Route53DnssecSignsForThisZone",
            dnssec,
            ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"],
            {
                "StringEquals": {"aws:SourceAccount": ctx.account_id},
                "ArnLike": {"aws:SourceArn": zone_arn(ctx, zone_id)},
            },
        ),
        key_service_statement(
            "Route53DnssecCreatesGrantsForAwsResources",
            dnssec,
            "kms:CreateGrant",
            {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        ),
        policy_id="mlops-dnssec",
    )


def query_log_key_policy(ctx: PlatformContext) -> dict[str, Any]:
    """The policy of a key of its own for the query log group, when the stack has no key ring in us-east-1:
    the account administers it and CloudWatch Logs of us-east-1 encrypts the account's log groups with it."""
    return document(
        key_root_statement(ctx.arn.root()), *cloudwatch_logs_statements(ctx), policy_id="mlops-dns-query-logs"
    )


def query_log_resource_policy(ctx: PlatformContext, log_group: str, zone_id: str) -> dict[str, Any]:
    """The CloudWatch Logs resource policy Route 53 needs to write the zone's query log (API Reference,
    CreateQueryLoggingConfig): ``route53.amazonaws.com`` may create log streams in and put events to this one
    log group, for this zone of this account only (``aws:SourceArn``, ``aws:SourceAccount``).

    The log group's ARN is named bare (CreateLogStream acts on the log group) and with ``:*`` (PutLogEvents acts
    on its streams, ``log-group:<name>:log-stream:<stream>``).
    """
    group = ctx.arn.log_group(log_group)
    return document(
        {
            "Sid": "Route53WritesThisZonesQueryLog",
            "Effect": "Allow",
            "Principal": {"Service": QUERY_LOG_PRINCIPAL},
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [group, f"{group}:*"],
            "Condition": {
                "ArnLike": {"aws:SourceArn": zone_arn(ctx, zone_id)},
                "StringEquals": {"aws:SourceAccount": ctx.account_id},
            },
        }
    )


# ---------------------------------------------------------------------------------------------------------
# Alarms on signing

#: The DNSSEC metrics Route 53 publishes per hosted zone (Developer Guide, "Monitoring hosted zones using Amazon
#: CloudWatch"), by alarm role, with what a breach means. "Configuring DNSSEC signing in Amazon Route 53" strongly
#: recommends alarms on these two: a zone whose signing fails becomes unresolvable for validating resolvers.
DNSSEC_METRICS = {
    "internal-failure": (
        "DNSSECInternalFailure",
        "an object of the zone is in INTERNAL_FAILURE: signing and key-signing key changes are blocked until "
        "signing is disabled and enabled again",
    ),
    "ksk-needs-action": (
        "DNSSECKeySigningKeysNeedingAction",
        "a key-signing key is ACTION_NEEDED (Route 53 lost the use of its KMS key): fix the key or its policy "
        "before the zone stops resolving for validating resolvers",
    ),
}
DNSSEC_NAMESPACE = "AWS/Route53"
# Route 53 publishes each DNSSEC metric once per 4 hours per zone ("Volume: 1 per 4 hours per hosted zone"): one
# period holds one datapoint.
DNSSEC_PERIOD_SECONDS = 4 * 3600


def dnssec_alarm_inputs(ctx: PlatformContext, zone_id: Any, topic_arn: Any) -> dict[str, dict[str, Any]]:
    """The MetricAlarm inputs of each DNSSEC alarm of the zone, by role: the metric's Sum (its only valid statistic
    for DNSSECInternalFailure) at 1 or more over one 4-hour period, notifying ``topic_arn`` on ALARM and OK.

    The alarms are created in us-east-1, where Route 53's metrics are, so ``topic_arn`` is a topic there.
    Missing data keeps the alarm's state: the metric arrives only every 4 hours, and its absence says nothing.
    """
    inputs = {}
    for role, (metric, meaning) in DNSSEC_METRICS.items():
        name = f"{ctx.prefix}-{ctx.region}-dnssec-{role}"
        inputs[role] = {
            "name": name,
            "alarm_description": f"DNSSEC of the public zone: {meaning}",
            "namespace": DNSSEC_NAMESPACE,
            "metric_name": metric,
            "dimensions": {"HostedZoneId": zone_id},
            "statistic": "Sum",
            "period": DNSSEC_PERIOD_SECONDS,
            "evaluation_periods": 1,
            "datapoints_to_alarm": 1,
            "threshold": 1,
            "comparison_operator": "GreaterThanOrEqualToThreshold",
            "treat_missing_data": "missing",
            "alarm_actions": [topic_arn],
            "ok_actions": [topic_arn],
            "tags": ctx.tagged(Name=name),
        }
    return inputs


def alarm_topic_key_policy(ctx: PlatformContext) -> dict[str, Any]:
    """The policy of the key of a us-east-1 alert topic of its own (a stack without a key ring there): the account
    administers it, and CloudWatch alarms of the account publish to topics encrypted with it (Decrypt and
    GenerateDataKey*, as the logs keys' ``AlarmsPublishToEncryptedTopics`` statement)."""
    return document(
        key_root_statement(ctx.arn.root()),
        key_service_statement(
            "AlarmsPublishToEncryptedTopics",
            {"Service": service_principal("cloudwatch")},
            ["kms:Decrypt", "kms:GenerateDataKey*"],
            {"StringEquals": {"aws:SourceAccount": ctx.account_id}},
        ),
        policy_id="mlops-dnssec-alerts",
    )
