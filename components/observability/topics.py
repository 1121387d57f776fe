"""The alert topics: one SNS topic per region (CloudWatch alarms notify only a topic of their own region),
KMS-encrypted, published to by that region's alarms only, with the configured subscribers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks import PlatformContext, deny_insecure_transport, document, service_principal
from components.observability.config import Subscription


def events_publish_statement(topic_arn: str, rule_arns: Sequence[str]) -> dict[str, Any]:
    """EventBridge may publish, for the rules named only (EventBridge User Guide, "Using resource-based policies
    for Amazon EventBridge", Amazon SNS permissions; ``aws:SourceArn`` the rule, as its other targets show)."""
    return {
        "Sid": "EventBridgeRulesPublish",
        "Effect": "Allow",
        "Principal": {"Service": service_principal("events")},
        "Action": "sns:Publish",
        "Resource": topic_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": list(rule_arns)}},
    }


def budgets_publish_statement(topic_arn: str, ctx: PlatformContext) -> dict[str, Any]:
    """AWS Budgets may publish, for this account's budgets only (teams' budgets notify the alert topic): the
    statement of "Creating an Amazon SNS topic for budget notifications" (AWS Cost Management User Guide,
    https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html)."""
    return {
        "Sid": "AWSBudgetsSNSPublishingPermissions",
        "Effect": "Allow",
        "Principal": {"Service": service_principal("budgets")},
        "Action": "sns:Publish",
        "Resource": topic_arn,
        "Condition": {
            "StringEquals": {"aws:SourceAccount": ctx.account_id},
            "ArnLike": {"aws:SourceArn": ctx.arn.of("budgets", "*")},
        },
    }


def alert_topic_policy(
    topic_arn: str, ctx: PlatformContext, event_rules: Sequence[str] = ()
) -> dict[str, Any]:
    """Topic policy: CloudWatch alarms of this account and region may publish, and so may the EventBridge rules
    named in ``event_rules`` (rule names of this account and region); the account manages it; TLS only."""
    arns, account_id, region = ctx.arn, ctx.account_id, ctx.region
    rule_arns = [arns.of("events", f"rule/{rule}", region=region) for rule in event_rules]
    events = [events_publish_statement(topic_arn, rule_arns)] if rule_arns else []
    return document(
        {
            "Sid": "AccountManagesTopic",
            "Effect": "Allow",
            "Principal": {"AWS": arns.root()},
            "Action": [
                "sns:GetTopicAttributes",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
                "sns:ListSubscriptionsByTopic",
                "sns:Publish",
            ],
            "Resource": topic_arn,
        },
        {
            "Sid": "CloudWatchAlarmsPublish",
            "Effect": "Allow",
            "Principal": {"Service": service_principal("cloudwatch")},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {"aws:SourceArn": arns.of("cloudwatch", "alarm:*", region=region)},
            },
        },
        *events,
        budgets_publish_statement(topic_arn, ctx),
        deny_insecure_transport(topic_arn, action="sns:Publish"),
    )


@dataclass(frozen=True)
class AlertTopic:
    """One region's alert topic, its policy and its subscriptions (created under the caller's component)."""

    topic: aws.sns.Topic
    policy: aws.sns.TopicPolicy
    subscriptions: list[aws.sns.TopicSubscription]


def alert_topic(
    parent: pulumi.Resource,
    name: str,
    ctx: PlatformContext,
    *,
    prefix: str,
    logs_key_arn: pulumi.Input[str],
    subscriptions: Sequence[Subscription],
    event_rules: Sequence[str] = (),
) -> AlertTopic:
    """The topic ``<prefix>-alerts`` and its resources, named ``<name>-alerts...`` under ``parent``;
    ``event_rules`` are the EventBridge rules (names) allowed to publish."""
    topic = aws.sns.Topic(
        f"{name}-alerts",
        aws.sns.TopicArgs(
            name=f"{prefix}-alerts",
            display_name=f"mlops {ctx.environment} {ctx.region} alerts",
            kms_master_key_id=logs_key_arn,
            tags=ctx.tagged(Name=f"{prefix}-alerts"),
        ),
        opts=child_opts(parent),
    )
    policy = aws.sns.TopicPolicy(
        f"{name}-alerts-policy",
        aws.sns.TopicPolicyArgs(
            arn=topic.arn,
            policy=topic.arn.apply(
                lambda arn: json.dumps(
                    alert_topic_policy(arn, ctx, event_rules),
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
