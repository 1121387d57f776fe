"""The typed outputs contract between platform stacks and the stacks built on them.

Platform stacks export exactly these keys; team stacks read them through a ``StackReference`` and validate
them with the same models, so a renamed or missing output is a clear error instead of a silent ``None``.
"""

from __future__ import annotations

from typing import Annotated, Any, get_args, get_origin

import pulumi
from pydantic import BaseModel, ConfigDict, Field


class Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class SubnetIds(Contract):
    public: list[str]
    private: list[str]
    isolated: list[str]
    # Internal load balancers only (absent from outputs exported before the tier existed).
    lb: list[str] = []


class ClusterOutputs(Contract):
    """A region's serving cluster. In `byo` mode only `mode` and `name` (the kubeconfig context) are set."""

    mode: str
    name: str
    endpoint: str | None = None
    certificate_authority: Annotated[str | None, Field(alias="certificateAuthority")] = None
    oidc_issuer: Annotated[str | None, Field(alias="oidcIssuer")] = None
    oidc_provider_arn: Annotated[str | None, Field(alias="oidcProviderArn")] = None
    node_role_arn: Annotated[str | None, Field(alias="nodeRoleArn")] = None
    cluster_security_group_id: Annotated[str | None, Field(alias="clusterSecurityGroupId")] = None


class ServingOutputs(Contract):
    """A region's serving ALB (group `mlops-serving`), read back once the platform's serving entry is ready."""

    load_balancer_dns_name: Annotated[str, Field(alias="loadBalancerDnsName")]
    load_balancer_zone_id: Annotated[str, Field(alias="loadBalancerZoneId")]
    load_balancer_arn_suffix: Annotated[str, Field(alias="loadBalancerArnSuffix")]


class RegionOutputs(Contract):
    vpc_id: Annotated[str, Field(alias="vpcId")]
    vpc_cidr: Annotated[str, Field(alias="vpcCidr")]
    subnet_ids: Annotated[SubnetIds, Field(alias="subnetIds")]
    endpoint_security_group_id: Annotated[str, Field(alias="endpointSecurityGroupId")]
    key_arns: Annotated[dict[str, str], Field(alias="keyArns")]
    transit_gateway_id: Annotated[str | None, Field(alias="transitGatewayId")] = None
    cluster: ClusterOutputs | None = None
    serving: ServingOutputs | None = None  # with a cluster and the platform's dns section
    # The region's S3 prefix-list CIDRs: pods reach S3 there, through the VPC's gateway endpoint.
    s3_cidrs: Annotated[list[str], Field(alias="s3Cidrs")] = []


class RegistryOutputs(Contract):
    artifact_bucket_name: Annotated[str, Field(alias="artifactBucketName")]
    artifact_bucket_arn: Annotated[str, Field(alias="artifactBucketArn")]
    replica_bucket_arns: Annotated[dict[str, str], Field(alias="replicaBucketArns")]
    repository_url_prefix: Annotated[str, Field(alias="repositoryUrlPrefix")]
    # People: MLflow's load balancer, behind sign-in where identity.oidc is set.
    mlflow_url: Annotated[str | None, Field(alias="mlflowUrl")] = None
    # Workloads: MLflow's in-cluster Service, open to team namespaces and namespaces labelled MLflow clients.
    mlflow_service_url: Annotated[str | None, Field(alias="mlflowServiceUrl")] = None
    # The image MLflow runs (through the mirror in internet-free stacks): team Jobs that call MLflow run it too.
    mlflow_image: Annotated[str | None, Field(alias="mlflowImage")] = None
    database_endpoint: Annotated[str, Field(alias="databaseEndpoint")]


class IdentityOutputs(Contract):
    """Identity Center permission sets by role (platform-admin, ml-engineer, read-only)."""

    permission_set_arns: Annotated[dict[str, str], Field(alias="permissionSetArns")]
    # The managed policy every role a platform admin creates carries as its permissions boundary.
    permissions_boundary_arn: Annotated[str | None, Field(alias="permissionsBoundaryArn")] = None


class AlarmThresholdOutputs(Contract):
    """The platform's serving alarm thresholds (its observability.thresholds) that team stacks' per-model alarms use."""

    load_balancer_5xx_percent: Annotated[float, Field(alias="loadBalancer5xxPercent")]
    p99_latency_seconds: Annotated[float, Field(alias="p99LatencySeconds")]
    period_seconds: Annotated[int, Field(alias="periodSeconds")]
    evaluation_periods: Annotated[int, Field(alias="evaluationPeriods")]
    datapoints_to_alarm: Annotated[int, Field(alias="datapointsToAlarm")]


class ObservabilityOutputs(Contract):
    alert_topic_arn: Annotated[str, Field(alias="alertTopicArn")]
    alert_topic_arns: Annotated[dict[str, str], Field(alias="alertTopicArns")]  # per region
    trail_arn: Annotated[str, Field(alias="trailArn")]
    amp_workspace_ids: Annotated[dict[str, str], Field(alias="ampWorkspaceIds")]  # per region
    prometheus_endpoints: Annotated[dict[str, str], Field(alias="prometheusEndpoints")]  # per region
    # Per region where requests-per-second scaling works (a managed collector fills the workspace and the KEDA
    # operator may query it): the workspace's query root for KEDA's prometheus scaler (SigV4, no trailing slash).
    prometheus_query_urls: Annotated[dict[str, str], Field(alias="prometheusQueryUrls")]
    grafana_url: Annotated[str | None, Field(alias="grafanaUrl")] = None
    dashboard_name: Annotated[str, Field(alias="dashboardName")]
    alarm_names: Annotated[dict[str, list[str]], Field(alias="alarmNames")] = {}  # per region
    # Absent from outputs exported before it existed: team stacks then use the defaults (AlarmThresholds()).
    alarm_thresholds: Annotated[AlarmThresholdOutputs | None, Field(alias="alarmThresholds")] = None


class DnsOutputs(Contract):
    """The public zone model names live in, how they are routed, and each region's serving certificate."""

    hosted_zone_id: Annotated[str, Field(alias="hostedZoneId")]
    name_servers: Annotated[list[str], Field(alias="nameServers")]
    zone_name: Annotated[str, Field(alias="zoneName")]
    routing: str  # failover / latency
    certificate_arns: Annotated[dict[str, str], Field(alias="certificateArns")]  # per region
    # The DS record to add at the parent zone once the zone is DNSSEC-signed (None: not signed).
    ds_record: Annotated[str | None, Field(alias="dsRecord")] = None


class PipelinesOutputs(Contract):
    """Argo Workflows on the primary cluster (components.pipelines), and the router image of inference graphs."""

    server_url: Annotated[str, Field(alias="serverUrl")]
    namespace: str
    cluster_region: Annotated[str, Field(alias="clusterRegion")]
    graph_router_image: Annotated[str | None, Field(alias="graphRouterImage")] = None


class DataLocationOutputs(Contract):
    """A shared location the platform declares: the widest access teams may ask for, its Access Grants
    location per region."""

    access: str
    location_ids: Annotated[dict[str, str], Field(alias="locationIds")]


class DataOutputs(Contract):
    """Data access (components.data): the per-purpose data policies, the S3 Access Grants instances and
    declared locations, and whether Lake Formation is on."""

    policy_arns: Annotated[dict[str, str], Field(alias="policyArns")]  # access -> managed policy ARN
    access_grants_instance_arns: Annotated[dict[str, str], Field(alias="accessGrantsInstanceArns")]
    locations: dict[str, DataLocationOutputs]  # prefix -> location
    lake_formation: Annotated[bool, Field(alias="lakeFormation")] = False


class IssuerOutputs(Contract):
    """The cert-manager issuer every cluster of the platform has (an AWSPCAClusterIssuer on the private CA)."""

    name: str
    kind: str
    group: str
    # How long the certificates it issues live, in hours (cert-manager's `duration`), and when they renew.
    duration_hours: Annotated[int, Field(alias="durationHours")]


class TrustOutputs(Contract):
    """Private networking (the platform's `egress-proxy`, `custom-ca-bundle`, `private-ca`), as pods use it: the
    CA bundle ConfigMap trust-manager writes into every namespace, each region's proxy variables, the issuer
    that signs Service certificates, and the serving load balancers' client-certificate listener."""

    ca_bundle_config_map: Annotated[str | None, Field(alias="caBundleConfigMap")] = None
    ca_bundle_key: Annotated[str, Field(alias="caBundleKey")] = "ca-bundle.pem"
    proxy_env: Annotated[dict[str, dict[str, str]], Field(alias="proxyEnv")] = {}  # per region
    issuer: IssuerOutputs | None = None
    # The port of the serving ALBs' HTTPS listener that verifies client certificates (mutual TLS, verify mode)
    # against the private CA, or None when the platform offers none.
    client_certificate_port: Annotated[int | None, Field(alias="clientCertificatePort")] = None


class GithubOutputs(Contract):
    """GitHub Actions' OIDC provider and roles (the `github` section): set each environment's AWS_DEPLOY_ROLE_ARN
    variable to its deploy role, and the pull-request workflow's AWS_ROLE_ARN secret to the preview role."""

    provider_arn: Annotated[str, Field(alias="providerArn")]
    deploy_role_arns: Annotated[dict[str, str], Field(alias="deployRoleArns")]
    preview_role_arn: Annotated[str | None, Field(alias="previewRoleArn")] = None


class TrainingPoolOutputs(Contract):
    """A training pool as team stacks see it: its Kueue ResourceFlavor and its limits (the quota arithmetic)."""

    flavor: str
    kind: str  # cpu, gpu or efa
    gpus: bool
    cpu_limit: Annotated[int, Field(alias="cpuLimit")]
    memory_limit_gib: Annotated[int, Field(alias="memoryLimitGib")]
    gpu_limit: Annotated[int, Field(alias="gpuLimit")]


class TrainingOutputs(Contract):
    """The training side (components.training): where it runs, the cohort team ClusterQueues join, the pools,
    and JupyterHub's namespace (team stacks let its hub start servers in their namespace)."""

    region: str
    cohort: str
    pools: dict[str, TrainingPoolOutputs]
    hub_namespace: Annotated[str, Field(alias="hubNamespace")]
    hub_url: Annotated[str, Field(alias="hubUrl")]
    overcommit_factor: Annotated[float, Field(alias="overcommitFactor")]


class PlatformOutputs(Contract):
    environment: str
    account_id: Annotated[str, Field(alias="accountId")]
    partition: str
    primary_region: Annotated[str, Field(alias="primaryRegion")]
    private_zone_id: Annotated[str, Field(alias="privateZoneId")]
    # No route to the internet: team images must come from the account's ECR or through its mirror.
    internet_free: Annotated[bool, Field(alias="internetFree")] = False
    # The SPDX licences model versions may carry on this platform (its model-licenses.allowed); None: any.
    allowed_licenses: Annotated[list[str] | None, Field(alias="allowedLicenses")] = None
    regions: dict[str, RegionOutputs]
    registry: RegistryOutputs | None = None
    identity: IdentityOutputs | None = None
    observability: ObservabilityOutputs | None = None
    dns: DnsOutputs | None = None
    pipelines: PipelinesOutputs | None = None
    data: DataOutputs | None = None

    # Absent (None) on platforms without private networking: their outputs stay as they were.
    trust: TrustOutputs | None = None
    github: GithubOutputs | None = None
    training: TrainingOutputs | None = None


def artifact_bucket_arn_in(contract: PlatformOutputs, region: str) -> str:
    """The artifact bucket of ``region``: the primary's in the primary region, its replica elsewhere."""
    registry = contract.registry
    if registry is None:
        raise ContractError("the platform has no model registry (its `registry:` section)")
    if region == contract.primary_region:
        return registry.artifact_bucket_arn
    if region not in registry.replica_bucket_arns:
        raise ContractError(
            f"output registry.replicaBucketArns has no bucket in {region}; re-deploy the platform stack"
        )
    return registry.replica_bucket_arns[region]


class ContractError(Exception):
    """The values handed to ``export_contract`` do not match the contract model."""


def to_wire(model: type[BaseModel], values: dict[str, Any], path: str = "") -> dict[str, Any]:
    """Key ``values`` (by field name) by the contract's output names, checking that every field is present."""
    fields = model.model_fields
    missing = sorted(set(fields) - set(values))
    extra = sorted(set(values) - set(fields))
    if missing or extra:
        raise ContractError(f"{model.__name__}{path}: missing {missing}, unexpected {extra}")
    wire: dict[str, Any] = {}
    for name, info in fields.items():
        value = values[name]
        nested = _nested_model(info.annotation)
        if nested is not None and isinstance(value, dict):
            if get_origin(info.annotation) is dict:
                value = {key: to_wire(nested, item, f"{path}.{name}[{key}]") for key, item in value.items()}
            else:
                value = to_wire(nested, value, f"{path}.{name}")
        wire[info.alias or name] = value
    return wire


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def export_contract(model: type[BaseModel], **values: Any) -> dict[str, Any]:
    """Export every key of the contract as a stack output; return what was exported."""
    wire = to_wire(model, values)
    for key, value in wire.items():
        pulumi.export(key, value)
    return wire
