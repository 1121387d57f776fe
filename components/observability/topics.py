"""The alert topics: one SNS topic per region (CloudWatch alarms notify only a topic of their own region),
KMS-encrypted, published to by that region's alarms only, with the configured subscribers."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.observability.config import Subscription


def alert_topic_policy(topic_arn: str, *, partition: str, account_id: str, region: str) -> dict[str, Any]:
    """Topic policy: CloudWatch alarms of this account and region may publish; the account manages it; TLS only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountManagesTopic",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                "Action": [
                    "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe",
                    "sns:ListSubscriptionsByTopic", "sns:Publish",
                ],
                "Resource": topic_arn,
            },
            {
                "Sid": "CloudWatchAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account_id}:alarm:*"},
                },
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }

@dataclass(frozen=True)
class AlertTopic:
    """One region's alert topic, its policy and its subscriptions (created under the caller's component)."""

    topic: aws.sns.Topic
    policy: aws.sns.TopicPolicy
    subscriptions: list[aws.sns.TopicSubscription]


def alert_topic(
    parent: pulumi.Resource,
    name: str,
    *,
    environment: str,
    region: str,
    prefix: str,
    logs_key_arn: pulumi.Input[str],
    partition: str,
    account_id: str,
    subscriptions: Sequence[Subscription],
    tags: Mapping[str, str],
) -> AlertTopic:
    """The topic ``<prefix>-alerts`` and its resources, named ``<name>-alerts...`` under ``parent``."""
    topic = aws.sns.Topic(
        f"{name}-alerts",
        aws.sns.TopicArgs(
            name=f"{prefix}-alerts",
            display_name=f"mlops {environment} {region} alerts",
            kms_master_key_id=logs_key_arn,
            tags={**tags, "Name": f"{prefix}-alerts"},
        ),
        opts=child_opts(parent),
    )
    policy = aws.sns.TopicPolicy(
        f"{name}-alerts-policy",
        aws.sns.TopicPolicyArgs(
            arn=topic.arn,
            policy=topic.arn.apply(
                lambda arn: json.dumps(
                    alert_topic_policy(arn, partition=partition, account_id=account_id, region=region),
                    sort_keys=True,
                )
            ),
        ),
        opts=child_opts(parent),
    )
    subscribed = [
        aws.sns.TopicSubscription(
            f"{name}-alerts-{subscription.protocol}-{index}",
            aws.sns.TopicSubscriptionArgs(
                topic=topic.arn, protocol=subscription.protocol, endpoint=subscription.endpoint
            ),
            opts=child_opts(parent),
        )
        for index, subscription in enumerate(subscriptions)
    ]
    return AlertTopic(topic, policy, subscribed)
