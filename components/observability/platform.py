"""The environment's observability, composed: the governance trail, per-region monitoring, one dashboard and,
when enabled, Managed Grafana."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks import PlatformContext
from components.observability.config import ObservabilityConfig
from components.observability.grafana import GRAFANA_ROLES, GrafanaWorkspace
from components.observability.monitoring import RegionalMonitoring, RegionalMonitoringArgs, dashboard_body
from components.observability.signals import RegionSignals
from components.observability.trail import GovernanceTrail, GovernanceTrailArgs, TrailReplica


@dataclass(frozen=True)
class PlatformObservabilityArgs:
    context: PlatformContext  # any region: each region's monitoring, the trail and Grafana take their own
    config: ObservabilityConfig
    regions: Sequence[RegionSignals]  # the first is the primary region (trail, dashboard, Grafana)
    log_retention_days: int
    protect: bool = False
    access_log_bucket: pulumi.Input[str] | None = None
    # Buckets whose object reads and writes the trail records (prod's artifact buckets, with a data section).
    data_event_bucket_arns: Sequence[pulumi.Input[str]] = ()
    # Grafana role (ADMIN/EDITOR/VIEWER) -> Identity Center group ids.
    grafana_groups: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.regions:
            raise ValueError("PlatformObservabilityArgs.regions: at least one region is needed")
        unknown = sorted(set(self.grafana_groups) - set(GRAFANA_ROLES))
        if unknown:
            raise ValueError(f"grafana_groups: unknown roles {unknown}; allowed: {', '.join(GRAFANA_ROLES)}")


class PlatformObservability(pulumi.ComponentResource):
    """The environment's governance trail (primary region, multi-region, its bucket replicated to the second
    region's when there is one), per-region monitoring, one dashboard
    and, when enabled, a Managed Grafana workspace with Identity Center sign-in reading every region's
    Prometheus workspace and CloudWatch.

    Attributes: ``trail`` (GovernanceTrail), ``regional`` (region -> RegionalMonitoring), ``dashboard``,
    ``grafana`` (GrafanaWorkspace or None), ``alert_topic_arn`` (primary region's topic).
    """

    def __init__(
        self, name: str, args: PlatformObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("mlops:observability:PlatformObservability", name, None, opts)
        primary = args.regions[0]
        ctx, env = args.context.in_region(primary.region), args.context.environment
        self.thresholds = args.config.thresholds
        # The governance trail's logs survive the primary region: its bucket replicates to the secondary's.
        secondary = args.regions[1] if len(args.regions) > 1 else None
        self.trail = GovernanceTrail(
            f"{name}-trail",
            GovernanceTrailArgs(
                context=ctx,
                logs_key_arn=primary.logs_key_arn,
                log_retention_days=args.log_retention_days,
                trail=args.config.trail,
                protect=args.protect,
                access_log_bucket=args.access_log_bucket,
                data_event_bucket_arns=args.data_event_bucket_arns,
                replica=TrailReplica(secondary.region, secondary.provider, secondary.logs_key_arn)
                if secondary is not None
                else None,
            ),
            opts=child_opts(self, provider=primary.provider),
        )
        self.regional: dict[str, RegionalMonitoring] = {
            signals.region: RegionalMonitoring(
                f"{name}-{signals.region}",
                RegionalMonitoringArgs(
                    context=ctx.in_region(signals.region),
                    signals=signals,
                    config=args.config,
                    log_retention_days=args.log_retention_days,
                ),
                opts=child_opts(self, provider=signals.provider),
            )
            for signals in args.regions
        }
        alarm_arns = [
            alarm.arn for monitoring in self.regional.values() for alarm in monitoring.alarms.values()
        ]
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            aws.cloudwatch.DashboardArgs(
                dashboard_name=f"mlops-{env}",
                dashboard_body=pulumi.Output.json_dumps(
                    dashboard_body(args.regions, alarm_arns, args.config.thresholds.period_seconds)
                ),
            ),
            opts=child_opts(self, provider=primary.provider),
        )
        self.grafana: GrafanaWorkspace | None = None
        if args.config.grafana:
            self.grafana = GrafanaWorkspace(
                self,
                name,
                ctx,
                provider=primary.provider,
                regions=[signals.region for signals in args.regions],
                prometheus_arns=[monitoring.prometheus.arn for monitoring in self.regional.values()],
                groups=args.grafana_groups,
            )
        self.alert_topic_arn = self.regional[primary.region].topic.arn
        self.register_outputs(
            {
                "trailArn": self.trail.trail.arn,
                "alertTopicArn": self.alert_topic_arn,
                "dashboardName": self.dashboard.dashboard_name,
                "grafanaEndpoint": self.grafana.workspace.endpoint if self.grafana is not None else None,
            }
        )

    def contract_values(self) -> dict[str, Any]:
        """The values of ``ObservabilityOutputs`` (components/outputs.py)."""
        regional = self.regional.items()
        return {
            "alert_topic_arn": self.alert_topic_arn,
            "alert_topic_arns": {region: monitoring.topic.arn for region, monitoring in regional},
            "trail_arn": self.trail.trail.arn,
            "amp_workspace_ids": {region: monitoring.prometheus.id for region, monitoring in regional},
            "prometheus_endpoints": {
                region: monitoring.prometheus.prometheus_endpoint for region, monitoring in regional
            },
            # Only where requests-per-second scaling works: a collector fills the workspace and KEDA may query it.
            "prometheus_query_urls": {
                region: monitoring.query_url
                for region, monitoring in regional
                if monitoring.scraper is not None and monitoring.keda_query_policy is not None
            },
            "grafana_url": (
                pulumi.Output.concat("https://", self.grafana.workspace.endpoint)
                if self.grafana is not None
                else None
            ),
            "dashboard_name": self.dashboard.dashboard_name,
            "alarm_thresholds": {
                "load_balancer_5xx_percent": self.thresholds.load_balancer_5xx_percent,
                "p99_latency_seconds": self.thresholds.p99_latency_seconds,
                "period_seconds": self.thresholds.period_seconds,
                "evaluation_periods": self.thresholds.evaluation_periods,
                "datapoints_to_alarm": self.thresholds.datapoints_to_alarm,
            },
            "alarm_names": {
                region: [alarm.name for _, alarm in sorted(monitoring.alarms.items())]
                for region, monitoring in regional
            },
        }
