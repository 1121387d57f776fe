"""The alarms on the public zone's DNSSEC signing: their inputs by value, in prod (alerting the stack's us-east-1
topic) and in a stack outside us-east-1 (alerting a topic of their own there).

Each AWS rule they rely on is a test named after it, citing the page that states it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.dns.protection import DNSSEC_PERIOD_SECONDS
from tests.components.test_dns_protection import provider_region
from tests.conftest import by_name, states

ACCOUNT = "333333333333"
ALARMS = {
    "internal-failure": "DNSSECInternalFailure",
    "ksk-needs-action": "DNSSECKeySigningKeysNeedingAction",
}


@pytest.fixture
def prod(synth) -> dict[str, Any]:
    return synth("prod")


def alarm(doc: dict[str, Any], role: str) -> dict[str, Any]:
    return by_name(doc, f"dns-dnssec-alarms-{role}")


def expected_inputs(
    prefix: str, role: str, zone_id: str, topic_arn: str, tags: dict[str, str]
) -> dict[str, Any]:
    name = f"{prefix}-us-east-1-dnssec-{role}"
    return {
        "name": name,
        "namespace": "AWS/Route53",
        "metricName": ALARMS[role],
        "dimensions": {"HostedZoneId": zone_id},
        "statistic": "Sum",
        "period": 14400,
        "evaluationPeriods": 1,
        "datapointsToAlarm": 1,
        "threshold": 1,
        "comparisonOperator": "GreaterThanOrEqualToThreshold",
        "treatMissingData": "missing",
        "alarmActions": [topic_arn],
        "okActions": [topic_arn],
        "tags": {**tags, "Name": name},
    }


@pytest.mark.parametrize("role", sorted(ALARMS))
def test_prod_alarms_on_each_dnssec_metric_of_its_zone_to_the_us_east_1_alert_topic(prod, role):
    """Route 53 Developer Guide, "Configuring DNSSEC signing": "We strongly recommend that you set up a CloudWatch
    alarm that alerts you whenever a DNSSECInternalFailure or DNSSECKeySigningKeysNeedingAction error is detected"
    (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-configuring-dnssec.html). The metrics are in the
    AWS/Route53 namespace with the HostedZoneId dimension ("Monitoring hosted zones using Amazon CloudWatch"); the
    alarm notifies the stack's us-east-1 alert topic on ALARM and on OK, once its policy lets CloudWatch publish."""
    state, zone = alarm(prod, role), by_name(prod, "dns-zone")
    topic = by_name(prod, "observability-us-east-1-alerts")
    topic_arn = f"arn:aws:sns:us-east-1:{ACCOUNT}:mlops-prod-us-east-1-alerts"
    tags = {k: v for k, v in zone["inputs"]["tags"].items() if k != "Name"}
    inputs = {k: v for k, v in state["inputs"].items() if k != "alarmDescription"}
    assert inputs == expected_inputs("mlops-prod", role, zone["id"], topic_arn, tags)
    assert state["inputs"]["alarmDescription"].startswith("DNSSEC of the public zone: ")
    assert state["propertyDependencies"]["dimensions"] == [zone["urn"]]
    assert state["propertyDependencies"]["alarmActions"] == [topic["urn"]]
    assert by_name(prod, "observability-us-east-1-alerts-policy")["urn"] in state["dependencies"]
    # No second topic: the stack's own us-east-1 topic takes the alarms.
    assert [s["urn"].rsplit("::", 1)[1] for s in states(prod, "aws:sns/topic:Topic")] == [
        "observability-us-east-1-alerts",
        "observability-us-west-2-alerts",
    ]


def test_dnssec_metrics_are_read_in_us_east_1(prod):
    """Route 53 Developer Guide, "Monitoring hosted zones using Amazon CloudWatch": "Route 53 is a global service.
    To get hosted zone metrics, you must specify US East (N. Virginia) for the Region"
    (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/monitoring-hosted-zones-with-cloudwatch.html). The
    zone itself is created with the primary region's provider; the alarms with the us-east-1 one."""
    for role in ALARMS:
        assert provider_region(prod, alarm(prod, role)) == "us-east-1"
    assert provider_region(prod, by_name(prod, "dns-zone")) == "us-east-1"  # prod's primary region


def test_an_alarm_notifies_a_topic_of_its_own_region(prod):
    """A CloudWatch alarm publishes only to an SNS topic of its own region (components/observability/topics.py
    gives each region its topic for that reason): every action of the DNSSEC alarms is a us-east-1 topic, and that
    topic's policy admits the alarms of us-east-1 (``aws:SourceArn`` arn:aws:cloudwatch:us-east-1:...)."""
    for role in ALARMS:
        for arn in alarm(prod, role)["inputs"]["alarmActions"]:
            assert arn.split(":")[2:4] == ["sns", "us-east-1"]
    policy = json.loads(by_name(prod, "observability-us-east-1-alerts-policy")["inputs"]["policy"])
    [publish] = [s for s in policy["Statement"] if s["Sid"] == "CloudWatchAlarmsPublish"]
    assert (
        publish["Condition"]["ArnLike"]["aws:SourceArn"] == f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:*"
    )


def test_dnssec_alarm_period_holds_one_datapoint_and_is_one_cloudwatch_accepts():
    """Route 53 publishes each DNSSEC metric "1 per 4 hours per hosted zone" ("Monitoring hosted zones using
    Amazon CloudWatch"), so a 4-hour period holds one datapoint; PutMetricAlarm takes a Period of "10, 20, 30, and
    any multiple of 60", and Period x EvaluationPeriods of at most 604,800 seconds
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html)."""
    assert DNSSEC_PERIOD_SECONDS == 4 * 3600
    assert DNSSEC_PERIOD_SECONDS % 60 == 0 and DNSSEC_PERIOD_SECONDS * 1 <= 604_800


def test_dnssec_internal_failure_is_alarmed_on_its_only_valid_statistic(prod):
    """ "DNSSECInternalFailure ... Valid statistics: Sum"; "DNSSECKeySigningKeysNeedingAction ... Valid
    statistics: Sum, SampleCount" ("Monitoring hosted zones using Amazon CloudWatch"): both alarm on Sum >= 1 (one
    object in INTERNAL_FAILURE, one key-signing key in ACTION_NEEDED)."""
    for role in ALARMS:
        inputs = alarm(prod, role)["inputs"]
        assert (inputs["statistic"], inputs["comparisonOperator"], inputs["threshold"]) == (
            "Sum",
            "GreaterThanOrEqualToThreshold",
            1,
        )


def test_unsigned_zones_have_no_dnssec_alarms(synth):
    """Staging and dev leave signing off by default: no signing, nothing to alarm on."""
    for stack in ("staging", "dev"):
        doc = synth(stack)
        assert not [s for s in states(doc, "aws:cloudwatch/metricAlarm:MetricAlarm") if "dnssec" in s["urn"]]


def test_a_stack_outside_us_east_1_alarms_to_a_kms_encrypted_topic_of_its_own_there(observe_latency):
    """One region (eu-west-1), signing on: no alert topic of the stack is in us-east-1, so the alarms get one there
    (``mlops-staging-dnssec-alerts``), encrypted with a key of its own whose policy lets CloudWatch alarms of the
    account use it (SNS Developer Guide, "Configure AWS KMS permissions for AWS services": CloudWatch needs
    kms:Decrypt and kms:GenerateDataKey* on a topic's key), subscribed like the stack's other topics."""
    doc = observe_latency
    key, topic = by_name(doc, "dns-dnssec-alarms-key"), by_name(doc, "dns-dnssec-alarms-alerts")
    for state in (
        key,
        topic,
        by_name(doc, "dns-dnssec-alarms-alerts-policy"),
        alarm(doc, "internal-failure"),
    ):
        assert provider_region(doc, state) == "us-east-1"
    assert topic["inputs"]["name"] == "mlops-staging-dnssec-alerts"
    assert topic["propertyDependencies"]["kmsMasterKeyId"] == [key["urn"]]
    statements = {s["Sid"]: s for s in json.loads(key["inputs"]["policy"])["Statement"]}
    assert statements["AlarmsPublishToEncryptedTopics"] == {
        "Sid": "AlarmsPublishToEncryptedTopics",
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": "222222222222"}},
    }
    assert set(statements) == {"AccountAdministersKey", "AlarmsPublishToEncryptedTopics"}
    assert key["inputs"]["enableKeyRotation"] is True
    [subscription] = states(doc, "aws:sns/topicSubscription:TopicSubscription")[-1:]
    assert subscription["inputs"]["endpoint"] == "ml-platform-staging@example.com"
    assert subscription["propertyDependencies"]["topic"] == [topic["urn"]]
    zone = by_name(doc, "dns-zone")
    for role in ALARMS:
        inputs = alarm(doc, role)["inputs"]
        assert inputs["dimensions"] == {"HostedZoneId": zone["id"]}
        assert (
            inputs["alarmActions"]
            == inputs["okActions"]
            == ["arn:aws:sns:us-east-1:222222222222:mlops-staging-dnssec-alerts"]
        )
        assert alarm(doc, role)["propertyDependencies"]["alarmActions"] == [topic["urn"]]
