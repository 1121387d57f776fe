"""The MLflow link: a model version at 100% that names an MLflow registered model gets a Job in the team's namespace
that sets the model's production alias, with the platform's MLflow image and in-cluster Service."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from components.config import parse_team
from components.outputs import ContractError, PlatformOutputs
from components.serving.config import ModelVersion
from components.serving.mlflow_link import (
    ALIAS_PATH,
    MLFLOW_PYTHON,
    SET_ALIAS_SCRIPT,
    alias_job_env,
    alias_job_name,
)
from mlops.promote import Promotion, promote
from stacks.team import check_mlflow_links
from tests.conftest import REPO, STACKS, by_name, run_mlops, states
from tests.kube import KUBERNETES_VERSION

STACK = "team-fraud-prod"
JOB = "kubernetes:batch/v1:Job"
SCORER_IMAGE = (
    "333333333333.dkr.ecr.us-east-1.amazonaws.com/models/fraud/scorer@sha256:"
    "d5fdb5b46c9b1993d2a418fd59b33c6cb666955605704a0587c889be65d3b9d9"
)


@pytest.fixture
def stacks_dir(tmp_path: Path) -> Path:
    for name in ("dev", "staging", "prod", "team-fraud-dev", STACK):
        shutil.copy(STACKS / f"Pulumi.{name}.yaml", tmp_path)
    return tmp_path


def jobs(document) -> dict[str, dict]:
    return {state["urn"].rsplit("::", 1)[-1]: state for state in states(document, JOB)}


def test_the_prod_scorer_at_100_gets_one_job_setting_its_production_alias(synth):
    platform, team = synth("prod"), synth(STACK)
    (job,) = jobs(team).values()
    assert job["urn"].rsplit("::", 1)[-1] == "fraud-scorer-v3-mlflow-alias"
    manifest = job["inputs"]
    assert manifest["metadata"] == {
        "name": "scorer-v3-alias-ad828",
        "namespace": "team-fraud",
        "labels": {
            "app.kubernetes.io/component": "mlflow-alias",
            "environment": "prod",
            "model": "scorer",
            "team": "fraud",
            "version": "v3",
        },
        "annotations": {
            "mlops.platform/mlflow-alias": "production",
            "mlops.platform/mlflow-model": "fraud-scorer",
            "mlops.platform/mlflow-version": "3",
        },
    }
    spec = manifest["spec"]
    assert (spec["backoffLimit"], spec["ttlSecondsAfterFinished"], spec["activeDeadlineSeconds"]) == (
        2,
        86400,
        600,
    )
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["command"] == ["/opt/mlflow/bin/python", "-c", SET_ALIAS_SCRIPT]
    assert container["env"] == [
        {"name": "MLFLOW_URL", "value": "http://mlflow.mlflow.svc.cluster.local:5000"},
        {"name": "MLFLOW_MODEL", "value": "fraud-scorer"},
        {"name": "MLFLOW_MODEL_VERSION", "value": "3"},
        {"name": "MLFLOW_ALIAS", "value": "production"},
    ]
    # The platform's image: what its MLflow Deployment runs, handed over in the contract.
    registry = platform["outputs"]["registry"]
    mlflow = by_name(platform, "registry-mlflow")["inputs"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == registry["mlflowImage"] == mlflow["image"]
    assert container["image"].startswith("333333333333.dkr.ecr.us-east-1.amazonaws.com/mlops/mlflow@sha256:")
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "100m", "memory": "128Mi"},
    }
    # After the version's Deployment and the weights (the model's Ingress) are in place, in MLflow's cluster.
    deps = {urn.rsplit("::", 1)[-1] for urn in job["dependencies"]}
    assert {"fraud-scorer-us-east-1-v3", "fraud-scorer-us-east-1-route"} <= deps
    assert job["provider"].split("::")[-2] == "k8s-us-east-1"


def test_the_alias_job_passes_kubernetes_validate_and_the_pack(synth):
    (job,) = jobs(synth(STACK)).values()
    manifest = {key: value for key, value in job["inputs"].items() if key not in ("id", "urn")}
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    done = run_mlops("check", STACK, "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    (report,) = json.loads(done.stdout)["stacks"]
    assert [v for v in report["violations"] if "batch/v1:Job" in v["urn"]] == []


def test_the_job_is_admitted_by_mlflows_network_policies_and_allowed_hosts(synth):
    """MLflow's allow-clients admits namespaces with the `team` label (components/registry/mlflow.py client_peers);
    the team's allow-mlflow lets every pod out to MLflow's namespace and port; the Host header of the URL is one
    MLflow accepts (MLFLOW_SERVER_ALLOWED_HOSTS, its DNS-rebinding protection)."""
    platform, team = synth("prod"), synth(STACK)
    (job,) = jobs(team).values()
    env = {e["name"]: e["value"] for e in job["inputs"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    url = urlsplit(env["MLFLOW_URL"])
    namespace = by_name(team, "team-fraud-us-east-1-ns")["inputs"]["metadata"]
    assert namespace["name"] == job["inputs"]["metadata"]["namespace"]
    clients = by_name(platform, "registry-mlflow-netpol-allow-clients")["inputs"]["spec"]["ingress"][0]
    (team_peer,) = [p for p in clients["from"] if "matchExpressions" in p.get("namespaceSelector", {})]
    assert team_peer["namespaceSelector"]["matchExpressions"] == [{"key": "team", "operator": "Exists"}]
    assert "team" in namespace["labels"]
    assert clients["ports"] == [{"port": url.port, "protocol": "TCP"}]
    egress = by_name(team, "team-fraud-us-east-1-netpol-allow-mlflow")["inputs"]["spec"]
    assert egress["podSelector"] == {}
    assert egress["egress"] == [
        {
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "mlflow"}}}],
            "ports": [{"port": url.port, "protocol": "TCP"}],
        }
    ]
    server = by_name(platform, "registry-mlflow")["inputs"]["spec"]["template"]["spec"]["containers"][0]
    allowed = {e["name"]: e.get("value") for e in server["env"]}["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    assert url.netloc in allowed


def test_versions_below_100_or_without_mlflow_get_no_job_and_a_promotion_to_100_gets_one(synth, stacks_dir):
    path = stacks_dir / f"Pulumi.{STACK}.yaml"
    text = path.read_text()
    # The scorer loses its link; the embedder's canary v2 (10%) names one.
    text = text.replace("        mlflow:\n          model: fraud-scorer\n          version: 3\n", "")
    text = text.replace(
        "        weight: 10\n",
        "        weight: 10\n        mlflow:\n          model: fraud-embedder\n          version: 7\n",
    )
    path.write_text(text)
    assert jobs(synth(STACK, stacks_dir=stacks_dir)) == {}

    promoted = stacks_dir / "promoted"
    shutil.copytree(stacks_dir, promoted, ignore=shutil.ignore_patterns("promoted"))
    promote(
        Promotion(STACK, "embedder", "v2", weight=100, override="retrained on the full quarter"), promoted
    )
    found = jobs(synth(STACK, stacks_dir=promoted))
    assert list(found) == ["fraud-embedder-v2-mlflow-alias"]
    env = found["fraud-embedder-v2-mlflow-alias"]["inputs"]["spec"]["template"]["spec"]["containers"][0][
        "env"
    ]
    assert {e["name"]: e["value"] for e in env}["MLFLOW_MODEL_VERSION"] == "7"


def version(**changes) -> ModelVersion:
    fields = {
        "name": "v3",
        "image": SCORER_IMAGE,
        "weight": 100,
        "mlflow": {"model": "fraud-scorer", "version": 3},
    }
    return ModelVersion.model_validate({**fields, **changes})


def test_job_names_are_dns_labels_of_at_most_63_characters():
    """Kubernetes, Jobs, "Writing a Job spec": the name should follow the rules for a DNS label and, even as a DNS
    subdomain, must be no longer than 63 characters (https://kubernetes.io/docs/concepts/workloads/controllers/job/).
    Model names are at most 30 characters and version names 20 (components/serving/config.py)."""
    longest = alias_job_name("m" * 30, version(name="v" * 20))
    assert len(longest) == 63
    kubernetes_validate.validate(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": longest}},
        KUBERNETES_VERSION,
        strict=True,
    )


def test_a_new_promotion_is_a_new_job_and_the_same_one_keeps_its_name():
    same = alias_job_name("scorer", version())
    assert alias_job_name("scorer", version()) == same
    assert alias_job_name("scorer", version(mlflow={"model": "fraud-scorer", "version": 4})) != same
    assert alias_job_name("scorer", version(image=SCORER_IMAGE.replace("d5fdb", "e5fdb"))) != same
    assert alias_job_name("scorer", version(name="v4")).startswith("scorer-v4-alias-")


class _Recorder(BaseHTTPRequestHandler):
    status = 200
    seen: ClassVar[list[tuple[str, str, str | None, str | None, dict]]] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(
            (self.command, self.path, self.headers["Host"], self.headers["Content-Type"], body)
        )
        payload = (
            b"{}" if self.status == 200 else b'{"error_code": "RESOURCE_DOES_NOT_EXIST",\n"message": "no"}'
        )
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    _Recorder.seen, _Recorder.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run_script(url: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", **alias_job_env(url, version())}
    return subprocess.run(
        [sys.executable, "-c", SET_ALIAS_SCRIPT], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_script_posts_mlflows_set_alias_request_and_may_run_twice(recorder):
    """MLflow's SetRegisteredModelAlias: POST /api/2.0/mlflow/registered-models/alias with name, alias and version,
    the version a JSON string (mlflow 3.17.2: mlflow/protos/model_registry.proto, mlflow/server/handlers.py
    _set_registered_model_alias asserts `version` is a string). The SQL store merges the alias row, so a second run
    is harmless (sqlalchemy_store.set_registered_model_alias)."""
    first, second = run_script(recorder), run_script(recorder)
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert first.stdout == "fraud-scorer version 3 is now production (HTTP 200)\n"
    host = recorder.removeprefix("http://")
    expected = (
        "POST",
        ALIAS_PATH,
        host,
        "application/json",
        {"name": "fraud-scorer", "alias": "production", "version": "3"},
    )
    assert _Recorder.seen == [expected, expected]
    assert ALIAS_PATH == "/api/2.0/mlflow/registered-models/alias"


def test_the_script_fails_the_job_with_one_line_on_an_error_answer(recorder):
    _Recorder.status = 404
    done = run_script(recorder)
    assert done.returncode == 1
    assert done.stderr == (
        "fraud-scorer version 3: MLflow answered HTTP 404: "
        '{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no"}\n'
    )


def test_the_command_runs_the_python_of_the_platforms_mlflow_image():
    """The image's entry point runs its virtualenv's interpreter (images/mlflow/Dockerfile ENTRYPOINT); the Job
    replaces the entry point (`command`) with the same interpreter."""
    dockerfile = (REPO / "images" / "mlflow" / "Dockerfile").read_text()
    (entrypoint,) = [line for line in dockerfile.splitlines() if line.startswith("ENTRYPOINT ")]
    assert json.loads(entrypoint.removeprefix("ENTRYPOINT "))[0] == MLFLOW_PYTHON


def contract(synth, **registry) -> PlatformOutputs:
    outputs = json.loads(json.dumps(synth("prod")["outputs"]))
    outputs["registry"].update(registry)
    return PlatformOutputs.model_validate(outputs)


def test_a_link_needs_the_primary_region_first_and_the_platforms_mlflow(synth):
    raw = yaml.safe_load((STACKS / f"Pulumi.{STACK}.yaml").read_text())["config"]["mlops:team"]
    team = parse_team(raw, None)
    check_mlflow_links(team, contract(synth), "prod")  # the example passes
    with pytest.raises(ContractError) as missing:
        check_mlflow_links(team, contract(synth, mlflowImage=None), "prod")
    assert str(missing.value) == (
        "platform stack 'prod': output registry.mlflowImage: missing (versions scorer/v3 name an MLflow model, whose "
        "alias is set through the platform's MLflow); re-deploy the platform stack with a cluster in its primary "
        "region, or remove mlflow from those versions"
    )
    west_first = parse_team({**raw, "regions": ["us-west-2", "us-east-1"]}, None)
    with pytest.raises(ContractError) as order:
        check_mlflow_links(west_first, contract(synth), "prod")
    assert str(order.value) == (
        "mlops:team.regions: versions scorer/v3 name an MLflow model, and MLflow runs in the platform's primary "
        "region us-east-1, not the first region us-west-2; allowed: list us-east-1 first in regions, or remove "
        "mlflow from those versions"
    )
