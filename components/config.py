"""Typed stack configuration: the one place a stack file is read and validated.

A stack file ``stacks/Pulumi.<stack>.yaml`` holds namespaced config. Platform stacks carry one structured
value under ``mlops:platform``. The models here are frozen and forbid unknown keys, so a typo, a wrong type
or a missing key fails before any resource exists, with the file, the key path and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    field_validator,
    model_validator,
)

from components.cluster.config import (  # noqa: F401  (the cluster's models, also importable from here)
    AddonVersions,
    ByoChartVersions,
    ByoClusterConfig,
    ClusterConfig,
    EksChartVersions,
    EksClusterConfig,
    NodePoolConfig,
    SystemNodesConfig,
    cluster_fits_environment,
)
from components.configbase import REGION_RE, BaseTags, KeyedValueError, Model, tags_for
from components.dns.config import (
    HOSTNAME_RE,
    CertificateArns,
    DnsConfig,
    certificate_account_error,
    certificate_region_errors,
    prod_protection_error,
)
from components.identity.config import (  # noqa: F401
    OIDC_SECRET_KEY,
    AccessRole,
    IdentityConfig,
    IdentityRoles,
    OidcConfig,
)
from components.loader import (
    ConfigError,
    UnknownStackError,
    _Refused,
    key_text,
    list_stacks,
    load_yaml,
    parse_json,
    stack_file,
)
from components.network.config import DeployerConfig, RegionConfig
from components.observability.config import AlarmThresholds, ObservabilityConfig, Subscription, TrailConfig  # noqa: F401
from components.validation import (  # noqa: F401  (importable from here)
    describe_value,
    pydantic_message,
    validate_model,
)

_KeyedValueError = KeyedValueError  # the name the validators below raise

CONFIG_NAMESPACE = "mlops"
PLATFORM_KEY = "mlops:platform"
TEAM_KEY = "mlops:team"
KNOWN_KEYS = (PLATFORM_KEY, TEAM_KEY, OIDC_SECRET_KEY)
# Keys whose value must be a Pulumi secret (`pulumi config set --secret`), never plaintext in a stack file.
SECRET_KEYS = (OIDC_SECRET_KEY,)

ENVIRONMENTS = ("dev", "staging", "prod")
PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
NAT_STRATEGIES = ("none", "single", "one-per-az")
DATA_CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")

_REGION_RE = REGION_RE
_KEBAB_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


from components.quantity import CpuQuantity, MemoryQuantity  # noqa: E402 - shared by the concerns' models
from components.registry.config import MONITORING_INTERVALS, RegistryConfig  # noqa: E402

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


def reachable_without_internet(
    image: str, account_id: str, regions: Sequence[str], through_mirror: bool = True
) -> bool:
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
    cluster: Annotated[ClusterConfig | None, AfterValidator(cluster_fits_environment)] = None
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

    @property
    def runs_guardduty(self) -> bool:
        """Whether observability runs GuardDuty in the platform's regions (ObservabilityConfig.guardduty)."""
        return self.observability is not None and self.observability.guardduty.active(self.is_prod)


def account_registry(account_id: str, region: str, partition: str) -> str:
    """The host of the account's private ECR registry in a region."""
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"{account_id}.dkr.ecr.{region}.{suffix}"


def registry_checks(cfg: PlatformConfig) -> None:
    """MLflow's image and certificate against the rest of the platform."""
    registry, primary = cfg.registry, cfg.primary_region.name
    assert registry is not None
    host = account_registry(cfg.account_id, primary, cfg.partition)
    if cfg.is_prod and not re.match(
        rf"^{re.escape(host)}/[a-z0-9][a-z0-9._/-]*@sha256:[0-9a-f]{{64}}$", registry.mlflow_image
    ):
        raise _KeyedValueError(
            ("registry", "mlflow-image"),
            f"{registry.mlflow_image!r} is not a digest in this account's ECR; allowed in prod: "
            f"{host}/<repository>@sha256:<64 hex> (the platform image built from images/mlflow)",
        )
    if cfg.is_prod and registry.db_monitoring_interval == 0:
        raise _KeyedValueError(
            ("registry", "db-monitoring-interval"),
            "0 turns Enhanced Monitoring off, which prod does not allow; allowed in prod: "
            + ", ".join(str(value) for value in MONITORING_INTERVALS if value)
            + " (seconds; unset: 60)",
        )
    if cfg.cluster is None:
        return
    if cfg.is_prod and (cfg.identity is None or cfg.identity.oidc is None):
        raise _KeyedValueError(
            ("identity", "oidc"),
            "missing; prod lets people reach MLflow only after signing in on its load balancer; allowed in prod: "
            "identity.oidc with issuer, authorization-endpoint, token-endpoint, user-info-endpoint and client-id "
            "(and the client secret in mlops:oidc-client-secret)",
        )
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
    if cfg.registry is not None and not reachable_without_internet(
        cfg.registry.mlflow_image, cfg.account_id, [primary]
    ):
        raise _KeyedValueError(
            ("registry", "mlflow-image"),
            f"{cfg.registry.mlflow_image!r} is on {image_registry(cfg.registry.mlflow_image)}, unreachable without "
            f"internet from the primary region's cluster; allowed: the account's ECR in {primary} "
            f"({cfg.account_id}.dkr.ecr.{primary}.amazonaws.com/...) or "
            + ", ".join(PULL_THROUGH_UPSTREAMS.values())
            + " (pulled through the mirror)",
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


def check_guardduty(cfg: PlatformConfig) -> None:
    """GuardDuty runs in every prod region; existing detectors are named for regions of the platform."""
    if cfg.observability is None:
        return
    guardduty, names = cfg.observability.guardduty, [region.name for region in cfg.regions]
    if cfg.is_prod and guardduty.enabled is False:
        raise _KeyedValueError(
            ("observability", "guardduty", "enabled"),
            "false leaves prod without threat detection; allowed in prod: true (or unset); where the account "
            "already has a detector, name it under observability.guardduty.existing-detectors",
        )
    for region in guardduty.existing_detectors:
        if region not in names:
            raise _KeyedValueError(
                ("observability", "guardduty", "existing-detectors", region),
                f"{region!r} is not a region of this platform; allowed: {', '.join(names)}",
            )


def check_sections(cfg: PlatformConfig) -> None:
    """Checks of the optional sections against the rest of the platform (its regions)."""
    check_guardduty(cfg)
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
        switched_off = prod_protection_error(cfg.dns, cfg.environment)
        if switched_off is not None:
            raise _KeyedValueError(("dns", switched_off[0]), switched_off[1])
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


def read_stack_config(stacks_dir: Path, stack: str) -> tuple[Path, dict[str, Any]]:
    """Read the raw ``config:`` mapping of a stack file; unknown stacks list the stacks that exist."""
    path = stack_file(stacks_dir, stack)
    if not path.is_file():
        raise UnknownStackError(stack, Path(stacks_dir), list_stacks(stacks_dir))
    return path, read_config_file(path)


def check_config_key(path: Path, key: str) -> None:
    """Refuse a key Pulumi's config.ParseKey (sdk/go/common/resource/config/key.go) would not read as this one:
    the form is `<namespace>:<name>`; ParseKey also takes the old `<namespace>:config:<name>` as the same key,
    which would make two spellings of one key, so that form is refused with the one to write."""
    parts = key.split(":")
    if len(parts) == 3 and parts[1] == "config" and parts[0] and parts[2]:
        raise ConfigError(
            path, key_text(key), f"the old form of a config key; write {key_text(parts[0] + ':' + parts[2])}"
        )
    if len(parts) != 2 or not all(parts):
        raise ConfigError(
            path,
            key_text(key),
            "is not a Pulumi config key; allowed: <namespace>:<name> (e.g. mlops:platform)",
        )


def read_config_file(path: Path) -> dict[str, Any]:
    """The ``config:`` mapping of a stack file, read by the one YAML loader (components/loader.py)."""
    document = load_yaml(path)
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(
            path, "(top level)", f"must be a mapping with a 'config' key, got {describe_value(document)}"
        )
    unknown_top = sorted(set(document) - {"config", "secretsprovider", "encryptedkey", "encryptionsalt"})
    if unknown_top:
        raise ConfigError(
            path,
            unknown_top[0],
            "unknown top-level key; allowed: config, secretsprovider, encryptedkey, encryptionsalt",
        )
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError(path, "config", "must be a mapping of namespaced keys (e.g. mlops:platform)")
    for key in config:
        check_config_key(path, key)
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
    return validate_model(PlatformConfig, structured_value(raw, file, PLATFORM_KEY), file, PLATFORM_KEY)


def structured_value(raw: Any, file: str | Path | None, key: str) -> Any:
    """A structured config value, which Pulumi hands programs as JSON text (`pulumi config set --path` or a
    value written as a JSON string), read with the same strict JSON reader as every document."""
    if not isinstance(raw, str):
        return raw
    try:
        return parse_json(raw)
    except _Refused as exc:
        raise ConfigError(
            file, key, f"must be a mapping, or a JSON object in a string ({exc.message})"
        ) from None


def load_platform(stacks_dir: Path, stack: str) -> PlatformConfig:
    path, config = read_stack_config(stacks_dir, stack)
    return parse_platform(config.get(PLATFORM_KEY), path)


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
        chosen = [
            key
            for key, value in (
                ("cpu-target", self.cpu_target),
                ("rps-target", self.rps_target),
                ("keda", self.keda),
            )
            if value is not None
        ]
        if len(chosen) != 1:
            raise _KeyedValueError(
                (),
                f"sets {', '.join(chosen) or 'no signal'}; allowed: exactly one of cpu-target, rps-target, keda",
            )
        if self.min_replicas > self.max_replicas:
            raise _KeyedValueError(
                ("min-replicas",), f"{self.min_replicas} is above max-replicas {self.max_replicas}"
            )
        if self.min_replicas == 0 and self.cpu_target is not None:
            raise _KeyedValueError(
                ("min-replicas",),
                "0 needs a keda trigger (a CPU-based HorizontalPodAutoscaler cannot scale to zero)",
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
            raise ValueError(
                f"{value!r} is not an image reference; allowed: registry/name:tag or registry/name@sha256:<64 hex>"
            )
        if not image_is_pinned(value):
            tail = value.rsplit("/", 1)[-1]
            if ":" not in tail or tail.endswith(":latest"):
                raise ValueError(
                    f"{value!r} has no fixed tag; allowed: a version tag, or a digest (@sha256:...)"
                )
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
            raise _KeyedValueError(
                ("versions",), f"weights {weights} = {total}; allowed: weights summing to 100"
            )
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

    domain: Annotated[str, Field(pattern=HOSTNAME_RE)]
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
            if region in self.regions[:index]:
                raise _KeyedValueError(
                    ("regions", index), f"{region!r} is listed twice; allowed: distinct regions"
                )
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
                        ("models", m_index, "autoscaling", "min-replicas"),
                        "0 (scale to zero) is not allowed in prod",
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
    return sum(
        model.resources.gpus * model.autoscaling.max_replicas * len(model.versions) for model in models
    )


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
        byo = [
            region
            for region in team.regions
            if platform.zone is not None and region not in platform.serving_regions
        ]
        if byo:
            raise ConfigError(
                file,
                f"{TEAM_KEY}.ingress",
                f"missing; platform stack {platform.stack!r} owns no serving load balancer in {', '.join(byo)} (a byo "
                f"cluster), so its zone {platform.zone} cannot name the team's models; allowed: ingress.domain and "
                f"ingress.certificate-arns for {', '.join(team.regions)}",
            )
        missing = [
            region
            for region in team.regions
            if platform.zone is None or region not in platform.certificate_arns
        ]
        if missing:
            raise ConfigError(
                file,
                f"{TEAM_KEY}.ingress",
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
                    file,
                    f"{TEAM_KEY}.models[{index}].autoscaling.rps-target",
                    f"needs the managed Prometheus of platform stack {platform.stack!r} in {region} (its "
                    "observability section with prometheus-encryption aws-owned, on an eks cluster); allowed "
                    "there: cpu-target or keda",
                )


def rps_scaling_available(cfg: PlatformConfig) -> bool:
    """Requests-per-second scaling needs series in the workspace and KEDA allowed to read them: the platform's
    managed collector (only with `prometheus-encryption: aws-owned`) and the KEDA operator role with its
    ClusterTriggerAuthentication (only on `eks` clusters)."""
    return (
        cfg.observability is not None
        and cfg.observability.prometheus_encryption == "aws-owned"
        and cfg.cluster is not None
        and cfg.cluster.mode == "eks"
    )


def platform_serving(stack: str, cfg: PlatformConfig) -> PlatformServing:
    """PlatformServing from a platform stack's config (the offline view of its outputs)."""
    return PlatformServing(
        stack=stack,
        zone=cfg.dns.zone if cfg.dns is not None else None,
        certificate_arns=dict(cfg.dns.certificate_arns) if cfg.dns is not None else {},
        prometheus_regions=tuple(r.name for r in cfg.regions) if rps_scaling_available(cfg) else (),
        serving_regions=tuple(r.name for r in cfg.regions)
        if cfg.dns is not None and cfg.cluster is not None and cfg.cluster.mode == "eks"
        else (),
        account_id=cfg.account_id,
    )


def parse_team(raw: Any, file: str | Path | None) -> TeamConfig:
    if raw is None:
        raise ConfigError(file, TEAM_KEY, "missing; a team stack needs this key")
    return validate_model(TeamConfig, structured_value(raw, file, TEAM_KEY), file, TEAM_KEY)


def team_stack_name(team: str, environment: str) -> str:
    return f"team-{team}-{environment}"


# ---------------------------------------------------------------------------------------------------------
# The team owners' role against the principals that already have an EKS access entry on the platform's clusters.
# EKS allows one access entry per IAM principal (EKS User Guide, "Create access entries": "An IAM principal can't
# be included in more than one access entry"), so a team whose owners role is one of them could never be deployed.

_ROLE_ARN_PARTS = re.compile(
    r"^arn:(?P<partition>aws(-cn|-us-gov)?):iam::(?P<account>\d{12}):role/(.*/)?(?P<name>[^/]+)$"
)
# The access roles of components.identity (identity.roles) and their permission set names, `mlops-<env>-<role>`
# (components.identity.policies.permission_set_name; a test keeps the two equal). Identity Center names the role
# it provisions `AWSReservedSSO_<permission set>_<suffix>`.
SSO_ROLE_KEYS = ("platform-admin", "ml-engineer", "read-only")


def sso_role_name_pattern(environment: str, role: str) -> re.Pattern[str]:
    """Every name Identity Center can give the role of the platform's permission set ``role``."""
    return re.compile(rf"^AWSReservedSSO_{re.escape(f'mlops-{environment}-{role}')}_[0-9A-Za-z]+$")


@dataclass(frozen=True)
class OwnedPrincipal:
    """An IAM role the platform (or another team) already maps into the clusters, and what to do instead."""

    what: str  # e.g. "the deployer of platform stack 'prod' (deployer.role-arn)"
    account: str
    name: str | re.Pattern[str]  # the role name, or every name of an SSO role
    instead: str

    def matches(self, arn: str) -> bool:
        parts = _ROLE_ARN_PARTS.match(arn)
        if parts is None or parts.group("account") != self.account:
            return False
        name = parts.group("name")
        return bool(self.name.match(name)) if isinstance(self.name, re.Pattern) else name == self.name


OWN_ROLE = "a role only this team's owners sign in with (e.g. the role of an SSO permission set of their own)"


def platform_principals(stack: str, cfg: PlatformConfig) -> list[OwnedPrincipal]:
    """The roles platform stack ``stack`` gives access entries: its deployer, its cluster admins and the roles of
    its SSO permission sets (by name pattern: the suffix Identity Center adds is known only after deployment)."""
    owned: list[OwnedPrincipal] = []

    def add(arn: str, what: str, instead: str) -> None:
        parts = _ROLE_ARN_PARTS.match(arn)
        if parts is not None:
            owned.append(OwnedPrincipal(what, parts.group("account"), parts.group("name"), instead))

    if cfg.deployer is not None:
        add(cfg.deployer.role_arn, f"the deployer of platform stack {stack!r} (deployer.role-arn)", OWN_ROLE)
    if cfg.cluster is not None and cfg.cluster.mode == "eks":
        for index, arn in enumerate(cfg.cluster.admin_role_arns):
            add(
                arn,
                f"a cluster admin of platform stack {stack!r} (cluster.admin-role-arns[{index}]), which already "
                "administers every namespace",
                OWN_ROLE,
            )
    if cfg.identity is not None:
        roles = cfg.identity.roles
        for key, role in zip(
            SSO_ROLE_KEYS, (roles.platform_admin, roles.ml_engineer, roles.read_only), strict=True
        ):
            what = f"the {key} SSO role of platform stack {stack!r} (identity.roles.{key})"
            instead = OWN_ROLE
            if key == "ml-engineer":
                instead += f", or the team's namespace in identity.ml-engineer-namespaces of platform stack {stack!r}"
            owned.append(
                OwnedPrincipal(what, cfg.account_id, sso_role_name_pattern(cfg.environment, key), instead)
            )
            if role.role_arn:
                add(role.role_arn, what, instead)
    return owned


def team_principals(teams: Sequence[tuple[str, TeamConfig]]) -> list[OwnedPrincipal]:
    """The owners roles of other team stacks ``(stack, team)`` on the same platform."""
    owned = []
    for stack, team in teams:
        parts = _ROLE_ARN_PARTS.match(team.owners.role_arn)
        if parts is not None:
            owned.append(
                OwnedPrincipal(
                    f"the owners role of team {team.name!r} (stack {stack})",
                    parts.group("account"),
                    parts.group("name"),
                    OWN_ROLE,
                )
            )
    return owned


def check_owner_principal(team: TeamConfig, file: str | Path | None, owned: Sequence[OwnedPrincipal]) -> None:
    """Refuse an owners role that already has an access entry on the team's clusters: one line, what to do."""
    arn = team.owners.role_arn
    for principal in owned:
        if principal.matches(arn):
            raise ConfigError(
                file,
                f"{TEAM_KEY}.owners.role-arn",
                f"{arn} is {principal.what}; EKS allows one access entry per IAM principal, and the team's "
                f"owners need their own; allowed: {principal.instead}",
            )


def check_owner_access(team: TeamConfig, file: str | Path | None, stacks_dir: Path) -> None:
    """The owners role against the platform stack file the team names and the other team stacks on it, in
    ``stacks_dir``; a platform stack whose file is not there (another project) is checked by its teams only."""
    platform_stack = team.platform_stack.rsplit("/", 1)[-1]
    owned: list[OwnedPrincipal] = []
    path = stack_file(stacks_dir, platform_stack)
    if path.is_file():
        raw = read_config_file(path)
        if PLATFORM_KEY in raw:
            owned += platform_principals(platform_stack, parse_platform(raw[PLATFORM_KEY], path))
    here = Path(file).resolve() if file is not None else None
    others = []
    for stack in list_stacks(stacks_dir):
        other_path = stack_file(stacks_dir, stack)
        if here is not None and other_path.resolve() == here:
            continue
        try:
            raw = read_config_file(other_path)
            other = parse_team(raw[TEAM_KEY], other_path) if TEAM_KEY in raw else None
        except ConfigError:
            continue  # another team's broken file is that team's error
        if (
            other is not None
            and other.name != team.name
            and other.platform_stack.rsplit("/", 1)[-1] == platform_stack
        ):
            others.append((stack, other))
    check_owner_principal(team, file, owned + team_principals(others))
