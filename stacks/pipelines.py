"""The platform's pipelines (components.pipelines): Argo Workflows on the primary EKS cluster, next to MLflow."""

from __future__ import annotations

from typing import Any

from components.cluster.component import ServingCluster
from components.identity.oidc import oidc_client_secret
from components.pipelines.argo import ARGO_NAMESPACE, ArgoWorkflows, ArgoWorkflowsArgs


def build_pipelines(platform: Any) -> ArgoWorkflows | None:
    """Argo Workflows on the primary cluster, when the stack has a `pipelines:` section (its checks guarantee an
    eks cluster, the registry and identity.oidc)."""
    cfg = platform.cfg
    if cfg.pipelines is None:
        return None
    primary = cfg.primary_region.name
    cluster, registry = platform.clusters[primary], platform.registry
    assert isinstance(cluster, ServingCluster) and registry is not None and cfg.identity is not None
    assert cfg.identity.oidc is not None and cfg.registry is not None and platform.global_network is not None
    network, keys = platform.networks[primary], platform.keyrings[primary]
    return ArgoWorkflows(
        "pipelines",
        ArgoWorkflowsArgs(
            context=platform.ctx,
            config=cfg.pipelines,
            oidc=cfg.identity.oidc,
            oidc_client_secret=oidc_client_secret(platform.file),
            k8s_provider=cluster.k8s_provider,
            aws_provider=platform.providers[primary],
            cluster_name=cluster.name,
            vpc_cidr=network.args.cidr,
            alb_subnet_cidrs=network.lb_cidrs,
            alb_subnet_ids=network.subnet_ids("lb"),
            private_zone_id=platform.global_network.private_zone.zone_id,
            database_host=registry.database.address,
            database_secret_arn=registry.database.master_user_secrets.apply(
                lambda secrets: secrets[0].secret_arn if secrets else ""
            ),
            database_key_arn=keys.arn("database"),
            bootstrap_image=cfg.registry.mlflow_image,
            ready=cluster.workload_ready,
        ),
    )


def pipelines_outputs(argo: ArgoWorkflows | None, cfg: Any) -> dict | None:
    if argo is None:
        return None
    return {
        "server_url": argo.url,
        "namespace": ARGO_NAMESPACE,
        "cluster_region": cfg.primary_region.name,
        "graph_router_image": cfg.pipelines.graph_router_image,
    }
