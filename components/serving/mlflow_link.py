"""The MLflow link of a model version: once it serves all of its model's traffic, a Kubernetes Job in the team's
namespace points the registered model's ``production`` alias at the MLflow version it serves.

The Job runs the platform's MLflow image (its contract's ``registry.mlflowImage``, the image MLflow itself runs,
whose Python is /opt/mlflow/bin/python, images/mlflow/Dockerfile) with a short script from the standard library,
and calls MLflow's REST API through its in-cluster Service (``registry.mlflowServiceUrl``). The server takes no
credentials there: MLflow's ``allow-clients`` NetworkPolicy admits pods of team namespaces (namespaces carrying the
``team`` label, which only the platform sets) and the team's ``allow-mlflow`` policy lets its pods out to MLflow's
port, so the pod needs neither a Kubernetes token nor an AWS role. The ALB's sign-in guards only the browser path.

Setting an alias is an upsert in MLflow (the SQL store merges the alias row), so running the Job again for the same
version is harmless. Its name carries the model, the version and a hash of what it sets, so a new promotion (another
version, image or MLflow version) is a new Job, and the finished Job is deleted after a day (the TTL-after-finished
controller).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.blocks.workload import container_security_context, hardened_pod_spec
from components.serving.canary import PRODUCTION_ALIAS
from components.serving.config import ModelSpec, ModelVersion

# MLflow's SetRegisteredModelAlias: POST /mlflow/registered-models/alias, served under /api/2.0 (model_registry.proto;
# mlflow/server/handlers.py _get_rest_path; the platform sets no --static-prefix).
ALIAS_PATH = "/api/2.0/mlflow/registered-models/alias"
# The interpreter of the platform's MLflow image (images/mlflow/Dockerfile: the virtualenv at /opt/mlflow).
MLFLOW_PYTHON = "/opt/mlflow/bin/python"
COMPONENT = "mlflow-alias"
TTL_SECONDS = 86400  # a day to read the pod's log, then the TTL-after-finished controller deletes the Job
BACKOFF_LIMIT = 2
DEADLINE_SECONDS = 600
RESOURCES = {"cpu": "100m", "memory": "128Mi"}

# Reads MLFLOW_URL, MLFLOW_MODEL, MLFLOW_MODEL_VERSION and MLFLOW_ALIAS; exits non-zero (the Job retries) on any
# answer but 2xx. MLflow's handler takes the version as a string (handlers.py _set_registered_model_alias).
SET_ALIAS_SCRIPT = f"""\
import json, os, sys, urllib.error, urllib.request
name, version, alias = os.environ["MLFLOW_MODEL"], os.environ["MLFLOW_MODEL_VERSION"], os.environ["MLFLOW_ALIAS"]
request = urllib.request.Request(
    os.environ["MLFLOW_URL"].rstrip("/") + "{ALIAS_PATH}",
    data=json.dumps({{"name": name, "alias": alias, "version": version}}).encode(),
    headers={{"Content-Type": "application/json"}},
    method="POST",
)
try:
    with urllib.request.urlopen(request, timeout=30) as response:
        print(f"{{name}} version {{version}} is now {{alias}} (HTTP {{response.status}})")
except urllib.error.HTTPError as error:
    detail = error.read(500).decode("utf-8", "replace").replace(chr(10), " ")
    sys.exit(f"{{name}} version {{version}}: MLflow answered HTTP {{error.code}}: {{detail}}")
except OSError as error:
    sys.exit(f"{{name}} version {{version}}: MLflow unreachable: {{error}}")
"""


def linked_versions(model: ModelSpec) -> list[ModelVersion]:
    """The versions whose MLflow alias follows them: those naming an MLflow model that serve all the traffic."""
    return [version for version in model.versions if version.mlflow is not None and version.weight == 100]


def alias_job_name(model: str, version: ModelVersion) -> str:
    """``<model>-<version>-alias-<hash>``: at most 30 + 1 + 20 + 7 + 5 = 63 characters (a Job's name limit)."""
    assert version.mlflow is not None
    what = json.dumps(
        [version.mlflow.model, version.mlflow.version, version.image, PRODUCTION_ALIAS], separators=(",", ":")
    )
    return f"{model}-{version.name}-alias-{hashlib.sha256(what.encode()).hexdigest()[:5]}"


def alias_job_env(mlflow_url: str, version: ModelVersion) -> dict[str, str]:
    assert version.mlflow is not None
    return {
        "MLFLOW_URL": mlflow_url,
        "MLFLOW_MODEL": version.mlflow.model,
        "MLFLOW_MODEL_VERSION": str(version.mlflow.version),
        "MLFLOW_ALIAS": PRODUCTION_ALIAS,
    }


def alias_job(
    name: str,
    *,
    namespace: pulumi.Input[str],
    model: str,
    version: ModelVersion,
    mlflow_url: pulumi.Input[str],
    image: pulumi.Input[str],
    labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.batch.v1.Job:
    """The Job that sets ``version``'s MLflow model's production alias (see the module docstring)."""
    assert version.mlflow is not None
    job_labels = {**labels, "app.kubernetes.io/component": COMPONENT, "model": model, "version": version.name}
    env = pulumi.Output.from_input(mlflow_url).apply(
        lambda url: [
            k8s.core.v1.EnvVarArgs(name=key, value=value)
            for key, value in alias_job_env(url, version).items()
        ]
    )
    container = k8s.core.v1.ContainerArgs(
        name=COMPONENT,
        image=image,
        command=[MLFLOW_PYTHON, "-c", SET_ALIAS_SCRIPT],
        env=env,
        resources=k8s.core.v1.ResourceRequirementsArgs(requests=dict(RESOURCES), limits=dict(RESOURCES)),
        security_context=container_security_context(),
        volume_mounts=[k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")],
    )
    return k8s.batch.v1.Job(
        name,
        k8s.batch.v1.JobInitArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=alias_job_name(model, version),
                namespace=namespace,
                labels=job_labels,
                annotations={
                    "mlops.platform/mlflow-model": version.mlflow.model,
                    "mlops.platform/mlflow-version": str(version.mlflow.version),
                    "mlops.platform/mlflow-alias": PRODUCTION_ALIAS,
                },
            ),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=BACKOFF_LIMIT,
                active_deadline_seconds=DEADLINE_SECONDS,
                ttl_seconds_after_finished=TTL_SECONDS,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=job_labels),
                    spec=hardened_pod_spec([container], "default", restart_policy="Never"),
                ),
            ),
        ),
        opts=opts,
    )
