"""The Pulumi program of every platform stack: load the typed config, compose components, export outputs."""

import pulumi

from components.base import aws_provider
from components.config import parse_platform, stack_file, tags_for
from components.network import RegionalNetwork, RegionalNetworkArgs
from components.outputs import PlatformOutputs, export_contract

stack = pulumi.get_stack()
cfg = parse_platform(
    pulumi.Config("mlops").get_object("platform"), stack_file("stacks", stack)
)
tags = tags_for(cfg.tags, cfg.environment)

regions: dict[str, dict] = {}
for region in cfg.regions:
    provider = aws_provider(f"aws-{region.name}", region.name, cfg.account_id)
    network = RegionalNetwork(
        f"net-{region.name}",
        RegionalNetworkArgs(
            region=region.name,
            cidr=region.vpc_cidr,
            availability_zones=list(region.availability_zones),
            tags=tags,
        ),
        opts=pulumi.ResourceOptions(provider=provider),
    )
    regions[region.name] = {"vpc_id": network.vpc.id, "vpc_cidr": region.vpc_cidr}

export_contract(
    PlatformOutputs,
    environment=cfg.environment,
    account_id=cfg.account_id,
    partition=cfg.partition,
    primary_region=cfg.primary_region.name,
    regions=regions,
)
