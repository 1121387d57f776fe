"""Typed stack configuration: the one place a stack file is read and validated.

A stack file ``stacks/Pulumi.<stack>.yaml`` holds namespaced config. Platform stacks carry one structured
value under ``mlops:platform``. The models here are frozen and forbid unknown keys, so a typo, a wrong type
or a missing key fails before any resource exists, with the file, the key path and what is allowed.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from components.configbase import BaseTags, KeyedValueError, Model, tags_for
from components.loader import ConfigError, load_yaml
from components.network.config import REGION_RE as _REGION_RE
from components.network.config import DeployerConfig, RegionConfig

_KeyedValueError = KeyedValueError  # the name the validators below raise

CONFIG_NAMESPACE = "mlops"
PLATFORM_KEY = "mlops:platform"
TEAM_KEY = "mlops:team"
OIDC_SECRET_KEY = "mlops:oidc-client-secret"
KNOWN_KEYS = (PLATFORM_KEY, TEAM_KEY, OIDC_SECRET_KEY)
# Keys whose value must be a Pulumi secret (`pulumi config set --secret`), never plaintext in a stack file.
SECRET_KEYS = (OIDC_SECRET_KEY,)

ENVIRONMENTS = ("dev", "staging", "prod")
PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
NAT_STRATEGIES = ("none", "single", "one-per-az")
DATA_CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")

_KEBAB_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


def _cpu_quantity(value: str) -> str:
    from components.quantity import cpu_millis

    cpu_millis(value)
    return value


def _memory_quantity(value: str) -> str:
    from components.quantity import memory_bytes

    memory_bytes(value)
    return value


CpuQuantity = Annotated[str, AfterValidator(_cpu_quantity)]
MemoryQuantity = Annotated[str, AfterValidator(_memory_quantity)]


class RegistryConfig(Model):
    """The model registry: artifact buckets, MLflow server and its PostgreSQL database (`registry:`)."""

    # A major ("16") lets RDS apply minor upgrades itself (auto minor version upgrade on, no diff after it
    # does); a minor ("16.4") pins it (auto minor version upgrade off: bump it here, never downgraded).
    postgres_version: Annotated[str, Field(alias="postgres-version", pattern=r"^\d{2}(\.\d+)?$")] = "16"
    db_instance_class: Annotated[str, Field(alias="db-instance-class", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")] = "db.t4g.medium"
    # RDS applies modifications (instance class, storage, engine version) in the next maintenance window unless
    # asked to apply them at once; a major upgrade must be applied at once (see mlops/replacement.py).
    db_apply_immediately: Annotated[bool, Field(alias="db-apply-immediately")] = False
    db_allocated_storage: Annotated[int, Field(alias="db-allocated-storage", ge=20, le=65536)] = 50
    mlflow_image: Annotated[str, Field(alias="mlflow-image", min_length=3)]
    mlflow_cpu: Annotated[CpuQuantity, Field(alias="mlflow-cpu")] = "500m"
    mlflow_memory: Annotated[MemoryQuantity, Field(alias="mlflow-memory")] = "1Gi"
    mlflow_replicas: Annotated[int, Field(alias="mlflow-replicas", ge=1, le=10)] = 2
    # Disk for MLflow's temporary files: the server buffers each artifact upload in a temporary file
    # (TMPDIR), so this bounds the largest artifact uploaded in one request (clients with
    # MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true send large ones in parts instead).
    mlflow_scratch: Annotated[MemoryQuantity, Field(alias="mlflow-scratch")] = "10Gi"
    object_lock: Annotated[bool, Field(alias="object-lock")] = False
    object_lock_days: Annotated[int, Field(alias="object-lock-days", ge=1, le=3650)] = 30
    noncurrent_version_days: Annotated[int, Field(alias="noncurrent-version-days", ge=30, le=3650)] = 365
    certificate_arn: Annotated[
        str | None, Field(alias="certificate-arn", pattern=r"^arn:aws(-cn|-us-gov)?:acm:[a-z0-9-]+:\d{12}:certificate/.+$")
    ] = None

    @property
    def postgres_major(self) -> str:
        return self.postgres_version.split(".")[0]

    @property
    def postgres_minor_pinned(self) -> bool:
        return "." in self.postgres_version


# Repository prefix -> upstream registry of the internet-free mirror's ECR pull-through cache rules (ECR's
# supported upstreams: https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache.html).
PULL_THROUGH_UPSTREAMS = {"ecr-public": "public.ecr.aws", "k8s": "registry.k8s.io", "ghcr": "ghcr.io"}
# Upstreams ECR reaches only with credentials from Secrets Manager (ECR Public and registry.k8s.io need none).
MIRROR_CREDENTIAL_UPSTREAMS = ("ghcr.io",)
_ECR_HOST_RE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?$")


def image_registry(image: str) -> str:
    """The registry host of an image reference ("docker.io" when the reference names none)."""
    first = image.split("/", 1)[0]
    return first if "/" in image and ("." in first or ":" in first or first == "localhost") else "docker.io"


def reachable_without_internet(image: str, account_id: str, regions: Sequence[str], through_mirror: bool = True) -> bool:
    """In the account's ECR in one of the stack's regions, or (through_mirror) on an upstream the mirror pulls
    through."""
    match = _ECR_HOST_RE.match(image_registry(image))
    if match:
        return match.group("account") == account_id and match.group("region") in regions
    return through_mirror and image_registry(image) in PULL_THROUGH_UPSTREAMS.values()


_PTC_SECRET_RE = re.compile(
    r"^arn:aws(-cn|-us-gov)?:secretsmanager:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):secret:ecr-pullthroughcache/[\w/+=.@-]+$"
)


class MirrorConfig(Model):
    """The registry mirror of internet-free stacks: sign-in secrets of the upstreams that need one.

    ECR pull-through cache reads an upstream's credentials from a Secrets Manager secret whose name starts with
    `ecr-pullthroughcache/`, in the account and region of the rule: one secret ARN per region and upstream.
    """

    credential_arns: Annotated[dict[Literal["ghcr.io"], list[str]], Field(alias="credential-arns")] = {}

    @field_validator("credential_arns")
    @classmethod
    def _secret_arns(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for upstream, arns in value.items():
            for index, arn in enumerate(arns):
                if not _PTC_SECRET_RE.match(arn):
                    raise _KeyedValueError(
                        (upstream, index),
                        f"{arn!r} is not a pull-through cache secret; allowed: "
                        "arn:aws:secretsmanager:<region>:<account>:secret:ecr-pullthroughcache/<name>",
                    )
        return value

    def credential_arn(self, upstream: str, region: str) -> str | None:
        for arn in self.credential_arns.get(upstream, []):
            match = _PTC_SECRET_RE.match(arn)
            if match and match.group("region") == region:
                return arn
        return None


class PlatformConfig(Model):
    """The configuration of one platform stack (`mlops:platform`)."""

    environment: Literal["dev", "staging", "prod"]
    account_id: Annotated[str, Field(alias="account-id", pattern=r"^\d{12}$")]
    partition: Literal["aws", "aws-cn", "aws-us-gov"] = "aws"
    regions: Annotated[list[RegionConfig], Field(min_length=1, max_length=4)]
    tags: BaseTags
    nat: Literal["none", "single", "one-per-az"] = "single"
    # Keys are multi-Region primaries unless a stack deployed with single-Region keys keeps them (KMS cannot turn
    # a single-Region key into a multi-Region one, and the provider would replace it): such a stack has one region.
    kms_multi_region: Annotated[bool, Field(alias="kms-multi-region")] = True
    internet_free: Annotated[bool, Field(alias="internet-free")] = False
    mirror: MirrorConfig | None = None
    deployer: DeployerConfig | None = None
    log_retention_days: Annotated[
        Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653],
        Field(alias="log-retention-days"),
    ] = 30
    cluster: Annotated[ClusterConfig | None, AfterValidator(_cluster_fits_environment)] = None
    registry: RegistryConfig | None = None
    identity: IdentityConfig | None = None
    observability: ObservabilityConfig | None = None
    dns: DnsConfig | None = None

    @model_validator(mode="after")
    def _cross_checks(self) -> PlatformConfig:
        if self.registry is not None:
            registry_checks(self)
        names = [region.name for region in self.regions]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise _KeyedValueError(("regions", index, "name"), f"region {name!r} is listed twice")
        for index, region in enumerate(self.regions):
            for other_index, other in enumerate(self.regions[:index]):
                if region.network.overlaps(other.network):
                    raise _KeyedValueError(
                        ("regions", index, "vpc-cidr"),
                        f"{region.vpc_cidr} overlaps {other.vpc_cidr} of region {other.name} "
                        f"(regions[{other_index}]); allowed: non-overlapping CIDRs across regions",
                    )
        if not self.kms_multi_region and len(self.regions) > 1:
            raise _KeyedValueError(
                ("kms-multi-region",),
                f"false keeps single-Region keys, which cannot be replicated to {', '.join(names[1:])}; allowed with "
                "more than one region: true (new multi-Region keys and a data migration, see the README)",
            )
        if self.internet_free and self.nat != "none":
            raise _KeyedValueError(
                ("nat",), f"{self.nat!r} contradicts internet-free: true; allowed with internet-free: 'none'"
            )
        if self.environment == "prod" and self.log_retention_days < 365:
            raise _KeyedValueError(
                ("log-retention-days",),
                f"{self.log_retention_days} is below the prod floor; allowed in prod: 365 or more",
            )
        return self

    @model_validator(mode="after")
    def _section_checks(self) -> PlatformConfig:
        check_sections(self)
        return self

    @model_validator(mode="after")
    def _deployment_checks(self) -> PlatformConfig:
        check_deployer(self)
        check_mirror(self)
        return self

    @property
    def primary_region(self) -> RegionConfig:
        return self.regions[0]

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"


def account_registry(account_id: str, region: str, partition: str) -> str:
    """The host of the account's private ECR registry in a region."""
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"{account_id}.dkr.ecr.{region}.{suffix}"


def registry_checks(cfg: PlatformConfig) -> None:
    """MLflow's image and certificate against the rest of the platform."""
    registry, primary = cfg.registry, cfg.primary_region.name
    assert registry is not None
    host = account_registry(cfg.account_id, primary, cfg.partition)
    if cfg.is_prod and not re.match(rf"^{re.escape(host)}/[a-z0-9][a-z0-9._/-]*@sha256:[0-9a-f]{{64}}$", registry.mlflow_image):
        raise _KeyedValueError(
            ("registry", "mlflow-image"),
            f"{registry.mlflow_image!r} is not a digest in this account's ECR; allowed in prod: "
            f"{host}/<repository>@sha256:<64 hex> (the platform image built from images/mlflow)",
        )
    if cfg.cluster is None:
        return
    if registry.certificate_arn is None:
        raise _KeyedValueError(
            ("registry", "certificate-arn"),
            f"missing; MLflow's internal HTTPS ingress needs an ACM certificate for mlflow.{cfg.environment}.mlops.internal "
            f"in {primary} (ACM Private CA or imported)",
        )
    if registry.certificate_arn.split(":")[3] != primary:
        raise _KeyedValueError(
            ("registry", "certificate-arn"),
            f"{registry.certificate_arn!r} is in another region; allowed: a certificate in {primary} "
            "(a load balancer can only use certificates of its own region)",
        )
    problem = certificate_account_error(registry.certificate_arn, cfg.account_id)
    if problem:
        raise _KeyedValueError(("registry", "certificate-arn"), problem)


def team_tags(team: TeamConfig) -> dict[str, str]:
    """A team stack's tags: the team owns and pays for what its stack creates."""
    base = BaseTags.model_validate(
        {"team": team.name, "cost-center": team.cost_center, "data-classification": team.data_classification}
    )
    return tags_for(base, team.environment, stack=team_stack_name(team.name, team.environment))


# =========================================================================================================
# Identity, observability and DNS sections of `mlops:platform` (optional; components/identity.py,
# components/observability.py and components/dns.py build them).

_GROUP_ID_RE = r"^([0-9a-f]{10}-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_ISO_HOURS_RE = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?$")
_HOSTNAME_RE = r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.){1,126}[a-z]{2,63}$"
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def session_seconds(duration: str) -> int:
    """Seconds of an ISO 8601 session duration such as PT4H or PT1H30M (hours and minutes only)."""
    match = _ISO_HOURS_RE.match(duration)
    if not match or not any(match.groups()):
        raise ValueError(f"{duration!r} is not an ISO 8601 duration in hours/minutes (allowed: e.g. PT4H, PT1H30M)")
    return int(match.group(1) or 0) * 3600 + int(match.group(2) or 0) * 60


def _https_url(value: str) -> str:
    if not re.match(r"^https://[^\s/]+(/\S*)?$", value):
        raise ValueError(f"{value!r} is not an https:// URL (allowed: https://host/path)")
    return value


class AccessRole(Model):
    """One access role: the Identity Center group that gets it and how its SSO role is named in the account.

    The SSO-provisioned role is ``AWSReservedSSO_<permission set>_<suffix>``; the suffix is only known once the
    permission set has been assigned. Until ``role-suffix`` (or a full ``role-arn``) is set the role has no
    EKS access entry: deploy once, read the suffix from IAM, then set it.
    """

    group_id: Annotated[str, Field(alias="group-id", pattern=_GROUP_ID_RE)]
    session_duration: Annotated[str, Field(alias="session-duration")] = "PT8H"
    role_suffix: Annotated[str | None, Field(alias="role-suffix", pattern=r"^[0-9a-f]{16}$")] = None
    role_arn: Annotated[
        str | None,
        Field(alias="role-arn", pattern=r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/aws-reserved/sso\.amazonaws\.com/.+$"),
    ] = None

    @field_validator("session_duration")
    @classmethod
    def _duration(cls, value: str) -> str:
        seconds = session_seconds(value)
        if not 3600 <= seconds <= 12 * 3600:
            raise ValueError(f"{value!r} is outside Identity Center's range; allowed: PT1H to PT12H")
        return value

    @model_validator(mode="after")
    def _one_role_source(self) -> AccessRole:
        if self.role_suffix and self.role_arn:
            raise _KeyedValueError(("role-arn",), "set either role-suffix or role-arn, not both")
        return self


class IdentityRoles(Model):
    platform_admin: Annotated[AccessRole, Field(alias="platform-admin")]
    ml_engineer: Annotated[AccessRole, Field(alias="ml-engineer")]
    read_only: Annotated[AccessRole, Field(alias="read-only")]


class OidcConfig(Model):
    """OIDC sign-in for web UIs behind the load balancer; the client secret is ``mlops:oidc-client-secret``."""

    issuer: str
    authorization_endpoint: Annotated[str, Field(alias="authorization-endpoint")]
    token_endpoint: Annotated[str, Field(alias="token-endpoint")]
    user_info_endpoint: Annotated[str, Field(alias="user-info-endpoint")]
    client_id: Annotated[str, Field(alias="client-id", min_length=1, max_length=256)]
    scope: str = "openid email profile"
    session_timeout_seconds: Annotated[int, Field(alias="session-timeout-seconds", ge=60, le=604800)] = 3600

    _urls = field_validator("issuer", "authorization_endpoint", "token_endpoint", "user_info_endpoint")(
        classmethod(lambda cls, value: _https_url(value))
    )

    @field_validator("scope")
    @classmethod
    def _openid_scope(cls, value: str) -> str:
        if "openid" not in value.split():
            raise ValueError(f"{value!r} lacks the 'openid' scope; allowed: space-separated scopes including openid")
        return value


class IdentityConfig(Model):
    """IAM Identity Center (SSO) permission sets, their group assignments and their access to the clusters."""

    sso_instance_arn: Annotated[
        str, Field(alias="sso-instance-arn", pattern=r"^arn:aws(-cn|-us-gov)?:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}$")
    ]
    identity_store_id: Annotated[str, Field(alias="identity-store-id", pattern=r"^d-[0-9a-f]{10}$")]
    sso_region: Annotated[str | None, Field(alias="sso-region")] = None
    roles: IdentityRoles
    ml_engineer_namespaces: Annotated[
        list[Annotated[str, Field(pattern=_KEBAB_RE, max_length=63)]],
        Field(alias="ml-engineer-namespaces", min_length=1, max_length=25),
    ]
    resource_prefix: Annotated[str | None, Field(alias="resource-prefix", pattern=_KEBAB_RE)] = None
    oidc: OidcConfig | None = None

    @field_validator("sso_region")
    @classmethod
    def _sso_region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION_RE.match(value):
            raise ValueError(f"{value!r} is not an AWS region name (allowed: names like us-east-1, eu-west-2)")
        return value

    @field_validator("ml_engineer_namespaces")
    @classmethod
    def _no_system_namespaces(cls, value: list[str]) -> list[str]:
        for index, namespace in enumerate(value):
            if namespace in ("default", "kube-system", "kube-public", "kube-node-lease") or namespace in value[:index]:
                raise _KeyedValueError(
                    (index,), f"{namespace!r} is reserved or listed twice; allowed: distinct team namespaces"
                )
        return value


class Subscription(Model):
    """An alert subscriber: an e-mail address or an HTTPS endpoint (paging tools, chat webhooks)."""

    protocol: Literal["email", "https"]
    endpoint: str

    @model_validator(mode="after")
    def _endpoint_matches_protocol(self) -> Subscription:
        if self.protocol == "email" and not _EMAIL_RE.match(self.endpoint):
            raise _KeyedValueError(("endpoint",), f"{self.endpoint!r} is not an e-mail address")
        if self.protocol == "https":
            try:
                _https_url(self.endpoint)
            except ValueError as exc:
                raise _KeyedValueError(("endpoint",), str(exc)) from None
        return self


_Percent = Annotated[float, Field(strict=True, gt=0, le=100)]
_Positive = Annotated[float, Field(strict=True, gt=0)]


class AlarmThresholds(Model):
    """Alarm thresholds; every alarm evaluates `datapoints-to-alarm` of `evaluation-periods` periods."""

    load_balancer_5xx_percent: Annotated[_Percent, Field(alias="load-balancer-5xx-percent")] = 5.0
    p99_latency_seconds: Annotated[_Positive, Field(alias="p99-latency-seconds")] = 2.0
    node_cpu_percent: Annotated[_Percent, Field(alias="node-cpu-percent")] = 80.0
    node_memory_percent: Annotated[_Percent, Field(alias="node-memory-percent")] = 85.0
    rds_cpu_percent: Annotated[_Percent, Field(alias="rds-cpu-percent")] = 80.0
    rds_free_storage_gib: Annotated[_Positive, Field(alias="rds-free-storage-gib")] = 10.0
    rds_connections: Annotated[int, Field(alias="rds-connections", strict=True, gt=0)] = 200
    interruption_queue_age_seconds: Annotated[
        int, Field(alias="interruption-queue-age-seconds", strict=True, gt=0)
    ] = 300
    period_seconds: Annotated[Literal[60, 300, 900, 3600], Field(alias="period-seconds")] = 60
    evaluation_periods: Annotated[int, Field(alias="evaluation-periods", strict=True, ge=1, le=60)] = 5
    datapoints_to_alarm: Annotated[int, Field(alias="datapoints-to-alarm", strict=True, ge=1, le=60)] = 3

    @model_validator(mode="after")
    def _datapoints(self) -> AlarmThresholds:
        if self.datapoints_to_alarm > self.evaluation_periods:
            raise _KeyedValueError(
                ("datapoints-to-alarm",),
                f"{self.datapoints_to_alarm} exceeds evaluation-periods ({self.evaluation_periods}); "
                f"allowed: 1 to {self.evaluation_periods}",
            )
        return self


class TrailConfig(Model):
    """Retention of the CloudTrail bucket: Glacier after `glacier-after-days`, expiry after `retention-days`."""

    retention_days: Annotated[int, Field(alias="retention-days", strict=True, ge=365, le=3653)] = 2557
    glacier_after_days: Annotated[int, Field(alias="glacier-after-days", strict=True, ge=30)] = 90

    @model_validator(mode="after")
    def _order(self) -> TrailConfig:
        if self.glacier_after_days >= self.retention_days:
            raise _KeyedValueError(
                ("glacier-after-days",),
                f"{self.glacier_after_days} is not before retention-days ({self.retention_days})",
            )
        return self


class ObservabilityConfig(Model):
    """Governance trail, alert topics and alarms, the dashboard, and managed Prometheus/Grafana."""

    subscriptions: list[Subscription] = []
    thresholds: AlarmThresholds = AlarmThresholds()
    trail: TrailConfig = TrailConfig()
    grafana: bool = True
    container_insights: Annotated[bool, Field(alias="container-insights")] = True
    # How the Prometheus workspaces are encrypted. `aws-owned` (default): AWS owned keys (no KMS charges), and
    # the AWS managed collector scrapes each region's cluster into its workspace with its service-linked role.
    # `customer-key`: the region's logs key (KMS request charges, key policy and rotation under your control).
    # AWS managed collectors reach such a workspace only through a scraper role configuration, a source and a
    # target role that trust the scraper by its ARN (AMP User Guide, "Using an AWS managed collector",
    # "Creating scraper for workspaces enabled with customer managed keys"); the platform does not build one, so
    # with `customer-key` no collector is created and metrics arrive only from a collector you run with remote
    # write. A workspace's encryption cannot be changed after creation: switching replaces the workspace and
    # its data.
    prometheus_encryption: Annotated[
        Literal["aws-owned", "customer-key"], Field(alias="prometheus-encryption")
    ] = "aws-owned"


_ACM_ARN = r"^arn:aws(-cn|-us-gov)?:acm:[a-z0-9-]+:\d{12}:certificate/.+$"
CertificateArns = Annotated[dict[str, Annotated[str, Field(pattern=_ACM_ARN)]], Field(alias="certificate-arns")]


class DnsConfig(Model):
    """The public hosted zone model endpoints are named in, its routing, and the serving certificates.

    Every serving region needs an ACM certificate (in that region) for ``*.<zone>`` and ``*.<region>.<zone>``:
    models answer on ``<model>-<team>.<zone>`` (routed) and ``<model>-<team>.<region>.<zone>``.
    """

    zone: Annotated[str, Field(pattern=_HOSTNAME_RE)]
    routing: Literal["failover", "latency"] = "failover"
    certificate_arns: CertificateArns = {}


def certificate_region_errors(
    arns: dict[str, str], regions: list[str], account_id: str | None = None
) -> tuple[tuple[str, ...], str] | None:
    """The first certificate keyed by a region it is not in, keyed by a region not allowed here, or (with
    ``account_id``) of another account."""
    for region, arn in arns.items():
        if region not in regions:
            return (region,), f"not a region of this stack; allowed: {', '.join(regions)}"
        if arn.split(":")[3] != region:
            return (region,), (
                f"{arn!r} is in another region; allowed: a certificate in {region} "
                "(a load balancer can only use certificates of its own region)"
            )
        problem = certificate_account_error(arn, account_id)
        if problem:
            return (region,), problem
    return None


def certificate_account_error(arn: str, account_id: str | None) -> str | None:
    """A load balancer's listener takes ACM certificates of its own account (ELB User Guide, "SSL
    certificates for your Application Load Balancer": certificates provided by ACM or imported into it)."""
    if account_id is not None and arn.split(":")[4] != account_id:
        return f"{arn!r} is in account {arn.split(':')[4]}; allowed: a certificate of account {account_id}"
    return None


def check_deployer(cfg: PlatformConfig) -> None:
    """A private API endpoint needs the deployer's networks; the deployer role must administer the clusters."""
    eks = cfg.cluster is not None and cfg.cluster.mode == "eks"
    if cfg.deployer is None:
        if eks and not cfg.cluster.endpoint_public_access:
            raise _KeyedValueError(
                ("deployer",),
                "missing; a private API endpoint answers only inside the VPC: set deployer.role-arn and "
                "deployer.networks (the CIDRs `pulumi up` runs from, e.g. the CI runners' subnet)",
            )
        if cfg.internet_free and cfg.registry is not None:
            raise _KeyedValueError(
                ("deployer",),
                "missing; internet-free artifact buckets accept only the VPC endpoint and the deployer role "
                "named here (deployer.role-arn)",
            )
        return
    if eks and cfg.deployer.role_arn not in (cfg.cluster.admin_role_arns or []):
        raise _KeyedValueError(
            ("deployer", "role-arn"),
            f"{cfg.deployer.role_arn} is not in cluster.admin-role-arns; allowed: one of the cluster admins "
            "(the Kubernetes provider signs in as the deployer)",
        )


def check_mirror(cfg: PlatformConfig) -> None:
    """Internet-free clusters pull through ECR: upstreams that need sign-in need a secret in every region."""
    if cfg.mirror is not None and not cfg.internet_free:
        raise _KeyedValueError(("mirror",), "only allowed with internet-free: true")
    if not cfg.internet_free or cfg.cluster is None or cfg.cluster.mode != "eks":
        return
    # MLflow runs on the primary cluster, whose nodes reach only their own region's ECR endpoints.
    primary = cfg.primary_region.name
    if cfg.registry is not None and not reachable_without_internet(cfg.registry.mlflow_image, cfg.account_id, [primary]):
        raise _KeyedValueError(
            ("registry", "mlflow-image"),
            f"{cfg.registry.mlflow_image!r} is on {image_registry(cfg.registry.mlflow_image)}, unreachable without "
            f"internet from the primary region's cluster; allowed: the account's ECR in {primary} "
            f"({cfg.account_id}.dkr.ecr.{primary}.amazonaws.com/...) or "
            + ", ".join(PULL_THROUGH_UPSTREAMS.values()) + " (pulled through the mirror)",
        )
    mirror = cfg.mirror or MirrorConfig()
    for upstream in MIRROR_CREDENTIAL_UPSTREAMS:
        for region in cfg.regions:
            if mirror.credential_arn(upstream, region.name) is None:
                raise _KeyedValueError(
                    ("mirror", "credential-arns", upstream),
                    f"no secret for {region.name}; the cluster's KEDA images come from {upstream}, which ECR "
                    "pull-through cache reaches only with credentials: allowed: one "
                    "arn:aws:secretsmanager:<region>:<account>:secret:ecr-pullthroughcache/<name> per region",
                )
        for index, arn in enumerate(mirror.credential_arns.get(upstream, [])):
            account = _PTC_SECRET_RE.match(arn).group("account")
            if account != cfg.account_id:
                raise _KeyedValueError(
                    ("mirror", "credential-arns", upstream, index),
                    f"account {account} is not the stack's account {cfg.account_id}; the secret must be in the "
                    "rule's account and region",
                )


def check_sections(cfg: PlatformConfig) -> None:
    """Checks of the optional sections against the rest of the platform (its regions)."""
    names = [region.name for region in cfg.regions]
    if cfg.dns is not None:
        if cfg.dns.routing == "failover" and len(names) != 2:
            raise _KeyedValueError(
                ("dns", "routing"),
                f"'failover' needs exactly two regions (a primary and a secondary), this stack has {len(names)}; "
                "allowed: latency, or two regions",
            )
        problem = certificate_region_errors(cfg.dns.certificate_arns, names, cfg.account_id)
        if problem is not None:
            raise _KeyedValueError(("dns", "certificate-arns", *problem[0]), problem[1])
        if cfg.cluster is not None and cfg.cluster.mode == "eks":
            for region in names:
                if region not in cfg.dns.certificate_arns:
                    raise _KeyedValueError(
                        ("dns", "certificate-arns", region),
                        f"missing; the serving load balancer of {region} listens on HTTPS only and needs an ACM "
                        f"certificate there for *.{cfg.dns.zone} and *.{region}.{cfg.dns.zone}",
                    )


# ---------------------------------------------------------------------------------------------------------
# Loading stack files


def stack_file(stacks_dir: Path, stack: str) -> Path:
    return Path(stacks_dir) / f"Pulumi.{stack}.yaml"


def list_stacks(stacks_dir: Path) -> list[str]:
    """Stack names with a stack file in ``stacks_dir``, sorted."""
    prefix, suffix = "Pulumi.", ".yaml"
    return sorted(
        path.name[len(prefix):-len(suffix)]
        for path in Path(stacks_dir).glob("Pulumi.*.yaml")
        if path.is_file()
    )


class UnknownStackError(Exception):
    def __init__(self, stack: str, stacks_dir: Path, known: list[str]):
        self.stack = stack
        self.stacks_dir = stacks_dir
        self.known = known
        listing = ", ".join(known) if known else "none"
        super().__init__(f"unknown stack {stack!r}: no {stack_file(stacks_dir, stack)}; stacks: {listing}")

    def __reduce__(self):
        return type(self), (self.stack, self.stacks_dir, self.known)


def read_stack_config(stacks_dir: Path, stack: str) -> tuple[Path, dict[str, Any]]:
    """Read the raw ``config:`` mapping of a stack file; unknown stacks list the stacks that exist."""
    path = stack_file(stacks_dir, stack)
    if not path.is_file():
        raise UnknownStackError(stack, Path(stacks_dir), list_stacks(stacks_dir))
    return path, read_config_file(path)


def read_config_file(path: Path) -> dict[str, Any]:
    """The ``config:`` mapping of a stack file, read by the one YAML loader (components/loader.py)."""
    document = load_yaml(path)
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(path, "(top level)", f"must be a mapping with a 'config' key, got {describe_value(document)}")
    unknown_top = sorted(set(document) - {"config", "secretsprovider", "encryptedkey", "encryptionsalt"})
    if unknown_top:
        raise ConfigError(
            path, unknown_top[0], "unknown top-level key; allowed: config, secretsprovider, encryptedkey, encryptionsalt"
        )
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError(path, "config", "must be a mapping of namespaced keys (e.g. mlops:platform)")
    for key in config:
        if str(key).startswith(f"{CONFIG_NAMESPACE}:") and key not in KNOWN_KEYS:
            raise ConfigError(path, str(key), f"unknown key; allowed: {', '.join(KNOWN_KEYS)}")
        if key in SECRET_KEYS and not (isinstance(config[key], dict) and set(config[key]) == {"secure"}):
            raise ConfigError(
                path, str(key), f"must be a secret (a `secure:` value: pulumi config set --secret {key} ...)"
            )
    return config


def parse_platform(raw: Any, file: str | Path | None) -> PlatformConfig:
    """Validate a raw ``mlops:platform`` value; errors become one ConfigError line."""
    if raw is None:
        raise ConfigError(file, PLATFORM_KEY, "missing; a platform stack needs this key")
    if isinstance(raw, str):
        # Pulumi hands structured config to programs as JSON text.
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigError(file, PLATFORM_KEY, "must be a mapping, got a string") from None
    return validate_model(PlatformConfig, raw, file, PLATFORM_KEY)


def load_platform(stacks_dir: Path, stack: str) -> PlatformConfig:
    path, config = read_stack_config(stacks_dir, stack)
    return parse_platform(config.get(PLATFORM_KEY), path)


def validate_model(model: type[BaseModel], raw: Any, file: str | Path | None, root: str) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise _first_error(model, exc, file, root, raw) from None


def _first_error(
    model: type[BaseModel], exc: ValidationError, file: str | Path | None, root: str, raw: Any
) -> ConfigError:
    error = exc.errors(include_url=False)[0]
    loc = _input_path(tuple(error["loc"]), raw)
    context_error = (error.get("ctx") or {}).get("error")
    if isinstance(context_error, _KeyedValueError):
        loc = loc + context_error.loc
        message = str(context_error)
    elif error["type"] == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        message = f"unknown key; allowed: {', '.join(allowed)}" if allowed else "unknown key"
    else:
        message = pydantic_message(error)
    return ConfigError(file, _key_path(root, loc), message)


def _input_path(loc: tuple[Any, ...], raw: Any) -> tuple[Any, ...]:
    """The error's location as keys the user wrote: the tags pydantic inserts for union members
    (``str``, ``function-after[...]``, model names) are not in the input, so they are dropped."""
    kept: list[Any] = []
    node = raw
    for index, part in enumerate(loc):
        present = part in node if isinstance(node, dict) else (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        )
        if present:
            node = node[part]
        elif not (index == len(loc) - 1 and isinstance(node, dict)):
            continue  # a union member's tag
        kept.append(part)
    return tuple(kept)


_SHOULD = re.compile(r"^(Input|String|List|Value|Dictionary|Tuple|Set|Decimal|Object|Data|Url|Timedelta) should ")
_EXPECTED = {
    "a valid string": "a string",
    "a valid integer": "a whole number",
    "a valid number": "a number",
    "a valid boolean": "true or false",
    "a valid list": "a list",
    "a valid array": "a list",
    "a valid dictionary": "a mapping",
}


def describe_value(value: Any) -> str:
    """A value as a stack-file author wrote it: YAML spellings, not Python reprs."""
    if value is None:
        return "no value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return _short(value)
    if isinstance(value, list):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        return "a mapping"
    return _short(value)


def pydantic_message(error: Any) -> str:
    """One pydantic error in the project's phrasing: what is allowed, then what was given.

    Works from pydantic's error type and message, so it holds for keys and models added later: "Input should be
    a valid string" becomes "must be a string, got 5"; "Input should be 'a' or 'b'" becomes "5 is not allowed;
    allowed: a, b"; a validator's own "Value error, ..." text is kept as written.
    """
    kind, message = error["type"], str(error["msg"])
    given = describe_value(error.get("input"))
    if kind == "missing":
        return "missing; this key is required"
    if kind in ("value_error", "assertion_error"):
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
        return message
    if kind in ("literal_error", "enum"):
        expected = str((error.get("ctx") or {}).get("expected", ""))
        allowed = ", ".join(part.strip().strip("'") for part in re.split(r",| or ", expected) if part.strip())
        return f"{given} is not allowed; allowed: {allowed}"
    if kind == "string_pattern_mismatch":
        return f"{given} does not match the allowed pattern {(error.get('ctx') or {}).get('pattern')}"
    message = _SHOULD.sub("must ", message.split(",", 1)[0] if kind.endswith("_parsing") else message)
    for said, plain in _EXPECTED.items():
        if message.startswith(f"must be {said}"):
            message = f"must be {plain}"
    message = re.sub(r"( or instance of \w+| after validation, not \d+)$", "", message)
    quote = "; quote it to make it a string" if kind == "string_type" and isinstance(error.get("input"), (int, float)) else ""
    return f"{message}, got {given}{quote}"


def _key_path(root: str, loc: tuple[Any, ...]) -> str:
    path = root
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys a nested model accepts, found by walking the model along the error's location."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = next(
            (f for name, f in current.model_fields.items() if (f.alias or name) == part), None
        )
        if field is None:
            return []
        current = _model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


# ---------------------------------------------------------------------------------------------------------
# Serving clusters (`mlops:platform.cluster`)
#
# Two modes. `eks` (the default) creates one EKS cluster per region with Karpenter node pools and the
# in-cluster autoscaling add-ons. `byo` targets an existing cluster through a kubeconfig context and installs
# only what makes sense on any cluster (KEDA, metrics-server); AWS-only keys are rejected there.

CLUSTER_MODES = ("eks", "byo")
EKS_ADDONS = ("vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent", "aws-ebs-csi-driver")
CLUSTER_CHARTS = ("karpenter", "keda", "metrics-server", "aws-load-balancer-controller", "nvidia-device-plugin")
BYO_CHARTS = ("keda", "metrics-server")
BYO_KEYS = ("mode", "kubernetes-version", "kubeconfig", "kubeconfig-context", "charts")

_K8S_VERSION_RE = re.compile(r"^1\.(\d{2})$")
_ADDON_VERSION_RE = re.compile(r"^v\d+\.\d+\.\d+-eksbuild\.\d+$")
_CHART_VERSION_RE = re.compile(r"^v?\d+\.\d+\.\d+$")
_AMI_ALIAS_RE = re.compile(r"^(al2023|bottlerocket)@(latest|v\d[\w.-]*)$")
_ROLE_ARN_RE = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_DURATION_RE = re.compile(r"^(\d+(s|m|h))+$")
_INSTANCE_FAMILY_RE = re.compile(r"^[a-z][a-z0-9-]*\d[a-z0-9-]*$")
_INSTANCE_CATEGORY_RE = re.compile(r"^[a-z]$")


def _exact_chart_version(value: str) -> str:
    if not _CHART_VERSION_RE.match(value):
        raise ValueError(f"{value!r} is not an exact chart version; allowed: X.Y.Z (no ranges, no 'latest')")
    return value


def _exact_addon_version(value: str) -> str:
    if not _ADDON_VERSION_RE.match(value):
        raise ValueError(f"{value!r} is not an exact add-on version; allowed: vX.Y.Z-eksbuild.N")
    return value


ChartVersion = Annotated[str, AfterValidator(_exact_chart_version)]
AddonVersion = Annotated[str, AfterValidator(_exact_addon_version)]


class AddonVersions(Model):
    """Pinned versions of the EKS managed add-ons (`aws eks describe-addon-versions` lists them)."""

    vpc_cni: Annotated[AddonVersion, Field(alias="vpc-cni")]
    coredns: AddonVersion
    kube_proxy: Annotated[AddonVersion, Field(alias="kube-proxy")]
    eks_pod_identity_agent: Annotated[AddonVersion, Field(alias="eks-pod-identity-agent")]
    aws_ebs_csi_driver: Annotated[AddonVersion, Field(alias="aws-ebs-csi-driver")]


class ChartVersions(Model):
    """Pinned Helm chart versions of the in-cluster add-ons; which are required depends on the mode."""

    karpenter: ChartVersion | None = None
    keda: ChartVersion | None = None
    metrics_server: Annotated[ChartVersion | None, Field(alias="metrics-server")] = None
    aws_load_balancer_controller: Annotated[ChartVersion | None, Field(alias="aws-load-balancer-controller")] = None
    nvidia_device_plugin: Annotated[ChartVersion | None, Field(alias="nvidia-device-plugin")] = None


class SystemNodesConfig(Model):
    """The small managed node group that runs cluster-critical controllers (Karpenter, CoreDNS, KEDA...)."""

    instance_types: Annotated[list[str], Field(alias="instance-types", min_length=1, max_length=8)] = ["m7i.large"]
    min_size: Annotated[int, Field(alias="min-size", ge=1, le=10)] = 2
    desired_size: Annotated[int, Field(alias="desired-size", ge=1, le=10)] = 2
    max_size: Annotated[int, Field(alias="max-size", ge=1, le=10)] = 3
    disk_size_gib: Annotated[int, Field(alias="disk-size-gib", ge=20, le=1000)] = 50

    @model_validator(mode="after")
    def _sizes(self) -> SystemNodesConfig:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise _KeyedValueError(
                ("desired-size",),
                f"{self.desired_size} is outside min-size {self.min_size} .. max-size {self.max_size}; "
                "allowed: min-size <= desired-size <= max-size",
            )
        return self


class NodePoolConfig(Model):
    """One Karpenter NodePool: what capacity it may launch, how much in total, and how it consolidates."""

    name: Annotated[str, Field(pattern=_KEBAB_RE, max_length=63)]
    capacity_type: Annotated[Literal["on-demand", "spot"], Field(alias="capacity-type")]
    instance_families: Annotated[list[str] | None, Field(alias="instance-families", min_length=1)] = None
    instance_categories: Annotated[list[str] | None, Field(alias="instance-categories", min_length=1)] = None
    architectures: Annotated[list[Literal["amd64", "arm64"]], Field(min_length=1)] = ["amd64"]
    gpu: bool = False
    cpu_limit: Annotated[int, Field(alias="cpu-limit", ge=1, le=100_000)]
    memory_limit_gib: Annotated[int, Field(alias="memory-limit-gib", ge=1, le=1_000_000)]
    gpu_limit: Annotated[int | None, Field(alias="gpu-limit", ge=1, le=10_000)] = None
    consolidation_policy: Annotated[
        Literal["WhenEmpty", "WhenEmptyOrUnderutilized"], Field(alias="consolidation-policy")
    ] = "WhenEmptyOrUnderutilized"
    consolidate_after: Annotated[str, Field(alias="consolidate-after")] = "1m"
    expire_after: Annotated[str, Field(alias="expire-after")] = "720h"
    disruption_budget: Annotated[str, Field(alias="disruption-budget", pattern=r"^(\d{1,3}%|\d+)$")] = "10%"
    weight: Annotated[int | None, Field(ge=1, le=100)] = None

    @model_validator(mode="after")
    def _shape(self) -> NodePoolConfig:
        if (self.instance_families is None) == (self.instance_categories is None):
            raise _KeyedValueError(
                ("instance-families",), "set exactly one of instance-families (e.g. [g5, g6]) or "
                "instance-categories (e.g. [c, m, r])"
            )
        for key, values, pattern, example in (
            ("instance-families", self.instance_families, _INSTANCE_FAMILY_RE, "g5, m7i"),
            ("instance-categories", self.instance_categories, _INSTANCE_CATEGORY_RE, "c, m, r"),
        ):
            for index, value in enumerate(values or []):
                if not pattern.match(value):
                    raise _KeyedValueError((key, index), f"{value!r} is not valid; allowed: e.g. {example}")
        for key, value in (("consolidate-after", self.consolidate_after), ("expire-after", self.expire_after)):
            if value != "Never" and not _DURATION_RE.match(value):
                raise _KeyedValueError((key,), f"{value!r} is not a duration; allowed: e.g. 30s, 5m, 720h or Never")
        if self.gpu and self.gpu_limit is None:
            raise _KeyedValueError(("gpu-limit",), "missing; a gpu: true pool needs a gpu-limit (GPUs in total)")
        if not self.gpu and self.gpu_limit is not None:
            raise _KeyedValueError(("gpu-limit",), "only allowed with gpu: true")
        if self.gpu and self.instance_families is None:
            raise _KeyedValueError(
                ("instance-families",), "missing; a gpu: true pool names its GPU families (e.g. [g5, g6])"
            )
        return self


class ClusterConfig(Model):
    """The serving cluster of every region (`eks`), or an existing cluster reached by kubeconfig (`byo`)."""

    mode: Literal["eks", "byo"] = "eks"
    kubernetes_version: Annotated[str | None, Field(alias="kubernetes-version")] = None
    endpoint_public_access: Annotated[bool, Field(alias="endpoint-public-access")] = False
    public_access_cidrs: Annotated[list[str] | None, Field(alias="public-access-cidrs", min_length=1)] = None
    admin_role_arns: Annotated[list[str] | None, Field(alias="admin-role-arns", min_length=1)] = None
    addons: AddonVersions | None = None
    charts: ChartVersions
    system_nodes: Annotated[SystemNodesConfig | None, Field(alias="system-nodes")] = None
    node_ami_alias: Annotated[str | None, Field(alias="node-ami-alias")] = None
    node_pools: Annotated[list[NodePoolConfig] | None, Field(alias="node-pools", min_length=1)] = None
    # EC2 launches Spot Instances only when the account has the service-linked role AWSServiceRoleForEC2Spot,
    # which API callers must make sure exists (EC2 User Guide, "Service-linked role for Spot Instance requests").
    # `create` (default): the stack creates it with its first spot pool, so a fresh account works; on an account
    # that already has it, `pulumi up` fails at once ("Service role name AWSServiceRoleForEC2Spot has been
    # taken"): set `exists`, or `pulumi import` it. `exists`: nothing is created; if the role is in fact
    # missing, every spot launch fails at run time (AuthFailure.ServiceLinkedRoleCreationNotPermitted in
    # Karpenter's logs) while on-demand pools keep working. The role is account-wide and kept on destroy.
    spot_service_linked_role: Annotated[
        Literal["create", "exists"], Field(alias="spot-service-linked-role")
    ] = "create"
    kubeconfig: str | None = None
    kubeconfig_context: Annotated[str | None, Field(alias="kubeconfig-context", min_length=1)] = None

    @field_validator("kubernetes_version")
    @classmethod
    def _version(cls, value: str | None) -> str | None:
        if value is not None and not _K8S_VERSION_RE.match(value):
            raise ValueError(f"{value!r} is not a Kubernetes minor version; allowed: e.g. '1.33' (quoted)")
        return value

    @property
    def creates_spot_service_linked_role(self) -> bool:
        """Whether the stack creates AWSServiceRoleForEC2Spot: a spot pool exists and the role is not there."""
        spot = any(pool.capacity_type == "spot" for pool in self.node_pools or [])
        return self.mode == "eks" and spot and self.spot_service_linked_role == "create"

    @model_validator(mode="after")
    def _mode_rules(self) -> ClusterConfig:
        return self._byo_rules() if self.mode == "byo" else self._eks_rules()

    def _set_keys(self) -> list[str]:
        fields = type(self).model_fields
        return [fields[name].alias or name for name in fields if name in self.model_fields_set]

    def _byo_rules(self) -> ClusterConfig:
        for key in self._set_keys():
            if key not in BYO_KEYS:
                raise _KeyedValueError((key,), _byo_only_message())
        for name, info in ChartVersions.model_fields.items():
            key = info.alias or name
            if getattr(self.charts, name) is not None and key not in BYO_CHARTS:
                raise _KeyedValueError(("charts", key), _byo_only_message())
        for key in BYO_CHARTS:
            if getattr(self.charts, key.replace("-", "_")) is None:
                raise _KeyedValueError(("charts", key), "missing; mode byo installs keda and metrics-server")
        if self.kubeconfig_context is None:
            raise _KeyedValueError(
                ("kubeconfig-context",), "missing; mode byo names the context to deploy to (never the current one)"
            )
        return self

    def _eks_rules(self) -> ClusterConfig:
        for key, value in (("kubeconfig", self.kubeconfig), ("kubeconfig-context", self.kubeconfig_context)):
            if value is not None:
                raise _KeyedValueError((key,), "only allowed with mode: byo (mode eks builds its own kubeconfig)")
        for key, value in (
            ("kubernetes-version", self.kubernetes_version),
            ("addons", self.addons),
            ("admin-role-arns", self.admin_role_arns),
            ("node-pools", self.node_pools),
        ):
            if value is None:
                raise _KeyedValueError((key,), "missing; required with mode: eks")
        for key in ("karpenter", "keda", "metrics-server", "aws-load-balancer-controller"):
            if getattr(self.charts, key.replace("-", "_")) is None:
                raise _KeyedValueError(("charts", key), "missing; required with mode: eks (an exact X.Y.Z)")
        if any(pool.gpu for pool in self.node_pools or []) and self.charts.nvidia_device_plugin is None:
            raise _KeyedValueError(
                ("charts", "nvidia-device-plugin"), "missing; required when a node pool has gpu: true"
            )
        for index, arn in enumerate(self.admin_role_arns or []):
            if not _ROLE_ARN_RE.match(arn):
                raise _KeyedValueError(
                    ("admin-role-arns", index), f"{arn!r} is not an IAM role ARN; allowed: arn:aws:iam::<account>:role/<name>"
                )
        names = [pool.name for pool in self.node_pools or []]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise _KeyedValueError(("node-pools", index, "name"), f"node pool {name!r} is listed twice")
        if self.node_ami_alias is not None and not _AMI_ALIAS_RE.match(self.node_ami_alias):
            raise _KeyedValueError(
                ("node-ami-alias",), f"{self.node_ami_alias!r} is not an AMI alias; allowed: al2023@latest, al2023@vYYYYMMDD"
            )
        self._public_access_rules()
        return self

    def _public_access_rules(self) -> None:
        if self.endpoint_public_access and self.public_access_cidrs is None:
            raise _KeyedValueError(
                ("public-access-cidrs",), "missing; a public endpoint needs an allow-list of CIDRs (never 0.0.0.0/0)"
            )
        if not self.endpoint_public_access and self.public_access_cidrs is not None:
            raise _KeyedValueError(("public-access-cidrs",), "only allowed with endpoint-public-access: true")
        for index, cidr in enumerate(self.public_access_cidrs or []):
            try:
                network = ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise _KeyedValueError(
                    ("public-access-cidrs", index), f"{cidr!r} is not a CIDR; allowed: e.g. 203.0.113.0/24"
                ) from None
            if network.prefixlen == 0:
                raise _KeyedValueError(
                    ("public-access-cidrs", index),
                    f"{cidr} opens the API endpoint to the whole internet; allowed: specific CIDRs (prefix /1 or longer)",
                )

    @property
    def system(self) -> SystemNodesConfig:
        return self.system_nodes or SystemNodesConfig()

    @property
    def ami_alias(self) -> str:
        return self.node_ami_alias or "al2023@latest"


def _byo_only_message() -> str:
    return (
        "AWS-only setting, not allowed with mode: byo; allowed there: "
        + ", ".join(BYO_KEYS)
        + " (charts: "
        + ", ".join(BYO_CHARTS)
        + ")"
    )


def _cluster_fits_environment(value: ClusterConfig | None, info: ValidationInfo) -> ClusterConfig | None:
    """A public API endpoint is a dev/staging convenience; prod clusters are reachable only from the VPC."""
    if value is not None and value.endpoint_public_access and info.data.get("environment") == "prod":
        raise _KeyedValueError(
            ("endpoint-public-access",), "true is not allowed in prod; allowed in prod: false (private endpoint only)"
        )
    return value


PlatformConfig.model_rebuild()

# Model-team stacks (`mlops:team`): one team, one environment, built on one platform stack.

_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DIGEST_RE = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")
_IMAGE_RE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*(@sha256:[0-9a-f]{64})?$")


def image_is_pinned(image: str) -> bool:
    return bool(_DIGEST_RE.match(image))





class Quotas(Model):
    """The namespace's ResourceQuota: what all the team's pods together may request."""

    cpu: CpuQuantity
    memory: MemoryQuantity
    gpus: Annotated[int, Field(ge=0, le=512)] = 0
    pods: Annotated[int, Field(ge=1, le=5000)] = 50


class DataAccess(Model):
    """A prefix of the platform's artifact bucket the team's workloads may read (or read and write)."""

    prefix: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.\-/]*/$", max_length=200)]
    access: Literal["read", "read-write"] = "read"


class ModelResources(Model):
    cpu: CpuQuantity = "500m"
    memory: MemoryQuantity = "1Gi"
    gpus: Annotated[int, Field(ge=0, le=8)] = 0


class KedaTrigger(Model):
    """A KEDA scaler trigger (https://keda.sh/docs/scalers/), passed through to the ScaledObject."""

    type: Annotated[str, Field(min_length=1)]
    metadata: dict[str, str]


class Autoscaling(Model):
    """Replica bounds and exactly one scaling signal: CPU utilisation, requests per second, or a KEDA trigger."""

    min_replicas: Annotated[int, Field(alias="min-replicas", ge=0, le=100)] = 1
    max_replicas: Annotated[int, Field(alias="max-replicas", ge=1, le=200)] = 3
    cpu_target: Annotated[int | None, Field(alias="cpu-target", ge=10, le=95)] = None
    rps_target: Annotated[int | None, Field(alias="rps-target", ge=1)] = None
    keda: KedaTrigger | None = None

    @model_validator(mode="after")
    def _one_signal(self) -> Autoscaling:
        chosen = [key for key, value in (("cpu-target", self.cpu_target), ("rps-target", self.rps_target),
                                         ("keda", self.keda)) if value is not None]
        if len(chosen) != 1:
            raise _KeyedValueError(
                (), f"sets {', '.join(chosen) or 'no signal'}; allowed: exactly one of cpu-target, rps-target, keda"
            )
        if self.min_replicas > self.max_replicas:
            raise _KeyedValueError(
                ("min-replicas",), f"{self.min_replicas} is above max-replicas {self.max_replicas}"
            )
        if self.min_replicas == 0 and self.cpu_target is not None:
            raise _KeyedValueError(
                ("min-replicas",), "0 needs a keda trigger (a CPU-based HorizontalPodAutoscaler cannot scale to zero)"
            )
        if self.min_replicas == 0 and self.rps_target is not None:
            # The requests are counted by the model's own pods; at zero pods the ALB answers 503 and nothing
            # counts, so the model would never scale up again.
            raise _KeyedValueError(
                ("min-replicas",),
                "0 with rps-target never scales up again (requests are counted by the model's pods, none at zero); "
                "allowed: 1 or more, or a keda trigger on a source outside the pods (e.g. a queue)",
            )
        return self


class ModelVersion(Model):
    name: Annotated[str, Field(pattern=_DNS_LABEL, max_length=20)]
    image: Annotated[str, Field(max_length=300)]
    weight: Annotated[int, Field(ge=0, le=100)]

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if not _IMAGE_RE.match(value):
            raise ValueError(f"{value!r} is not an image reference; allowed: registry/name:tag or registry/name@sha256:<64 hex>")
        if not image_is_pinned(value):
            tail = value.rsplit("/", 1)[-1]
            if ":" not in tail or tail.endswith(":latest"):
                raise ValueError(f"{value!r} has no fixed tag; allowed: a version tag, or a digest (@sha256:...)")
        return value


class ModelSpec(Model):
    name: Annotated[str, Field(pattern=_DNS_LABEL, max_length=30)]
    port: Annotated[int, Field(ge=1024, le=65535)] = 8080
    health_path: Annotated[str, Field(alias="health-path", pattern=r"^/[A-Za-z0-9_./-]*$")] = "/healthz"
    resources: ModelResources = ModelResources()
    autoscaling: Autoscaling = Autoscaling(**{"cpu-target": 70})
    versions: Annotated[list[ModelVersion], Field(min_length=1, max_length=5)]

    @model_validator(mode="after")
    def _weights(self) -> ModelSpec:
        names = [version.name for version in self.versions]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise _KeyedValueError(("versions", index, "name"), f"version {name!r} is listed twice")
        total = sum(version.weight for version in self.versions)
        if total != 100:
            weights = " + ".join(str(version.weight) for version in self.versions)
            raise _KeyedValueError(("versions",), f"weights {weights} = {total}; allowed: weights summing to 100")
        return self


class TeamOwners(Model):
    """Who owns the team's namespace: an SSO group and the IAM role its members sign in with."""

    sso_group: Annotated[str, Field(alias="sso-group", min_length=1)]
    role_arn: Annotated[str, Field(alias="role-arn", pattern=r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/.+$")]


class TeamIngress(Model):
    """The team's own domain and certificates, for a platform that publishes no DNS zone (its `dns` section).

    Models answer on ``<model>-<team>.<domain>`` and ``<model>-<team>.<region>.<domain>``; each region's
    certificate covers both (``*.<domain>``, ``*.<region>.<domain>``). The team creates the DNS records.
    """

    domain: Annotated[str, Field(pattern=_HOSTNAME_RE)]
    certificate_arns: Annotated[CertificateArns, Field(min_length=1)]


class TeamConfig(Model):
    """The configuration of one model team's stack (`mlops:team`)."""

    name: Annotated[str, Field(pattern=_DNS_LABEL, min_length=2, max_length=30)]
    environment: Literal["dev", "staging", "prod"]
    platform_stack: Annotated[str, Field(alias="platform-stack", pattern=r"^[A-Za-z0-9_.\-/]+$")]
    regions: Annotated[list[str], Field(min_length=1, max_length=4)]
    owners: TeamOwners
    cost_center: Annotated[str, Field(alias="cost-center", min_length=1, max_length=128)]
    data_classification: Annotated[
        Literal["public", "internal", "confidential", "restricted"], Field(alias="data-classification")
    ]
    quotas: Quotas
    data_access: Annotated[list[DataAccess], Field(alias="data-access")] = []
    ingress: TeamIngress | None = None
    models: Annotated[list[ModelSpec], Field(min_length=1, max_length=20)]

    @field_validator("name", mode="before")
    @classmethod
    def _dns_name(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.match(_DNS_LABEL, value):
            raise ValueError(
                f"{value!r} is not a DNS-1123 label; allowed: lowercase letters, digits and '-', "
                "starting and ending with a letter or digit"
            )
        return value

    @model_validator(mode="after")
    def _team_rules(self) -> TeamConfig:
        names = [model.name for model in self.models]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise _KeyedValueError(("models", index, "name"), f"model {name!r} is listed twice")
        for index, region in enumerate(self.regions):
            if not _REGION_RE.match(region):
                raise _KeyedValueError(("regions", index), f"{region!r} is not an AWS region name")
        if self.environment == "prod":
            for m_index, model in enumerate(self.models):
                for v_index, version in enumerate(model.versions):
                    if not image_is_pinned(version.image):
                        raise _KeyedValueError(
                            ("models", m_index, "versions", v_index, "image"),
                            f"{version.image!r} is a tag; allowed in prod: an image pinned by digest (@sha256:<64 hex>)",
                        )
                if model.autoscaling.min_replicas == 0:
                    raise _KeyedValueError(
                        ("models", m_index, "autoscaling", "min-replicas"), "0 (scale to zero) is not allowed in prod"
                    )
        if self.ingress is not None:
            problem = certificate_region_errors(self.ingress.certificate_arns, list(self.regions))
            if problem is not None:
                raise _KeyedValueError(("ingress", "certificate-arns", *problem[0]), problem[1])
            for region in self.regions:
                if region not in self.ingress.certificate_arns:
                    raise _KeyedValueError(
                        ("ingress", "certificate-arns", region),
                        f"missing; the team serves in {region} and needs a certificate there",
                    )
        demand = gpu_demand(self.models)
        if demand > self.quotas.gpus:
            raise _KeyedValueError(
                ("quotas", "gpus"),
                f"{self.quotas.gpus} is below the models' GPU demand of {demand} "
                "(GPUs per pod x max-replicas x versions, summed over models)",
            )
        pods = sum(model.autoscaling.max_replicas * len(model.versions) for model in self.models)
        if pods > self.quotas.pods:
            raise _KeyedValueError(
                ("quotas", "pods"), f"{self.quotas.pods} is below the models' {pods} pods at max-replicas"
            )
        return self

    @property
    def namespace(self) -> str:
        return f"team-{self.name}"


def gpu_demand(models: list[ModelSpec]) -> int:
    """GPUs the models can hold at once: every version of every model at max replicas."""
    return sum(model.resources.gpus * model.autoscaling.max_replicas * len(model.versions) for model in models)


@dataclass(frozen=True)
class PlatformServing:
    """What a team stack needs from its platform to serve: the DNS zone and certificates, if any, and the
    regions with a managed Prometheus workspace (from the platform's config offline, its outputs live)."""

    stack: str
    zone: str | None
    certificate_arns: dict[str, str]
    prometheus_regions: tuple[str, ...]
    # Regions where the platform owns a serving load balancer (an eks cluster with its dns section); a byo
    # cluster has none, so its zone cannot name team models.
    serving_regions: tuple[str, ...] = ()
    account_id: str | None = None  # the account whose load balancers serve the team's models


def check_team_on_platform(team: TeamConfig, file: str | Path | None, platform: PlatformServing) -> None:
    """A team's models need a host name and certificate in every region, and a managed Prometheus wherever
    they scale on requests per second; a gap is a config error of the team stack, not a failed listener."""
    if team.ingress is not None:
        for region, arn in team.ingress.certificate_arns.items():
            problem = certificate_account_error(arn, platform.account_id)
            if problem:
                raise ConfigError(file, f"{TEAM_KEY}.ingress.certificate-arns.{region}", problem)
    if team.ingress is None:
        byo = [region for region in team.regions if platform.zone is not None and region not in platform.serving_regions]
        if byo:
            raise ConfigError(
                file, f"{TEAM_KEY}.ingress",
                f"missing; platform stack {platform.stack!r} owns no serving load balancer in {', '.join(byo)} (a byo "
                f"cluster), so its zone {platform.zone} cannot name the team's models; allowed: ingress.domain and "
                f"ingress.certificate-arns for {', '.join(team.regions)}",
            )
        missing = [region for region in team.regions if platform.zone is None or region not in platform.certificate_arns]
        if missing:
            raise ConfigError(
                file, f"{TEAM_KEY}.ingress",
                f"missing; platform stack {platform.stack!r} publishes no DNS zone and certificate for "
                f"{', '.join(missing)} (its dns section); allowed: ingress.domain and ingress.certificate-arns "
                f"for {', '.join(team.regions)}",
            )
    for index, model in enumerate(team.models):
        if model.autoscaling.rps_target is None:
            continue
        for region in team.regions:
            if region not in platform.prometheus_regions:
                raise ConfigError(
                    file, f"{TEAM_KEY}.models[{index}].autoscaling.rps-target",
                    f"needs the managed Prometheus of platform stack {platform.stack!r} in {region} (its "
                    "observability section with prometheus-encryption aws-owned, on an eks cluster); allowed "
                    "there: cpu-target or keda",
                )


def rps_scaling_available(cfg: PlatformConfig) -> bool:
    """Requests-per-second scaling needs series in the workspace and KEDA allowed to read them: the platform's
    managed collector (only with `prometheus-encryption: aws-owned`) and the KEDA operator role with its
    ClusterTriggerAuthentication (only on `eks` clusters)."""
    return (
        cfg.observability is not None and cfg.observability.prometheus_encryption == "aws-owned"
        and cfg.cluster is not None and cfg.cluster.mode == "eks"
    )


def platform_serving(stack: str, cfg: PlatformConfig) -> PlatformServing:
    """PlatformServing from a platform stack's config (the offline view of its outputs)."""
    return PlatformServing(
        stack=stack,
        zone=cfg.dns.zone if cfg.dns is not None else None,
        certificate_arns=dict(cfg.dns.certificate_arns) if cfg.dns is not None else {},
        prometheus_regions=tuple(r.name for r in cfg.regions) if rps_scaling_available(cfg) else (),
        serving_regions=tuple(r.name for r in cfg.regions)
        if cfg.dns is not None and cfg.cluster is not None and cfg.cluster.mode == "eks" else (),
        account_id=cfg.account_id,
    )


def parse_team(raw: Any, file: str | Path | None) -> TeamConfig:
    if raw is None:
        raise ConfigError(file, TEAM_KEY, "missing; a team stack needs this key")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigError(file, TEAM_KEY, "must be a mapping, got a string") from None
    return validate_model(TeamConfig, raw, file, TEAM_KEY)


def team_stack_name(team: str, environment: str) -> str:
    return f"team-{team}-{environment}"
