"""Regional networking: one VPC per region, on that region's explicit AWS provider."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.base import child_opts


@dataclass(frozen=True)
class RegionalNetworkArgs:
    region: str
    cidr: str
    availability_zones: list[str]
    tags: dict[str, str] = field(default_factory=dict)


class RegionalNetwork(pulumi.ComponentResource):
    """The VPC of one region (DNS support and hostnames on), tagged for ownership and cost."""

    vpc: aws.ec2.Vpc

    def __init__(self, name: str, args: RegionalNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:network:RegionalNetwork", name, None, opts)
        self.args = args
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            aws.ec2.VpcArgs(
                cidr_block=args.cidr,
                enable_dns_support=True,
                enable_dns_hostnames=True,
                tags={**args.tags, "Name": f"{name}-vpc"},
            ),
            opts=child_opts(self),
        )
        self.register_outputs({"vpcId": self.vpc.id, "cidr": args.cidr})
