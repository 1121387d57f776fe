"""The VPC endpoints through which private (and internet-free) subnets reach AWS services."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.blocks.context import PlatformContext
from components.blocks.iam import to_json
from components.network.endpoint_policies import gateway_endpoint_policy, interface_endpoint_policy

# Interface endpoints private subnets need to run EKS nodes, pull images, log, and use KMS/STS without internet.
INTERFACE_ENDPOINTS = (
    "ecr.api",
    "ecr.dkr",
    "sts",
    "logs",
    "monitoring",
    "kms",
    "ec2",
    "elasticloadbalancing",
    "autoscaling",
    "ssm",
    "ssmmessages",
    "ec2messages",
    "sqs",
    "secretsmanager",
    "eks",
    "eks-auth",
)
# Managed Prometheus's query API, which KEDA calls for requests-per-second autoscaling: only in VPCs where it
# does (RegionalNetworkArgs.extra_interface_endpoints).
PROMETHEUS_QUERY_ENDPOINT = "aps-workspaces"
GATEWAY_ENDPOINTS = ("s3", "dynamodb")


def endpoint_service(region: str, service: str, partition: str = "aws") -> str:
    prefix = "cn.com.amazonaws" if partition == "aws-cn" else "com.amazonaws"
    return f"{prefix}.{region}.{service}"


def gateway_endpoints(
    name: str,
    vpc: aws.ec2.Vpc,
    ctx: PlatformContext,
    route_tables: Sequence[aws.ec2.RouteTable],
    opts: pulumi.ResourceOptions,
) -> dict[str, aws.ec2.VpcEndpoint]:
    """S3 and DynamoDB through the route tables given (private and isolated): free, and no internet needed;
    each endpoint admits this account's buckets or tables (and, S3, the AWS-owned buckets nodes read)."""
    return {
        service: aws.ec2.VpcEndpoint(
            f"{name}-{service}-endpoint",
            aws.ec2.VpcEndpointArgs(
                vpc_id=vpc.id,
                service_name=endpoint_service(ctx.region, service, ctx.partition),
                vpc_endpoint_type="Gateway",
                route_table_ids=[table.id for table in route_tables],
                policy=to_json(gateway_endpoint_policy(service, ctx.account_id, ctx.region, ctx.partition)),
                tags=ctx.tagged(Name=f"{name}-{service}"),
            ),
            opts=opts,
        )
        for service in GATEWAY_ENDPOINTS
    }


def interface_endpoints(
    name: str,
    vpc: aws.ec2.Vpc,
    ctx: PlatformContext,
    services: Sequence[str],
    subnets: Sequence[aws.ec2.Subnet],
    security_group: aws.ec2.SecurityGroup,
    opts: pulumi.ResourceOptions,
) -> dict[str, aws.ec2.VpcEndpoint]:
    """One interface endpoint per service in the private subnets, answering under the service's own name and
    admitting this account's principals (no policy where the service takes none: endpoint_policies)."""
    policies = {
        service: interface_endpoint_policy(service, ctx.account_id, ctx.partition) for service in services
    }
    return {
        service: aws.ec2.VpcEndpoint(
            f"{name}-{service.replace('.', '-')}-endpoint",
            aws.ec2.VpcEndpointArgs(
                vpc_id=vpc.id,
                service_name=endpoint_service(ctx.region, service, ctx.partition),
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                policy=to_json(policies[service]) if policies[service] is not None else None,
                subnet_ids=[subnet.id for subnet in subnets],
                security_group_ids=[security_group.id],
                tags=ctx.tagged(Name=f"{name}-{service}"),
            ),
            opts=opts,
        )
        for service in services
    }
