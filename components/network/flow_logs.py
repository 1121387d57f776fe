"""A VPC's flow log: every packet's record in a KMS-encrypted log group, delivered by a role scoped to it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws


def flow_log_trust(account_id: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        ],
    }


def flow_log_delivery_policy(log_group_arn: str) -> dict[str, Any]:
    """Only what VPC flow log delivery needs, on its own log group only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [log_group_arn, f"{log_group_arn}:*"],
            },
            # DescribeLogGroups has no resource-level permissions: it is authorized only on "*".
            {"Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"},
        ],
    }


@dataclass(frozen=True)
class FlowLogs:
    group: aws.cloudwatch.LogGroup
    role: aws.iam.Role
    flow_log: aws.ec2.FlowLog


def vpc_flow_logs(
    name: str, vpc: aws.ec2.Vpc, *, environment: str, region: str, account_id: str,
    logs_key_arn: pulumi.Input[str], retention_days: int, tags: dict[str, str], opts: pulumi.ResourceOptions,
) -> FlowLogs:
    """All of the VPC's traffic, aggregated per minute, into `/mlops/<environment>/<region>/vpc-flow-logs`."""
    group = aws.cloudwatch.LogGroup(
        f"{name}-flow-logs",
        aws.cloudwatch.LogGroupArgs(
            name=f"/mlops/{environment}/{region}/vpc-flow-logs",
            kms_key_id=logs_key_arn,
            retention_in_days=retention_days,
            tags=tags,
        ),
        opts=opts,
    )
    role = aws.iam.Role(
        f"{name}-flow-logs-role",
        aws.iam.RoleArgs(assume_role_policy=json.dumps(flow_log_trust(account_id)), tags=tags),
        opts=opts,
    )
    aws.iam.RolePolicy(
        f"{name}-flow-logs-policy",
        aws.iam.RolePolicyArgs(
            role=role.id, policy=group.arn.apply(lambda arn: json.dumps(flow_log_delivery_policy(arn)))
        ),
        opts=opts,
    )
    flow_log = aws.ec2.FlowLog(
        f"{name}-flow-log",
        aws.ec2.FlowLogArgs(
            vpc_id=vpc.id,
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
