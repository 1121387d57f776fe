"""Private networks: the egress proxy, the custom CA bundle and the private CA (components/trust, stacks/trust.py).

Oracles: Python's `email` parser reads the AL2023 user data back (MIME multi-part), `tomllib` the Bottlerocket
settings, `cryptography` the PEM bundles, closed JSON Schemas written from the upstream CRDs (tests/schemas, see each
$comment) the NodeConfig, AWSPCAClusterIssuer and Bundle, Helm's own merge (helm-python-sdk) the trust charts'
effective values (tests/data/charts, README there), parliament the issuer's IAM policy.
"""

from __future__ import annotations

import base64
import configparser
import email
import json
import re
import tomllib
from typing import Any

import helm_python
import jsonschema
import pytest
import yaml

from components.config import parse_platform
from components.loader import ConfigError
from components.trust.component import BUNDLE_KEY, ISSUER_NAME, bundle_spec, issuer_spec
from components.trust.config import EgressProxyConfig, parse_pem_bundle
from components.trust.pca import issuer_policy
from components.trust.proxy import no_proxy, proxy_settings
from components.trust.userdata import CA_ANCHOR, al2023_user_data, bottlerocket_user_data
from tests.conftest import FIXTURES, REPO, by_name, states
from tests.iam_lint import Document, parliament_findings

SCHEMAS = REPO / "tests" / "schemas"
CHARTS = REPO / "tests" / "data" / "charts"
STACK = FIXTURES / "Pulumi.private-network.yaml"
CA_FILE = FIXTURES / "certs" / "corp-root-ca.pem"
PRIVATE_CA_FILE = FIXTURES / "certs" / "shared-private-ca.pem"
CA_ARN = "arn:aws:acm-pca:us-east-1:999999999999:certificate-authority/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
TEMPLATE = "arn:aws:acm-pca:::template/EndEntityCertificate/V1"
PROXY = "http://proxy.corp.example.com:3128"
REGIONS = ("us-east-1", "us-west-2")


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text())


def raw_platform() -> dict[str, Any]:
    return yaml.safe_load(STACK.read_text())["config"]["mlops:platform"]


def error(change) -> str:
    raw = raw_platform()
    change(raw)
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "stacks/Pulumi.x.yaml")
    message = str(caught.value)
    assert "\n" not in message
    return message.removeprefix("stacks/Pulumi.x.yaml: ")


@pytest.fixture(scope="module")
def private(synth) -> dict[str, Any]:
    return synth("private-network", FIXTURES)


# ---------------------------------------------------------------------------------------------------------
# Config: one-line errors


def test_a_proxy_url_that_is_not_http_is_a_one_line_error():
    def change(raw):
        raw["egress-proxy"]["https"] = "socks5://proxy.corp.example.com:1080"

    assert error(change) == (
        "mlops:platform.egress-proxy.https: 'socks5://proxy.corp.example.com:1080' is not an http(s) proxy URL; "
        "allowed: http://host:port or https://host:port"
    )


def test_a_no_proxy_list_that_sends_the_pod_identity_agent_through_the_proxy_is_an_error():
    """The EKS Pod Identity agent answers on 169.254.170.23 and [fd00:ec2::23] on the node itself ("Learn how EKS
    Pod Identity grants pods access to AWS services", https://docs.aws.amazon.com/eks/latest/userguide/
    pod-id-how-it-works.html); a proxy cannot reach it, so credentials would fail."""

    def change(raw):
        raw["egress-proxy"]["computed-no-proxy"] = False
        raw["egress-proxy"]["no-proxy"] = ["10.30.0.0/16", "169.254.169.254"]

    assert error(change) == (
        "mlops:platform.egress-proxy.no-proxy: sends 169.254.170.23 (the EKS Pod Identity agent) through the proxy; "
        "allowed: a list that covers 169.254.169.254, 169.254.170.23, fd00:ec2::23 (or computed-no-proxy: true)"
    )


def test_a_no_proxy_list_that_sends_the_metadata_service_through_the_proxy_is_an_error():
    """IMDS answers on 169.254.169.254 on the instance's link only (EC2 User Guide, "Access instance metadata",
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html). A CIDR covering it counts."""

    def change(raw):
        raw["egress-proxy"]["computed-no-proxy"] = False
        raw["egress-proxy"]["no-proxy"] = ["169.254.170.23", "fd00:ec2::23/128"]

    assert "sends 169.254.169.254 (the instance metadata service) through the proxy" in error(change)
    ok = EgressProxyConfig.model_validate(
        {
            "http": PROXY,
            "https": PROXY,
            "computed-no-proxy": False,
            "no-proxy": ["169.254.0.0/16", "fd00:ec2::/64"],
        }
    )
    assert ok.no_proxy == ["169.254.0.0/16", "fd00:ec2::/64"]


def test_a_pem_that_does_not_parse_is_a_one_line_error(tmp_path):
    bad = REPO / "tests" / "fixtures" / "stacks" / "certs" / "not-a-ca.pem"
    assert (
        parse_pem_bundle(CA_FILE.read_bytes())[0].subject.rfc4514_string().startswith("CN=Example Corp Proxy")
    )

    def change(raw):
        raw["custom-ca-bundle"]["file"] = "README.md"

    # The file is read where the program runs (stacks/trust.py): through the same reader here.
    from components.trust.config import CustomCaBundleConfig, read_ca_bundle

    with pytest.raises(ConfigError) as caught:
        read_ca_bundle(
            CustomCaBundleConfig(file="README.md"), "stacks/Pulumi.x.yaml", "mlops:platform.custom-ca-bundle"
        )
    assert str(caught.value) == (
        "stacks/Pulumi.x.yaml: mlops:platform.custom-ca-bundle.file: README.md holds no PEM certificate "
        "(-----BEGIN CERTIFICATE-----)"
    )
    broken = CA_FILE.read_text().replace("M", "!", 3)
    with pytest.raises(ValueError, match="is not a PEM certificate bundle that parses"):
        parse_pem_bundle(broken.encode())
    assert not bad.exists()


def test_a_private_ca_names_one_ca_and_an_end_entity_template():
    def both(raw):
        raw["private-ca"]["subordinate"] = {"root-ca-arn": CA_ARN, "common-name": "mlops"}

    assert error(both) == (
        "mlops:platform.private-ca.ca-arn: set exactly one of ca-arn (an existing, possibly shared, CA) or "
        "subordinate (a subordinate CA the platform creates under a root CA)"
    )

    def root_template(raw):
        raw["private-ca"]["template-arn"] = "arn:aws:acm-pca:::template/RootCACertificate/V1"

    assert error(root_template).startswith(
        "mlops:platform.private-ca.template-arn: 'arn:aws:acm-pca:::template/RootCACertificate/V1' is not an "
        "end-entity certificate template"
    )


def test_the_trust_charts_are_pinned_when_a_private_ca_is_configured():
    def change(raw):
        del raw["cluster"]["charts"]["aws-privateca-issuer"]

    assert (
        error(change)
        == "mlops:platform.cluster.charts.aws-privateca-issuer: missing; required with private-ca (an exact X.Y.Z)"
    )


# ---------------------------------------------------------------------------------------------------------
# The computed no-proxy list


def test_the_no_proxy_list_is_computed_from_the_vpc_the_service_cidr_and_the_endpoints():
    """Everything the VPC reaches without the internet bypasses the proxy: the VPC CIDR, both default EKS service
    CIDRs ("If you don't specify a block, Kubernetes assigns addresses from either the 10.100.0.0/16 or
    172.20.0.0/16 CIDR blocks", EKS API Reference, KubernetesNetworkConfigRequest), in-cluster names, IMDS and the
    Pod Identity agent, and the endpoints' regional names (the Knowledge Center's list for proxied nodes has the same
    kinds: https://repost.aws/knowledge-center/eks-http-proxy-configuration-automation)."""
    proxy = EgressProxyConfig.model_validate(
        {"http": PROXY, "https": PROXY, "no-proxy": [".corp.example.com"]}
    )
    entries = no_proxy(
        proxy,
        vpc_cidrs=["10.30.0.0/16"],
        region="us-east-1",
        endpoint_services=["ecr.api", "ecr.dkr", "sts", "s3"],
    )
    assert entries == [
        "10.30.0.0/16",
        "10.100.0.0/16",
        "172.20.0.0/16",
        "localhost",
        "127.0.0.1",
        ".svc",
        ".cluster.local",
        ".internal",
        "169.254.169.254",
        "169.254.170.23",
        "fd00:ec2::23",
        ".us-east-1.eks.amazonaws.com",
        "api.ecr.us-east-1.amazonaws.com",
        ".dkr.ecr.us-east-1.amazonaws.com",
        "sts.us-east-1.amazonaws.com",
        ".s3.us-east-1.amazonaws.com",
        "s3.us-east-1.amazonaws.com",
        ".corp.example.com",
    ]
    cn = no_proxy(
        proxy, vpc_cidrs=["10.0.0.0/16"], region="cn-north-1", endpoint_services=["sts"], partition="aws-cn"
    )
    assert "sts.cn-north-1.amazonaws.com.cn" in cn
    assert ".cn-north-1.eks.amazonaws.com.cn" in cn


def test_the_cluster_api_endpoint_name_bypasses_the_proxy_as_no_proxy_matches_names():
    """The kubelet reaches the cluster's private endpoint `<id>.<xx>.<region>.eks.amazonaws.com` by name; a CIDR
    entry covers only IP literals and `eks.<region>.amazonaws.com` (the eks endpoint) is another domain, so the
    list names `.<region>.eks.amazonaws.com` (golang.org/x/net/http/httpproxy: "a domain name matches that name
    and all subdomains"; checked here with Python's own NO_PROXY matcher, urllib.request.proxy_bypass_environment,
    which applies the same suffix rule)."""
    import urllib.request

    proxy = EgressProxyConfig.model_validate({"http": PROXY, "https": PROXY})
    entries = no_proxy(
        proxy, vpc_cidrs=["10.30.0.0/16"], region="us-east-1", endpoint_services=["eks", "eks-auth"]
    )
    assert "eks-auth.us-east-1.api.aws" in entries
    bypass = {"no": ",".join(entries)}
    endpoint = "0123456789ABCDEF0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com"
    assert urllib.request.proxy_bypass_environment(endpoint, bypass)
    assert not urllib.request.proxy_bypass_environment("example.com", bypass)
    without = {"no": ",".join(e for e in entries if e != ".us-east-1.eks.amazonaws.com")}
    assert not urllib.request.proxy_bypass_environment(endpoint, without)


# ---------------------------------------------------------------------------------------------------------
# Node user data, parsed back


def settings():
    proxy = EgressProxyConfig.model_validate({"http": PROXY, "https": PROXY})
    return proxy_settings(proxy, vpc_cidrs=["10.30.0.0/16"], region="us-east-1", endpoint_services=["sts"])


def parse_mime(text: str) -> list[email.message.Message]:
    message = email.message_from_string(text)
    assert message.get_content_type() == "multipart/mixed"
    assert message["MIME-Version"] == "1.0"
    return [part for part in message.walk() if not part.is_multipart()]


def drop_ins(script: str) -> dict[str, configparser.ConfigParser]:
    """The heredocs the script writes, by path, parsed as systemd unit files (INI)."""
    found, lines = {}, script.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("cat > ") and line.endswith("<<'MLOPS_EOF'"):
            path = line.split()[2]
            end = lines.index("MLOPS_EOF", index)
            found[path] = "\n".join(lines[index + 1 : end])
    return found


def test_al2023_user_data_is_mime_multipart_with_proxy_drop_ins_and_the_ca_anchor():
    """AL2023 nodes take MIME multi-part user data that nodeadm merges with EKS's or Karpenter's NodeConfig
    (https://docs.aws.amazon.com/eks/latest/userguide/launch-templates.html); containerd and the kubelet read the
    proxy from systemd drop-ins `/etc/systemd/system/<unit>.service.d/http-proxy.conf`
    (https://docs.aws.amazon.com/eks/latest/userguide/hybrid-nodes-proxy.html)."""
    pem = CA_FILE.read_text()
    [part] = parse_mime(al2023_user_data(settings(), pem))
    assert part.get_content_type() == "text/x-shellscript"
    script = part.get_payload(decode=True).decode()
    assert script.startswith("#!/bin/bash\nset -euo pipefail\n")
    files = drop_ins(script)
    for unit in ("containerd", "kubelet"):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.optionxform = str
        parser.read_string(files[f"/etc/systemd/system/{unit}.service.d/http-proxy.conf"])
        assert parser.sections() == ["Service"]
    text = files["/etc/systemd/system/containerd.service.d/http-proxy.conf"]
    assert f'Environment="HTTP_PROXY={PROXY}"' in text.splitlines()
    assert f'Environment="HTTPS_PROXY={PROXY}"' in text.splitlines()
    [no] = [line for line in text.splitlines() if line.startswith('Environment="NO_PROXY=')]
    assert "169.254.170.23" in no.split("=", 2)[2].rstrip('"').split(",")
    assert parse_pem_bundle(files[CA_ANCHOR].encode())[0].subject == parse_pem_bundle(pem.encode())[0].subject
    assert script.index("update-ca-trust extract") > script.index(CA_ANCHOR)
    assert script.rstrip().endswith("systemctl daemon-reload")


def test_nodeadm_nodeconfig_has_no_proxy_or_ca_field_so_a_shell_part_does_it():
    """nodeadm's NodeConfig (its CRD at amazon-eks-ami v20250505, tests/schemas/nodeadm-v20250505.json) has spec
    keys cluster, containerd, featureGates, instance and kubelet only; a proxy key is refused by the closed schema."""
    nodeconfig = schema("nodeadm-v20250505.json")
    spec = nodeconfig["$defs"]["NodeConfig"]["properties"]["spec"]
    assert sorted(spec["properties"]) == ["cluster", "containerd", "featureGates", "instance", "kubelet"]
    document = {
        "apiVersion": "node.eks.aws/v1alpha1",
        "kind": "NodeConfig",
        "metadata": {},
        "spec": {"proxy": {}},
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, nodeconfig)


def test_bottlerocket_user_data_is_toml_settings_with_the_proxy_and_a_trusted_pki_bundle():
    """Bottlerocket: `settings.network.https-proxy` and `no-proxy` (https://bottlerocket.dev/en/os/1.34.x/api/
    settings/network/), `settings.pki.<bundle>.data` base64 PEM and `trusted = true`
    (https://bottlerocket.dev/en/os/1.34.x/api/settings/pki/)."""
    pem = CA_FILE.read_text()
    parsed = tomllib.loads(bottlerocket_user_data(settings(), pem))
    network = parsed["settings"]["network"]
    assert network["https-proxy"] == PROXY
    assert "169.254.169.254" in network["no-proxy"] and "10.30.0.0/16" in network["no-proxy"]
    bundle = parsed["settings"]["pki"]["mlops-custom-ca"]
    assert bundle["trusted"] is True
    assert (
        parse_pem_bundle(base64.b64decode(bundle["data"]))[0].subject
        == parse_pem_bundle(pem.encode())[0].subject
    )


# ---------------------------------------------------------------------------------------------------------
# The fixture stack


def test_the_fixture_nodes_get_the_proxy_and_the_ca_through_their_user_data(private):
    ca_subject = parse_pem_bundle(CA_FILE.read_bytes())[0].subject
    for region in REGIONS:
        node_class = by_name(private, f"cluster-{region}-node-class")["inputs"]["spec"]
        [part] = parse_mime(node_class["userData"])
        script = part.get_payload(decode=True).decode()
        assert parse_pem_bundle(drop_ins(script)[CA_ANCHOR].encode())[0].subject == ca_subject
        launch_template = by_name(private, f"cluster-{region}-system-lt")["inputs"]
        assert base64.b64decode(launch_template["userData"]).decode() == node_class["userData"]
        conf = drop_ins(script)["/etc/systemd/system/kubelet.service.d/http-proxy.conf"]
        cidr = "10.30.0.0/16" if region == "us-east-1" else "10.31.0.0/16"
        assert cidr in conf and f"sts.{region}.amazonaws.com" in conf
    # The issuer reaches Private CA through an endpoint in the CA's region only.
    assert (
        by_name(private, "net-us-east-1-acm-pca-endpoint")["inputs"]["serviceName"]
        == "com.amazonaws.us-east-1.acm-pca"
    )
    assert not [s for s in states(private) if s["urn"].endswith("net-us-west-2-acm-pca-endpoint")]


def test_prod_nodes_have_no_user_data_without_the_feature(synth):
    prod = synth("prod")
    for region in REGIONS:
        assert "userData" not in by_name(prod, f"cluster-{region}-node-class")["inputs"]["spec"]
        assert "userData" not in by_name(prod, f"cluster-{region}-system-lt")["inputs"]
    assert not states(prod, "mlops:trust:ClusterTrust")


def test_issuer_and_bundle_validate_against_the_upstream_crds(private):
    issuer_schema = schema("aws-privateca-issuer-v1.9.0.json")
    bundle_schema = schema("trust-manager-v0.20.2.json")
    for region in REGIONS:
        issuer = by_name(private, f"trust-{region}-issuer")["inputs"]
        jsonschema.validate(issuer, issuer_schema)
        assert issuer["metadata"]["name"] == ISSUER_NAME
        assert issuer["spec"] == {
            "arn": CA_ARN,
            "region": "us-east-1",
            "pcaTemplate": {"defaultTemplateName": "EndEntityCertificate/V1"},
        }
        bundle = by_name(private, f"trust-{region}-bundle")["inputs"]
        jsonschema.validate(bundle, bundle_schema)
        spec = bundle["spec"]
        assert spec["sources"][0] == {"useDefaultCAs": True}
        inline = [parse_pem_bundle(s["inLine"].encode())[0].subject for s in spec["sources"][1:]]
        assert inline == [
            parse_pem_bundle(PRIVATE_CA_FILE.read_bytes())[0].subject,
            parse_pem_bundle(CA_FILE.read_bytes())[0].subject,
        ]
        assert spec["target"]["configMap"] == {"key": BUNDLE_KEY}


def test_the_closed_schemas_refuse_a_misspelt_field():
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {
                "apiVersion": "awspca.cert-manager.io/v1beta1",
                "kind": "AWSPCAClusterIssuer",
                "metadata": {},
                "spec": {**issuer_spec(CA_ARN, "us-east-1", "EndEntityCertificate/V1"), "template": "x"},
            },
            schema("aws-privateca-issuer-v1.9.0.json"),
        )
    spec = bundle_spec(["pem"])
    spec["target"]["configmap"] = spec["target"].pop("configMap")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"apiVersion": "trust.cert-manager.io/v1alpha1", "kind": "Bundle", "metadata": {}, "spec": spec},
            schema("trust-manager-v0.20.2.json"),
        )


def test_every_platform_and_team_namespace_carries_the_bundles_namespace_label(private):
    """The Bundle selects namespaces with a Pod Security `enforce` label: every namespace the platform creates
    carries one (labelled_namespace, RESTRICTED_POD_SECURITY; team namespaces too)."""
    [expression] = bundle_spec([])["target"]["namespaceSelector"]["matchExpressions"]
    assert expression == {"key": "pod-security.kubernetes.io/enforce", "operator": "Exists"}
    for namespace in states(private, "kubernetes:core/v1:Namespace"):
        assert "pod-security.kubernetes.io/enforce" in namespace["inputs"]["metadata"]["labels"]


# ---------------------------------------------------------------------------------------------------------
# The issuer's IAM policy


def test_issuer_policy_is_the_readmes_minimal_policy_with_the_template_condition_and_passes_parliament(
    private,
):
    """The issuer's README (aws-privateca-issuer v1.9.0, "minimal policy"): DescribeCertificateAuthority,
    GetCertificate and IssueCertificate on the CA; IssueCertificate only with the template (`acm-pca:TemplateArn`,
    Service Authorization Reference for AWS Private CA)."""
    policy = issuer_policy(CA_ARN, TEMPLATE)
    assert policy["Statement"][0]["Condition"] == {"ArnEquals": {"acm-pca:TemplateArn": TEMPLATE}}
    actions = sorted(
        a
        for s in policy["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    )
    assert actions == [
        "acm-pca:DescribeCertificateAuthority",
        "acm-pca:GetCertificate",
        "acm-pca:IssueCertificate",
    ]
    for region in REGIONS:
        inputs = by_name(private, f"trust-{region}-pca-issuer-policy")["inputs"]
        assert json.loads(inputs["policy"]) == policy
        document = Document(
            f"trust-{region}-pca-issuer-policy", "aws:iam/rolePolicy:RolePolicy", "policy", "identity", policy
        )
        assert parliament_findings(document) == []
        association = by_name(private, f"trust-{region}-pca-issuer-identity")["inputs"]
        assert (association["namespace"], association["serviceAccount"]) == (
            "cert-manager",
            "aws-privateca-issuer",
        )


# ---------------------------------------------------------------------------------------------------------
# The trust charts' effective values (Helm's merge)


def chart(name: str, version: str) -> helm_python.Chart:
    loaded = helm_python.Chart.load(CHARTS / f"{name}-{version}")
    assert (loaded.name, loaded.version) == (name, version)
    return loaded


def rendered_objects(manifests: dict[str, str]) -> list[dict[str, Any]]:
    """The objects of a render's YAML templates (the issuer's rbac.yaml joins `---` to a comment: split there)."""
    return [
        doc
        for path, text in sorted(manifests.items())
        if path.endswith((".yaml", ".yml"))
        for doc in yaml.safe_load_all(re.sub(r"^---(?=\S)", "---\n", text, flags=re.M))
        if doc
    ]


def release(document, name):
    return by_name(document, name)["inputs"]


def test_cert_manager_installs_its_crds_and_takes_the_proxy(private):
    """cert-manager v1.19.6 values.yaml: `crds.enabled` renders the CRD templates; `http_proxy`, `https_proxy`,
    `no_proxy` become the controller's HTTP_PROXY, HTTPS_PROXY, NO_PROXY (templates/deployment.yaml)."""
    inputs = release(private, "trust-us-east-1-cert-manager")
    assert (inputs["chart"], inputs["version"], inputs["namespace"]) == (
        "cert-manager",
        "v1.19.6",
        "cert-manager",
    )
    with chart("cert-manager", "v1.19.6") as loaded:
        values = loaded.merge_values(inputs["values"])
        assert values["crds"] == {"enabled": True, "keep": True}
        assert values["http_proxy"] == PROXY
        manifests = loaded.render(
            values=inputs["values"], name="cert-manager", namespace="cert-manager", is_install=True
        )
    docs = rendered_objects(manifests)
    crds = {d["metadata"]["name"] for d in docs if d["kind"] == "CustomResourceDefinition"}
    assert "certificates.cert-manager.io" in crds
    [controller] = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "cert-manager"]
    env = {
        e["name"]: e.get("value")
        for e in controller["spec"]["template"]["spec"]["containers"][0].get("env", [])
    }
    assert env["HTTPS_PROXY"] == PROXY and "169.254.170.23" in env["NO_PROXY"].split(",")


def test_the_pca_issuer_runs_under_its_pod_identity_service_account_with_the_proxy(private):
    inputs = release(private, "trust-us-east-1-aws-privateca-issuer")
    with chart("aws-privateca-issuer", "v1.9.0") as loaded:
        values = loaded.merge_values(inputs["values"])
        assert values["serviceAccount"]["name"] == "aws-privateca-issuer"
        assert values["approverRole"] == {
            "enabled": True,
            "serviceAccountName": "cert-manager",
            "namespace": "cert-manager",
        }
        manifests = loaded.render(
            values=inputs["values"], name="aws-privateca-issuer", namespace="cert-manager", is_install=True
        )
    docs = rendered_objects(manifests)
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "aws-privateca-issuer"
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["HTTP_PROXY"] == PROXY


def test_trust_manager_reads_sources_from_cert_managers_namespace(private):
    inputs = release(private, "trust-us-east-1-trust-manager")
    with chart("trust-manager", "v0.20.2") as loaded:
        values = loaded.merge_values(inputs["values"])
    assert values["app"]["trust"]["namespace"] == "cert-manager"
    assert values["crds"]["enabled"] is True and values["defaultPackage"]["enabled"] is True


def test_the_clusters_charts_take_the_proxy_where_they_have_environment_values(private):
    """Karpenter 1.5.0 `controller.env` (list), the load balancer controller 1.13.2 `env` (map), KEDA 2.17.1 `env`
    (list) in their values.yaml."""
    karpenter = release(private, "cluster-us-east-1-karpenter")["values"]
    assert {"name": "HTTPS_PROXY", "value": PROXY} in karpenter["controller"]["env"]
    assert karpenter["controller"]["resources"]  # the platform's own controller values stay
    assert release(private, "cluster-us-east-1-lbc")["values"]["env"]["HTTPS_PROXY"] == PROXY
    assert {"name": "HTTPS_PROXY", "value": PROXY} in release(private, "cluster-us-east-1-keda")["values"][
        "env"
    ]


def test_the_trust_charts_come_from_their_upstream_repositories_or_the_mirror():
    """Upstream: cert-manager and trust-manager from https://charts.jetstack.io (cert-manager docs, "Helm"
    installation), the issuer from https://cert-manager.github.io/aws-privateca-issuer (its README); internet-free:
    the OCI copy under charts/ in the account's ECR (https://helm.sh/docs/topics/registries/)."""
    from components.cluster.images import chart_source

    assert chart_source("cert-manager", None) == ("cert-manager", "https://charts.jetstack.io")
    assert chart_source("aws-privateca-issuer", None) == (
        "aws-privateca-issuer",
        "https://cert-manager.github.io/aws-privateca-issuer",
    )
    mirror = "444444444444.dkr.ecr.eu-west-1.amazonaws.com"
    assert chart_source("trust-manager", mirror) == (f"oci://{mirror}/charts/trust-manager", None)
