"""Amazon Managed Service for Prometheus per region: the workspace with its log group, the managed collector
that scrapes the region's cluster, and the query permission of the cluster's KEDA operator."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import yaml

from components.base import child_opts
from components.blocks import PlatformContext, allow, document
from components.observability.signals import RegionSignals


def prometheus_query_url(region: str, workspace_id: str, partition: str = "aws") -> str:
    """The workspace's Prometheus-compatible query root, without a trailing slash: KEDA's prometheus scaler
    appends `/api/v1/query` to `serverAddress` (kedacore/keda v2.17.1 pkg/scalers/prometheus_scaler.go; the
    upstream AMP test uses this form)."""
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://aps-workspaces.{region}.{suffix}/workspaces/{workspace_id}"


def keda_query_policy(workspace_arn: str) -> dict[str, Any]:
    """KEDA's prometheus scaler only runs instant queries (`/api/v1/query`), which AMP authorises as
    aps:QueryMetrics, on this one workspace."""
    return document(allow("aps:QueryMetrics", workspace_arn, sid="QueryThisRegionsWorkspace"))


def scrape_configuration(interval_seconds: int = 30) -> str:
    """Prometheus scrape configuration of the managed collector: the API server and every pod or service
    annotated ``prometheus.io/scrape: "true"`` (model servers publish request and latency metrics this way)."""

    def annotated(role: str) -> dict[str, Any]:
        meta = f"__meta_kubernetes_{role}_annotation"
        return {
            "job_name": f"annotated-{role}s",
            "kubernetes_sd_configs": [{"role": "endpoints" if role == "service" else role}],
            "relabel_configs": [
                {"source_labels": [f"{meta}_prometheus_io_scrape"], "action": "keep", "regex": "true"},
                {
                    "source_labels": [f"{meta}_prometheus_io_path"],
                    "action": "replace",
                    "target_label": "__metrics_path__",
                    "regex": "(.+)",
                },
                {
                    "source_labels": ["__address__", f"{meta}_prometheus_io_port"],
                    "action": "replace",
                    "regex": "([^:]+)(?::\\d+)?;(\\d+)",
                    "replacement": "$1:$2",
                    "target_label": "__address__",
                },
                {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                {"source_labels": [f"__meta_kubernetes_{role}_name"], "target_label": role},
                # Model pods carry app and version labels; the requests-per-second queries select on them.
                {"source_labels": [f"__meta_kubernetes_{role}_label_app"], "target_label": "app"},
                {"source_labels": [f"__meta_kubernetes_{role}_label_version"], "target_label": "version"},
            ],
        }

    config = {
        "global": {"scrape_interval": f"{interval_seconds}s", "external_labels": {"collector": "managed"}},
        "scrape_configs": [
            {
                "job_name": "kubernetes-apiservers",
                "kubernetes_sd_configs": [{"role": "endpoints"}],
                "scheme": "https",
                "bearer_token_file": "/var/run/secrets/kubernetes.io/serviceaccount/token",
                "tls_config": {
                    "ca_file": "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
                    "insecure_skip_verify": False,
                },
                "relabel_configs": [
                    {
                        "source_labels": [
                            "__meta_kubernetes_namespace",
                            "__meta_kubernetes_service_name",
                            "__meta_kubernetes_endpoint_port_name",
                        ],
                        "action": "keep",
                        "regex": "default;kubernetes;https",
                    },
                ],
            },
            annotated("pod"),
            annotated("service"),
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


class PrometheusWorkspace:
    """One region's workspace (``prometheus``), its log group, its query root (``query_url``), KEDA's query
    policy (``keda_query_policy``, with a KEDA role) and the managed collector (``scraper``), created under
    ``parent`` with names ``<name>-prometheus...``, ``<name>-keda-query`` and ``<name>-scraper``.

    ``customer_key``: the workspace is encrypted with the region's logs key; a managed collector writes to such
    a workspace only through a scraper role configuration, which the platform does not build
    (ObservabilityConfig.prometheus_encryption), so there is no collector then.
    """

    def __init__(
        self,
        parent: pulumi.Resource,
        name: str,
        ctx: PlatformContext,
        *,
        signals: RegionSignals,
        prefix: str,
        customer_key: bool,
        log_retention_days: int,
    ):
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-prometheus-logs",
            aws.cloudwatch.LogGroupArgs(
                name=f"/aws/vendedlogs/prometheus/{prefix}",
                kms_key_id=signals.logs_key_arn,
                retention_in_days=log_retention_days,
                tags=ctx.tagged(Name=f"{prefix}-prometheus-logs"),
            ),
            opts=child_opts(parent),
        )
        self.workspace = aws.amp.Workspace(
            f"{name}-prometheus",
            aws.amp.WorkspaceArgs(
                alias=prefix,
                kms_key_arn=signals.logs_key_arn if customer_key else None,
                logging_configuration=aws.amp.WorkspaceLoggingConfigurationArgs(
                    log_group_arn=pulumi.Output.concat(self.log_group.arn, ":*")
                ),
                tags=ctx.tagged(Name=prefix),
            ),
            opts=child_opts(parent),
        )
        self.query_url = self.workspace.id.apply(
            lambda workspace_id: prometheus_query_url(ctx.region, workspace_id, ctx.partition)
        )
        self.keda_query_policy: aws.iam.RolePolicy | None = None
        if signals.keda_role_name is not None:
            self.keda_query_policy = aws.iam.RolePolicy(
                f"{name}-keda-query",
                aws.iam.RolePolicyArgs(
                    role=signals.keda_role_name,
                    policy=self.workspace.arn.apply(lambda arn: json.dumps(keda_query_policy(arn))),
                ),
                opts=child_opts(parent),
            )
        self.scraper: aws.amp.Scraper | None = None
        if signals.cluster_name is not None and signals.scraper_subnet_ids and not customer_key:
            self.scraper = self._scraper(parent, name, ctx, signals, prefix)

    def _scraper(
        self, parent: pulumi.Resource, name: str, ctx: PlatformContext, signals: RegionSignals, prefix: str
    ) -> aws.amp.Scraper:
        if len(signals.scraper_subnet_ids) < 2 or not signals.scraper_security_group_ids:
            raise ValueError(
                f"{signals.region}: the Prometheus collector needs subnets in two or more AZs and a security group"
            )
        cluster_arn = pulumi.Output.from_input(signals.cluster_name).apply(ctx.arn.cluster)
        # No access entry or RBAC here: on a cluster in API authentication mode the collector creates its own
        # access entry with its access policy when the scraper is created (AWS: "Configure Amazon EKS for scraper
        # access with access entries"), and EKS allows one access entry per principal.
        return aws.amp.Scraper(
            f"{name}-scraper",
            aws.amp.ScraperArgs(
                alias=f"{prefix}-models",
                scrape_configuration=scrape_configuration(),
                source=aws.amp.ScraperSourceArgs(
                    eks=aws.amp.ScraperSourceEksArgs(
                        cluster_arn=cluster_arn,
                        subnet_ids=list(signals.scraper_subnet_ids),
                        security_group_ids=list(signals.scraper_security_group_ids),
                    )
                ),
                destination=aws.amp.ScraperDestinationArgs(
                    amp=aws.amp.ScraperDestinationAmpArgs(workspace_arn=self.workspace.arn)
                ),
                tags=ctx.tagged(Name=f"{prefix}-models"),
            ),
            opts=child_opts(parent),
        )
