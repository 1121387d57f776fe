"""Public DNS for model endpoints: one hosted zone, health checks per region, failover or latency records.

Every model endpoint is served in every region under a regional hostname (default
``<endpoint>.<region>.<zone>``, the record the serving layer publishes for its load balancer). Route 53 probes
each regional hostname over HTTPS and answers ``<endpoint>.<zone>`` with a healthy region: the primary one
while it is healthy (failover routing), or the closest healthy one (latency routing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.config import DnsConfig, DnsEndpoint


@dataclass(frozen=True)
class EndpointRecord:
    """One record of the routing plan: which region answers for which name, and how it is routed."""

    endpoint: str
    region: str
    fqdn: str
    target: str
    health_check_path: str
    set_identifier: str
    failover: str | None = None  # PRIMARY / SECONDARY
    latency_region: str | None = None


def regional_host(endpoint: DnsEndpoint, region: str, zone: str) -> str:
    return endpoint.regional_hosts.get(region) or f"{endpoint.name}.{region}.{zone}"


def routing_plan(dns: DnsConfig, regions: Sequence[str]) -> list[EndpointRecord]:
    """The records of every endpoint in every region (pure; the config already checked the region count)."""
    if dns.routing == "failover" and len(regions) != 2:
        raise ValueError(f"failover routing needs exactly two regions, got {list(regions)}")
    plan: list[EndpointRecord] = []
    for endpoint in dns.endpoints:
        for index, region in enumerate(regions):
            plan.append(
                EndpointRecord(
                    endpoint=endpoint.name,
                    region=region,
                    fqdn=f"{endpoint.name}.{dns.zone}",
                    target=regional_host(endpoint, region, dns.zone),
                    health_check_path=endpoint.health_check_path,
                    set_identifier=f"{endpoint.name}-{region}",
                    failover=("PRIMARY" if index == 0 else "SECONDARY") if dns.routing == "failover" else None,
                    latency_region=region if dns.routing == "latency" else None,
                )
            )
    return plan


@dataclass(frozen=True)
class ServingDnsArgs:
    environment: str
    dns: DnsConfig
    regions: Sequence[str]  # the first is the primary region
    tags: Mapping[str, str]
    protect: bool = False


class ServingDns(pulumi.ComponentResource):
    """A public hosted zone, an HTTPS health check per endpoint and region, and routed CNAME records.

    Route 53 is global; pass any AWS provider (the primary region's) in ``opts``. Attributes: ``zone``,
    ``health_checks`` and ``records`` keyed by ``(endpoint, region)``, ``plan`` (the EndpointRecords).
    """

    def __init__(self, name: str, args: ServingDnsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:dns:ServingDns", name, None, opts)
        dns, tags = args.dns, dict(args.tags)
        self.zone = aws.route53.Zone(
            f"{name}-zone",
            aws.route53.ZoneArgs(
                name=dns.zone,
                comment=f"Model endpoints of the mlops {args.environment} platform",
                force_destroy=False,
                tags={**tags, "Name": dns.zone},
            ),
            opts=child_opts(self, protect=args.protect),
        )
        self.plan = routing_plan(dns, args.regions)
        self.health_checks: dict[tuple[str, str], aws.route53.HealthCheck] = {}
        self.records: dict[tuple[str, str], aws.route53.Record] = {}
        for record in self.plan:
            key = (record.endpoint, record.region)
            check = aws.route53.HealthCheck(
                f"{name}-{record.set_identifier}-health",
                aws.route53.HealthCheckArgs(
                    type="HTTPS",
                    fqdn=record.target,
                    port=443,
                    resource_path=record.health_check_path,
                    enable_sni=True,
                    request_interval=dns.request_interval,
                    failure_threshold=dns.failure_threshold,
                    measure_latency=True,
                    tags={**tags, "Name": record.set_identifier},
                ),
                opts=child_opts(self),
            )
            self.health_checks[key] = check
            self.records[key] = aws.route53.Record(
                f"{name}-{record.set_identifier}",
                aws.route53.RecordArgs(
                    zone_id=self.zone.zone_id,
                    name=record.fqdn,
                    type="CNAME",
                    ttl=60,
                    records=[record.target],
                    set_identifier=record.set_identifier,
                    health_check_id=check.id,
                    failover_routing_policies=(
                        [aws.route53.RecordFailoverRoutingPolicyArgs(type=record.failover)] if record.failover else None
                    ),
                    latency_routing_policies=(
                        [aws.route53.RecordLatencyRoutingPolicyArgs(region=record.latency_region)]
                        if record.latency_region
                        else None
                    ),
                ),
                opts=child_opts(self),
            )
        self.endpoints = {endpoint.name: f"{endpoint.name}.{dns.zone}" for endpoint in dns.endpoints}
        self.register_outputs(
            {"zoneId": self.zone.zone_id, "nameServers": self.zone.name_servers, "endpoints": self.endpoints}
        )

    def contract_values(self) -> dict[str, object]:
        """The values of ``DnsOutputs`` (components/outputs.py)."""
        return {"hosted_zone_id": self.zone.zone_id, "name_servers": self.zone.name_servers, "endpoints": self.endpoints}
