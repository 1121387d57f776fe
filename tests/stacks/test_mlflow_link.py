"""The MLflow link: a model version at 100% that names an MLflow registered model gets a Job in the team's namespace
that sets the model's production alias, with the platform's MLflow image and in-cluster Service."""

from __future__ import annotations

import datetime
import inspect
import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import kubernetes_validate
import pulumi_kubernetes as k8s
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from components.blocks.workload import PodTrust
from components.config import parse_team
from components.outputs import ContractError, PlatformOutputs
from components.serving.config import ModelVersion
from components.serving.mlflow_link import (
    ALIAS_PATH,
    DEADLINE_SECONDS,
    MLFLOW_PYTHON,
    SET_ALIAS_SCRIPT,
    alias_job_env,
    alias_job_name,
    trust_env,
)
from mlops.promote import Promotion, promote
from stacks.team import check_mlflow_links
from tests.conftest import FIXTURES, REPO, STACKS, by_name, run_mlops, states
from tests.kube import KUBERNETES_VERSION

STACK = "team-fraud-prod"
LEDGER = "team-ledger-prod"  # fixture: a team on the private-network platform (private CA, egress proxy)
MLFLOW_HOST = "mlflow.mlflow.svc.cluster.local"
BUNDLE = "/etc/mlops/ca/ca-bundle.pem"
PROXY = "http://proxy.corp.example.com:3128"
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
            "pulumi.com/replaceUnready": "true",
        },
    }
    spec = manifest["spec"]
    assert sorted(spec) == ["activeDeadlineSeconds", "backoffLimit", "template"]  # no ttlSecondsAfterFinished
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"]) == (2, 600)
    assert job["customTimeouts"] == {"create": "12m", "update": "12m"}
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    assert [volume["name"] for volume in pod["volumes"]] == ["tmp"]  # prod has no private CA nor proxy
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


@pytest.mark.parametrize(("stack", "stacks"), [(STACK, STACKS), (LEDGER, FIXTURES)])
def test_the_alias_job_passes_kubernetes_validate_and_the_pack(synth, stack, stacks):
    (job,) = jobs(synth(stack, stacks)).values()
    manifest = {key: value for key, value in job["inputs"].items() if key not in ("id", "urn")}
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    done = run_mlops("check", stack, "--format", "json", "--stacks-dir", str(stacks))
    assert done.returncode == 0, done.stdout + done.stderr
    (report,) = json.loads(done.stdout)["stacks"]
    assert [v for v in report["violations"] if "batch/v1:Job" in v["urn"]] == []


@pytest.mark.parametrize(
    ("platform_stack", "stack", "stacks"), [("prod", STACK, STACKS), ("private-network", LEDGER, FIXTURES)]
)
def test_the_job_is_admitted_by_mlflows_network_policies_and_allowed_hosts(
    synth, platform_stack, stack, stacks
):
    """MLflow's allow-clients admits namespaces with the `team` label (components/registry/mlflow.py client_peers);
    the team's allow-mlflow lets every pod out to MLflow's namespace and port; the Host header of the URL is one
    MLflow accepts (MLFLOW_SERVER_ALLOWED_HOSTS, its DNS-rebinding protection)."""
    platform, team = synth(platform_stack, stacks), synth(stack, stacks)
    (job,) = jobs(team).values()
    env = {e["name"]: e["value"] for e in job["inputs"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    url = urlsplit(env["MLFLOW_URL"])
    name = job["inputs"]["metadata"]["namespace"]
    namespace = by_name(team, f"{name}-us-east-1-ns")["inputs"]["metadata"]
    assert namespace["name"] == job["inputs"]["metadata"]["namespace"]
    clients = by_name(platform, "registry-mlflow-netpol-allow-clients")["inputs"]["spec"]["ingress"][0]
    (team_peer,) = [p for p in clients["from"] if "matchExpressions" in p.get("namespaceSelector", {})]
    assert team_peer["namespaceSelector"]["matchExpressions"] == [{"key": "team", "operator": "Exists"}]
    assert "team" in namespace["labels"]
    assert clients["ports"] == [{"port": url.port, "protocol": "TCP"}]
    egress = by_name(team, f"{name}-us-east-1-netpol-allow-mlflow")["inputs"]["spec"]
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


# ---------------------------------------------------------------------------------------------------------
# On a platform with a private CA and an egress proxy (fixtures private-network and team-ledger-prod)


@pytest.fixture(scope="module")
def ledger(synth) -> dict:
    return synth(LEDGER, FIXTURES)


# The CA-bundle and proxy variables in name order (None: the region's no-proxy list).
TRUST_VARIABLES = [
    ("AWS_CA_BUNDLE", BUNDLE),
    ("HTTPS_PROXY", PROXY),
    ("HTTP_PROXY", PROXY),
    ("NO_PROXY", None),
    ("REQUESTS_CA_BUNDLE", BUNDLE),
    ("SSL_CERT_FILE", BUNDLE),
    ("http_proxy", PROXY),
    ("https_proxy", PROXY),
    ("no_proxy", None),
]


def container_env(state: dict) -> dict[str, str]:
    return {
        e["name"]: e["value"] for e in state["inputs"]["spec"]["template"]["spec"]["containers"][0]["env"]
    }


def test_on_the_private_network_the_job_mounts_the_model_pods_ca_bundle_and_gets_their_proxy(synth, ledger):
    """MLflow serves HTTPS under the platform's private CA there (registry.mlflowServiceUrl is https://), so the
    Job mounts the CA bundle ConfigMap trust-manager writes into the team's namespace and points SSL_CERT_FILE at
    it, as the region's model pods do, and gets the region's proxy variables."""
    platform = synth("private-network", FIXTURES)
    (job,) = jobs(ledger).values()
    assert job["urn"].rsplit("::", 1)[-1] == "ledger-reranker-v1-mlflow-alias"
    assert job["inputs"]["metadata"]["name"] == "reranker-v1-alias-14980"
    assert job["inputs"]["metadata"]["namespace"] == "team-ledger"
    pod = job["inputs"]["spec"]["template"]["spec"]
    assert pod["volumes"] == [
        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}},
        {
            "name": "ca-bundle",
            "configMap": {
                "name": "mlops-ca-bundle",
                "items": [{"key": "ca-bundle.pem", "path": "ca-bundle.pem"}],
            },
        },
    ]
    (container,) = pod["containers"]
    assert container["volumeMounts"] == [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "ca-bundle", "mountPath": "/etc/mlops/ca", "readOnly": True},
    ]
    trust = platform["outputs"]["trust"]
    no_proxy = trust["proxyEnv"]["us-east-1"]["NO_PROXY"]
    assert [(e["name"], e["value"]) for e in container["env"]] == [
        ("MLFLOW_URL", "https://mlflow.mlflow.svc.cluster.local:5000"),
        ("MLFLOW_MODEL", "ledger-reranker"),
        ("MLFLOW_MODEL_VERSION", "1"),
        ("MLFLOW_ALIAS", "production"),
        *[(name, no_proxy if value is None else value) for name, value in TRUST_VARIABLES],
    ]
    assert (
        platform["outputs"]["registry"]["mlflowServiceUrl"] == "https://mlflow.mlflow.svc.cluster.local:5000"
    )
    assert (trust["caBundleConfigMap"], trust["caBundleKey"]) == ("mlops-ca-bundle", "ca-bundle.pem")
    # The same bundle and variables as the model pods of the Job's region.
    model = by_name(ledger, "ledger-reranker-us-east-1-v1")["inputs"]["spec"]["template"]["spec"]
    model_env = {e["name"]: e["value"] for e in model["containers"][0]["env"]}
    job_env = container_env(job)
    shared = [name for name, _ in TRUST_VARIABLES]
    assert {name: model_env[name] for name in shared} == {name: job_env[name] for name in shared}
    assert [v for v in model["volumes"] if v["name"] == "ca-bundle"] == [pod["volumes"][1]]


def test_urllib_sends_the_jobs_call_to_mlflows_service_past_the_proxy(ledger, monkeypatch):
    """urllib's ProxyHandler skips the proxy for a host that `urllib.request.proxy_bypass` (on Linux,
    proxy_bypass_environment over no_proxy/NO_PROXY) matches; it takes the proxy from getproxies()
    (https://docs.python.org/3/library/urllib.request.html#urllib.request.getproxies: "no_proxy environment
    variable may be used to specify hosts which shouldn't be reached via proxy")."""
    env = container_env(next(iter(jobs(ledger).values())))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.setenv(name, env[name])
    assert urllib.request.getproxies()["https"] == PROXY
    host = urlsplit(env["MLFLOW_URL"]).netloc
    assert host == f"{MLFLOW_HOST}:5000"
    assert urllib.request.proxy_bypass(host)
    assert not urllib.request.proxy_bypass("pypi.org:443")  # the proxy is still in use for other hosts


def test_a_no_proxy_list_that_misses_mlflows_host_gets_it_in_the_job():
    """With `computed-no-proxy: false` the platform hands the stack's own list to pods; where urllib would send the
    MLflow Service to the proxy, the Job's NO_PROXY and no_proxy name the Service host (only there)."""
    hand_written = "169.254.169.254,169.254.170.23,.corp.example.com"
    proxy_env = {
        "HTTPS_PROXY": PROXY,
        "https_proxy": PROXY,
        "NO_PROXY": hand_written,
        "no_proxy": hand_written,
    }
    trust = PodTrust(ca_bundle="mlops-ca-bundle", proxy_env=proxy_env)
    url = f"https://{MLFLOW_HOST}:5000"
    assert not urllib.request.proxy_bypass_environment(f"{MLFLOW_HOST}:5000", {"no": hand_written})
    env = trust_env(url, trust)
    assert env["NO_PROXY"] == env["no_proxy"] == f"{hand_written},{MLFLOW_HOST}"
    assert urllib.request.proxy_bypass_environment(f"{MLFLOW_HOST}:5000", {"no": env["no_proxy"]})
    assert env["SSL_CERT_FILE"] == BUNDLE and env["HTTPS_PROXY"] == PROXY
    # urllib matches name suffixes: `.cluster.local` covers the Service's full name, `.svc` does not.
    for entries, expected in ((".cluster.local", ".cluster.local"), (".svc", f".svc,{MLFLOW_HOST}")):
        listed = PodTrust(proxy_env={**proxy_env, "NO_PROXY": entries, "no_proxy": entries})
        assert trust_env(url, listed)["no_proxy"] == expected
    assert trust_env(url, PodTrust(ca_bundle="mlops-ca-bundle")).keys() == {
        "AWS_CA_BUNDLE",
        "REQUESTS_CA_BUNDLE",
        "SSL_CERT_FILE",
    }  # no proxy, no no-proxy
    assert trust_env(url, None) == {}


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A self-signed CA and a server certificate it signs for localhost and 127.0.0.1 (PEM files)."""
    folder = tmp_path_factory.mktemp("private-ca")
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Private Root CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "tls.crt", folder / "tls.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_file, cert_file, key_file


@pytest.fixture
def https_recorder(private_ca):
    """The recording MLflow stub, over HTTPS with a certificate of the test CA, at https://localhost:PORT."""
    _, cert_file, key_file = private_ca
    _Recorder.seen, _Recorder.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run_with(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SET_ALIAS_SCRIPT],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_script_trusts_mlflows_private_ca_given_only_through_ssl_cert_file(https_recorder, private_ca):
    """Python's default TLS context (urllib's, ssl.create_default_context) loads OpenSSL's default verify paths,
    whose CA file OpenSSL takes from the variable ssl.get_default_verify_paths().openssl_cafile_env names, SSL_CERT_FILE
    (https://docs.python.org/3/library/ssl.html#ssl.get_default_verify_paths; OpenSSL
    X509_get_default_cert_file_env, https://docs.openssl.org/master/man3/X509_get_default_cert_file/)."""
    ca_file = private_ca[0]
    assert ssl.get_default_verify_paths().openssl_cafile_env == "SSL_CERT_FILE"
    unverified = run_with(alias_job_env(https_recorder, version()))
    assert unverified.returncode == 1
    assert "MLflow unreachable" in unverified.stderr and "CERTIFICATE_VERIFY_FAILED" in unverified.stderr
    assert _Recorder.seen == []
    done = run_with({**alias_job_env(https_recorder, version()), "SSL_CERT_FILE": str(ca_file)})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "fraud-scorer version 3 is now production (HTTP 200)\n"
    assert [(method, path, body) for method, path, _, _, body in _Recorder.seen] == [
        ("POST", ALIAS_PATH, {"name": "fraud-scorer", "alias": "production", "version": "3"})
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_script_reaches_mlflow_around_a_proxy_that_would_refuse_it(https_recorder, private_ca):
    """The Job's variables (trust_env) with the proxy at a closed port and a no-proxy list that misses MLflow's host:
    the Job's list names the host, so urllib connects directly; the list as given sends it to the dead proxy."""
    dead = f"http://127.0.0.1:{free_port()}"
    hand_written = "169.254.169.254,169.254.170.23,.corp.example.com"
    proxy_env = {
        **{name: dead for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")},
        "NO_PROXY": hand_written,
        "no_proxy": hand_written,
    }
    ca = {"SSL_CERT_FILE": str(private_ca[0])}
    through_proxy = run_with({**alias_job_env(https_recorder, version()), **proxy_env, **ca})
    assert through_proxy.returncode == 1 and "MLflow unreachable" in through_proxy.stderr
    assert _Recorder.seen == []
    job_env = alias_job_env(https_recorder, version(), PodTrust(proxy_env=proxy_env))
    assert job_env["no_proxy"] == f"{hand_written},localhost"
    done = run_with({**job_env, **ca})
    assert done.returncode == 0, done.stderr
    assert len(_Recorder.seen) == 1


# ---------------------------------------------------------------------------------------------------------
# Pulumi's handling of the Job


@pytest.mark.parametrize(("stack", "stacks"), [(STACK, STACKS), (LEDGER, FIXTURES)])
def test_replace_unready_a_failed_job_is_replaced_at_the_next_update_not_awaited_again(synth, stack, stacks):
    """pulumi-kubernetes, batch/v1 Job: "By default, if a resource failed to become ready in a previous update,
    Pulumi will continue to wait for readiness on the next update. If you would prefer to schedule a replacement
    for an unready resource on the next update, you can add the "pulumi.com/replaceUnready": "true" annotation"
    (https://www.pulumi.com/registry/packages/kubernetes/api-docs/batch/v1/job/; the pinned SDK's Job docstring).
    The provider replaces a named Job delete-first (provider.go Diff, deleteBeforeReplace for a named object of the
    same name). Pulumi still awaits the Job (no pulumi.com/skipAwait), so an alias MLflow refuses fails `pulumi up`;
    "If the Job has not reached a Ready state after 10 minutes, it will time out ... override ... customTimeouts":
    the timeout is above the Job's own activeDeadlineSeconds, so the Job's failure is what Pulumi reports."""
    # The pinned SDK's Job module (its constructors' docstrings), whitespace normalised.
    documented = " ".join(Path(inspect.getfile(k8s.batch.v1.Job)).read_text().split())
    assert '"pulumi.com/replaceUnready": "true" annotation' in documented
    assert "not reached a Ready state after 10 minutes" in documented
    assert "override the default timeout value by setting the 'customTimeouts' option" in documented
    (job,) = jobs(synth(stack, stacks)).values()
    annotations = job["inputs"]["metadata"]["annotations"]
    assert annotations["pulumi.com/replaceUnready"] == "true"
    assert "pulumi.com/skipAwait" not in annotations
    assert job["customTimeouts"] == {"create": "12m", "update": "12m"}
    assert 12 * 60 > job["inputs"]["spec"]["activeDeadlineSeconds"] == DEADLINE_SECONDS
    assert job["inputs"]["metadata"]["name"]  # named: replaced delete-first under the same name


@pytest.mark.parametrize(("stack", "stacks"), [(STACK, STACKS), (LEDGER, FIXTURES)])
def test_ttl_after_finished_is_unset_so_a_refresh_keeps_the_job_in_the_stack(synth, stack, stacks):
    """Kubernetes, "Automatic Cleanup for Finished Jobs": with `ttlSecondsAfterFinished` the TTL-after-finished
    controller deletes the finished Job (https://kubernetes.io/docs/concepts/workloads/controllers/ttlafterfinished/);
    `pulumi refresh` would then drop it from the state and the next `pulumi up` would create it again, setting
    the alias again over a manual rollback. The Job has no TTL: it stays until a new promotion replaces it or the
    stack is destroyed."""
    (job,) = jobs(synth(stack, stacks)).values()
    assert "ttlSecondsAfterFinished" not in job["inputs"]["spec"]


@pytest.mark.parametrize(("stack", "stacks"), [(STACK, STACKS), (LEDGER, FIXTURES)])
def test_the_jobs_pod_meets_the_restricted_pod_security_standard(synth, stack, stacks):
    """Team namespaces enforce Pod Security ``restricted``; the Job's pod, with the CA bundle's configMap volume on
    the private network, meets each rule of https://kubernetes.io/docs/concepts/security/pod-security-standards/
    that tests/training/test_training.py restricted_violations checks (host namespaces, privileged, host ports,
    volume types, privilege escalation, non-root, seccomp, capabilities)."""
    from tests.training.test_training import restricted_violations

    (job,) = jobs(synth(stack, stacks)).values()
    pod = job["inputs"]["spec"]["template"]
    assert restricted_violations(pod) == []
    hostile = json.loads(json.dumps(pod))
    hostile["spec"]["volumes"].append({"name": "host", "hostPath": {"path": "/etc"}})
    assert restricted_violations(hostile) == ["volume types: host"]
