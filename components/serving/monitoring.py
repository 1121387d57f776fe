"""Per-model monitoring of a team stack: per model version, alarms on its target group's 5xx rate and p99 latency,
sent to the team's own alert topic and to the platform's, and a dashboard section per model version.

Beside the HealthyHostCount alarms that route a model's name (components.dns.records), each version in each region
gets two alarms on the serving ALB's metrics of its target group (dimensions TargetGroup and LoadBalancer,
namespace AWS/ApplicationELB): `HTTPCode_Target_5XX_Count` over `RequestCount` as a percentage (metric math), and
the p99 of `TargetResponseTime` (an extended statistic). The ALB publishes them only while requests flow, so no data
is not an incident (treat_missing_data notBreaching). Thresholds, period and evaluation are the platform's own for its
serving load balancer (its `observability.thresholds`: `load-balancer-5xx-percent`, `p99-latency-seconds`, read from
the platform contract's `observability.alarmThresholds`; AlarmThresholds' defaults for a platform that exports
none). Alarm names are `mlops-<env>-team-<team>.<model>.<version>-<region>-<signal>`: team, model and version
names are DNS labels (no dots), so the dots keep two teams' alarms apart. The alarms notify the team's topic in their region
(`mlops-<env>-team-<team>-alerts`: encrypted with the platform's logs key, which lets CloudWatch alarms publish
to encrypted topics, and subscribed by the team's `owners.alerts`) and the platform's alert topic of that region.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks import PlatformContext
from components.observability.config import AlarmThresholds, Subscription
from components.observability.monitoring import AlarmSpec, MetricQuery, alarm_args, metric_widget
from components.observability.topics import alert_topic_policy
from components.outputs import AlarmThresholdOutputs
from components.serving.config import ModelSpec
from components.serving.provenance import provenance_tags

NAMESPACE = "AWS/ApplicationELB"
DEFAULT_THRESHOLDS = AlarmThresholds()  # for a platform whose contract exports no alarmThresholds


def team_topic_name(environment: str, team: str) -> str:
    return f"mlops-{environment}-team-{team}-alerts"


def thresholds_of(exported: AlarmThresholdOutputs | None) -> AlarmThresholds:
    """The platform's serving alarm thresholds from its contract (the defaults when it exports none)."""
    if exported is None:
        return DEFAULT_THRESHOLDS
    return DEFAULT_THRESHOLDS.model_copy(
        update={
            "load_balancer_5xx_percent": exported.load_balancer_5xx_percent,
            "p99_latency_seconds": exported.p99_latency_seconds,
            "period_seconds": exported.period_seconds,
            "evaluation_periods": exported.evaluation_periods,
            "datapoints_to_alarm": exported.datapoints_to_alarm,
        }
    )


def model_alarm_name(environment: str, team: str, model: str, version: str, region: str, signal: str) -> str:
    """`mlops-<env>-team-<team>.<model>.<version>-<region>-<signal>`: team, model and version are DNS labels (no
    dots), so no two teams' names meet."""
    return f"mlops-{environment}-team-{team}.{model}.{version}-{region}-{signal}"


def version_alarm_specs(
    model: str,
    version: str,
    region: str,
    target_group: pulumi.Input[str],
    load_balancer: pulumi.Input[str],
    thresholds: AlarmThresholds = DEFAULT_THRESHOLDS,
) -> list[AlarmSpec]:
    """A model version's 5xx rate and p99 latency on its target group of the region's serving ALB."""
    dimensions = {"TargetGroup": target_group, "LoadBalancer": load_balancer}
    return [
        AlarmSpec(
            signal="5xx-rate",
            description=f"{model} {version} in {region}: targets answer 5xx for more than "
            f"{thresholds.load_balancer_5xx_percent:g}% of requests",
            namespace=NAMESPACE,
            metric_name="HTTPCode_Target_5XX_Count",
            comparison="GreaterThanThreshold",
            threshold=thresholds.load_balancer_5xx_percent,
            expression="IF(requests > 0, 100 * errors / requests, 0)",
            queries=(
                MetricQuery("errors", NAMESPACE, "HTTPCode_Target_5XX_Count", "Sum", dimensions),
                MetricQuery("requests", NAMESPACE, "RequestCount", "Sum", dimensions),
            ),
        ),
        AlarmSpec(
            signal="p99-latency",
            description=f"{model} {version} in {region}: p99 target response time above "
            f"{thresholds.p99_latency_seconds:g}s",
            namespace=NAMESPACE,
            metric_name="TargetResponseTime",
            comparison="GreaterThanThreshold",
            threshold=thresholds.p99_latency_seconds,
            dimensions=dimensions,
            extended_statistic="p99",
        ),
    ]


@dataclass(frozen=True)
class TeamAlertsArgs:
    environment: str
    team: str
    region: str
    partition: str
    account_id: pulumi.Input[str]
    logs_key_arn: pulumi.Input[
        str
    ]  # the platform's logs key in the region (contract regions.<r>.keyArns.logs)
    subscriptions: Sequence[Subscription]
    tags: Mapping[str, str]


class TeamAlerts(pulumi.ComponentResource):
    """The team's alert topic in one region (create it with the region's provider): ``topic``, ``policy``,
    ``subscriptions``."""

    def __init__(self, name: str, args: TeamAlertsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:serving:TeamAlerts", name, None, opts)
        topic_name = team_topic_name(args.environment, args.team)
        self.topic = aws.sns.Topic(
            f"{name}-topic",
            aws.sns.TopicArgs(
                name=topic_name,
                display_name=f"mlops {args.environment} team {args.team} {args.region} alerts",
                kms_master_key_id=args.logs_key_arn,
                tags={**args.tags, "Name": topic_name},
            ),
            opts=child_opts(self),
        )

        def policy(values: list[Any]) -> str:
            arn, account = values
            ctx = PlatformContext(args.environment, args.partition, account, args.region, dict(args.tags))
            return json.dumps(alert_topic_policy(arn, ctx), sort_keys=True)

        self.policy = aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            aws.sns.TopicPolicyArgs(
                arn=self.topic.arn,
                policy=pulumi.Output.all(self.topic.arn, args.account_id).apply(policy),
            ),
            opts=child_opts(self),
        )
        self.subscriptions = [
            aws.sns.TopicSubscription(
                f"{name}-topic-{subscription.protocol}-{index}",
                aws.sns.TopicSubscriptionArgs(
                    topic=self.topic.arn, protocol=subscription.protocol, endpoint=subscription.endpoint
                ),
                opts=child_opts(self),
            )
            for index, subscription in enumerate(args.subscriptions)
        ]
        self.register_outputs({"topicArn": self.topic.arn})


@dataclass(frozen=True)
class ModelAlarmsArgs:
    model: ModelSpec
    environment: str
    team: str
    region: str
    load_balancer: pulumi.Input[str]  # the serving ALB's ARN suffix (contract regions.<r>.serving)
    target_groups: Mapping[str, pulumi.Input[str]]  # per version: its target group's ARN suffix
    topic_arns: pulumi.Input[Sequence[str]]  # the team's topic and the platform's (if any), in the region
    tags: Mapping[str, str]
    ready: Sequence[pulumi.Resource] = ()  # what lets the alarms publish (the team topic's policy)
    # The platform's serving thresholds (thresholds_of its contract; an Output in a team stack).
    thresholds: pulumi.Input[AlarmThresholds] = DEFAULT_THRESHOLDS


def with_thresholds(
    alarm: aws.cloudwatch.MetricAlarmArgs,
    thresholds: pulumi.Output[AlarmThresholds],
    model: str,
    version: str,
    region: str,
    signal: str,
) -> None:
    """Set what ``alarm`` takes from the thresholds (its threshold and description, evaluation and period) from
    ``thresholds``, the platform's, known once its contract is read."""

    def spec(values: AlarmThresholds) -> AlarmSpec:
        specs = version_alarm_specs(model, version, region, "", "", values)
        return next(s for s in specs if s.signal == signal)

    alarm.threshold = thresholds.apply(lambda t: spec(t).threshold)
    alarm.alarm_description = thresholds.apply(lambda t: spec(t).description)
    alarm.evaluation_periods = thresholds.apply(lambda t: t.evaluation_periods)
    alarm.datapoints_to_alarm = thresholds.apply(lambda t: t.datapoints_to_alarm)
    period = thresholds.apply(lambda t: t.period_seconds)
    if alarm.metric_queries:
        for query in alarm.metric_queries:
            if query.metric is not None:
                query.metric.period = period
    else:
        alarm.period = period


class ModelAlarms(pulumi.ComponentResource):
    """One model's per-version 5xx-rate and p99-latency alarms in one region (create it with the region's
    provider). Attribute ``alarms``: ``{version: {"5xx-rate": MetricAlarm, "p99-latency": MetricAlarm}}``."""

    def __init__(self, name: str, args: ModelAlarmsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:serving:ModelAlarms", name, None, opts)
        self.alarms: dict[str, dict[str, aws.cloudwatch.MetricAlarm]] = {}
        model = args.model
        thresholds = pulumi.Output.from_input(args.thresholds)
        for version in model.versions:
            specs = version_alarm_specs(
                model.name, version.name, args.region, args.target_groups[version.name], args.load_balancer
            )
            self.alarms[version.name] = {}
            for spec in specs:
                alarm_name = model_alarm_name(
                    args.environment, args.team, model.name, version.name, args.region, spec.signal
                )
                alarm = alarm_args(
                    spec,
                    DEFAULT_THRESHOLDS,
                    name=alarm_name,
                    topic_arn="",
                    tags={
                        **args.tags,
                        "model": model.name,
                        "version": version.name,
                        **provenance_tags(version),
                    },
                )
                with_thresholds(alarm, thresholds, model.name, version.name, args.region, spec.signal)
                alarm.alarm_actions = args.topic_arns
                alarm.ok_actions = args.topic_arns
                self.alarms[version.name][spec.signal] = aws.cloudwatch.MetricAlarm(
                    f"{name}-{version.name}-{spec.signal}",
                    alarm,
                    opts=child_opts(self, depends_on=list(args.ready)),
                )
        self.register_outputs(
            {
                "alarmNames": {
                    version: {signal: alarm.name for signal, alarm in alarms.items()}
                    for version, alarms in self.alarms.items()
                }
            }
        )


def model_dashboard_body(
    sections: Sequence[tuple[str, str, Sequence[tuple[str, Any, Any]]]],
    period: pulumi.Input[int] = DEFAULT_THRESHOLDS.period_seconds,
) -> dict[str, Any]:
    """The team's model dashboard: per model version a section headed ``<model> <version>`` with, per region, its
    requests and 5xx, and its p99 latency. ``sections``: (model, version, [(region, target group, load balancer)]).
    May contain Outputs; serialise with ``pulumi.Output.json_dumps``."""
    widgets: list[dict[str, Any]] = []
    y = 0
    for model, version, regions in sections:
        widgets.append(
            {
                "type": "text",
                "x": 0,
                "y": y,
                "width": 24,
                "height": 1,
                "properties": {"markdown": f"## {model} {version}"},
            }
        )
        y += 1
        for region, target_group, load_balancer in regions:
            dims = ["TargetGroup", target_group, "LoadBalancer", load_balancer]
            row = [
                metric_widget(
                    region,
                    f"{model} {version} requests and 5xx",
                    [
                        [NAMESPACE, "RequestCount", *dims, {"stat": "Sum"}],
                        [NAMESPACE, "HTTPCode_Target_5XX_Count", *dims, {"stat": "Sum"}],
                    ],
                    period,
                ),
                metric_widget(
                    region,
                    f"{model} {version} p99 latency",
                    [[NAMESPACE, "TargetResponseTime", *dims, {"stat": "p99"}]],
                    period,
                ),
            ]
            for index, widget in enumerate(row):
                widget.update(x=index * 12, y=y, width=12)
            widgets += row
            y += 6
    return {"widgets": widgets}


def team_dashboard_name(environment: str, team: str) -> str:
    return f"mlops-{environment}-team-{team}-models"
