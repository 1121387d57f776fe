"""Container Insights on a region's cluster: the EKS add-on of the CloudWatch agent, its Pod Identity role and
the performance log group the agent writes (created first, so it is encrypted and expires)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.observability.trail import service_trust

CONTAINER_INSIGHTS_ADDON = "amazon-cloudwatch-observability"
CLOUDWATCH_AGENT_SERVICE_ACCOUNT = "cloudwatch-agent"


class ContainerInsights:
    """The add-on (``addon``), its role (``role``, ``policy``) and log group (``log_group``), created under
    ``parent`` with names ``<name>-insights-...`` and ``<name>-container-insights``."""

    def __init__(
        self,
        parent: pulumi.Resource,
        name: str,
        *,
        region: str,
        cluster_name: pulumi.Input[str],
        logs_key_arn: pulumi.Input[str],
        nodes_ready: Sequence[pulumi.Resource],
        prefix: str,
        partition: str,
        account_id: str,
        log_retention_days: int,
        tags: Mapping[str, str],
    ):
        cluster_arn = pulumi.Output.concat(f"arn:{partition}:eks:{region}:{account_id}:cluster/", cluster_name)
        # The agent would create this group itself, unencrypted and kept forever; create it first with KMS.
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-insights-logs",
            aws.cloudwatch.LogGroupArgs(
                name=pulumi.Output.concat("/aws/containerinsights/", cluster_name, "/performance"),
                kms_key_id=logs_key_arn,
                retention_in_days=log_retention_days,
                tags={**tags, "Name": f"{prefix}-insights-logs"},
            ),
            opts=child_opts(parent),
        )
        self.role = aws.iam.Role(
            f"{name}-insights-role",
            aws.iam.RoleArgs(
                description="CloudWatch agent of Container Insights (EKS Pod Identity)",
                assume_role_policy=cluster_arn.apply(
                    lambda arn: json.dumps(
                        service_trust("pods.eks.amazonaws.com", account_id=account_id, source_arn=arn, tag_session=True)
                    )
                ),
                tags={**tags, "Name": f"{prefix}-insights-role"},
            ),
            opts=child_opts(parent),
        )
        self.policy = aws.iam.RolePolicyAttachment(
            f"{name}-insights-agent-policy",
            aws.iam.RolePolicyAttachmentArgs(
                role=self.role.name,
                policy_arn=f"arn:{partition}:iam::aws:policy/CloudWatchAgentServerPolicy",
            ),
            opts=child_opts(parent),
        )
        self.addon = aws.eks.Addon(
            f"{name}-container-insights",
            aws.eks.AddonArgs(
                cluster_name=cluster_name,
                addon_name=CONTAINER_INSIGHTS_ADDON,
                # Metrics only: container logs would create further log groups outside this stack's control.
                configuration_values=json.dumps({"containerLogs": {"enabled": False}}, sort_keys=True),
                pod_identity_associations=[
                    aws.eks.AddonPodIdentityAssociationArgs(
                        role_arn=self.role.arn, service_account=CLOUDWATCH_AGENT_SERVICE_ACCOUNT
                    )
                ],
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="PRESERVE",
                tags={**tags, "Name": f"{prefix}-container-insights"},
            ),
            opts=child_opts(parent, depends_on=[self.log_group, self.policy, *nodes_ready]),
        )
