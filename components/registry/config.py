"""The registry's section of a platform stack file (`registry:`): artifact buckets, MLflow and its database."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from components.configbase import KeyedValueError, Model, account_registry
from components.dns.config import certificate_account_error
from components.quantity import CpuQuantity, MemoryQuantity

# The values RDS accepts for MonitoringInterval (RDS API reference, CreateDBInstance): 0 turns it off.
MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)
DEFAULT_PROD_MONITORING_INTERVAL = 60

_KeyedValueError = KeyedValueError  # the name the validators below raise


class RegistryConfig(Model):
    """The model registry: artifact buckets, MLflow server and its PostgreSQL database (`registry:`)."""

    # A major ("16") lets RDS apply minor upgrades itself (auto minor version upgrade on, no diff after it
    # does); a minor ("16.4") pins it (auto minor version upgrade off: bump it here, never downgraded).
    postgres_version: Annotated[str, Field(alias="postgres-version", pattern=r"^\d{2}(\.\d+)?$")] = "16"
    db_instance_class: Annotated[
        str, Field(alias="db-instance-class", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    ] = "db.t4g.medium"
    # RDS applies modifications (instance class, storage, engine version) in the next maintenance window unless
    # asked to apply them at once; a major upgrade must be applied at once (see mlops/replacement.py).
    db_apply_immediately: Annotated[bool, Field(alias="db-apply-immediately")] = False
    db_allocated_storage: Annotated[int, Field(alias="db-allocated-storage", ge=20, le=65536)] = 50
    # Enhanced Monitoring: seconds between the OS metrics RDS samples (the values RDS accepts; 0 turns it off).
    # Unset: 60 in prod, 0 elsewhere (components.config refuses 0 in prod).
    db_monitoring_interval: Annotated[
        Literal[0, 1, 5, 10, 15, 30, 60] | None, Field(alias="db-monitoring-interval")
    ] = None
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
        str | None,
        Field(
            alias="certificate-arn", pattern=r"^arn:aws(-cn|-us-gov)?:acm:[a-z0-9-]+:\d{12}:certificate/.+$"
        ),
    ] = None

    def monitoring_interval(self, is_prod: bool) -> int:
        """The Enhanced Monitoring interval in effect: the configured one, else 60 in prod and 0 elsewhere."""
        if self.db_monitoring_interval is not None:
            return self.db_monitoring_interval
        return DEFAULT_PROD_MONITORING_INTERVAL if is_prod else 0

    @field_validator("db_monitoring_interval", mode="before")
    @classmethod
    def _interval_is_a_number(cls, value: object) -> object:
        # YAML's true/false would pass the Literal as 1/0 (bool is an int in Python): refuse it by name.
        if isinstance(value, bool):
            allowed = ", ".join(map(str, MONITORING_INTERVALS))
            raise ValueError(f"{value!r} is not a number of seconds; allowed: {allowed}")
        return value

    @property
    def postgres_major(self) -> str:
        return self.postgres_version.split(".")[0]

    @property
    def postgres_minor_pinned(self) -> bool:
        return "." in self.postgres_version


def registry_checks(cfg: Any) -> None:
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
