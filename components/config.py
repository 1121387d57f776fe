"""Typed stack configuration: the one place a stack file is read and validated.

A stack file ``stacks/Pulumi.<stack>.yaml`` holds namespaced config. Platform stacks carry one structured
value under ``mlops:platform``. The models here are frozen and forbid unknown keys, so a typo, a wrong type
or a missing key fails before any resource exists, with the file, the key path and what is allowed.

Each concern's models live in its package (``components/<concern>/config.py``); this module assembles them into
PlatformConfig and reads the platform and team keys of a stack file (``components.stackfile`` reads the file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from components.cluster.config import ClusterConfig, cluster_fits_environment
from components.configbase import BaseTags, KeyedValueError, Model
from components.cost.config import CostConfig, check_opencost
from components.data.config import DataConfig
from components.dns.config import DnsConfig, check_dns
from components.identity.config import IdentityConfig
from components.identity.github_config import GithubConfig
from components.loader import ConfigError
from components.mirror.config import MirrorConfig, check_mirror
from components.network.config import DeployerConfig, RegionConfig, check_cluster_zones, check_deployer
from components.observability.config import ObservabilityConfig, check_guardduty
from components.pipelines.config import PipelinesConfig, check_pipelines
from components.registry.config import RegistryConfig, registry_checks
from components.serving.config import (
    TeamConfig,
)
from components.serving.provenance import ModelLicenses
from components.stackfile import PLATFORM_KEY, TEAM_KEY, read_stack_config, structured_value
from components.training.config import TrainingConfig, check_training_on_platform
from components.trust.config import CustomCaBundleConfig, EgressProxyConfig, PrivateCaConfig, check_trust
from components.validation import validate_model

_KeyedValueError = KeyedValueError  # the name the validators below raise

ENVIRONMENTS = ("dev", "staging", "prod")


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
    # The SPDX licences the environment's model versions may carry (components.serving.provenance); None: any.
    model_licenses: Annotated[ModelLicenses | None, Field(alias="model-licenses")] = None
    pipelines: PipelinesConfig | None = None
    data: DataConfig | None = None
    cost: CostConfig | None = None
    # Private networks (components/trust): an egress proxy, a custom CA bundle, a private CA with mTLS.
    egress_proxy: Annotated[EgressProxyConfig | None, Field(alias="egress-proxy")] = None
    custom_ca_bundle: Annotated[CustomCaBundleConfig | None, Field(alias="custom-ca-bundle")] = None
    private_ca: Annotated[PrivateCaConfig | None, Field(alias="private-ca")] = None
    github: GithubConfig | None = None

    @model_validator(mode="after")
    def _github_needs_identity(self) -> PlatformConfig:
        if self.github is not None and self.identity is None:
            raise _KeyedValueError(
                ("github",),
                "needs the identity section: its deploy and preview roles carry the platform's permissions boundary",
            )
        return self

    training: TrainingConfig | None = None

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
        if self.environment == "prod" and self.model_licenses is None:
            raise _KeyedValueError(
                ("model-licenses",),
                "missing; required in prod: the licences its model versions may carry "
                "(model-licenses.allowed: [SPDX identifiers])",
            )
        return self

    @model_validator(mode="after")
    def _section_checks(self) -> PlatformConfig:
        check_sections(self)
        return self

    @model_validator(mode="after")
    def _deployment_checks(self) -> PlatformConfig:
        check_cluster_zones(self)
        check_deployer(self)
        if self.github is not None and self.github.platform_environments and self.deployer is None:
            raise _KeyedValueError(
                ("github", "platform-environments"),
                "needs deployer.role-arn: a platform environment's role deploys by assuming the deployer",
            )
        private = (
            self.cluster is not None
            and self.cluster.mode == "eks"
            and not self.cluster.endpoint_public_access
        )
        if self.github is not None and private and not self.github.self_hosted:
            raise _KeyedValueError(
                ("github", "runner-labels"),
                f"{self.github.runner_labels} are GitHub-hosted runners, which cannot reach the clusters' private API "
                "endpoint; allowed: labels of self-hosted runners in deployer.networks, including 'self-hosted'",
            )
        check_mirror(self)
        check_trust(self)
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


def check_sections(cfg: PlatformConfig) -> None:
    """Checks of the optional sections against the rest of the platform (its regions)."""
    check_guardduty(cfg)
    check_pipelines(cfg)
    check_opencost(cfg)
    if cfg.data is not None and cfg.registry is None:
        raise _KeyedValueError(
            ("data",), "needs the registry section (the data lives in its artifact buckets)"
        )
    check_training_on_platform(cfg)
    if cfg.dns is not None:
        check_dns(
            cfg.dns,
            [region.name for region in cfg.regions],
            cfg.account_id,
            cfg.environment,
            cfg.cluster is not None and cfg.cluster.mode == "eks",
        )


def parse_platform(raw: Any, file: str | Path | None) -> PlatformConfig:
    """Validate a raw ``mlops:platform`` value; errors become one ConfigError line."""
    if raw is None:
        raise ConfigError(file, PLATFORM_KEY, "missing; a platform stack needs this key")
    return validate_model(PlatformConfig, structured_value(raw, file, PLATFORM_KEY), file, PLATFORM_KEY)


def load_platform(stacks_dir: Path, stack: str) -> PlatformConfig:
    path, config = read_stack_config(stacks_dir, stack)
    return parse_platform(config.get(PLATFORM_KEY), path)


PlatformConfig.model_rebuild()


def parse_team(raw: Any, file: str | Path | None) -> TeamConfig:
    if raw is None:
        raise ConfigError(file, TEAM_KEY, "missing; a team stack needs this key")
    return validate_model(TeamConfig, structured_value(raw, file, TEAM_KEY), file, TEAM_KEY)
