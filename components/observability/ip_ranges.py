"""An alarm when AWS changes its published IP address ranges, which the pods' S3 egress rules copy.

The network policies (MLflow's, the teams') allow S3 at the CIDRs of the region's S3 prefix list as they were
when the stack was deployed; AWS changes those ranges without notice to the stack, and pods would then lose S3
silently. AWS announces every change of its ranges on the SNS topic ``AmazonIpSpaceChanged`` in us-east-1 (VPC
User Guide, "AWS IP address ranges notifications"). SNS cannot deliver across accounts to another SNS topic, so
the platform subscribes an SQS queue of its own (SNS delivers to SQS across accounts and Regions; the
subscription is made in the topic's Region, so through the stack's us-east-1 provider), encrypted with a key of
its own that lets SNS use it for that topic only, and a CloudWatch alarm on the queue's visible messages
notifies the platform's alert topic. The alarm says to run `mlops verify`, which compares each region's prefix
list with the CIDRs the stack published, and to deploy again if they differ (README, "Serving clusters").

The topic announces any change of AWS's ranges, not only S3's: most alarms end with `mlops verify` passing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks import PlatformContext, deny_insecure_transport, document, service_principal
from components.blocks.iam import key_root_statement, key_service_statement

# VPC User Guide, "AWS IP address ranges notifications": the topic, in us-east-1 of the aws partition only.
IP_SPACE_CHANGED_TOPIC = "arn:aws:sns:us-east-1:806199016981:AmazonIpSpaceChanged"
TOPIC_REGION = "us-east-1"
# The longest SQS keeps a message: an unread notification keeps the alarm on for two weeks.
RETENTION_SECONDS = 14 * 24 * 3600


def queue_name(prefix: str) -> str:
    return f"{prefix}-ip-ranges-changed"


def queue_policy(queue_arn: str, topic_arn: str = IP_SPACE_CHANGED_TOPIC) -> dict[str, Any]:
    """SNS may send to the queue for the one topic only (SNS Developer Guide, "Sending Amazon SNS messages to an
    Amazon SQS queue in a different account": the queue policy allows sns.amazonaws.com `sqs:SendMessage` with
    `aws:SourceArn` the topic); nothing reaches it without TLS."""
    return document(
        {
            "Sid": "IpSpaceChangedTopicSends",
            "Effect": "Allow",
            "Principal": {"Service": service_principal("sns")},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
        },
        deny_insecure_transport(queue_arn, action="sqs:*"),
        policy_id="IpRangesChangedQueue",
    )


def key_policy(ctx: PlatformContext, topic_arn: str = IP_SPACE_CHANGED_TOPIC) -> dict[str, Any]:
    """The account administers the key; SNS may generate and decrypt data keys for deliveries of the one topic
    (SQS Developer Guide, "Amazon SQS key management", AWS services sending to encrypted queues)."""
    return document(
        key_root_statement(ctx.arn.root()),
        key_service_statement(
            "IpSpaceChangedTopicEncrypts",
            {"Service": service_principal("sns")},
            ["kms:GenerateDataKey*", "kms:Decrypt"],
            {"ArnEquals": {"aws:SourceArn": topic_arn}},
        ),
        policy_id="mlops-ip-ranges",
    )


@dataclass(frozen=True)
class IpRangeAlarmArgs:
    context: PlatformContext  # the queue's, key's and alarm's region (the alert topic's)
    alert_topic_arn: pulumi.Input[str]  # an alert topic in the context's region
    topic_ready: pulumi.Resource | None = None  # what lets CloudWatch publish to it (its policy)
    # The stack's provider in us-east-1, where the subscription to AWS's topic must be made.
    us_east_1: pulumi.ProviderResource | None = None


class IpRangeAlarm(pulumi.ComponentResource):
    """The queue subscribed to ``AmazonIpSpaceChanged``, its key and policy, and the alarm on it.

    Attributes: ``key``, ``queue``, ``queue_policy``, ``subscription``, ``alarm``.
    """

    def __init__(self, name: str, args: IpRangeAlarmArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:observability:IpRangeAlarm", name, None, opts)
        ctx = args.context
        if ctx.partition != "aws":
            raise ValueError(
                f"{IP_SPACE_CHANGED_TOPIC} is published in the aws partition only, not {ctx.partition}"
            )
        prefix = ctx.prefix
        self.key = aws.kms.Key(
            f"{name}-key",
            aws.kms.KeyArgs(
                description=f"mlops {ctx.environment} AWS IP range notifications ({ctx.region})",
                enable_key_rotation=True,
                deletion_window_in_days=30 if ctx.is_prod else 7,
                policy=json.dumps(key_policy(ctx)),
                tags=ctx.tagged(purpose="ip-ranges"),
            ),
            # Like every prod key; it encrypts only notifications, so a destroy need not keep it.
            opts=child_opts(self, protect=ctx.is_prod),
        )
        self.queue = aws.sqs.Queue(
            f"{name}-queue",
            aws.sqs.QueueArgs(
                name=queue_name(prefix),
                kms_master_key_id=self.key.arn,
                kms_data_key_reuse_period_seconds=86400,
                message_retention_seconds=RETENTION_SECONDS,
                tags=ctx.tagged(Name=queue_name(prefix)),
            ),
            opts=child_opts(self),
        )
        self.queue_policy = aws.sqs.QueuePolicy(
            f"{name}-queue-policy",
            aws.sqs.QueuePolicyArgs(
                queue_url=self.queue.url,
                policy=self.queue.arn.apply(lambda arn: json.dumps(queue_policy(arn))),
            ),
            opts=child_opts(self),
        )
        if args.us_east_1 is None and ctx.region != TOPIC_REGION:
            raise ValueError("the subscription to AmazonIpSpaceChanged needs the stack's us-east-1 provider")
        self.subscription = aws.sns.TopicSubscription(
            f"{name}-subscription",
            aws.sns.TopicSubscriptionArgs(
                topic=IP_SPACE_CHANGED_TOPIC, protocol="sqs", endpoint=self.queue.arn
            ),
            opts=child_opts(
                self,
                provider=args.us_east_1,
                depends_on=[self.queue_policy, self.key],
            ),
        )
        self.alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-alarm",
            aws.cloudwatch.MetricAlarmArgs(
                # Regional like the other alarms' names (mlops-<env>-<region>-<signal>).
                name=f"{prefix}-{ctx.region}-ip-ranges-changed",
                alarm_description=(
                    "AWS changed its IP address ranges (AmazonIpSpaceChanged). Run `mlops verify` for this stack: "
                    "if a region's S3 prefix list differs from the CIDRs the network policies copied, run "
                    f"`pulumi up` (and the team stacks'), then purge the queue {queue_name(prefix)}."
                ),
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": self.queue.name},
                statistic="Maximum",
                period=300,
                evaluation_periods=1,
                threshold=0,
                comparison_operator="GreaterThanThreshold",
                treat_missing_data="notBreaching",
                alarm_actions=[args.alert_topic_arn],
                tags=ctx.tagged(Name=f"{prefix}-{ctx.region}-ip-ranges-changed"),
            ),
            opts=child_opts(self, depends_on=[args.topic_ready] if args.topic_ready is not None else None),
        )
        self.register_outputs({"queueArn": self.queue.arn, "alarmArn": self.alarm.arn})
