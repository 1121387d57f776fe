"""ModelRegistry: the composition of the registry's parts (buckets, images, database, MLflow)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.blocks import PlatformContext
from components.blocks.roles import ServiceRole
from components.identity.config import OidcConfig
from components.identity.oidc import OidcSignIn
from components.registry.buckets import artifact_stores
from components.registry.config import RegistryConfig
from components.registry.database import mlflow_database
from components.registry.images import image_replication, repository_templates
from components.registry.mlflow import MlflowInputs, mlflow_server, service_url


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


class ModelRegistry(pulumi.ComponentResource):
    """Artifact buckets (replicated), image repository defaults and replication, and the MLflow server."""

    artifact_bucket: aws.s3.Bucket
    replica_buckets: dict[str, aws.s3.Bucket]
    log_buckets: dict[str, aws.s3.Bucket]
    replication_role: aws.iam.Role | None
    database: aws.rds.Instance
    database_monitoring_role: ServiceRole | None
    mlflow_deployment: k8s.apps.v1.Deployment | None
    mlflow_url: str | None
    mlflow_service_url: str | None
    mlflow_signin: OidcSignIn | None

    def __init__(self, name: str, args: ModelRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:registry:ModelRegistry", name, None, opts)
        primary = args.regions[0].region
        stores = artifact_stores(self, name, args)
        self.artifact_bucket = stores.artifacts[primary].bucket
        self.replica_buckets = {
            region: b.bucket for region, b in stores.artifacts.items() if region != primary
        }
        self.log_buckets = {region: b.bucket for region, b in stores.logs.items()}
        self.replication_role = stores.replication_role

        self.replication_configuration = image_replication(self, name, args)
        self.template_role = repository_templates(self, name, args)

        database = mlflow_database(self, name, args)
        self.database = database.instance
        self.database_security_group = database.security_group
        self.database_ingress = database.ingress
        self.database_log_groups = database.log_groups
        self.database_monitoring_role = database.monitoring_role

        self.mlflow_deployment, self.mlflow_url, self.mlflow_service_url = None, None, None
        self.mlflow_ingress, self.mlflow_record, self.mlflow_signin = None, None, None
        if args.k8s_provider is not None:
            mlflow = mlflow_server(self, name, args, MlflowInputs(self.artifact_bucket, self.database))
            self.mlflow_deployment, self.mlflow_ingress = mlflow.deployment, mlflow.ingress
            self.mlflow_record, self.mlflow_url = mlflow.record, mlflow.url
            self.mlflow_service_url, self.mlflow_signin = service_url(), mlflow.signin
        self.register_outputs(
            {"artifactBucket": self.artifact_bucket.bucket, "databaseEndpoint": self.database.address}
        )
