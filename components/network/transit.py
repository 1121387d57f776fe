"""Cross-region connectivity: a transit gateway per region, peered primary-to-each, and the private zone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks.context import PlatformContext
from components.network.vpc import RegionalNetwork


@dataclass(frozen=True)
class RegionLink:
    """What GlobalNetwork needs of one region: its network and its provider."""

    region: str
    network: RegionalNetwork
    provider: aws.Provider


@dataclass(frozen=True)
class GlobalNetworkArgs:
    ctx: PlatformContext  # the platform's environment, account and tags
    regions: Sequence[RegionLink]  # the first is the primary
    private_zone: str


class GlobalNetwork(pulumi.ComponentResource):
    """Cross-region connectivity: a transit gateway per region, peering primary-to-each, routes, a private zone.

    The private hosted zone (internal service names) is associated with every region's VPC; with one region it
    still exists so that names do not change when a region is added.
    """

    transit_gateways: dict[str, aws.ec2transitgateway.TransitGateway]
    attachments: dict[str, aws.ec2transitgateway.VpcAttachment]
    peerings: dict[str, aws.ec2transitgateway.PeeringAttachment]
    accepters: dict[str, aws.ec2transitgateway.PeeringAttachmentAccepter]
    private_zone: aws.route53.Zone

    def __init__(self, name: str, args: GlobalNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:network:GlobalNetwork", name, None, opts)
        tags = dict(args.ctx.tags)
        links = list(args.regions)
        self.transit_gateways, self.attachments, self.peerings, self.accepters = {}, {}, {}, {}
        if len(links) > 1:
            for link in links:
                on_region = child_opts(self, provider=link.provider)
                tgw = aws.ec2transitgateway.TransitGateway(
                    f"{name}-tgw-{link.region}",
                    aws.ec2transitgateway.TransitGatewayArgs(
                        description=f"mlops {args.ctx.environment} {link.region}",
                        auto_accept_shared_attachments="disable",
                        default_route_table_association="enable",
                        default_route_table_propagation="enable",
                        dns_support="enable",
                        tags={**tags, "Name": f"{name}-{link.region}"},
                    ),
                    opts=on_region,
                )
                self.transit_gateways[link.region] = tgw
                self.attachments[link.region] = aws.ec2transitgateway.VpcAttachment(
                    f"{name}-attach-{link.region}",
                    aws.ec2transitgateway.VpcAttachmentArgs(
                        transit_gateway_id=tgw.id,
                        vpc_id=link.network.vpc.id,
                        subnet_ids=link.network.subnet_ids("private"),
                        dns_support="enable",
                        tags=tags,
                    ),
                    opts=on_region,
                )
            primary = links[0]
            for peer in links[1:]:
                peering = aws.ec2transitgateway.PeeringAttachment(
                    f"{name}-peering-{primary.region}-{peer.region}",
                    aws.ec2transitgateway.PeeringAttachmentArgs(
                        transit_gateway_id=self.transit_gateways[primary.region].id,
                        peer_transit_gateway_id=self.transit_gateways[peer.region].id,
                        peer_region=peer.region,
                        peer_account_id=args.ctx.account_id,
                        tags={**tags, "Name": f"{primary.region}-{peer.region}"},
                    ),
                    opts=child_opts(self, provider=primary.provider),
                )
                self.peerings[peer.region] = peering
                accepter = aws.ec2transitgateway.PeeringAttachmentAccepter(
                    f"{name}-accept-{primary.region}-{peer.region}",
                    aws.ec2transitgateway.PeeringAttachmentAccepterArgs(
                        transit_gateway_attachment_id=peering.id, tags=tags
                    ),
                    opts=child_opts(self, provider=peer.provider),
                )
                self.accepters[peer.region] = accepter
                # Static routes: peering attachments do not propagate routes.
                for here, there in ((primary, peer), (peer, primary)):
                    aws.ec2transitgateway.Route(
                        f"{name}-tgw-route-{here.region}-to-{there.region}",
                        aws.ec2transitgateway.RouteArgs(
                            transit_gateway_route_table_id=self.transit_gateways[
                                here.region
                            ].association_default_route_table_id,
                            destination_cidr_block=there.network.args.cidr,
                            transit_gateway_attachment_id=peering.id,
                        ),
                        opts=child_opts(self, provider=here.provider, depends_on=[accepter]),
                    )
                    for index, table in enumerate(here.network.private_route_tables):
                        aws.ec2.Route(
                            f"{name}-vpc-route-{here.region}-{index}-to-{there.region}",
                            aws.ec2.RouteArgs(
                                route_table_id=table.id,
                                destination_cidr_block=there.network.args.cidr,
                                transit_gateway_id=self.transit_gateways[here.region].id,
                            ),
                            opts=child_opts(
                                self, provider=here.provider, depends_on=[self.attachments[here.region]]
                            ),
                        )
        self.private_zone = aws.route53.Zone(
            f"{name}-private-zone",
            aws.route53.ZoneArgs(
                name=args.private_zone,
                comment=f"mlops {args.ctx.environment} internal names",
                vpcs=[
                    aws.route53.ZoneVpcArgs(vpc_id=link.network.vpc.id, vpc_region=link.region)
                    for link in links
                ],
                tags=tags,
            ),
            opts=child_opts(self, provider=links[0].provider),
        )
        self.register_outputs(
            {
                "transitGatewayIds": {region: tgw.id for region, tgw in self.transit_gateways.items()},
                "privateZoneId": self.private_zone.zone_id,
            }
        )


def zone_name(environment: str) -> str:
    return f"{environment}.mlops.internal"
