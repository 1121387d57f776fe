"""Per-region monitoring: the region's alarms (only for the signals it has), wired to its alert topic, with its
managed Prometheus workspace and Container Insights; and the environment's dashboard, one row per region."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks import PlatformContext
from components.observability.config import AlarmThresholds, ObservabilityConfig
from components.observability.guardduty import RegionalGuardDuty, findings_rule_name, regional_guardduty
from components.observability.insights import ContainerInsights
from components.observability.prometheus import PrometheusWorkspace
from components.observability.signals import RegionSignals
from components.observability.topics import alert_topic

GIB = 1024**3

# ---------------------------------------------------------------------------------------------------------
# Pure logic: alarm specifications


@dataclass(frozen=True)
class MetricQuery:
    id: str
    namespace: str
    metric_name: str
    stat: str
    dimensions: Mapping[str, pulumi.Input[str]]


@dataclass(frozen=True)
class AlarmSpec:
    """One CloudWatch alarm: a single metric (statistic or percentile) or a metric-math expression."""

    signal: str
    description: str
    namespace: str
    metric_name: str
    comparison: str
    threshold: float
    dimensions: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    statistic: str | None = None
    extended_statistic: str | None = None
    expression: str | None = None
    queries: Sequence[MetricQuery] = ()


def load_balancer_alarms(load_balancer: pulumi.Input[str], thresholds: AlarmThresholds) -> list[AlarmSpec]:
    """The serving load balancer's 5xx rate and p99 latency."""
    specs: list[AlarmSpec] = []
    lb = {"LoadBalancer": load_balancer}
    specs.append(
        AlarmSpec(
            signal="serving-5xx-rate",
            description=f"Serving load balancer: targets answer 5xx for more than "
            f"{thresholds.load_balancer_5xx_percent:g}% of requests",
            namespace="AWS/ApplicationELB",
            metric_name="HTTPCode_Target_5XX_Count",
            comparison="GreaterThanThreshold",
            threshold=thresholds.load_balancer_5xx_percent,
            expression="IF(requests > 0, 100 * errors / requests, 0)",
            queries=(
                MetricQuery("errors", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", lb),
                MetricQuery("requests", "AWS/ApplicationELB", "RequestCount", "Sum", lb),
            ),
        )
    )
    specs.append(
        AlarmSpec(
            signal="serving-p99-latency",
            description=f"Serving load balancer: p99 target response time above {thresholds.p99_latency_seconds:g}s",
            namespace="AWS/ApplicationELB",
            metric_name="TargetResponseTime",
            comparison="GreaterThanThreshold",
            threshold=thresholds.p99_latency_seconds,
            dimensions=lb,
            extended_statistic="p99",
        )
    )
    return specs


def cluster_alarms(cluster_name: pulumi.Input[str], thresholds: AlarmThresholds) -> list[AlarmSpec]:
    """The serving cluster's node CPU, memory and failed nodes (Container Insights metrics)."""
    specs: list[AlarmSpec] = []
    cluster = {"ClusterName": cluster_name}
    specs.append(
        AlarmSpec(
            signal="node-cpu",
            description=f"Serving cluster nodes: average CPU above {thresholds.node_cpu_percent:g}%",
            namespace="ContainerInsights",
            metric_name="node_cpu_utilization",
            comparison="GreaterThanThreshold",
            threshold=thresholds.node_cpu_percent,
            dimensions=cluster,
            statistic="Average",
        )
    )
    specs.append(
        AlarmSpec(
            signal="node-memory",
            description=f"Serving cluster nodes: average memory above {thresholds.node_memory_percent:g}%",
            namespace="ContainerInsights",
            metric_name="node_memory_utilization",
            comparison="GreaterThanThreshold",
            threshold=thresholds.node_memory_percent,
            dimensions=cluster,
            statistic="Average",
        )
    )
    specs.append(
        AlarmSpec(
            signal="failed-nodes",
            description="Serving cluster: nodes failing their health checks",
            namespace="ContainerInsights",
            metric_name="cluster_failed_node_count",
            comparison="GreaterThanThreshold",
            threshold=0.0,
            dimensions=cluster,
            statistic="Maximum",
        )
    )
    return specs


def database_alarms(
    db_instance_identifier: pulumi.Input[str], thresholds: AlarmThresholds
) -> list[AlarmSpec]:
    """The registry database's CPU, free storage and connections."""
    specs: list[AlarmSpec] = []
    db = {"DBInstanceIdentifier": db_instance_identifier}
    specs += [
        AlarmSpec(
            signal="rds-cpu",
            description=f"Model registry database: CPU above {thresholds.rds_cpu_percent:g}%",
            namespace="AWS/RDS",
            metric_name="CPUUtilization",
            comparison="GreaterThanThreshold",
            threshold=thresholds.rds_cpu_percent,
            dimensions=db,
            statistic="Average",
        ),
        AlarmSpec(
            signal="rds-free-storage",
            description=f"Model registry database: free storage below {thresholds.rds_free_storage_gib:g} GiB",
            namespace="AWS/RDS",
            metric_name="FreeStorageSpace",
            comparison="LessThanThreshold",
            threshold=thresholds.rds_free_storage_gib * GIB,
            dimensions=db,
            statistic="Minimum",
        ),
        AlarmSpec(
            signal="rds-connections",
            description=f"Model registry database: more than {thresholds.rds_connections} connections",
            namespace="AWS/RDS",
            metric_name="DatabaseConnections",
            comparison="GreaterThanThreshold",
            threshold=float(thresholds.rds_connections),
            dimensions=db,
            statistic="Maximum",
        ),
    ]
    return specs


def interruption_queue_alarms(queue_name: pulumi.Input[str], thresholds: AlarmThresholds) -> list[AlarmSpec]:
    """The Karpenter interruption queue's oldest message."""
    specs: list[AlarmSpec] = []
    specs.append(
        AlarmSpec(
            signal="interruption-queue-age",
            description="Karpenter interruption queue: messages wait longer than "
            f"{thresholds.interruption_queue_age_seconds}s (spot interruptions not handled)",
            namespace="AWS/SQS",
            metric_name="ApproximateAgeOfOldestMessage",
            comparison="GreaterThanThreshold",
            threshold=float(thresholds.interruption_queue_age_seconds),
            dimensions={"QueueName": queue_name},
            statistic="Maximum",
        )
    )
    return specs


def alarm_specs(signals: RegionSignals, thresholds: AlarmThresholds) -> list[AlarmSpec]:
    """The alarms of one region: only for the signals that region has (a region without RDS has no RDS alarm)."""
    specs: list[AlarmSpec] = []
    if signals.load_balancer:
        specs += load_balancer_alarms(signals.load_balancer, thresholds)
    if signals.cluster_name is not None:
        specs += cluster_alarms(signals.cluster_name, thresholds)
    if signals.db_instance_identifier is not None:
        specs += database_alarms(signals.db_instance_identifier, thresholds)
    if signals.interruption_queue_name is not None:
        specs += interruption_queue_alarms(signals.interruption_queue_name, thresholds)
    return specs


def alarm_args(
    spec: AlarmSpec,
    thresholds: AlarmThresholds,
    *,
    name: str,
    topic_arn: pulumi.Input[str],
    tags: Mapping[str, str],
) -> aws.cloudwatch.MetricAlarmArgs:
    """The alarm of one spec named ``name``: a single metric, or metric queries feeding the spec's expression."""
    common = dict(
        name=name,
        alarm_description=spec.description,
        comparison_operator=spec.comparison,
        threshold=spec.threshold,
        evaluation_periods=thresholds.evaluation_periods,
        datapoints_to_alarm=thresholds.datapoints_to_alarm,
        # No traffic or no data is not an incident; a missing cluster shows up in other alarms.
        treat_missing_data="notBreaching",
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
        tags={**tags, "Name": name},
    )
    if spec.expression is None:
        return aws.cloudwatch.MetricAlarmArgs(
            **common,
            namespace=spec.namespace,
            metric_name=spec.metric_name,
            dimensions=dict(spec.dimensions),
            period=thresholds.period_seconds,
            statistic=spec.statistic,
            extended_statistic=spec.extended_statistic,
        )
    return aws.cloudwatch.MetricAlarmArgs(
        **common,
        metric_queries=[
            *[
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id=query.id,
                    return_data=False,
                    metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                        namespace=query.namespace,
                        metric_name=query.metric_name,
                        stat=query.stat,
                        period=thresholds.period_seconds,
                        dimensions=dict(query.dimensions),
                    ),
                )
                for query in spec.queries
            ],
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id="rate", expression=spec.expression, label=spec.signal, return_data=True
            ),
        ],
    )


# ---------------------------------------------------------------------------------------------------------
# One region


@dataclass(frozen=True)
class RegionalMonitoringArgs:
    context: PlatformContext  # in the signals' region
    signals: RegionSignals
    config: ObservabilityConfig
    log_retention_days: int


class RegionalMonitoring(pulumi.ComponentResource):
    """One region's alert topic (KMS, CloudWatch-only publishing) with its subscriptions, the region's alarms
    wired to it, a managed Prometheus workspace and, on the region's cluster, Container Insights.

    CloudWatch alarms can only notify a topic in their own region, so each region has its own topic with the
    same subscribers.
    """

    def __init__(self, name: str, args: RegionalMonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:observability:RegionalMonitoring", name, None, opts)
        signals, ctx = args.signals, args.context
        env, tags = ctx.environment, dict(ctx.tags)
        prefix = f"mlops-{env}-{signals.region}"
        guardduty = args.config.guardduty.active(ctx.is_prod)
        alerts = alert_topic(
            self,
            name,
            ctx,
            prefix=prefix,
            logs_key_arn=signals.logs_key_arn,
            subscriptions=args.config.subscriptions,
            event_rules=[findings_rule_name(prefix)] if guardduty else (),
        )
        self.topic, self.topic_policy, self.subscriptions = alerts.topic, alerts.policy, alerts.subscriptions
        self.guardduty: RegionalGuardDuty | None = None
        if guardduty:
            self.guardduty = regional_guardduty(
                self,
                name,
                ctx,
                config=args.config.guardduty,
                prefix=prefix,
                topic_arn=self.topic.arn,
                topic_ready=[self.topic_policy],
            )

        thresholds = args.config.thresholds
        self.alarms: dict[str, aws.cloudwatch.MetricAlarm] = {
            spec.signal: aws.cloudwatch.MetricAlarm(
                f"{name}-{spec.signal}",
                alarm_args(
                    spec, thresholds, name=f"{prefix}-{spec.signal}", topic_arn=self.topic.arn, tags=tags
                ),
                opts=child_opts(self, depends_on=[self.topic_policy]),
            )
            for spec in alarm_specs(signals, thresholds)
        }

        workspace = PrometheusWorkspace(
            self,
            name,
            ctx,
            signals=signals,
            prefix=prefix,
            customer_key=args.config.prometheus_encryption == "customer-key",
            log_retention_days=args.log_retention_days,
        )
        self.prometheus_log_group, self.prometheus = workspace.log_group, workspace.workspace
        self.query_url, self.keda_query_policy, self.scraper = (
            workspace.query_url,
            workspace.keda_query_policy,
            workspace.scraper,
        )

        self.insights: ContainerInsights | None = None
        if signals.cluster_name is not None and args.config.container_insights:
            self.insights = ContainerInsights(
                self,
                name,
                ctx,
                cluster_name=signals.cluster_name,
                logs_key_arn=signals.logs_key_arn,
                nodes_ready=signals.nodes_ready,
                addon_version=signals.insights_addon_version,
                prefix=prefix,
                log_retention_days=args.log_retention_days,
            )

        self.register_outputs(
            {
                "topicArn": self.topic.arn,
                "alarmNames": sorted(self.alarms),
                "prometheusWorkspaceId": self.prometheus.id,
                "prometheusEndpoint": self.prometheus.prometheus_endpoint,
            }
        )


# ---------------------------------------------------------------------------------------------------------
# Dashboard


def dashboard_body(
    regions: Sequence[RegionSignals], alarm_arns: Sequence[pulumi.Input[str]], period: int
) -> dict:
    """The dashboard: an alarm overview, then one row of widgets per region for the same metrics as the alarms.

    The result may contain Outputs (cluster names); serialise it with ``pulumi.Output.json_dumps``.
    """
    widgets: list[dict[str, Any]] = [
        {
            "type": "alarm",
            "x": 0,
            "y": 0,
            "width": 24,
            "height": 4,
            "properties": {"title": "Alarms", "alarms": list(alarm_arns), "sortBy": "stateUpdatedTimestamp"},
        }
    ]
    y = 4
    for signals in regions:
        row = region_widgets(signals, period)
        # Lay the row out left to right, three widgets per line.
        for index, widget in enumerate(row):
            widget["x"] = (index % 3) * 8
            widget["y"] = y + (index // 3) * 6
        widgets += row
        y += ((len(row) + 2) // 3) * 6
    return {"start": "-PT6H", "periodOverride": "inherit", "widgets": widgets}


def metric_widget(region: str, title: str, metrics: list[list[Any]], period: int) -> dict[str, Any]:
    """One time-series widget of a region; ``dashboard_body`` places it (x and y)."""
    return {
        "type": "metric",
        "x": 0,
        "y": 0,
        "width": 8,
        "height": 6,
        "properties": {
            "title": f"{region}: {title}",
            "region": region,
            "view": "timeSeries",
            "period": period,
            "metrics": metrics,
        },
    }


def region_widgets(signals: RegionSignals, period: int) -> list[dict[str, Any]]:
    """A region's widgets, for the signals it has: serving, nodes, registry database, interruption queue."""
    region = signals.region
    row: list[dict[str, Any]] = []
    if signals.load_balancer:
        lb = signals.load_balancer
        row.append(
            metric_widget(
                region,
                "serving requests and 5xx",
                [
                    ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", lb, {"stat": "Sum"}],
                    ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", lb, {"stat": "Sum"}],
                ],
                period,
            )
        )
        row.append(
            metric_widget(
                region,
                "serving p99 latency",
                [["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", lb, {"stat": "p99"}]],
                period,
            )
        )
    if signals.cluster_name is not None:
        cluster = signals.cluster_name
        row.append(
            metric_widget(
                region,
                "node CPU and memory %",
                [
                    [
                        "ContainerInsights",
                        "node_cpu_utilization",
                        "ClusterName",
                        cluster,
                        {"stat": "Average"},
                    ],
                    [
                        "ContainerInsights",
                        "node_memory_utilization",
                        "ClusterName",
                        cluster,
                        {"stat": "Average"},
                    ],
                    [
                        "ContainerInsights",
                        "cluster_failed_node_count",
                        "ClusterName",
                        cluster,
                        {"stat": "Maximum", "yAxis": "right"},
                    ],
                ],
                period,
            )
        )
    if signals.db_instance_identifier is not None:
        db = signals.db_instance_identifier
        row.append(
            metric_widget(
                region,
                "registry database",
                [
                    ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", db, {"stat": "Average"}],
                    [
                        "AWS/RDS",
                        "DatabaseConnections",
                        "DBInstanceIdentifier",
                        db,
                        {"stat": "Maximum", "yAxis": "right"},
                    ],
                ],
                period,
            )
        )
        row.append(
            metric_widget(
                region,
                "registry database free storage",
                [["AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier", db, {"stat": "Minimum"}]],
                period,
            )
        )
    if signals.interruption_queue_name is not None:
        queue = signals.interruption_queue_name
        row.append(
            metric_widget(
                region,
                "Karpenter interruption queue age",
                [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queue, {"stat": "Maximum"}]],
                period,
            )
        )
    return row
