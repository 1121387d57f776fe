"""Amazon Managed Grafana: one workspace in the primary region with Identity Center sign-in, reading every
region's Prometheus workspace, CloudWatch metrics and log groups through a role of its own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks import PlatformContext, ServiceRole, allow, document, service_trust

GRAFANA_ROLES = ("ADMIN", "EDITOR", "VIEWER")


def grafana_read_policy(
    workspace_arns: Sequence[pulumi.Input[str]], log_group_arns: Sequence[str]
) -> dict[str, Any]:
    """What the workspace reads: the platform's Prometheus workspaces, CloudWatch metrics and alarms, and the
    platform regions' log groups (Logs Insights queries)."""
    return document(
        allow(
            [
                "aps:QueryMetrics",
                "aps:GetSeries",
                "aps:GetLabels",
                "aps:GetMetricMetadata",
                "aps:DescribeWorkspace",
            ],
            workspace_arns,
            sid="QueryPlatformPrometheus",
        ),
        # CloudWatch metric reads have no resource-level permissions.
        allow(
            [
                "cloudwatch:DescribeAlarms",
                "cloudwatch:DescribeAlarmsForMetric",
                "cloudwatch:DescribeAlarmHistory",
                "cloudwatch:GetMetricData",
                "cloudwatch:ListMetrics",
                "cloudwatch:GetInsightRuleReport",
                "ec2:DescribeRegions",
                "tag:GetResources",
            ],
            "*",
            sid="ReadCloudWatchMetrics",
        ),
        allow(
            ["logs:GetLogGroupFields", "logs:StartQuery", "logs:GetQueryResults", "logs:GetLogEvents"],
            log_group_arns,
            sid="QueryPlatformLogs",
        ),
        # Listing log groups and stopping a query have no resource-level permissions.
        allow(["logs:DescribeLogGroups", "logs:StopQuery"], "*", sid="ListLogGroupsAndStopQueries"),
    )


class GrafanaWorkspace:
    """The workspace (``workspace``), its role (``role``, a ServiceRole with its read policy) and its role
    associations (``associations``, Grafana role -> association), created under ``parent`` with names
    ``<name>-grafana...`` in the region of ``ctx`` (the primary one) through ``provider``.

    ``groups``: Grafana role (ADMIN/EDITOR/VIEWER) -> Identity Center group ids; roles without groups get no
    association.
    """

    def __init__(
        self,
        parent: pulumi.Resource,
        name: str,
        ctx: PlatformContext,
        *,
        provider: pulumi.ProviderResource,
        regions: Sequence[str],
        prometheus_arns: Sequence[pulumi.Input[str]],
        groups: Mapping[str, Sequence[str]],
    ):
        opts = child_opts(parent, provider=provider)
        log_groups = [ctx.in_region(region).arn.log_group("*") for region in regions]
        self.role = ServiceRole(
            f"{name}-grafana",
            ctx,
            parent=parent,
            provider=provider,
            description="Managed Grafana reads the platform's Prometheus workspaces and CloudWatch",
            trust=service_trust(
                ctx.service_principal("grafana"),
                account_id=ctx.account_id,
                source_arn=ctx.arn.of("grafana", "/workspaces/*", region=ctx.region),
            ),
            policy=pulumi.Output.json_dumps(grafana_read_policy(prometheus_arns, log_groups)),
            tags=ctx.tagged(Name=f"{name}-grafana-role"),
            policy_resource=f"{name}-grafana-read",
        )
        self.workspace = aws.grafana.Workspace(
            f"{name}-grafana",
            aws.grafana.WorkspaceArgs(
                name=ctx.prefix,
                description=f"Dashboards of the mlops {ctx.environment} platform",
                account_access_type="CURRENT_ACCOUNT",
                authentication_providers=["AWS_SSO"],
                permission_type="CUSTOMER_MANAGED",
                role_arn=self.role.arn,
                data_sources=["PROMETHEUS", "CLOUDWATCH"],
                tags=ctx.tagged(Name=f"{ctx.prefix}-grafana"),
            ),
            opts=child_opts(parent, provider=provider, depends_on=[self.role.policy]),
        )
        self.associations: dict[str, aws.grafana.RoleAssociation] = {
            role: aws.grafana.RoleAssociation(
                f"{name}-grafana-{role.lower()}",
                aws.grafana.RoleAssociationArgs(
                    workspace_id=self.workspace.id, role=role, group_ids=list(ids)
                ),
                opts=opts,
            )
            for role, ids in groups.items()
            if ids
        }
