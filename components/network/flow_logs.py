"""A VPC's flow log: every packet's record in a KMS-encrypted log group, delivered by a role scoped to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks.context import PlatformContext, service_principal
from components.blocks.iam import allow, document, service_trust, to_json
from components.blocks.roles import ServiceRole


def flow_log_trust(account_id: str) -> dict[str, Any]:
    """VPC Flow Logs may assume the role, on behalf of this account only (IAM's confused-deputy protection)."""
    return service_trust(service_principal("vpc-flow-logs"), account_id=account_id)


def flow_log_delivery_policy(log_group_arn: str) -> dict[str, Any]:
    """Only what VPC flow log delivery needs, on its own log group only."""
    return document(
        allow(
            ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            [log_group_arn, f"{log_group_arn}:*"],
        ),
        # DescribeLogGroups has no resource-level permissions: it is authorized only on "*".
        allow("logs:DescribeLogGroups", "*"),
    )


@dataclass(frozen=True)
class FlowLogs:
    group: aws.cloudwatch.LogGroup
    role: aws.iam.Role
    flow_log: aws.ec2.FlowLog


def vpc_flow_logs(
    name: str,
    network: pulumi.ComponentResource,  # the RegionalNetwork that owns the VPC (its `vpc`), the logs' parent
    ctx: PlatformContext,
    *,
    logs_key_arn: pulumi.Input[str],
    retention_days: int,
) -> FlowLogs:
    """All of the VPC's traffic, aggregated per minute, into `/mlops/<environment>/<region>/vpc-flow-logs`."""
    tags = dict(ctx.tags)
    opts = child_opts(network)
    group = aws.cloudwatch.LogGroup(
        f"{name}-flow-logs",
        aws.cloudwatch.LogGroupArgs(
            name=f"/mlops/{ctx.environment}/{ctx.region}/vpc-flow-logs",
            kms_key_id=logs_key_arn,
            retention_in_days=retention_days,
            tags=tags,
        ),
        opts=opts,
    )
    role = ServiceRole(
        f"{name}-flow-logs",
        ctx,
        parent=network,
        trust=flow_log_trust(ctx.account_id),
        policy=group.arn.apply(lambda arn: to_json(flow_log_delivery_policy(arn))),
    ).role
    flow_log = aws.ec2.FlowLog(
        f"{name}-flow-log",
        aws.ec2.FlowLogArgs(
            vpc_id=network.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=tags,
        ),
        opts=opts,
    )
    return FlowLogs(group, role, flow_log)
