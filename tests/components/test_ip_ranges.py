"""The alarm on AWS's IP range notifications: the pods' S3 egress rules copy the S3 prefix lists' CIDRs, so a
change of AWS's ranges must reach the platform's alert topic instead of cutting pods off silently."""

from __future__ import annotations

import json

import pytest

from tests.conftest import STACKS, by_name, states
from tests.iam_lint import documents, parliament_findings

TOPIC = "arn:aws:sns:us-east-1:806199016981:AmazonIpSpaceChanged"
ACCOUNT = "333333333333"


def provider_region(document, state) -> str:
    urn = state["provider"].rsplit("::", 1)[0]
    return next(s["newState"] for s in document["steps"] if s["newState"]["urn"] == urn)["inputs"]["region"]


def statements(policy: str) -> dict[str, dict]:
    return {s["Sid"]: s for s in json.loads(policy)["Statement"]}


def test_the_queue_subscribes_to_aws_ip_space_changed_and_the_alarm_notifies_the_alert_topic(synth):
    """AWS publishes every change of its IP ranges to the SNS topic AmazonIpSpaceChanged in us-east-1
    (https://docs.aws.amazon.com/vpc/latest/userguide/subscribe-notifications.html); an SQS subscription queues
    each notification, and the alarm fires while one is unread."""
    prod = synth("prod")
    component = by_name(prod, "ip-ranges")
    assert component["type"] == "mlops:observability:IpRangeAlarm"
    key, queue = by_name(prod, "ip-ranges-key"), by_name(prod, "ip-ranges-queue")
    subscription, alarm = by_name(prod, "ip-ranges-subscription"), by_name(prod, "ip-ranges-alarm")
    for child in (key, queue, subscription, alarm, by_name(prod, "ip-ranges-queue-policy")):
        assert child["parent"] == component["urn"]
    queue_arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:mlops-prod-ip-ranges-changed"
    assert subscription["inputs"] == {"topic": TOPIC, "protocol": "sqs", "endpoint": queue_arn}
    assert queue["inputs"]["name"] == "mlops-prod-ip-ranges-changed"
    assert queue["propertyDependencies"]["kmsMasterKeyId"] == [key["urn"]]
    assert queue["inputs"]["messageRetentionSeconds"] == 1209600  # SQS's longest: 14 days
    assert "sqsManagedSseEnabled" not in queue["inputs"]
    assert alarm["inputs"]["name"] == "mlops-prod-us-east-1-ip-ranges-changed"
    assert alarm["inputs"]["namespace"] == "AWS/SQS"
    assert alarm["inputs"]["metricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["inputs"]["dimensions"] == {"QueueName": "mlops-prod-ip-ranges-changed"}
    assert (alarm["inputs"]["comparisonOperator"], alarm["inputs"]["threshold"]) == (
        "GreaterThanThreshold",
        0,
    )
    assert alarm["inputs"]["treatMissingData"] == "notBreaching"  # an idle queue publishes no metrics
    assert alarm["inputs"]["alarmActions"] == [f"arn:aws:sns:us-east-1:{ACCOUNT}:mlops-prod-us-east-1-alerts"]
    assert "mlops verify" in alarm["inputs"]["alarmDescription"]
    assert by_name(prod, "observability-us-east-1-alerts-policy")["urn"] in alarm["dependencies"]
    # The delivery is allowed before the subscription exists.
    assert by_name(prod, "ip-ranges-queue-policy")["urn"] in subscription["dependencies"]
    assert key["protect"] is True and key["inputs"]["enableKeyRotation"] is True
    assert key["inputs"]["deletionWindowInDays"] == 30
    assert len(states(prod, "aws:sns/topicSubscription:TopicSubscription")) >= 1


def test_sns_may_deliver_to_the_queue_and_use_its_key_for_that_topic_only(synth):
    """SNS delivers to a queue of another account when the queue policy allows sns.amazonaws.com
    sqs:SendMessage for the topic (https://docs.aws.amazon.com/sns/latest/dg/sns-send-message-to-sqs-cross-account.html),
    and to an SSE-KMS queue when the key policy lets it GenerateDataKey and Decrypt
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html)."""
    prod = synth("prod")
    queue_policy = statements(by_name(prod, "ip-ranges-queue-policy")["inputs"]["policy"])
    assert queue_policy["IpSpaceChangedTopicSends"] == {
        "Sid": "IpSpaceChangedTopicSends",
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:mlops-prod-ip-ranges-changed",
        "Condition": {"ArnEquals": {"aws:SourceArn": TOPIC}},
    }
    assert queue_policy["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    key_policy = statements(by_name(prod, "ip-ranges-key")["inputs"]["policy"])
    assert key_policy["IpSpaceChangedTopicEncrypts"]["Principal"] == {"Service": "sns.amazonaws.com"}
    assert key_policy["IpSpaceChangedTopicEncrypts"]["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
    assert key_policy["IpSpaceChangedTopicEncrypts"]["Condition"] == {"ArnEquals": {"aws:SourceArn": TOPIC}}
    assert key_policy["AccountAdministersKey"]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}


def test_the_queue_and_key_policies_pass_parliament(synth):
    ours = [d for d in documents(synth("prod")) if d.resource.startswith("ip-ranges-")]
    assert sorted((d.resource, d.kind) for d in ours) == [
        ("ip-ranges-key", "key"),
        ("ip-ranges-queue-policy", "resource"),
    ]
    assert [f for d in ours for f in parliament_findings(d)] == []


@pytest.fixture
def staging_in_us_west_2(tmp_path):
    """The shipped staging stack moved to us-west-2: a platform without a region in us-east-1."""
    text = (STACKS / "Pulumi.staging.yaml").read_text().replace("us-east-1", "us-west-2")
    (tmp_path / "Pulumi.staging.yaml").write_text(text)
    return tmp_path


def test_the_subscription_is_made_in_the_topics_region_the_queue_in_the_platforms(
    synth, staging_in_us_west_2
):
    """SNS delivers across Regions to SQS, and the subscription is made in the topic's Region
    (https://docs.aws.amazon.com/sns/latest/dg/sns-cross-region-delivery.html; pulumi-aws sns.TopicSubscription:
    a provider in the topic's region): a stack whose regions do not include us-east-1 subscribes through a us-east-1
    provider of its own, while the queue, its key and the alarm stay with the alert topic (CloudWatch alarms
    notify topics of their own Region)."""
    prod = synth("prod")
    assert provider_region(prod, by_name(prod, "ip-ranges-subscription")) == "us-east-1"
    staging = synth("staging", stacks_dir=staging_in_us_west_2)
    assert provider_region(staging, by_name(staging, "ip-ranges-subscription")) == "us-east-1"
    for name in ("ip-ranges-key", "ip-ranges-queue", "ip-ranges-queue-policy", "ip-ranges-alarm"):
        assert provider_region(staging, by_name(staging, name)) == "us-west-2", name
    subscription = by_name(staging, "ip-ranges-subscription")["inputs"]
    assert subscription["endpoint"] == "arn:aws:sqs:us-west-2:222222222222:mlops-staging-ip-ranges-changed"
    alarm = by_name(staging, "ip-ranges-alarm")["inputs"]
    assert alarm["alarmActions"][0].split(":")[3] == "us-west-2"
    assert by_name(staging, "ip-ranges-key")["protect"] is False
