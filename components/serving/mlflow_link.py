"""The MLflow link of a model version: once it serves all of its model's traffic, a Kubernetes Job in the team's
namespace points the registered model's ``production`` alias at the MLflow version it serves.

The Job runs the platform's MLflow image (its contract's ``registry.mlflowImage``, the image MLflow itself runs,
whose Python is /opt/mlflow/bin/python, images/mlflow/Dockerfile) with a short script from the standard library,
and calls MLflow's REST API through its in-cluster Service (``registry.mlflowServiceUrl``). The server takes no
credentials there: MLflow's ``allow-clients`` NetworkPolicy admits pods of team namespaces (namespaces carrying the
``team`` label, which only the platform sets) and the team's ``allow-mlflow`` policy lets its pods out to MLflow's
port, so the pod needs neither a Kubernetes token nor an AWS role. The ALB's sign-in guards only the browser path.

On a platform with private networking (the contract's ``trust``), MLflow serves HTTPS with a certificate of the
platform's private CA (``registry.mlflowServiceUrl`` is ``https://``): the pod mounts the CA bundle model pods mount
and gets the same variables (``SSL_CERT_FILE``, which Python's default TLS context reads through OpenSSL, and the
region's proxy variables), with MLflow's Service host added to ``NO_PROXY``/``no_proxy`` wherever urllib's matching
would otherwise send it to the proxy.

Setting an alias is an upsert in MLflow (the SQL store merges the alias row), so running the Job again for the same
version is harmless. Its name carries the model, the version and a hash of what it sets, so a new promotion (another
version, image or MLflow version) is a new Job that replaces the old one. The finished Job stays (no
``ttlSecondsAfterFinished``): a Job the TTL controller deleted would drop out of the stack's state at the next
``pulumi refresh`` and be created again by the next ``pulumi up``, setting the alias again over a manual rollback.
It is deleted with the stack or when a new promotion replaces it. A failed Job fails ``pulumi up``; it carries
``pulumi.com/replaceUnready: "true"``, so the next ``pulumi up`` replaces it (deletes and runs it again) instead of
waiting again on a Job that will never complete (a Job's pod template is immutable).
"""

from __future__ import annotations

import hashlib
import json
import urllib.request
from collections.abc import Mapping
from urllib.parse import urlsplit

import pulumi
import pulumi_kubernetes as k8s

from components.blocks.workload import PodTrust, container_security_context, hardened_pod_spec
from components.serving.canary import PRODUCTION_ALIAS
from components.serving.config import ModelSpec, ModelVersion

# MLflow's SetRegisteredModelAlias: POST /mlflow/registered-models/alias, served under /api/2.0 (model_registry.proto;
# mlflow/server/handlers.py _get_rest_path; the platform sets no --static-prefix).
ALIAS_PATH = "/api/2.0/mlflow/registered-models/alias"
# The interpreter of the platform's MLflow image (images/mlflow/Dockerfile: the virtualenv at /opt/mlflow).
MLFLOW_PYTHON = "/opt/mlflow/bin/python"
COMPONENT = "mlflow-alias"
BACKOFF_LIMIT = 2
DEADLINE_SECONDS = 600
# pulumi-kubernetes replaces a Job that is not ready (not Complete) at the next update instead of waiting on it again
# (batch/v1 Job resource docs; provider Diff: a named Job is deleted before its replacement is created).
REPLACE_UNREADY = {"pulumi.com/replaceUnready": "true"}
# Pulumi waits 10 minutes for a Job by default; a little longer than the Job's own deadline, so that a Job that
# cannot finish fails with its own condition (DeadlineExceeded, BackoffLimitExceeded) rather than Pulumi's timeout.
AWAIT_TIMEOUT = f"{DEADLINE_SECONDS // 60 + 2}m"
NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")
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


def bypassing(no_proxy: str, host: str) -> str:
    """``no_proxy`` with ``host`` added unless urllib's own matching already bypasses the proxy for it (the script
    is a urllib client: urllib.request.proxy_bypass_environment, suffix and exact-name entries)."""
    if urllib.request.proxy_bypass_environment(host, {"no": no_proxy}):
        return no_proxy
    return ",".join(entry for entry in (no_proxy, host) if entry)


def trust_env(mlflow_url: str, trust: PodTrust | None) -> dict[str, str]:
    """What model pods get from the platform's trust (the CA-bundle and proxy variables), with MLflow's Service
    host in both no-proxy spellings when there is a proxy."""
    if trust is None:
        return {}
    values = trust.env()
    if trust.proxy_env:
        host = urlsplit(mlflow_url).hostname or ""
        for name in NO_PROXY_VARIABLES:
            values[name] = bypassing(values.get(name, ""), host)
    return dict(sorted(values.items()))


def alias_job_env(mlflow_url: str, version: ModelVersion, trust: PodTrust | None = None) -> dict[str, str]:
    """The script's variables, then (on a platform with private networking) the trust variables in name order."""
    assert version.mlflow is not None
    return {
        "MLFLOW_URL": mlflow_url,
        "MLFLOW_MODEL": version.mlflow.model,
        "MLFLOW_MODEL_VERSION": str(version.mlflow.version),
        "MLFLOW_ALIAS": PRODUCTION_ALIAS,
        **trust_env(mlflow_url, trust),
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
    trust: pulumi.Input[PodTrust | None] | None = None,
) -> k8s.batch.v1.Job:
    """The Job that sets ``version``'s MLflow model's production alias (see the module docstring); ``trust``: the
    platform's CA bundle and the region's proxy variables, as model pods get them."""
    assert version.mlflow is not None
    job_labels = {**labels, "app.kubernetes.io/component": COMPONENT, "model": model, "version": version.name}

    def pod(url: str, pod_trust: PodTrust | None) -> k8s.core.v1.PodSpecArgs:
        container = k8s.core.v1.ContainerArgs(
            name=COMPONENT,
            image=image,
            command=[MLFLOW_PYTHON, "-c", SET_ALIAS_SCRIPT],
            env=[
                k8s.core.v1.EnvVarArgs(name=key, value=value)
                for key, value in alias_job_env(url, version, pod_trust).items()
            ],
            resources=k8s.core.v1.ResourceRequirementsArgs(requests=dict(RESOURCES), limits=dict(RESOURCES)),
            security_context=container_security_context(),
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
                *(pod_trust.mounts() if pod_trust is not None else []),
            ],
        )
        return hardened_pod_spec([container], "default", restart_policy="Never", trust=pod_trust)

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
                    **REPLACE_UNREADY,
                },
            ),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=BACKOFF_LIMIT,
                active_deadline_seconds=DEADLINE_SECONDS,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=job_labels),
                    spec=pulumi.Output.all(mlflow_url, trust).apply(lambda args: pod(*args)),
                ),
            ),
        ),
        opts=pulumi.ResourceOptions.merge(
            opts,
            pulumi.ResourceOptions(
                custom_timeouts=pulumi.CustomTimeouts(create=AWAIT_TIMEOUT, update=AWAIT_TIMEOUT)
            ),
        ),
    )
