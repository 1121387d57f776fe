"""The model registry: versioned, encrypted, replicated artifacts; model image repositories; MLflow.

Artifacts live in one S3 bucket in the primary region, replicated to a bucket in every other region with that
region's replica key, so a region failure loses no model. Images live in ECR with immutable tags and are
replicated by the registry to every serving region. MLflow tracks experiments and registers model versions:
its database is RDS PostgreSQL in the isolated subnets, its server a hardened Deployment on the serving cluster
whose Pod Identity role reaches only the artifact bucket and the database secret.

Modules: ``config`` (the stack-file model), ``buckets``, ``images`` (ECR), ``database``, ``mlflow``, ``args``
(ModelRegistryArgs, which the parts import) and ``component`` (ModelRegistry, their composition). The names below
load their module on first use, so that ``components.registry.config`` stays importable without Pulumi (stack
files are parsed before any program).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ModelRegistry": "component",
    "ModelRegistryArgs": "args",
    "RegionStore": "args",
    "RegistryConfig": "config",
    "access_log_bucket_policy": "buckets",
    "artifact_bucket_policy": "buckets",
    "bucket_names": "buckets",
    "replication_policy": "buckets",
    "IMAGE_LIFECYCLE": "images",
    "ecr_template_role": "images",
    "ecr_template_role_policy": "images",
    "model_repository": "images",
    "DB_USER": "database",
    "MLFLOW_NAMESPACE": "mlflow",
    "MLFLOW_PORT": "mlflow",
    "mlflow_access_policy": "mlflow",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
