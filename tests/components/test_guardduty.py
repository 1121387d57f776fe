"""GuardDuty with EKS protection per region, its findings to the region's alert topic."""

from __future__ import annotations

import json

import pytest
import yaml
from moto.events.models import EventPattern

from components.blocks import PlatformContext
from components.config import parse_platform
from components.encryption import key_policy
from components.loader import ConfigError
from components.observability.config import ObservabilityConfig
from components.observability.guardduty import FEATURES, finding_pattern
from tests.conftest import STACKS, by_name, states

REGIONS = ("us-east-1", "us-west-2")


def statement(policy_text: str, sid: str) -> dict:
    return {s.get("Sid"): s for s in json.loads(policy_text)["Statement"]}[sid]


def test_prod_has_a_detector_with_eks_protection_in_every_region(synth):
    prod = synth("prod")
    for region in REGIONS:
        detector = by_name(prod, f"observability-{region}-guardduty")
        assert detector["type"] == "aws:guardduty/detector:Detector"
        assert detector["parent"] == by_name(prod, f"observability-{region}")["urn"]
        assert detector["inputs"]["enable"] is True
        assert detector["inputs"]["findingPublishingFrequency"] == "FIFTEEN_MINUTES"
        assert detector["inputs"]["tags"]["Name"] == f"mlops-prod-{region}-guardduty"
        audit = by_name(prod, f"observability-{region}-guardduty-eks-audit-logs")
        runtime = by_name(prod, f"observability-{region}-guardduty-runtime-monitoring")
        for feature in (audit, runtime):
            assert feature["propertyDependencies"]["detectorId"] == [detector["urn"]]
            assert feature["inputs"]["status"] == "ENABLED"
        assert (
            audit["inputs"]["name"] == "EKS_AUDIT_LOGS" and "additionalConfigurations" not in audit["inputs"]
        )
        assert runtime["inputs"]["name"] == "RUNTIME_MONITORING"
        assert runtime["inputs"]["additionalConfigurations"] == [
            {"name": "EKS_ADDON_MANAGEMENT", "status": "ENABLED"},
            {"name": "ECS_FARGATE_AGENT_MANAGEMENT", "status": "DISABLED"},
            {"name": "EC2_AGENT_MANAGEMENT", "status": "DISABLED"},
        ]
    # One detector per region, each created with that region's provider.
    detectors = states(prod, "aws:guardduty/detector:Detector")
    assert len(detectors) == 2 and len({d["provider"] for d in detectors}) == 2


def test_eks_runtime_monitoring_and_runtime_monitoring_are_never_both_set():
    """GuardDuty API reference, "DetectorFeatureConfiguration": specifying both EKS_RUNTIME_MONITORING and
    RUNTIME_MONITORING causes an error; feature and additional-configuration names are the API's valid values."""
    assert not {"EKS_RUNTIME_MONITORING", "RUNTIME_MONITORING"} <= set(FEATURES)
    api_features = {"S3_DATA_EVENTS", "EKS_AUDIT_LOGS", "EBS_MALWARE_PROTECTION", "RDS_LOGIN_EVENTS",
                    "EKS_RUNTIME_MONITORING", "LAMBDA_NETWORK_LOGS", "RUNTIME_MONITORING"}  # fmt: skip
    additional = {"EKS_ADDON_MANAGEMENT", "ECS_FARGATE_AGENT_MANAGEMENT", "EC2_AGENT_MANAGEMENT"}
    assert set(FEATURES) <= api_features
    assert {name for extras in FEATURES.values() for name, _ in extras} <= additional


def guardduty_finding(severity: float) -> dict:
    """A finding event as GuardDuty sends it to EventBridge (GuardDuty User Guide, "Processing GuardDuty
    findings with Amazon EventBridge": source aws.guardduty, detail-type GuardDuty Finding, detail = finding)."""
    return {
        "version": "0",
        "id": "c8c4daa7-a20c-2f03-0070-b7393dd542ad",
        "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty",
        "account": "333333333333",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "schemaVersion": "2.0",
            "accountId": "333333333333",
            "region": "us-east-1",
            "type": "Execution:Runtime/NewBinaryExecuted",
            "severity": severity,
        },
    }


def test_findings_rule_matches_guardduty_findings_by_numeric_severity(synth):
    """EventBridge User Guide, "Content filtering in Amazon EventBridge event patterns" (numeric matching):
    ``{"numeric": [">=", 4]}`` matches a JSON number of 4 or more. Checked with moto's pattern matcher, not
    ours: medium (4.0) and high (8.0) findings match, a low one (3.9) and another source do not."""
    prod = synth("prod")
    rule = by_name(prod, "observability-us-east-1-guardduty-findings")
    assert rule["inputs"]["name"] == "mlops-prod-us-east-1-guardduty-findings"
    pattern = EventPattern.load(rule["inputs"]["eventPattern"])
    assert [pattern.matches_event(guardduty_finding(s)) for s in (4.0, 8, 3.9)] == [True, True, False]
    assert not pattern.matches_event({**guardduty_finding(8), "source": "aws.securityhub"})
    high_only = EventPattern.load(json.dumps(finding_pattern(7)))
    assert [high_only.matches_event(guardduty_finding(s)) for s in (6.9, 7.0)] == [False, True]


def test_findings_go_to_the_region_alert_topic_without_a_role(synth):
    """EventBridge User Guide, "Using resource-based policies for Amazon EventBridge": SNS targets are reached
    through the topic's resource policy; a RoleArn on them can make delivery fail."""
    prod = synth("prod")
    for region in REGIONS:
        target = by_name(prod, f"observability-{region}-guardduty-findings-target")
        topic = by_name(prod, f"observability-{region}-alerts")
        assert target["inputs"]["arn"] == f"arn:aws:sns:{region}:333333333333:mlops-prod-{region}-alerts"
        assert target["propertyDependencies"]["arn"] == [topic["urn"]]
        assert target["inputs"]["rule"] == f"mlops-prod-{region}-guardduty-findings"
        assert "roleArn" not in target["inputs"]
        assert by_name(prod, f"observability-{region}-alerts-policy")["urn"] in target["dependencies"]


def test_topic_policy_lets_only_the_findings_rule_publish(synth):
    """EventBridge User Guide, "Using resource-based policies for Amazon EventBridge" (Amazon SNS permissions):
    the topic policy allows events.amazonaws.com sns:Publish; aws:SourceArn limits it to the rule, whose ARN is
    arn:aws:events:<region>:<account>:rule/<name>."""
    prod = synth("prod")
    policy = by_name(prod, "observability-us-west-2-alerts-policy")["inputs"]["policy"]
    assert statement(policy, "EventBridgeRulesPublish") == {
        "Sid": "EventBridgeRulesPublish",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": "arn:aws:sns:us-west-2:333333333333:mlops-prod-us-west-2-alerts",
        "Condition": {
            "ArnEquals": {
                "aws:SourceArn": [
                    "arn:aws:events:us-west-2:333333333333:rule/mlops-prod-us-west-2-guardduty-findings"
                ]
            }
        },
    }


def test_logs_key_lets_eventbridge_publish_to_encrypted_topics(synth):
    """Troubleshooting Amazon EventBridge, "My rule runs, but I don't see any messages published into my Amazon
    SNS topic" (scenario 2): an encrypted topic's key policy allows events.amazonaws.com kms:Decrypt and
    kms:GenerateDataKey."""
    prod = synth("prod")
    for region in REGIONS:
        policy = by_name(prod, f"keys-{region}-logs")["inputs"]["policy"]
        assert statement(policy, "EventBridgePublishesToEncryptedTopics") == {
            "Sid": "EventBridgePublishesToEncryptedTopics",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
        }
    # Without GuardDuty no EventBridge statement: the grant exists only where a rule publishes.
    sids = {
        s["Sid"] for s in key_policy("logs", PlatformContext("dev", "aws", "1", "us-east-1"))["Statement"]
    }
    assert "EventBridgePublishesToEncryptedTopics" not in sids


def test_dev_runs_no_guardduty_by_default(synth):
    dev = synth("dev")
    assert not states(dev, "aws:guardduty/detector:Detector")
    assert not [
        rule
        for rule in states(dev, "aws:cloudwatch/eventRule:EventRule")
        if "guardduty" in rule["inputs"].get("name", "")
        or "aws.guardduty" in rule["inputs"].get("eventPattern", "")
    ]
    policy = json.loads(by_name(dev, "observability-us-east-1-alerts-policy")["inputs"]["policy"])
    assert "EventBridgeRulesPublish" not in {s.get("Sid") for s in policy["Statement"]}


def prod_config() -> dict:
    return yaml.safe_load((STACKS / "Pulumi.prod.yaml").read_text())["config"]["mlops:platform"]


def error_of(raw: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "stacks/Pulumi.prod.yaml")
    return str(caught.value).removeprefix("stacks/Pulumi.prod.yaml: mlops:platform.observability.guardduty")


@pytest.mark.parametrize(
    ("guardduty", "expected"),
    [
        (False, ".enabled: false leaves prod without threat detection; allowed in prod: true (or unset)"),
        (
            {"existing-detectors": {"eu-west-1": "a" * 32}},
            ".existing-detectors.eu-west-1: 'eu-west-1' is not a region",
        ),
        (
            {"existing-detectors": {"us-east-1": "detector"}},
            ".existing-detectors.us-east-1: 'detector' does not match",
        ),
        ({"min-severity": 0}, ".min-severity: must be greater than or equal to 1"),
        ({"min-severity": "high"}, ".min-severity: must be a number, got 'high'"),
        ("existing", ": "),
    ],
)
def test_bad_guardduty_config_is_one_line_naming_the_key(guardduty, expected):
    raw = prod_config()
    raw["observability"]["guardduty"] = guardduty
    assert error_of(raw).startswith(expected)


def test_guardduty_switch_and_defaults():
    assert ObservabilityConfig.model_validate({"guardduty": True}).guardduty.active(is_prod=False)
    assert not ObservabilityConfig.model_validate({}).guardduty.active(is_prod=False)
    assert ObservabilityConfig.model_validate({}).guardduty.active(is_prod=True)
    assert ObservabilityConfig.model_validate({}).guardduty.min_severity == 4.0


def test_existing_detector_is_configured_instead_of_created(synth, tmp_path):
    document = yaml.safe_load((STACKS / "Pulumi.staging.yaml").read_text())
    existing = "12abc34d567e8fa901bc2d34e56789f0"
    document["config"]["mlops:platform"]["observability"]["guardduty"] = {
        "enabled": True,
        "existing-detectors": {"us-east-1": existing},
        "min-severity": 7,
    }
    (tmp_path / "Pulumi.staging.yaml").write_text(yaml.safe_dump(document))
    staging = synth("staging", stacks_dir=tmp_path)
    assert not states(staging, "aws:guardduty/detector:Detector")
    for feature in states(staging, "aws:guardduty/detectorFeature:DetectorFeature"):
        assert feature["inputs"]["detectorId"] == existing
    rule = by_name(staging, "observability-us-east-1-guardduty-findings")
    assert json.loads(rule["inputs"]["eventPattern"])["detail"] == {"severity": [{"numeric": [">=", 7.0]}]}
