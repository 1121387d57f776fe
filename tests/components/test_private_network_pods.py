"""Private networks in pods and on the serving load balancers: the CA bundle and proxy variables in MLflow and model
pods, Service certificates from the private CA's issuer, HTTPS backends, the client-certificate (mutual TLS)
listener, the subordinate CA and the secret-backed CA bundle.

Oracles: closed JSON Schemas written from the upstream CRDs (tests/schemas/cert-manager-v1.19.6.json for
Certificate), kubernetes-validate for built-in objects (tests/kube.py), `cryptography` for the PEM the trust store
reads, and the documented rules named in each test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from components.config import parse_platform, parse_team
from components.loader import ConfigError
from components.serving.config import check_team_on_platform, platform_serving
from components.trust.config import parse_pem_bundle
from tests.conftest import FIXTURES, REPO, STACKS, by_name, states
from tests.kube import invalid_builtin_objects

SCHEMAS = REPO / "tests" / "schemas"
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"
PROXY = "http://proxy.corp.example.com:3128"
BUNDLE = "/etc/mlops/ca/ca-bundle.pem"
TRUST_PROGRAM = REPO / "tests" / "fixtures" / "trust_program" / "__main__.py"
PRIVATE_CA_FILE = FIXTURES / "certs" / "shared-private-ca.pem"
ROOT_CA = "arn:aws:acm-pca:us-east-1:999999999999:certificate-authority/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"


@pytest.fixture(scope="module")
def private(synth) -> dict[str, Any]:
    return synth("private-network", FIXTURES)


@pytest.fixture(scope="module")
def ledger(synth) -> dict[str, Any]:
    return synth("team-ledger-prod", FIXTURES)


@pytest.fixture(scope="module")
def subordinate(synth_program) -> dict[str, Any]:
    return synth_program("private-subordinate", TRUST_PROGRAM)


def certificate_schema() -> dict[str, Any]:
    return json.loads((SCHEMAS / "cert-manager-v1.19.6.json").read_text())


def pod(document: dict[str, Any], name: str) -> dict[str, Any]:
    return by_name(document, name)["inputs"]["spec"]["template"]["spec"]


def env(pod_spec: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in pod_spec["containers"][0]["env"]}


def mounts(pod_spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in pod_spec["containers"][0]["volumeMounts"]}


def volumes(pod_spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in pod_spec["volumes"]}


def annotations(document: dict[str, Any], name: str) -> dict[str, str]:
    return by_name(document, name)["inputs"]["metadata"]["annotations"]


# ---------------------------------------------------------------------------------------------------------
# Pods: the CA bundle and the proxy


def assert_trusting_pod(pod_spec: dict[str, Any], vpc_cidr: str) -> None:
    values = env(pod_spec)
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "AWS_CA_BUNDLE"):
        assert values[name] == BUNDLE
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        assert values[name] == PROXY
    no_proxy = values["NO_PROXY"].split(",")
    assert values["no_proxy"] == values["NO_PROXY"]
    assert {vpc_cidr, ".svc", ".cluster.local", "169.254.170.23", "169.254.169.254"} <= set(no_proxy)
    assert mounts(pod_spec)["ca-bundle"] == {
        "name": "ca-bundle",
        "mountPath": "/etc/mlops/ca",
        "readOnly": True,
    }
    assert volumes(pod_spec)["ca-bundle"]["configMap"] == {
        "name": "mlops-ca-bundle",
        "items": [{"key": "ca-bundle.pem", "path": "ca-bundle.pem"}],
    }


def test_mlflow_pods_mount_the_ca_bundle_and_get_the_proxy(private):
    assert_trusting_pod(pod(private, "registry-mlflow"), "10.30.0.0/16")


def test_model_pods_mount_the_ca_bundle_and_get_their_regions_proxy(ledger):
    """Team stacks learn the bundle's ConfigMap and each region's proxy from the platform contract's `trust`."""
    for region, cidr in (("us-east-1", "10.30.0.0/16"), ("us-west-2", "10.31.0.0/16")):
        for name in (f"ledger-scorer-{region}-v1", f"ledger-reranker-{region}-v1"):
            assert_trusting_pod(pod(ledger, name), cidr)


def test_the_contract_carries_trust_only_for_platforms_with_the_feature(private, synth):
    trust = private["outputs"]["trust"]
    assert trust["caBundleConfigMap"] == "mlops-ca-bundle" and trust["caBundleKey"] == "ca-bundle.pem"
    assert trust["issuer"] == {
        "name": "mlops-private-ca",
        "kind": "AWSPCAClusterIssuer",
        "group": "awspca.cert-manager.io",
        "durationHours": 90 * 24,
    }
    assert trust["clientCertificatePort"] == 8443
    assert trust["proxyEnv"]["us-west-2"]["HTTPS_PROXY"] == PROXY
    assert "10.31.0.0/16" in trust["proxyEnv"]["us-west-2"]["NO_PROXY"].split(",")
    prod = synth("prod")
    assert prod["outputs"].get("trust") is None
    assert "SSL_CERT_FILE" not in env(pod(prod, "registry-mlflow"))


def test_built_in_objects_of_the_team_on_the_private_network_pass_kubernetes_validate(ledger):
    assert invalid_builtin_objects(ledger) == []


# ---------------------------------------------------------------------------------------------------------
# Service certificates and HTTPS backends


def test_certificates_validate_against_the_upstream_certificate_crd(private, ledger):
    """cert-manager v1.19.6 deploy/crds/cert-manager.io_certificates.yaml, closed (tests/schemas)."""
    found = [*states(private, CERTIFICATE), *states(ledger, CERTIFICATE)]
    assert len(found) == 1 + 4  # MLflow; scorer v1 and v2 in two regions (the reranker serves plain HTTP)
    for certificate in found:
        jsonschema.validate(certificate["inputs"], certificate_schema())


def test_the_closed_certificate_schema_refuses_a_misspelt_field(private):
    broken = json.loads(json.dumps(by_name(private, "registry-mlflow-cert")["inputs"]))
    broken["spec"]["dnsName"] = broken["spec"].pop("dnsNames")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, certificate_schema())


def test_mlflow_serves_https_with_its_certificate(private):
    """The ALB reaches MLflow with HTTPS (controller annotations `backend-protocol`, `healthcheck-protocol`,
    aws-load-balancer-controller v2.13.2 annotations.md); the kubelet probes HTTPS without verifying the
    certificate (https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/,
    HTTP probes `scheme`); in-cluster clients reach https://mlflow.mlflow.svc.cluster.local:5000."""
    spec = by_name(private, "registry-mlflow-cert")["inputs"]["spec"]
    assert spec["secretName"] == "mlflow-tls"
    assert spec["dnsNames"] == [
        "mlflow",
        "mlflow.mlflow",
        "mlflow.mlflow.svc",
        "mlflow.mlflow.svc.cluster.local",
        "mlflow.prod.mlops.internal",
    ]
    assert spec["issuerRef"] == {
        "group": "awspca.cert-manager.io",
        "kind": "AWSPCAClusterIssuer",
        "name": "mlops-private-ca",
    }
    assert (spec["duration"], spec["renewBefore"]) == ("2160h", "720h")
    cert = by_name(private, "registry-mlflow-cert")
    assert any(urn.endswith("::trust-us-east-1-issuer") for urn in cert["dependencies"])
    mlflow = pod(private, "registry-mlflow")
    assert volumes(mlflow)["tls"]["secret"] == {"secretName": "mlflow-tls"}
    assert env(mlflow)["TLS_CERT_FILE"] == "/etc/mlops/tls/tls.crt"
    assert mlflow["containers"][0]["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    ingress = annotations(private, "registry-mlflow-ingress")
    assert ingress["alb.ingress.kubernetes.io/backend-protocol"] == "HTTPS"
    assert ingress["alb.ingress.kubernetes.io/healthcheck-protocol"] == "HTTPS"
    assert (
        private["outputs"]["registry"]["mlflowServiceUrl"] == "https://mlflow.mlflow.svc.cluster.local:5000"
    )


def test_the_mlflow_entry_point_passes_the_certificate_to_uvicorn():
    """MLflow runs uvicorn by default and passes `--uvicorn-opts` through (mlflow/server/__init__.py
    _build_uvicorn_command); uvicorn's TLS options are `--ssl-certfile` and `--ssl-keyfile`."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bootstrap", REPO / "images" / "mlflow" / "bootstrap.py")
    bootstrap = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(bootstrap)
    base = {"DB_USER": "u", "DB_HOST": "h", "DB_NAME": "n"}
    assert "--uvicorn-opts" not in bootstrap.server_command(base)
    command = bootstrap.server_command({**base, "TLS_CERT_FILE": "/c/tls.crt", "TLS_KEY_FILE": "/c/tls.key"})
    assert command[-2:] == ["--uvicorn-opts", "--ssl-certfile /c/tls.crt --ssl-keyfile /c/tls.key"]


def test_a_model_that_serves_tls_gets_a_certificate_and_an_https_target_group(ledger):
    """HTTPS target groups and health checks for `serves-tls`; the ALB does not validate target certificates (ELB
    User Guide, "Target groups for your Application Load Balancers", routing configuration:
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html)."""
    spec = by_name(ledger, "ledger-scorer-us-east-1-v2-cert")["inputs"]["spec"]
    assert spec["dnsNames"] == [
        "scorer-v2",
        "scorer-v2.team-ledger",
        "scorer-v2.team-ledger.svc",
        "scorer-v2.team-ledger.svc.cluster.local",
    ]
    assert spec["secretName"] == "scorer-v2-tls"
    scorer = pod(ledger, "ledger-scorer-us-east-1-v2")
    assert volumes(scorer)["tls"]["secret"] == {"secretName": "scorer-v2-tls"}
    assert scorer["containers"][0]["livenessProbe"]["httpGet"]["scheme"] == "HTTPS"
    group = by_name(ledger, "ledger-scorer-us-east-1-v2-tg")["inputs"]
    assert (group["protocol"], group["healthCheck"]["protocol"]) == ("HTTPS", "HTTPS")
    reranker = by_name(ledger, "ledger-reranker-us-east-1-v1-tg")["inputs"]
    assert (reranker["protocol"], reranker["healthCheck"]["protocol"]) == ("HTTP", "HTTP")
    assert "tls" not in volumes(pod(ledger, "ledger-reranker-us-east-1-v1"))
    assert (
        "scheme"
        not in pod(ledger, "ledger-reranker-us-east-1-v1")["containers"][0]["livenessProbe"]["httpGet"]
    )


def test_a_target_groups_protocol_is_in_its_name_so_a_change_creates_a_new_one():
    """A target group's protocol cannot be modified (ELB API Reference, ModifyTargetGroup has no Protocol): a new
    protocol is a new target group, under a new name (names are unique per region and account)."""
    from components.serving.deployment import target_group_name

    http = target_group_name("ledger", "scorer", "v1", 8443, "vpc-1")
    assert target_group_name("ledger", "scorer", "v1", 8443, "vpc-1", "HTTP") == http
    assert target_group_name("ledger", "scorer", "v1", 8443, "vpc-1", "HTTPS") != http


# ---------------------------------------------------------------------------------------------------------
# Client certificates: the serving ALB's mutual-TLS listener


def test_the_serving_entry_opens_a_verifying_listener_with_the_private_ca_trust_store(private):
    """Mutual TLS is a listener's setting (ELB User Guide, "Mutual authentication with TLS in Application Load
    Balancer": https://docs.aws.amazon.com/elasticloadbalancing/latest/application/mutual-authentication.html), set
    through the controller's `mutual-authentication` annotation (port, mode verify, trustStore; "Exclusive" in an
    IngressGroup, so on the platform's entry only: aws-load-balancer-controller v2.13.2 annotations.md)."""
    for region in ("us-east-1", "us-west-2"):
        entry = annotations(private, f"serving-{region}-ingress")
        assert json.loads(entry["alb.ingress.kubernetes.io/listen-ports"]) == [
            {"HTTPS": 443},
            {"HTTPS": 8443},
        ]
        store = by_name(private, f"serving-{region}-trust-store")
        [auth] = json.loads(entry["alb.ingress.kubernetes.io/mutual-authentication"])
        trust_store = auth.pop("trustStore")
        assert auth == {"port": 8443, "mode": "verify", "ignoreClientCertificateExpiry": False}
        # The ARN of the platform's own trust store (its mock ARN ends in the store's name).
        assert trust_store.endswith(":truststore/mlops-prod-serving-clients")
        ingress = by_name(private, f"serving-{region}-ingress")
        assert store["urn"] in ingress["propertyDependencies"]["metadata"]
        inputs = store["inputs"]
        bundle = by_name(private, f"serving-{region}-trust-store-bundle")["inputs"]
        assert inputs["caCertificatesBundleS3Key"] == bundle["key"] == "trust/serving-clients-ca.pem"
        assert (
            bundle["serverSideEncryption"] == "aws:kms"
        )  # the artifact bucket's policy refuses anything else
        assert bundle["bucket"] == by_name(private, f"registry-artifacts-{region}")["id"]
        assert inputs["name"] == "mlops-prod-serving-clients"
        # The trust store holds the private CA's chain (and only it): client certificates chain to it.
        chain = [c.subject for c in parse_pem_bundle(bundle["content"].encode())]
        assert chain == [c.subject for c in parse_pem_bundle(PRIVATE_CA_FILE.read_bytes())]


def test_a_team_that_requires_client_certificates_serves_on_the_verifying_listener(ledger):
    """Per-team requirement: the team's rules go on the 8443 listener only (listen-ports is "Merge" in the group),
    where every connection presented a verified client certificate; each rule keeps its weighted forward action
    (one listener rule per host, forwarding to the versions' target groups by weight)."""
    route = annotations(ledger, "ledger-scorer-us-east-1-route")
    assert json.loads(route["alb.ingress.kubernetes.io/listen-ports"]) == [{"HTTPS": 8443}]
    forward = json.loads(route["alb.ingress.kubernetes.io/actions.weighted"])
    assert [g["weight"] for g in forward["forwardConfig"]["targetGroups"]] == [90, 10]
    assert "alb.ingress.kubernetes.io/mutual-authentication" not in route


def test_the_ingress_guard_admits_the_client_certificate_port_only_where_it_exists(private, synth):
    def listen_rule(document, region):
        spec = by_name(document, f"ingress-guard-{region}-policy")["inputs"]["spec"]
        return [v for v in spec["validations"] if "listens on" in v["message"]]

    [rule] = listen_rule(private, "us-east-1")
    assert rule["message"] == 'a team Ingress listens on one of: [{"HTTPS": 443}] or [{"HTTPS": 8443}]'
    assert '"alb.ingress.kubernetes.io/listen-ports" in variables.annotations' in rule["expression"]
    assert listen_rule(synth("prod"), "us-east-1") == []


# ---------------------------------------------------------------------------------------------------------
# Config errors (one line)


def team_error(stack: Path, platform_stack: Path, change) -> str:
    raw = yaml.safe_load(stack.read_text())["config"]["mlops:team"]
    change(raw)
    team = parse_team(raw, "stacks/Pulumi.t.yaml")
    platform = parse_platform(yaml.safe_load(platform_stack.read_text())["config"]["mlops:platform"], "p")
    with pytest.raises(ConfigError) as caught:
        check_team_on_platform(team, "stacks/Pulumi.t.yaml", platform_serving("prod", platform))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_client_certificates_on_a_platform_without_the_listener_is_a_one_line_error():
    def change(raw):
        raw["client-certificates"] = True

    assert team_error(STACKS / "Pulumi.team-fraud-prod.yaml", STACKS / "Pulumi.prod.yaml", change) == (
        "stacks/Pulumi.t.yaml: mlops:team.client-certificates: platform stack 'prod' has no private CA listener "
        "that verifies client certificates (its private-ca.client-certificates); allowed: false"
    )


def test_serves_tls_on_a_platform_without_an_issuer_is_a_one_line_error():
    def change(raw):
        raw["models"][1]["serves-tls"] = True

    assert team_error(STACKS / "Pulumi.team-fraud-prod.yaml", STACKS / "Pulumi.prod.yaml", change) == (
        "stacks/Pulumi.t.yaml: mlops:team.models[1].serves-tls: platform stack 'prod' issues no Service "
        "certificates (its private-ca with service-certificates); allowed: false"
    )


def test_the_ledger_team_fits_its_platform():
    team_error_free = yaml.safe_load((FIXTURES / "Pulumi.team-ledger-prod.yaml").read_text())["config"]
    team = parse_team(team_error_free["mlops:team"], "t")
    platform = parse_platform(
        yaml.safe_load((FIXTURES / "Pulumi.private-network.yaml").read_text())["config"]["mlops:platform"],
        "p",
    )
    check_team_on_platform(team, "t", platform_serving("private-network", platform))


def platform_error(change) -> str:
    raw = yaml.safe_load((FIXTURES / "Pulumi.private-network.yaml").read_text())["config"]["mlops:platform"]
    change(raw)
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "stacks/Pulumi.x.yaml")
    message = str(caught.value)
    assert "\n" not in message
    return message.removeprefix("stacks/Pulumi.x.yaml: ")


def test_client_certificates_without_the_dns_section_is_a_one_line_error():
    def change(raw):
        del raw["dns"]

    assert platform_error(change) == (
        "mlops:platform.private-ca.client-certificates: needs the dns and registry sections (the serving load "
        "balancers whose listener verifies client certificates, the artifact buckets holding its CA bundle); "
        "allowed: false without them"
    )


def test_a_bundle_secret_under_another_key_is_a_one_line_error():
    def change(raw):
        raw["custom-ca-bundle"] = {"secret": "mlops:corp-ca"}

    assert platform_error(change) == (
        "mlops:platform.custom-ca-bundle.secret: 'mlops:corp-ca' is not the bundle's secret key; allowed: "
        "mlops:custom-ca-bundle"
    )


def test_a_wrong_type_for_service_certificates_is_a_one_line_error():
    def change(raw):
        raw["private-ca"]["service-certificates"] = "sometimes"

    message = platform_error(change)
    assert message.startswith("mlops:platform.private-ca.service-certificates: ")


# ---------------------------------------------------------------------------------------------------------
# The subordinate CA and the secret-backed bundle (tests/fixtures/trust_program)


def test_the_subordinate_ca_is_signed_by_the_configured_root_with_the_pathlen0_template(subordinate):
    """A SUBORDINATE CA (never a root in the workload account), its CA certificate issued by the root named in
    config with SubordinateCACertificate_PathLen0/V1 (ACM Private CA User Guide, "Understanding certificate
    templates": https://docs.aws.amazon.com/privateca/latest/userguide/UsingTemplates.html), then installed."""
    authority = by_name(subordinate, "private-ca-ca")
    assert authority["type"] == "aws:acmpca/certificateAuthority:CertificateAuthority"
    inputs = authority["inputs"]
    assert inputs["type"] == "SUBORDINATE"
    config = inputs["certificateAuthorityConfiguration"]
    assert (config["keyAlgorithm"], config["signingAlgorithm"]) == ("EC_secp384r1", "SHA384WITHECDSA")
    assert config["subject"] == {"commonName": "mlops-prod-issuing-ca", "organization": "Example Corp"}
    assert inputs["keyStorageSecurityStandard"] == "FIPS_140_2_LEVEL_3_OR_HIGHER"
    certificate = by_name(subordinate, "private-ca-ca-certificate")
    assert certificate["inputs"]["certificateAuthorityArn"] == ROOT_CA
    assert certificate["inputs"]["templateArn"] == (
        "arn:aws:acm-pca:::template/SubordinateCACertificate_PathLen0/V1"
    )
    assert certificate["inputs"]["validity"] == {"type": "DAYS", "value": "1095"}
    # Signed with the root's key (IssueCertificate: the SigningAlgorithm "must match the algorithm family of the
    # private key of the CA" that issues, the root's RSA key by default), not the subordinate's EC family.
    assert certificate["inputs"]["signingAlgorithm"] == "SHA256WITHRSA"
    # Destroy keeps it (no RevokeCertificate at the root, which a RAM-shared root does not allow).
    assert certificate.get("retainOnDelete") is True or certificate.get("retain_on_delete") is True, (
        certificate.keys()
    )
    assert authority["urn"] in certificate["propertyDependencies"]["certificateSigningRequest"]
    installation = by_name(subordinate, "private-ca-ca-install")
    assert (
        installation["type"] == "aws:acmpca/certificateAuthorityCertificate:CertificateAuthorityCertificate"
    )
    assert authority["urn"] in installation["propertyDependencies"]["certificateAuthorityArn"]
    assert certificate["urn"] in installation["propertyDependencies"]["certificate"]


def test_a_secret_backed_bundle_stays_a_secret(subordinate):
    """`custom-ca-bundle.secret`: the PEM is read from the secret config value and stays a Pulumi secret."""
    output = subordinate["outputs"]["customCaBundle"]
    assert output["4dabf18193072939515e22adb298388d"] == "1b47061264138c4ac30d75fd1eb44270"


def test_a_secret_that_is_not_a_pem_bundle_is_a_one_line_error(tmp_path):
    from stacks.trust import _checked_secret

    with pytest.raises(ConfigError) as caught:
        _checked_secret("not a certificate", tmp_path / "Pulumi.x.yaml", "mlops:platform.custom-ca-bundle")
    assert str(caught.value) == (
        f"{tmp_path}/Pulumi.x.yaml: mlops:platform.custom-ca-bundle.secret: the secret value holds no PEM "
        "certificate (-----BEGIN CERTIFICATE-----)"
    )
