"""Networking: a VPC per region with three subnet tiers, endpoints, flow logs; transit gateways between regions.

Tiers: public subnets hold only load balancers and NAT gateways; private subnets hold nodes and pods and reach
AWS through VPC endpoints (and the internet through NAT, unless the stack is internet-free); isolated subnets
hold databases and have no route out at all. Every VPC logs its traffic to a KMS-encrypted log group and keeps
its default security group empty, so nothing can be attached to an open group by accident.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.cidr import plan_subnets

TIERS = ("public", "private", "isolated")
# Interface endpoints private subnets need to run EKS nodes, pull images, log, and use KMS/STS without internet.
INTERFACE_ENDPOINTS = (
    "ecr.api", "ecr.dkr", "sts", "logs", "monitoring", "kms", "ec2", "elasticloadbalancing", "autoscaling",
    "ssm", "ssmmessages", "ec2messages", "sqs", "secretsmanager", "eks", "eks-auth",
)
# Managed Prometheus's query API, which KEDA calls for requests-per-second autoscaling: only in VPCs where it
# does (RegionalNetworkArgs.extra_interface_endpoints).
PROMETHEUS_QUERY_ENDPOINT = "aps-workspaces"
GATEWAY_ENDPOINTS = ("s3", "dynamodb")
def flow_log_trust(account_id: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        ],
    }


def flow_log_delivery_policy(log_group_arn: str) -> dict[str, Any]:
    """Only what VPC flow log delivery needs, on its own log group only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [log_group_arn, f"{log_group_arn}:*"],
            },
            # DescribeLogGroups has no resource-level permissions: it is authorized only on "*".
            {"Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"},
        ],
    }


def endpoint_service(region: str, service: str, partition: str = "aws") -> str:
    prefix = "cn.com.amazonaws" if partition == "aws-cn" else "com.amazonaws"
    return f"{prefix}.{region}.{service}"


@dataclass(frozen=True)
class RegionalNetworkArgs:
    environment: str
    region: str
    cidr: str
    availability_zones: Sequence[str]
    account_id: str
    logs_key_arn: pulumi.Input[str]
    nat: str = "single"  # none | single | one-per-az
    internet_free: bool = False
    log_retention_days: int = 30
    cluster_name: str = ""
    partition: str = "aws"
    tags: Mapping[str, str] = field(default_factory=dict)
    extra_interface_endpoints: Sequence[str] = ()  # beyond INTERFACE_ENDPOINTS, e.g. PROMETHEUS_QUERY_ENDPOINT


class RegionalNetwork(pulumi.ComponentResource):
    """The VPC of one region: subnets per tier, gateways, route tables, endpoints, flow logs."""

    vpc: aws.ec2.Vpc
    public_subnets: list[aws.ec2.Subnet]
    private_subnets: list[aws.ec2.Subnet]
    isolated_subnets: list[aws.ec2.Subnet]
    internet_gateway: aws.ec2.InternetGateway | None
    nat_gateways: list[aws.ec2.NatGateway]
    public_route_table: aws.ec2.RouteTable | None
    private_route_tables: list[aws.ec2.RouteTable]
    isolated_route_table: aws.ec2.RouteTable
    default_security_group: aws.ec2.DefaultSecurityGroup
    endpoint_security_group: aws.ec2.SecurityGroup
    interface_endpoints: dict[str, aws.ec2.VpcEndpoint]
    gateway_endpoints: dict[str, aws.ec2.VpcEndpoint]
    flow_log_group: aws.cloudwatch.LogGroup
    flow_log_role: aws.iam.Role
    flow_log: aws.ec2.FlowLog

    def __init__(self, name: str, args: RegionalNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:network:RegionalNetwork", name, None, opts)
        self.args = args
        if args.internet_free and args.nat != "none":
            raise ValueError("an internet-free network has no NAT gateways")
        plan = plan_subnets(args.cidr, list(args.availability_zones))
        tags = dict(args.tags)
        mine = child_opts(self)

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            aws.ec2.VpcArgs(
                cidr_block=args.cidr, enable_dns_support=True, enable_dns_hostnames=True,
                tags={**tags, "Name": f"{name}-vpc"},
            ),
            opts=mine,
        )
        discovery = {"karpenter.sh/discovery": args.cluster_name} if args.cluster_name else {}
        tier_tags = {
            "public": {"kubernetes.io/role/elb": "1"},
            "private": {"kubernetes.io/role/internal-elb": "1", **discovery},
            "isolated": {},
        }
        subnets: dict[str, list[aws.ec2.Subnet]] = {}
        for tier in TIERS:
            if tier == "public" and args.internet_free:
                subnets[tier] = []
                continue
            subnets[tier] = [
                aws.ec2.Subnet(
                    f"{name}-{tier}-{zone}",
                    aws.ec2.SubnetArgs(
                        vpc_id=self.vpc.id,
                        cidr_block=cidr,
                        availability_zone=zone,
                        map_public_ip_on_launch=False,
                        tags={**tags, **tier_tags[tier], "Name": f"{name}-{tier}-{zone}", "tier": tier},
                    ),
                    opts=mine,
                )
                for zone, cidr in plan[tier]
            ]
        self.public_subnets, self.private_subnets, self.isolated_subnets = (subnets[tier] for tier in TIERS)

        self.internet_gateway, self.nat_gateways, self.public_route_table = None, [], None
        if not args.internet_free:
            self.internet_gateway = aws.ec2.InternetGateway(
                f"{name}-igw", aws.ec2.InternetGatewayArgs(vpc_id=self.vpc.id, tags={**tags, "Name": f"{name}-igw"}),
                opts=mine,
            )
            self.public_route_table = self._route_table(f"{name}-public-rt", tags)
            aws.ec2.Route(
                f"{name}-public-default",
                aws.ec2.RouteArgs(
                    route_table_id=self.public_route_table.id, destination_cidr_block="0.0.0.0/0",
                    gateway_id=self.internet_gateway.id,
                ),
                opts=mine,
            )
            for subnet, (zone, _) in zip(self.public_subnets, plan["public"], strict=True):
                self._associate(f"{name}-public-{zone}-rta", subnet, self.public_route_table)
            nat_zones = {"none": 0, "single": 1, "one-per-az": len(plan["public"])}[args.nat]
            for subnet, (zone, _) in list(zip(self.public_subnets, plan["public"], strict=True))[:nat_zones]:
                eip = aws.ec2.Eip(f"{name}-nat-{zone}-eip", aws.ec2.EipArgs(domain="vpc", tags=tags), opts=mine)
                self.nat_gateways.append(
                    aws.ec2.NatGateway(
                        f"{name}-nat-{zone}",
                        aws.ec2.NatGatewayArgs(
                            subnet_id=subnet.id, allocation_id=eip.id, tags={**tags, "Name": f"{name}-nat-{zone}"}
                        ),
                        opts=child_opts(self, depends_on=[self.internet_gateway]),
                    )
                )

        self.private_route_tables = []
        # What nodes in the private subnets need before they can join a cluster: their route out (NAT) or,
        # internet-free, the endpoints below; the EKS control plane itself needs only the subnets.
        self.node_egress: list[pulumi.Resource] = list(self.nat_gateways)
        for index, (subnet, (zone, _)) in enumerate(zip(self.private_subnets, plan["private"], strict=True)):
            table = self._route_table(f"{name}-private-{zone}-rt", tags)
            if self.nat_gateways:
                # Each zone's traffic leaves through its own NAT gateway when there is one per zone.
                nat = self.nat_gateways[index] if len(self.nat_gateways) > 1 else self.nat_gateways[0]
                self.node_egress.append(aws.ec2.Route(
                    f"{name}-private-{zone}-default",
                    aws.ec2.RouteArgs(route_table_id=table.id, destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat.id),
                    opts=mine,
                ))
            self.node_egress.append(self._associate(f"{name}-private-{zone}-rta", subnet, table))
            self.private_route_tables.append(table)
        self.isolated_route_table = self._route_table(f"{name}-isolated-rt", tags)
        for subnet, (zone, _) in zip(self.isolated_subnets, plan["isolated"], strict=True):
            self._associate(f"{name}-isolated-{zone}-rta", subnet, self.isolated_route_table)

        self.default_security_group = aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            aws.ec2.DefaultSecurityGroupArgs(vpc_id=self.vpc.id, ingress=[], egress=[], tags={**tags, "Name": "default-closed"}),
            opts=mine,
        )
        self.endpoint_security_group = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            aws.ec2.SecurityGroupArgs(
                vpc_id=self.vpc.id,
                description="HTTPS from inside the VPC to the interface endpoints",
                ingress=[
                    aws.ec2.SecurityGroupIngressArgs(
                        protocol="tcp", from_port=443, to_port=443, cidr_blocks=[args.cidr],
                        description="HTTPS from the VPC",
                    )
                ],
                egress=[],
                tags={**tags, "Name": f"{name}-endpoints"},
            ),
            opts=mine,
        )
        self.gateway_endpoints = {
            service: aws.ec2.VpcEndpoint(
                f"{name}-{service}-endpoint",
                aws.ec2.VpcEndpointArgs(
                    vpc_id=self.vpc.id,
                    service_name=endpoint_service(args.region, service, args.partition),
                    vpc_endpoint_type="Gateway",
                    route_table_ids=[table.id for table in [*self.private_route_tables, self.isolated_route_table]],
                    tags={**tags, "Name": f"{name}-{service}"},
                ),
                opts=mine,
            )
            for service in GATEWAY_ENDPOINTS
        }
        self.interface_endpoints = {
            service: aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}-endpoint",
                aws.ec2.VpcEndpointArgs(
                    vpc_id=self.vpc.id,
                    service_name=endpoint_service(args.region, service, args.partition),
                    vpc_endpoint_type="Interface",
                    private_dns_enabled=True,
                    subnet_ids=[subnet.id for subnet in self.private_subnets],
                    security_group_ids=[self.endpoint_security_group.id],
                    tags={**tags, "Name": f"{name}-{service}"},
                ),
                opts=mine,
            )
            for service in (*INTERFACE_ENDPOINTS, *args.extra_interface_endpoints)
        }
        self.node_egress += [*self.gateway_endpoints.values(), *self.interface_endpoints.values()]
        # S3 behind the gateway endpoint keeps its public addresses (routed privately through the endpoint's
        # prefix list): pods' egress rules name that AWS-managed list's CIDRs. AWS publishes and changes them per
        # region, so they are read from the list itself, by its documented name, rather than copied into config.
        self.s3_cidrs: pulumi.Output[list[str]] = aws.ec2.get_prefix_list_output(
            name=endpoint_service(args.region, "s3", args.partition), opts=pulumi.InvokeOptions(parent=self)
        ).apply(lambda result: sorted(result.cidr_blocks))

        self.flow_log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            aws.cloudwatch.LogGroupArgs(
                name=f"/mlops/{args.environment}/{args.region}/vpc-flow-logs",
                kms_key_id=args.logs_key_arn,
                retention_in_days=args.log_retention_days,
                tags=tags,
            ),
            opts=mine,
        )
        self.flow_log_role = aws.iam.Role(
            f"{name}-flow-logs-role",
            aws.iam.RoleArgs(assume_role_policy=json.dumps(flow_log_trust(args.account_id)), tags=tags),
            opts=mine,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            aws.iam.RolePolicyArgs(
                role=self.flow_log_role.id,
                policy=self.flow_log_group.arn.apply(lambda arn: json.dumps(flow_log_delivery_policy(arn))),
            ),
            opts=mine,
        )
        self.flow_log = aws.ec2.FlowLog(
            f"{name}-flow-log",
            aws.ec2.FlowLogArgs(
                vpc_id=self.vpc.id,
                traffic_type="ALL",
                log_destination_type="cloud-watch-logs",
                log_destination=self.flow_log_group.arn,
                iam_role_arn=self.flow_log_role.arn,
                max_aggregation_interval=60,
                tags=tags,
            ),
            opts=mine,
        )
        self.register_outputs(
            {
                "vpcId": self.vpc.id,
                "subnetIds": {tier: [subnet.id for subnet in subnets[tier]] for tier in TIERS},
                "endpointSecurityGroupId": self.endpoint_security_group.id,
            }
        )

    def _route_table(self, name: str, tags: Mapping[str, str]) -> aws.ec2.RouteTable:
        return aws.ec2.RouteTable(
            name, aws.ec2.RouteTableArgs(vpc_id=self.vpc.id, tags={**tags, "Name": name}), opts=child_opts(self)
        )

    def _associate(self, name: str, subnet: aws.ec2.Subnet, table: aws.ec2.RouteTable) -> aws.ec2.RouteTableAssociation:
        return aws.ec2.RouteTableAssociation(
            name, aws.ec2.RouteTableAssociationArgs(subnet_id=subnet.id, route_table_id=table.id), opts=child_opts(self)
        )

    def subnet_ids(self, tier: str) -> list[pulumi.Output[str]]:
        return [subnet.id for subnet in {"public": self.public_subnets, "private": self.private_subnets,
                                          "isolated": self.isolated_subnets}[tier]]


@dataclass(frozen=True)
class RegionLink:
    """What GlobalNetwork needs of one region: its network and its provider."""

    region: str
    network: RegionalNetwork
    provider: aws.Provider


@dataclass(frozen=True)
class GlobalNetworkArgs:
    environment: str
    account_id: str
    regions: Sequence[RegionLink]  # the first is the primary
    private_zone: str
    tags: Mapping[str, str] = field(default_factory=dict)


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
        tags = dict(args.tags)
        links = list(args.regions)
        self.transit_gateways, self.attachments, self.peerings, self.accepters = {}, {}, {}, {}
        if len(links) > 1:
            for link in links:
                on_region = child_opts(self, provider=link.provider)
                tgw = aws.ec2transitgateway.TransitGateway(
                    f"{name}-tgw-{link.region}",
                    aws.ec2transitgateway.TransitGatewayArgs(
                        description=f"mlops {args.environment} {link.region}",
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
                        peer_account_id=args.account_id,
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
                            transit_gateway_route_table_id=self.transit_gateways[here.region].association_default_route_table_id,
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
                            opts=child_opts(self, provider=here.provider, depends_on=[self.attachments[here.region]]),
                        )
        self.private_zone = aws.route53.Zone(
            f"{name}-private-zone",
            aws.route53.ZoneArgs(
                name=args.private_zone,
                comment=f"mlops {args.environment} internal names",
                vpcs=[
                    aws.route53.ZoneVpcArgs(vpc_id=link.network.vpc.id, vpc_region=link.region) for link in links
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
