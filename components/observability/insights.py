"""Container Insights on a region's cluster: the EKS add-on of the CloudWatch agent, its Pod Identity role and
the performance log group the agent writes (created first, so it is encrypted and expires)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks import POD_IDENTITY_PRINCIPAL, PlatformContext, ServiceRole, service_trust, to_json

CONTAINER_INSIGHTS_ADDON = "amazon-cloudwatch-observability"
CLOUDWATCH_AGENT_SERVICE_ACCOUNT = "cloudwatch-agent"


class ContainerInsights:
    """The add-on (``addon``), its role (``role``, a ServiceRole with the agent's managed policy) and log group
    (``log_group``), created under ``parent`` with names ``<name>-insights-...`` and ``<name>-container-insights``
    in the region of ``ctx``."""

    def __init__(
        self,
        parent: pulumi.Resource,
        name: str,
        ctx: PlatformContext,
        *,
        cluster_name: pulumi.Input[str],
        logs_key_arn: pulumi.Input[str],
        nodes_ready: Sequence[pulumi.Resource],
        addon_version: str | None,
        prefix: str,
        log_retention_days: int,
    ):
        if addon_version is None:
            raise ValueError(
                f"{CONTAINER_INSIGHTS_ADDON}: no pinned add-on version for this cluster; "
                f"allowed: vX.Y.Z-eksbuild.N under the cluster's addons"
            )
        # The agent would create this group itself, unencrypted and kept forever; create it first with KMS.
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-insights-logs",
            aws.cloudwatch.LogGroupArgs(
                name=pulumi.Output.concat("/aws/containerinsights/", cluster_name, "/performance"),
                kms_key_id=logs_key_arn,
                retention_in_days=log_retention_days,
                tags=ctx.tagged(Name=f"{prefix}-insights-logs"),
            ),
            opts=child_opts(parent),
        )
        # Pod Identity's principal, pinned to this account and cluster (ArnLike, as the role always had it).
        trust = pulumi.Output.from_input(cluster_name).apply(
            lambda cluster: to_json(
                service_trust(
                    POD_IDENTITY_PRINCIPAL,
                    account_id=ctx.account_id,
                    source_arn=ctx.arn.cluster(cluster),
                    tag_session=True,
                )
            )
        )
        self.role = ServiceRole(
            f"{name}-insights",
            ctx,
            parent=parent,
            trust=trust,
            description="CloudWatch agent of Container Insights (EKS Pod Identity)",
            managed_policy_arns=["CloudWatchAgentServerPolicy"],
            tags=ctx.tagged(Name=f"{prefix}-insights-role"),
            attachment_resource=lambda _role, _policy: f"{name}-insights-agent-policy",
        )
        self.addon = aws.eks.Addon(
            f"{name}-container-insights",
            aws.eks.AddonArgs(
                cluster_name=cluster_name,
                addon_name=CONTAINER_INSIGHTS_ADDON,
                addon_version=addon_version,
                # Metrics only: container logs would create further log groups outside this stack's control.
                configuration_values=json.dumps({"containerLogs": {"enabled": False}}, sort_keys=True),
                pod_identity_associations=[
                    aws.eks.AddonPodIdentityAssociationArgs(
                        role_arn=self.role.arn, service_account=CLOUDWATCH_AGENT_SERVICE_ACCOUNT
                    )
                ],
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="PRESERVE",
                tags=ctx.tagged(Name=f"{prefix}-container-insights"),
            ),
            opts=child_opts(parent, depends_on=[self.log_group, *self.role.attachments, *nodes_ready]),
        )
