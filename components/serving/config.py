"""A model team's stack file (`mlops:team`): one team, one environment, built on one platform stack; and what
the team's stack needs of its platform to serve (PlatformServing), checked before any resource exists.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from components.configbase import REGION_RE, BaseTags, KeyedValueError, Model, tags_for
from components.cost.config import TeamBudget
from components.data.config import LakeFormationGrant
from components.dns.config import (
    HOSTNAME_RE,
    CertificateArns,
    certificate_account_error,
    certificate_region_errors,
)
from components.loader import ConfigError
from components.observability.config import Subscription
from components.pipelines.config import GraphSpec, TeamPipelines, check_team_pipelines
from components.quantity import CpuQuantity, MemoryQuantity
from components.serving.canary import DEFAULT_CANARY_STEPS, MlflowLink, canary_steps_error
from components.serving.provenance import (
    REQUIRED_IN_PROD,
    LicenseField,
    NotesField,
    RunField,
    Source,
    provenance_of,
)
from components.stackfile import TEAM_KEY
from components.training.config import TeamTraining

_KeyedValueError = KeyedValueError  # the name the validators below raise
_REGION_RE = REGION_RE

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
    """A version of a model: its image, its share of the traffic and its provenance (source, license, run, notes:
    components.serving.provenance)."""

    name: Annotated[str, Field(pattern=_DNS_LABEL, max_length=20)]
    image: Annotated[str, Field(max_length=300)]
    weight: Annotated[int, Field(ge=0, le=100)]
    source: Source | None = None
    license: LicenseField = None
    run: RunField = None
    notes: NotesField = None
    # The MLflow registered model version this version serves (its `production` alias follows promotions).
    mlflow: MlflowLink | None = None
    # How the version got above the team's first canary step: the weight `mlops promote` raised it from, or
    # why it starts higher (components/serving/canary.py).
    stepped_from: Annotated[int | None, Field(alias="stepped-from", ge=0, le=100)] = None
    canary_override: Annotated[str | None, Field(alias="canary-override", min_length=10, max_length=300)] = (
        None
    )

    @model_validator(mode="after")
    def _stepped(self) -> ModelVersion:
        if self.stepped_from is not None and self.stepped_from == self.weight:
            raise _KeyedValueError(
                ("stepped-from",),
                f"{self.stepped_from} equals weight; allowed: the weight before the last change",
            )
        return self

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
    # The model server answers HTTPS on its port with the certificate mounted at /etc/mlops/tls (TLS_CERT_FILE,
    # TLS_KEY_FILE), which the platform's issuer signs: the load balancer and the probes then use HTTPS. The
    # platform cannot make an image serve TLS, so this is the team's statement that it does.
    serves_tls: Annotated[bool, Field(alias="serves-tls")] = False

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
    # Who hears the team's model alarms (components.serving.monitoring): e-mail addresses or HTTPS endpoints.
    alerts: list[Subscription] | None = None


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
    # Clients of the team's models must present a certificate of the platform's private CA: the models are served
    # on the serving load balancers' mutual-TLS listener (the platform's private-ca.client-certificates).
    client_certificates: Annotated[bool, Field(alias="client-certificates")] = False
    training: TeamTraining | None = None
    models: Annotated[list[ModelSpec], Field(min_length=1, max_length=20)]
    # Argo Workflows in the team namespace, and inference graphs of the team's models (components.pipelines).
    pipelines: TeamPipelines | None = None
    graphs: Annotated[list[GraphSpec], Field(max_length=20)] = []
    # Lake Formation grants on the platform's data catalog (components.data), when the platform has it on.
    lake_formation: Annotated[list[LakeFormationGrant], Field(alias="lake-formation", max_length=20)] = []
    # The team's monthly AWS budget (components/cost/budgets.py); none without it.
    budget: TeamBudget | None = None
    # The weights a new version walks through (`mlops promote --step`).
    canary_steps: Annotated[list[int], Field(alias="canary-steps")] = list(DEFAULT_CANARY_STEPS)

    @field_validator("canary_steps")
    @classmethod
    def _canary_steps(cls, value: list[int]) -> list[int]:
        problem = canary_steps_error(value)
        if problem:
            raise ValueError(problem)
        return value

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
                    for key in provenance_of(version).missing():
                        raise _KeyedValueError(
                            ("models", m_index, "versions", v_index, key),
                            f"missing; required in prod: {REQUIRED_IN_PROD[key]}",
                        )
                if model.autoscaling.min_replicas == 0:
                    raise _KeyedValueError(
                        ("models", m_index, "autoscaling", "min-replicas"),
                        "0 (scale to zero) is not allowed in prod",
                    )
            if not self.owners.alerts:
                raise _KeyedValueError(
                    ("owners", "alerts"),
                    "missing; required in prod: who hears the team's model alarms (a list of "
                    "{protocol: email|https, endpoint: ...})",
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
        check_team_pipelines(self)
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
    # The SPDX licences the platform allows its model versions (its model-licenses.allowed); None: any.
    allowed_licenses: tuple[str, ...] | None = None
    # The serving load balancers' client-certificate (mutual TLS) listener port, and whether the platform's
    # issuer signs Service certificates (private-ca with service-certificates).
    client_certificate_port: int | None = None
    service_certificates: bool = False


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
    check_licenses(team, file, platform)
    if team.client_certificates and platform.client_certificate_port is None:
        raise ConfigError(
            file,
            f"{TEAM_KEY}.client-certificates",
            f"platform stack {platform.stack!r} has no private CA listener that verifies client certificates "
            "(its private-ca.client-certificates); allowed: false",
        )
    for index, model in enumerate(team.models):
        if model.serves_tls and not platform.service_certificates:
            raise ConfigError(
                file,
                f"{TEAM_KEY}.models[{index}].serves-tls",
                f"platform stack {platform.stack!r} issues no Service certificates (its private-ca with "
                "service-certificates); allowed: false",
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


def check_licenses(team: TeamConfig, file: str | Path | None, platform: PlatformServing) -> None:
    """Every model version's licence is one its platform allows (model-licenses.allowed of the platform stack)."""
    if platform.allowed_licenses is None:
        return
    for m_index, model in enumerate(team.models):
        for v_index, version in enumerate(model.versions):
            if version.license is not None and version.license not in platform.allowed_licenses:
                raise ConfigError(
                    file,
                    f"{TEAM_KEY}.models[{m_index}].versions[{v_index}].license",
                    f"{version.license!r} is not allowed by platform stack {platform.stack!r} "
                    f"(model-licenses.allowed); allowed: {', '.join(platform.allowed_licenses)}",
                )


def rps_scaling_available(cfg: Any) -> bool:
    """Requests-per-second scaling needs series in the workspace and KEDA allowed to read them: the platform's
    managed collector (only with `prometheus-encryption: aws-owned`) and the KEDA operator role with its
    ClusterTriggerAuthentication (only on `eks` clusters)."""
    return (
        cfg.observability is not None
        and cfg.observability.prometheus_encryption == "aws-owned"
        and cfg.cluster is not None
        and cfg.cluster.mode == "eks"
    )


def platform_serving(stack: str, cfg: Any) -> PlatformServing:
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
        allowed_licenses=tuple(cfg.model_licenses.allowed) if cfg.model_licenses is not None else None,
        client_certificate_port=CLIENT_CERTIFICATE_PORT
        if cfg.private_ca is not None and cfg.private_ca.client_certificates
        else None,
        service_certificates=cfg.private_ca is not None and cfg.private_ca.service_certificates,
    )


# The serving load balancers' HTTPS listener that verifies client certificates (beside 443, which does not).
CLIENT_CERTIFICATE_PORT = 8443


def team_tags(team: TeamConfig) -> dict[str, str]:
    """A team stack's tags: the team owns and pays for what its stack creates."""
    base = BaseTags.model_validate(
        {"team": team.name, "cost-center": team.cost_center, "data-classification": team.data_classification}
    )
    return tags_for(base, team.environment, stack=team_stack_name(team.name, team.environment))


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


def platform_principals(stack: str, cfg: Any) -> list[OwnedPrincipal]:
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
