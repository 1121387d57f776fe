"""OpenCost on each EKS cluster (`cost.opencost`), reading its region's managed Prometheus workspace."""

from __future__ import annotations

from typing import Any

import pulumi

from components.cidr import plan_subnets
from components.cost.opencost import OpenCost, OpenCostArgs


def build_opencost(platform: Any) -> dict[str, OpenCost]:
    """One OpenCost per EKS cluster, after observability (the workspace) exists; the config checks
    (components/cost/config.py check_opencost) guarantee an eks cluster and observability with the collector."""
    cfg = platform.cfg
    if cfg.cost is None or cfg.cost.opencost is None or platform.observability is None:
        return {}
    built = {}
    for region, serving in platform.eks_clusters.items():
        network = platform.networks[region]
        workspace = platform.observability.regional[region].prometheus
        built[region] = OpenCost(
            f"opencost-{region}",
            OpenCostArgs(
                context=platform.ctx.in_region(region),
                version=cfg.cost.opencost,
                cluster_name=serving.name,
                cluster_resource_name=serving.args.name,
                k8s_provider=serving.k8s_provider,
                workspace_id=workspace.id,
                workspace_arn=workspace.arn,
                vpc_cidr=network.args.cidr,
                client_cidrs=[
                    cidr
                    for _, cidr in plan_subnets(network.args.cidr, network.args.availability_zones)["private"]
                ],
                ready=[
                    serving.system_node_group,
                    serving.workload_addons.coredns,
                    serving.addon_pod_identity_agent,
                ],
            ),
            opts=pulumi.ResourceOptions(provider=platform.providers[region]),
        )
    return built
