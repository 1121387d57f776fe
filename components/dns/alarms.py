"""The alarms on the public zone's DNSSEC signing, in us-east-1, sent to an alert topic there.

Route 53 publishes its hosted-zone metrics in US East (N. Virginia) only, and a CloudWatch alarm notifies only a
topic of its own region: the alarms go to the stack's us-east-1 alert topic when its observability has one (a
stack serving from us-east-1), else to a topic of their own there, KMS-encrypted and subscribed like the others.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks import PlatformContext
from components.dns.protection import ROUTE53_KEY_REGION, alarm_topic_key_policy, dnssec_alarm_inputs
from components.observability.config import Subscription
from components.observability.topics import alert_topic


def logs_key_args(ctx: PlatformContext, description: str, policy: dict, name: str) -> aws.kms.KeyArgs:
    """A customer key of the DNS side's logs (the query log group, the DNSSEC alert topic): rotated yearly, the
    deletion window of the environment, tagged for logs."""
    return aws.kms.KeyArgs(
        description=description,
        policy=json.dumps(policy),
        enable_key_rotation=True,
        rotation_period_in_days=365,
        deletion_window_in_days=30 if ctx.is_prod else 7,
        key_usage="ENCRYPT_DECRYPT",
        customer_master_key_spec="SYMMETRIC_DEFAULT",
        tags=ctx.tagged(purpose="logs", Name=name),
    )


@dataclass(frozen=True)
class DnssecAlarmsArgs:
    context: PlatformContext  # any region: the alarms (and a topic of their own) are in us-east-1
    zone_id: pulumi.Input[str]
    # The stack's us-east-1 alert topic and what lets CloudWatch publish to it (its policy); None: a topic of
    # their own, with ``subscriptions``.
    topic_arn: pulumi.Input[str] | None = None
    topic_ready: Sequence[pulumi.Resource] = ()
    subscriptions: Sequence[Subscription] = ()


class DnssecAlarms(pulumi.ComponentResource):
    """``DNSSECInternalFailure`` and ``DNSSECKeySigningKeysNeedingAction`` alarms of one zone (create it with the
    stack's us-east-1 provider). Attributes: ``alarms`` (role -> MetricAlarm), ``topic_arn``; with a topic of
    their own also ``key``, ``topic``, ``topic_policy``, ``subscriptions``."""

    key: aws.kms.Key | None = None
    topic: aws.sns.Topic | None = None
    topic_policy: aws.sns.TopicPolicy | None = None
    subscriptions: list[aws.sns.TopicSubscription]

    def __init__(self, name: str, args: DnssecAlarmsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:dns:DnssecAlarms", name, None, opts)
        ctx = args.context.in_region(ROUTE53_KEY_REGION)
        self.subscriptions = []
        topic_arn, ready = args.topic_arn, list(args.topic_ready)
        if topic_arn is None:
            self.key = aws.kms.Key(
                f"{name}-key",
                logs_key_args(
                    ctx,
                    f"mlops {ctx.environment} DNSSEC alert topic ({ctx.region})",
                    alarm_topic_key_policy(ctx),
                    f"{name}-key",
                ),
                opts=child_opts(self, protect=ctx.is_prod),
            )
            topic = alert_topic(
                self,
                name,
                ctx,
                prefix=f"{ctx.prefix}-dnssec",
                logs_key_arn=self.key.arn,
                subscriptions=args.subscriptions,
            )
            self.topic, self.topic_policy, self.subscriptions = topic.topic, topic.policy, topic.subscriptions
            topic_arn, ready = topic.topic.arn, [topic.policy]
        self.topic_arn = topic_arn
        self.alarms = {
            role: aws.cloudwatch.MetricAlarm(
                f"{name}-{role}",
                aws.cloudwatch.MetricAlarmArgs(**inputs),
                opts=child_opts(self, depends_on=ready),
            )
            for role, inputs in dnssec_alarm_inputs(ctx, args.zone_id, topic_arn).items()
        }
        self.register_outputs({"alarmNames": {role: alarm.name for role, alarm in self.alarms.items()}})
