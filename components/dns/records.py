"""The routed, health-checked name of a model in each region it is served in, created by team stacks.

Design. Every region's serving ALB is internal, and Route 53's health checkers probe from the internet, so an
HTTPS health check of it can never pass. Health is read from CloudWatch instead: for each version of a model
in a region, an alarm on the ``HealthyHostCount`` of the version's target group on the serving ALB, a
CLOUDWATCH_METRIC health check on that alarm, and a CALCULATED health check that is healthy while at least one
version has a healthy target. The model's name ``<model>-<team>.<zone>`` is then an alias record per region
to that region's ALB with that health check, routed by failover (the team's first region is primary) or by
latency. The alarm's dimensions name the ALB and the target group. The target groups are the team stack's
own resources (components.serving), so their ids are known to it on every deployment, the first as an update.
The ALB is the controller's: the platform reads it by its fixed name once its serving-entry Ingress exists
(components.serving.ingress) and publishes it in the contract, which team stacks read after the platform is deployed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.base import child_opts


@dataclass(frozen=True)
class RecordRouting:
    """How one region's record of a name is routed: alone, as failover primary/secondary, or by latency."""

    set_identifier: str | None = None
    failover: str | None = None  # PRIMARY / SECONDARY
    latency_region: str | None = None


def record_routing(routing: str, regions: Sequence[str], region: str) -> RecordRouting:
    """The record of ``region`` among the regions a name is served in (pure). One region: a plain record."""
    if len(regions) == 1:
        return RecordRouting()
    if routing == "failover":
        if len(regions) != 2:
            raise ValueError(f"failover routing needs exactly two regions, got {list(regions)}")
        return RecordRouting(
            set_identifier=region, failover="PRIMARY" if region == regions[0] else "SECONDARY"
        )
    return RecordRouting(set_identifier=region, latency_region=region)


# Route 53 health checks on CloudWatch alarms take standard-resolution metrics and the statistics Average,
# Minimum, Maximum, Sum or SampleCount only (Route 53 API Reference, AlarmIdentifier).
HEALTH_STATISTIC = "Minimum"
HEALTH_PERIOD_SECONDS = 60


@dataclass(frozen=True)
class ServingLoadBalancer:
    """A region's serving ALB as the platform read it (contract: regions.<region>.serving)."""

    dns_name: pulumi.Input[str]
    zone_id: pulumi.Input[str]
    arn_suffix: pulumi.Input[str]


@dataclass(frozen=True)
class ModelEndpointDnsArgs:
    host: pulumi.Input[str]  # the routed name, <model>-<team>.<zone>
    region: str
    zone_id: pulumi.Input[str]
    routing: pulumi.Input[RecordRouting]
    load_balancer: ServingLoadBalancer
    # Per version: the ARN suffix of its target group (components.serving, the stack's own resource).
    target_groups: Mapping[str, pulumi.Input[str]]
    tags: Mapping[str, str]
    # Per version: its own tags beside ``tags`` (its provenance, components.serving.provenance.provenance_tags).
    version_tags: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


class ModelEndpointDns(pulumi.ComponentResource):
    """One region's share of a model's routed name: health alarms and checks, and the alias record.

    Pass the region's AWS provider in ``opts`` (alarms are regional; Route 53 is global). Attributes: ``alarms`` and ``version_checks`` by version, ``health_check`` (calculated),
    ``record``.
    """

    def __init__(self, name: str, args: ModelEndpointDnsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:dns:ModelEndpointDns", name, None, opts)
        tags = dict(args.tags)
        host = pulumi.Output.from_input(args.host)
        self.alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}
        self.version_checks: dict[str, aws.route53.HealthCheck] = {}
        for version, group_arn_suffix in args.target_groups.items():
            version_tags = {**tags, "version": version, **args.version_tags.get(version, {})}
            alarm = aws.cloudwatch.MetricAlarm(
                f"{name}-{version}-healthy",
                aws.cloudwatch.MetricAlarmArgs(
                    name=host.apply(lambda h, v=version: f"{h}-{args.region}-{v}-healthy-hosts"),
                    alarm_description=host.apply(
                        lambda h, v=version: f"{h} {v} in {args.region}: no healthy target"
                    ),
                    namespace="AWS/ApplicationELB",
                    metric_name="HealthyHostCount",
                    dimensions={
                        "TargetGroup": group_arn_suffix,
                        "LoadBalancer": args.load_balancer.arn_suffix,
                    },
                    statistic=HEALTH_STATISTIC,
                    period=HEALTH_PERIOD_SECONDS,
                    evaluation_periods=2,
                    datapoints_to_alarm=2,
                    comparison_operator="LessThanThreshold",
                    threshold=1,
                    # No data means no target reported healthy (e.g. scaled to zero): not a serving region.
                    treat_missing_data="breaching",
                    tags={**version_tags, "Name": f"{name}-{version}"},
                ),
                opts=child_opts(self),
            )
            self.alarms[version] = alarm
            self.version_checks[version] = aws.route53.HealthCheck(
                f"{name}-{version}-health",
                aws.route53.HealthCheckArgs(
                    type="CLOUDWATCH_METRIC",
                    cloudwatch_alarm_name=alarm.name,
                    cloudwatch_alarm_region=args.region,
                    insufficient_data_health_status="LastKnownStatus",
                    tags={**version_tags, "Name": f"{name}-{version}"},
                ),
                opts=child_opts(self),
            )
        self.health_check = aws.route53.HealthCheck(
            f"{name}-health",
            aws.route53.HealthCheckArgs(
                type="CALCULATED",
                child_healthchecks=[check.id for check in self.version_checks.values()],
                child_health_threshold=1,  # healthy while any version serves
                tags={**tags, "Name": name},
            ),
            opts=child_opts(self),
        )
        routing = pulumi.Output.from_input(args.routing)
        self.record = aws.route53.Record(
            f"{name}-record",
            aws.route53.RecordArgs(
                zone_id=args.zone_id,
                name=host,
                type="A",
                aliases=[
                    aws.route53.RecordAliasArgs(
                        name=args.load_balancer.dns_name,
                        zone_id=args.load_balancer.zone_id,
                        evaluate_target_health=True,
                    )
                ],
                set_identifier=routing.apply(lambda r: r.set_identifier),
                health_check_id=pulumi.Output.all(routing, self.health_check.id).apply(
                    lambda values: values[1] if values[0].set_identifier else None
                ),
                failover_routing_policies=routing.apply(
                    lambda r: (
                        [aws.route53.RecordFailoverRoutingPolicyArgs(type=r.failover)] if r.failover else None
                    )
                ),
                latency_routing_policies=routing.apply(
                    lambda r: (
                        [aws.route53.RecordLatencyRoutingPolicyArgs(region=r.latency_region)]
                        if r.latency_region
                        else None
                    )
                ),
            ),
            opts=child_opts(self),
        )
        self.register_outputs({"host": host, "healthCheckId": self.health_check.id})
