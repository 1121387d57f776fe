"""The public hosted zone of the model endpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.dns.config import DnsConfig


@dataclass(frozen=True)
class ServingDnsArgs:
    environment: str
    dns: DnsConfig
    regions: Sequence[str]  # the first is the primary region
    tags: Mapping[str, str]
    protect: bool = False


class ServingDns(pulumi.ComponentResource):
    """The public hosted zone of the model endpoints (Route 53 is global; pass any AWS provider in ``opts``).

    The zone's records are created by the platform (each region's ``*.<region>.<zone>``, components.serving.ingress)
    and by team stacks (each model's routed name, ``ModelEndpointDns``).
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
        self.dns = dns
        self.register_outputs({"zoneId": self.zone.zone_id, "nameServers": self.zone.name_servers})

    def contract_values(self) -> dict[str, object]:
        """The values of ``DnsOutputs`` (components/outputs.py)."""
        return {
            "hosted_zone_id": self.zone.zone_id,
            "name_servers": self.zone.name_servers,
            "zone_name": self.dns.zone,
            "routing": self.dns.routing,
            "certificate_arns": dict(self.dns.certificate_arns),
        }
