"""ModelRegistry: the composition of the registry's parts (buckets, images, database, MLflow)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.blocks.roles import ServiceRole
from components.identity.oidc import OidcSignIn
from components.registry.args import ModelRegistryArgs, RegionStore  # noqa: F401  (also importable here)
from components.registry.buckets import artifact_stores
from components.registry.database import mlflow_database
from components.registry.images import image_replication, repository_templates
from components.registry.mlflow import MlflowInputs, mlflow_server, serves_tls, service_url


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
    mlflow_image: str | None
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
        self.mlflow_image = None
        self.mlflow_ingress, self.mlflow_record, self.mlflow_signin = None, None, None
        if args.k8s_provider is not None:
            mlflow = mlflow_server(self, name, args, MlflowInputs(self.artifact_bucket, self.database))
            self.mlflow_deployment, self.mlflow_ingress = mlflow.deployment, mlflow.ingress
            self.mlflow_record, self.mlflow_url = mlflow.record, mlflow.url
            self.mlflow_service_url, self.mlflow_signin = service_url(serves_tls(args)), mlflow.signin
            self.mlflow_image = mlflow.image
        self.register_outputs(
            {"artifactBucket": self.artifact_bucket.bucket, "databaseEndpoint": self.database.address}
        )
