"""What one region hands to monitoring: the plain inputs of ``RegionSignals``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi


@dataclass(frozen=True)
class RegionSignals:
    """What one region exposes to monitoring; every field but ``region``/``provider``/``logs_key_arn`` optional.

    ``load_balancer`` is the CloudWatch dimension of the serving ALB (``app/mlops-<env>-serving/<id>``), read
    back by the platform once the controller has made it (components/serving/ingress.py ServingEntry).
    """

    region: str
    provider: pulumi.ProviderResource
    logs_key_arn: pulumi.Input[str]
    cluster_name: pulumi.Input[str] | None = None
    interruption_queue_name: pulumi.Input[str] | None = None
    db_instance_identifier: pulumi.Input[str] | None = None
    load_balancer: pulumi.Input[str] | None = None
    # A managed Prometheus collector scrapes the cluster when its subnets (two or more AZs) and security
    # group are given; with a Kubernetes provider its in-cluster read access is created too.
    scraper_subnet_ids: Sequence[pulumi.Input[str]] = ()
    scraper_security_group_ids: Sequence[pulumi.Input[str]] = ()
    kubernetes_provider: pulumi.ProviderResource | None = None
    # The KEDA operator's role on the region's cluster; it is allowed to query this region's workspace.
    keda_role_name: pulumi.Input[str] | None = None
    # What the cluster's own agents need before their add-on can become active: nodes and the Pod Identity agent.
    nodes_ready: Sequence[pulumi.Resource] = ()
    # The pinned version of the cluster's Container Insights add-on (the cluster's `addons` config).
    insights_addon_version: str | None = None
