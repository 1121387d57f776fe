"""The VPC of one region: four subnet tiers, the internet and NAT gateways, route tables, the closed default
security group, and (from endpoints and flow_logs) its VPC endpoints and flow log.

Tiers (components/cidr.py): public (internet-facing load balancers, NAT gateways), private (nodes and, through
the VPC CNI, every pod), isolated (databases, no way out) and lb (internal load balancers only). Internal load
balancers have a tier of their own so that their addresses are never a pod's: a NetworkPolicy that admits the
lb tier's CIDRs admits the load balancers and no pod of any namespace."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks.context import PlatformContext
from components.cidr import plan_subnets
from components.network.endpoints import (
    INTERFACE_ENDPOINTS,
    endpoint_service,
    gateway_endpoints,
    interface_endpoints,
)
from components.network.flow_logs import vpc_flow_logs

TIERS = ("public", "private", "isolated", "lb")


@dataclass(frozen=True)
class RegionalNetworkArgs:
    ctx: PlatformContext  # in the network's region: its environment, partition, account and tags
    cidr: str
    availability_zones: Sequence[str]
    logs_key_arn: pulumi.Input[str]
    nat: str = "single"  # none | single | one-per-az
    internet_free: bool = False
    log_retention_days: int = 30
    cluster_name: str = ""
    extra_interface_endpoints: Sequence[
        str
    ] = ()  # beyond INTERFACE_ENDPOINTS, e.g. PROMETHEUS_QUERY_ENDPOINT


class RegionalNetwork(pulumi.ComponentResource):
    """The VPC of one region: subnets per tier, gateways, route tables, endpoints, flow logs."""

    vpc: aws.ec2.Vpc
    public_subnets: list[aws.ec2.Subnet]
    private_subnets: list[aws.ec2.Subnet]
    isolated_subnets: list[aws.ec2.Subnet]
    lb_subnets: list[aws.ec2.Subnet]
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
    s3_cidrs: pulumi.Output[list[str]]
    lb_cidrs: list[str]  # the lb tier's CIDRs: where internal load balancers connect to pods from

    def __init__(self, name: str, args: RegionalNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:network:RegionalNetwork", name, None, opts)
        self.args = args
        if args.internet_free and args.nat != "none":
            raise ValueError("an internet-free network has no NAT gateways")
        plan = plan_subnets(args.cidr, list(args.availability_zones))
        tags = dict(args.ctx.tags)
        mine = child_opts(self)

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            aws.ec2.VpcArgs(
                cidr_block=args.cidr,
                enable_dns_support=True,
                enable_dns_hostnames=True,
                tags={**tags, "Name": f"{name}-vpc"},
            ),
            opts=mine,
        )
        subnets = self._subnets(name, plan, tags)
        self.public_subnets, self.private_subnets, self.isolated_subnets, self.lb_subnets = (
            subnets[tier] for tier in TIERS
        )
        self.lb_cidrs = [cidr for _, cidr in plan["lb"]]
        public_egress(self, name, plan, tags)
        self._private_routes(name, plan, tags)
        security_groups(self, name, tags)
        vpc_endpoints(self, name)

        flow_logs = vpc_flow_logs(
            name, self, args.ctx, logs_key_arn=args.logs_key_arn, retention_days=args.log_retention_days
        )
        self.flow_log_group, self.flow_log_role, self.flow_log = (
            flow_logs.group,
            flow_logs.role,
            flow_logs.flow_log,
        )
        self.register_outputs(
            {
                "vpcId": self.vpc.id,
                "subnetIds": {tier: [subnet.id for subnet in subnets[tier]] for tier in TIERS},
                "endpointSecurityGroupId": self.endpoint_security_group.id,
            }
        )

    def _subnets(self, name: str, plan: dict, tags: dict[str, str]) -> dict[str, list[aws.ec2.Subnet]]:
        """Each tier's subnet per zone, tagged for the load balancer controller and Karpenter's discovery.

        The controller places internal load balancers only in subnets tagged kubernetes.io/role/internal-elb when
        any subnet has that tag (aws-load-balancer-controller v2.13.2 docs/deploy/subnet_discovery.md, "Subnet
        Role Tag"): the lb tier alone has it. Karpenter launches nodes only in the private tier."""
        discovery = {"karpenter.sh/discovery": self.args.cluster_name} if self.args.cluster_name else {}
        tier_tags = {
            "public": {"kubernetes.io/role/elb": "1"},
            "private": discovery,
            "isolated": {},
            "lb": {"kubernetes.io/role/internal-elb": "1"},
        }
        subnets: dict[str, list[aws.ec2.Subnet]] = {}
        for tier in TIERS:
            if tier == "public" and self.args.internet_free:
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
                    opts=child_opts(self),
                )
                for zone, cidr in plan[tier]
            ]
        return subnets

    def _private_routes(self, name: str, plan: dict, tags: dict[str, str]) -> None:
        """A route table per private zone (out through NAT, if any), shared with that zone's lb subnet (internal
        load balancers call the sign-in IdP's token endpoint through NAT), and one for the isolated tier (no
        way out)."""
        self.private_route_tables = []
        # What nodes in the private subnets need before they can join a cluster: their route out (NAT) or,
        # internet-free, the endpoints; the EKS control plane itself needs only the subnets.
        self.node_egress: list[pulumi.Resource] = list(self.nat_gateways)
        for index, (subnet, (zone, _)) in enumerate(zip(self.private_subnets, plan["private"], strict=True)):
            table = self._route_table(f"{name}-private-{zone}-rt", tags)
            if self.nat_gateways:
                # Each zone's traffic leaves through its own NAT gateway when there is one per zone.
                nat = self.nat_gateways[index] if len(self.nat_gateways) > 1 else self.nat_gateways[0]
                self.node_egress.append(
                    aws.ec2.Route(
                        f"{name}-private-{zone}-default",
                        aws.ec2.RouteArgs(
                            route_table_id=table.id, destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat.id
                        ),
                        opts=child_opts(self),
                    )
                )
            self.node_egress.append(self._associate(f"{name}-private-{zone}-rta", subnet, table))
            self.private_route_tables.append(table)
        for table, subnet, (zone, _) in zip(
            self.private_route_tables, self.lb_subnets, plan["lb"], strict=True
        ):
            self._associate(f"{name}-lb-{zone}-rta", subnet, table)
        self.isolated_route_table = self._route_table(f"{name}-isolated-rt", tags)
        for subnet, (zone, _) in zip(self.isolated_subnets, plan["isolated"], strict=True):
            self._associate(f"{name}-isolated-{zone}-rta", subnet, self.isolated_route_table)

    def _route_table(self, name: str, tags: Mapping[str, str]) -> aws.ec2.RouteTable:
        return aws.ec2.RouteTable(
            name,
            aws.ec2.RouteTableArgs(vpc_id=self.vpc.id, tags={**tags, "Name": name}),
            opts=child_opts(self),
        )

    def _associate(
        self, name: str, subnet: aws.ec2.Subnet, table: aws.ec2.RouteTable
    ) -> aws.ec2.RouteTableAssociation:
        return aws.ec2.RouteTableAssociation(
            name,
            aws.ec2.RouteTableAssociationArgs(subnet_id=subnet.id, route_table_id=table.id),
            opts=child_opts(self),
        )

    def subnet_ids(self, tier: str) -> list[pulumi.Output[str]]:
        return [
            subnet.id
            for subnet in {
                "public": self.public_subnets,
                "private": self.private_subnets,
                "isolated": self.isolated_subnets,
                "lb": self.lb_subnets,
            }[tier]
        ]


def public_egress(owner: RegionalNetwork, name: str, plan: dict, tags: dict[str, str]) -> None:
    """The internet gateway, the public route table and the NAT gateways (none when internet-free)."""
    owner.internet_gateway, owner.nat_gateways, owner.public_route_table = None, [], None
    if owner.args.internet_free:
        return
    mine = child_opts(owner)
    owner.internet_gateway = aws.ec2.InternetGateway(
        f"{name}-igw",
        aws.ec2.InternetGatewayArgs(vpc_id=owner.vpc.id, tags={**tags, "Name": f"{name}-igw"}),
        opts=mine,
    )
    owner.public_route_table = owner._route_table(f"{name}-public-rt", tags)
    aws.ec2.Route(
        f"{name}-public-default",
        aws.ec2.RouteArgs(
            route_table_id=owner.public_route_table.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=owner.internet_gateway.id,
        ),
        opts=mine,
    )
    for subnet, (zone, _) in zip(owner.public_subnets, plan["public"], strict=True):
        owner._associate(f"{name}-public-{zone}-rta", subnet, owner.public_route_table)
    nat_zones = {"none": 0, "single": 1, "one-per-az": len(plan["public"])}[owner.args.nat]
    for subnet, (zone, _) in list(zip(owner.public_subnets, plan["public"], strict=True))[:nat_zones]:
        eip = aws.ec2.Eip(f"{name}-nat-{zone}-eip", aws.ec2.EipArgs(domain="vpc", tags=tags), opts=mine)
        owner.nat_gateways.append(
            aws.ec2.NatGateway(
                f"{name}-nat-{zone}",
                aws.ec2.NatGatewayArgs(
                    subnet_id=subnet.id, allocation_id=eip.id, tags={**tags, "Name": f"{name}-nat-{zone}"}
                ),
                opts=child_opts(owner, depends_on=[owner.internet_gateway]),
            )
        )


def security_groups(owner: RegionalNetwork, name: str, tags: dict[str, str]) -> None:
    """The default group emptied of its rules, and the endpoints' group: HTTPS from inside the VPC only."""
    owner.default_security_group = aws.ec2.DefaultSecurityGroup(
        f"{name}-default-sg",
        aws.ec2.DefaultSecurityGroupArgs(
            vpc_id=owner.vpc.id, ingress=[], egress=[], tags={**tags, "Name": "default-closed"}
        ),
        opts=child_opts(owner),
    )
    owner.endpoint_security_group = aws.ec2.SecurityGroup(
        f"{name}-endpoints-sg",
        aws.ec2.SecurityGroupArgs(
            vpc_id=owner.vpc.id,
            description="HTTPS from inside the VPC to the interface endpoints",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_blocks=[owner.args.cidr],
                    description="HTTPS from the VPC",
                )
            ],
            egress=[],
            tags={**tags, "Name": f"{name}-endpoints"},
        ),
        opts=child_opts(owner),
    )


def vpc_endpoints(owner: RegionalNetwork, name: str) -> None:
    """The gateway endpoints on the private and isolated route tables, the interface endpoints in the private
    subnets, and the S3 prefix list's CIDRs for pods' egress rules."""
    owner.gateway_endpoints = gateway_endpoints(
        name,
        owner.vpc,
        owner.args.ctx,
        [*owner.private_route_tables, owner.isolated_route_table],
        child_opts(owner),
    )
    owner.interface_endpoints = interface_endpoints(
        name,
        owner.vpc,
        owner.args.ctx,
        (*INTERFACE_ENDPOINTS, *owner.args.extra_interface_endpoints),
        owner.private_subnets,
        owner.endpoint_security_group,
        child_opts(owner),
    )
    owner.node_egress += [*owner.gateway_endpoints.values(), *owner.interface_endpoints.values()]
    # S3 behind the gateway endpoint keeps its public addresses (routed privately through the endpoint's
    # prefix list): pods' egress rules name that AWS-managed list's CIDRs. AWS publishes and changes them per
    # region, so they are read from the list itself, by its documented name, rather than copied into config.
    owner.s3_cidrs = aws.ec2.get_prefix_list_output(
        name=endpoint_service(owner.args.ctx.region, "s3", owner.args.ctx.partition),
        opts=pulumi.InvokeOptions(parent=owner),
    ).apply(lambda result: sorted(result.cidr_blocks))
