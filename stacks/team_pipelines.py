"""A team stack's pipelines and inference graphs (components.pipelines), on what the platform's contract offers."""

from __future__ import annotations

from typing import Any

import pulumi

from components.outputs import ContractError, PlatformOutputs
from components.pipelines.graphs import GraphRouter
from components.pipelines.team import TeamPipelinesArgs, TeamWorkflows
from components.serving.config import TeamConfig


def check_pipelines_contract(contract: PlatformOutputs, team: TeamConfig) -> PlatformOutputs:
    """What the team's `pipelines` and `graphs` need of its platform, one line each."""
    offered = contract.pipelines
    if team.pipelines is not None:
        if offered is None:
            raise ContractError(
                f"mlops:team.pipelines: platform stack {team.platform_stack!r} runs no Argo Workflows (its "
                "`pipelines:` section); allowed: no pipelines key"
            )
        if offered.cluster_region != team.regions[0]:
            raise ContractError(
                f"mlops:team.pipelines: platform stack {team.platform_stack!r} runs Argo Workflows in "
                f"{offered.cluster_region}; allowed: {offered.cluster_region} first in mlops:team.regions"
            )
        if contract.registry is None or contract.registry.mlflow_service_url is None:
            raise ContractError(
                f"mlops:team.pipelines: platform stack {team.platform_stack!r} has no MLflow on a cluster to register to"
            )
    if team.graphs and (offered is None or offered.graph_router_image is None):
        raise ContractError(
            f"mlops:team.graphs: platform stack {team.platform_stack!r} serves no inference graphs "
            "(pipelines.graph-router-image); allowed: no graphs key"
        )
    return contract


def build_team_pipelines(
    team: TeamConfig,
    platform: pulumi.Output[PlatformOutputs],
    targets: list[Any],
    space: Any,
    *,
    partition: str,
    account_id: pulumi.Input[str],
    tags: dict[str, str],
    data_through_platform: bool = False,
) -> tuple[TeamWorkflows | None, dict[str, GraphRouter]]:
    """The team's workflows on the platform's Argo cluster (its first region), and a router per graph in every
    region it serves in. On a platform that serves data itself (a `data` section), the workflow role reaches only
    its pipeline prefix: the team's data prefixes are the platform's data policies' and grants' to give, never a
    direct statement (components.data)."""
    if team.pipelines is None and not team.graphs:
        return None, {}
    checked = platform.apply(lambda p: check_pipelines_contract(p, team))
    workflows = None
    if team.pipelines is not None:
        target = targets[0]
        workflows = TeamWorkflows(
            f"{team.name}-pipelines",
            TeamPipelinesArgs(
                team=team.name,
                sso_group=team.owners.sso_group,
                environment=team.environment,
                namespace=team.namespace,
                pipelines=team.pipelines,
                data_prefixes=[]
                if data_through_platform
                else [(access.prefix, access.access) for access in team.data_access],
                partition=partition,
                account_id=account_id,
                region=target.region,
                cluster_name=target.cluster_name,
                bucket_arn=checked.apply(lambda p: p.registry.artifact_bucket_arn),
                bucket_name=checked.apply(lambda p: p.registry.artifact_bucket_name),
                artifacts_key_arn=checked.apply(
                    lambda p, r=target.region: p.regions[r].key_arns["artifacts"]
                ),
                mlflow_url=checked.apply(lambda p: p.registry.mlflow_service_url),
                aws_provider=target.aws_provider,
                k8s_provider=target.k8s_provider,
                after=[space.namespaces[target.region]],
                tags=tags,
                permissions_boundary=checked.apply(
                    lambda p: p.identity.permissions_boundary_arn if p.identity is not None else None
                ),
            ),
        )
    routers: dict[str, GraphRouter] = {}
    ports = {model.name: model.port for model in team.models}
    labels = {"team": team.name, "environment": team.environment}
    for target in targets:
        for graph in team.graphs:
            routers[f"{graph.name}-{target.region}"] = GraphRouter(
                f"{team.name}-graph-{graph.name}-{target.region}",
                graph=graph.name,
                graphs=team.graphs,
                namespace=space.namespaces[target.region].metadata.name,
                namespace_name=team.namespace,
                ports=ports,
                image=checked.apply(lambda p: p.pipelines.graph_router_image),
                service_account=space.service_accounts[target.region].metadata.name,
                vpc_cidr=target.vpc_cidr,
                labels=labels,
                opts=pulumi.ResourceOptions(provider=target.k8s_provider, depends_on=[space]),
            )
    return workflows, routers
