"""The inputs of ModelRegistry, which its parts (buckets, images, database, MLflow) and component.py import."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.blocks import PlatformContext
from components.blocks.workload import PodTrust
from components.identity.config import OidcConfig
from components.registry.config import RegistryConfig
from components.trust.certificates import IssuerRef


@dataclass(frozen=True)
class RegionStore:
    """One region's part of the registry: its provider and keys."""

    region: str
    provider: aws.Provider
    artifacts_key_arn: pulumi.Input[str]
    images_key_arn: pulumi.Input[str]


@dataclass(frozen=True)
class ModelRegistryArgs:
    # The platform's environment, partition, account and tags (its region is the primary's).
    context: PlatformContext
    config: RegistryConfig
    regions: Sequence[RegionStore]  # the first is the primary
    isolated_subnet_ids: Sequence[pulumi.Input[str]]
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    database_key_arn: pulumi.Input[str]
    cluster_security_group_id: pulumi.Input[str] | None
    k8s_provider: k8s.Provider | None
    # The EKS cluster MLflow's Pod Identity association belongs to (None on bring-your-own clusters).
    pod_identity_cluster: pulumi.Input[str] | None = None
    # Internet-free stacks: each region's S3 gateway endpoint, the only way into that region's bucket.
    s3_endpoint_ids: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # The role `pulumi up` runs as: exempt from the endpoint-only rule, so that it keeps managing the buckets.
    deployer_role_arn: str | None = None
    # The primary region's S3 prefix-list CIDRs: where MLflow's artifact traffic goes (gateway endpoint).
    s3_cidrs: pulumi.Input[Sequence[str]] = ()
    # What MLflow's workloads wait for on the cluster (node pools, the load balancer controller).
    workload_ready: Sequence[pulumi.Resource] = ()
    # The account's ECR registry host in internet-free stacks: the MLflow image is pulled through it.
    mirror: str | None = None
    logs_key_arn: pulumi.Input[str] | None = None
    log_retention_days: int = 30
    # The platform's private hosted zone, where MLflow's name points at its load balancer.
    private_zone_id: pulumi.Input[str] | None = None
    # Sign-in on MLflow's load balancer (identity.oidc) and its client secret (mlops:oidc-client-secret).
    oidc: OidcConfig | None = None
    oidc_client_secret: pulumi.Input[str] | None = None
    # The subnets the internal ALB is placed in (the lb tier, tagged kubernetes.io/role/internal-elb): the
    # addresses it reaches MLflow's pods from, and no pod's (required with a cluster).
    alb_subnet_cidrs: Sequence[str] = ()
    # Those subnets' ids: the Ingress names them (alb.ingress.kubernetes.io/subnets), so the ALB is in exactly the
    # subnets the NetworkPolicy admits, and is moved there as soon as the Ingress changes.
    alb_subnet_ids: Sequence[pulumi.Input[str]] = ()
    # Private networking: MLflow's pods get the CA bundle and the proxy (PodTrust); with an issuer, its Service a
    # certificate, and MLflow serves HTTPS with it (the ALB's target group and in-cluster clients too).
    trust: PodTrust | None = None
    issuer: IssuerRef | None = None
