"""Amazon Managed Grafana: one workspace in the primary region with Identity Center sign-in, reading every
region's Prometheus workspace, CloudWatch metrics and log groups through a role of its own."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.observability.trail import service_trust

GRAFANA_ROLES = ("ADMIN", "EDITOR", "VIEWER")


def grafana_read_policy(workspace_arns: Sequence[pulumi.Input[str]], log_group_arns: Sequence[str]) -> dict[str, Any]:
    """What the workspace reads: the platform's Prometheus workspaces, CloudWatch metrics and alarms, and the
    platform regions' log groups (Logs Insights queries)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "QueryPlatformPrometheus",
                "Effect": "Allow",
                "Action": [
                    "aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata",
                    "aps:DescribeWorkspace",
                ],
                "Resource": list(workspace_arns),
            },
            {
                # CloudWatch metric reads have no resource-level permissions.
                "Sid": "ReadCloudWatchMetrics",
                "Effect": "Allow",
                "Action": [
                    "cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmsForMetric",
                    "cloudwatch:DescribeAlarmHistory", "cloudwatch:GetMetricData",
                    "cloudwatch:ListMetrics", "cloudwatch:GetInsightRuleReport",
                    "ec2:DescribeRegions", "tag:GetResources",
                ],
                "Resource": "*",
            },
            {
                "Sid": "QueryPlatformLogs",
                "Effect": "Allow",
                "Action": [
                    "logs:GetLogGroupFields", "logs:StartQuery", "logs:GetQueryResults",
                    "logs:GetLogEvents",
                ],
                "Resource": list(log_group_arns),
            },
            {
                # Listing log groups and stopping a query have no resource-level permissions.
                "Sid": "ListLogGroupsAndStopQueries",
                "Effect": "Allow",
                "Action": ["logs:DescribeLogGroups", "logs:StopQuery"],
                "Resource": "*",
            },
        ],
    }


class GrafanaWorkspace:
    """The workspace (``workspace``), its role (``role``, ``policy``) and its role associations
    (``associations``, Grafana role -> association), created under ``parent`` with names ``<name>-grafana...``
    through ``provider`` (the workspace's region, the primary one).

    ``groups``: Grafana role (ADMIN/EDITOR/VIEWER) -> Identity Center group ids; roles without groups get no
    association.
    """

    def __init__(
        self,
        parent: pulumi.Resource,
        name: str,
        *,
        provider: pulumi.ProviderResource,
        environment: str,
        region: str,
        regions: Sequence[str],
        prometheus_arns: Sequence[pulumi.Input[str]],
        groups: Mapping[str, Sequence[str]],
        partition: str,
        account_id: str,
        tags: Mapping[str, str],
    ):
        opts = child_opts(parent, provider=provider)
        self.role = aws.iam.Role(
            f"{name}-grafana-role",
            aws.iam.RoleArgs(
                description="Managed Grafana reads the platform's Prometheus workspaces and CloudWatch",
                assume_role_policy=json.dumps(
                    service_trust(
                        "grafana.amazonaws.com", account_id=account_id,
                        source_arn=f"arn:{partition}:grafana:{region}:{account_id}:/workspaces/*",
                    )
                ),
                tags={**tags, "Name": f"{name}-grafana-role"},
            ),
            opts=opts,
        )
        log_groups = [f"arn:{partition}:logs:{other}:{account_id}:log-group:*" for other in regions]
        self.policy = aws.iam.RolePolicy(
            f"{name}-grafana-read",
            aws.iam.RolePolicyArgs(
                role=self.role.id, policy=pulumi.Output.json_dumps(grafana_read_policy(prometheus_arns, log_groups))
            ),
            opts=opts,
        )
        self.workspace = aws.grafana.Workspace(
            f"{name}-grafana",
            aws.grafana.WorkspaceArgs(
                name=f"mlops-{environment}",
                description=f"Dashboards of the mlops {environment} platform",
                account_access_type="CURRENT_ACCOUNT",
                authentication_providers=["AWS_SSO"],
                permission_type="CUSTOMER_MANAGED",
                role_arn=self.role.arn,
                data_sources=["PROMETHEUS", "CLOUDWATCH"],
                tags={**tags, "Name": f"mlops-{environment}-grafana"},
            ),
            opts=child_opts(parent, provider=provider, depends_on=[self.policy]),
        )
        self.associations: dict[str, aws.grafana.RoleAssociation] = {
            role: aws.grafana.RoleAssociation(
                f"{name}-grafana-{role.lower()}",
                aws.grafana.RoleAssociationArgs(workspace_id=self.workspace.id, role=role, group_ids=list(ids)),
                opts=opts,
            )
            for role, ids in groups.items()
            if ids
        }
