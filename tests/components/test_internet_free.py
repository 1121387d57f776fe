"""Internet-free mode with serving clusters: nothing is pulled from outside the account's ECR and the VPC endpoints.

The fixture stack `airgapped-cluster` has two regions with EKS clusters, MLflow and object lock, no internet gateway
and no NAT. Every string of its preview (Helm releases' charts, repositories and values, container images, URLs in
any input) is walked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.cluster.images import CHART_IMAGES, CHART_SOURCES
from components.config import parse_platform
from components.configbase import PULL_THROUGH_UPSTREAMS
from components.loader import ConfigError
from components.network.endpoints import GATEWAY_ENDPOINTS, INTERFACE_ENDPOINTS
from tests.conftest import FIXTURES, STACKS, by_name, states

STACK = "airgapped-cluster"
ACCOUNT = "444444444444"
REGIONS = ("eu-west-1", "eu-central-1")
URL = re.compile(r"(?:https?|oci)://([^/\s\"'\]]+)")
ENDPOINT_SERVICES = {service.split(".")[0] for service in (*INTERFACE_ENDPOINTS, *GATEWAY_ENDPOINTS)}


@pytest.fixture(scope="module")
def airgapped(synth):
    return synth(STACK, FIXTURES)


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a value with its key path; JSON documents held in strings are walked too."""
    if isinstance(value, str):
        yield path, value
        if value.lstrip().startswith(("{", "[")):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                parsed = None
            yield from strings(parsed, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from strings(item, f"{path}[]")


def ecr_hosts(account: str, regions: tuple[str, ...]) -> set[str]:
    return {f"{account}.dkr.ecr.{region}.amazonaws.com" for region in regions}


def host_reachable(host: str, account: str, regions: tuple[str, ...]) -> bool:
    """The account's ECR, or an AWS service the VPC reaches through an endpoint (EKS: the cluster's own API)."""
    if host in ecr_hosts(account, regions):
        return True
    for region in regions:
        if re.fullmatch(rf"[A-Z0-9]+\.\w+\.{region}\.eks\.amazonaws\.com", host):
            return True  # the cluster's API endpoint, private in the VPC
        match = re.fullmatch(rf"(?:[\w-]+\.)?([\w-]+)\.{region}\.amazonaws\.com", host)
        if match and match.group(1) in ENDPOINT_SERVICES | {"eks"}:
            return True
    return False


def unreachable_references(document: dict[str, Any], account: str, regions: tuple[str, ...]) -> list[str]:
    """URLs to hosts outside the account's ECR and the VPC endpoints; images, charts and chart repositories
    anywhere but the account's ECR."""
    registries = ecr_hosts(account, regions)
    found = []
    for state in states(document):
        name = state["urn"].rsplit("::", 1)[-1]
        for path, text in strings(state["inputs"]):
            for host in URL.findall(text):
                if not host_reachable(host, account, regions):
                    found.append(f"{name}{path}: {text}")
            leaf = path.rsplit(".", 1)[-1]
            # Images and chart sources are what a cluster pulls: Kubernetes objects and Helm releases.
            on_cluster = state["type"].startswith("kubernetes:")
            image_like = on_cluster and (
                leaf in ("image", "repository", "registry") or path.endswith(".repositoryOpts.repo")
            )
            if leaf == "chart" and state["type"] == "kubernetes:helm.sh/v3:Release":
                image_like = True
            if image_like and not any(
                text.removeprefix("oci://").startswith(f"{r}/") or text == r for r in registries
            ):
                found.append(f"{name}{path}: {text}")
    return found


def test_internet_free_stack_with_clusters_references_only_the_accounts_ecr_and_vpc_endpoints(airgapped):
    """Internet-free: no route out (no internet gateway, no NAT), so every image, chart repository and URL the stack
    hands a cluster must be the account's ECR or an AWS service behind a VPC endpoint
    (https://docs.aws.amazon.com/eks/latest/userguide/private-clusters.html)."""
    assert states(airgapped, "aws:ec2/internetGateway:InternetGateway") == []
    assert states(airgapped, "aws:ec2/natGateway:NatGateway") == []
    assert len(states(airgapped, "aws:eks/cluster:Cluster")) == 2
    releases = states(airgapped, "kubernetes:helm.sh/v3:Release")
    assert len(releases) == 2 * 5
    # The one exception is not the cluster's: MLflow's load balancer calls the IdP of identity.oidc itself, and
    # without NAT reaches it only through its subnets' routes to connected networks (README, "Who reaches MLflow").
    found = unreachable_references(airgapped, ACCOUNT, REGIONS)
    assert [line for line in found if "auth-idp-oidc" not in line] == []
    assert {line.split(": ", 1)[1] for line in found if "auth-idp-oidc." in line} == {
        "https://sso.corp.example.com",
        "https://sso.corp.example.com/authorize",
        "https://sso.corp.example.com/token",
        "https://sso.corp.example.com/userinfo",
    }


def test_the_walk_finds_public_registries_in_a_stack_with_internet(synth):
    """The same walk over prod (NAT, public charts and images) reports them: the check above can fail."""
    found = unreachable_references(synth("prod"), "333333333333", ("us-east-1", "us-west-2"))
    assert any("kedacore.github.io" in line for line in found)
    assert any("oci://public.ecr.aws/karpenter/karpenter" in line for line in found)
    assert any("https://aws.github.io/eks-charts" in line for line in found)


def test_charts_are_oci_artifacts_in_the_accounts_ecr(airgapped):
    """Helm pulls OCI charts from a registry path, with no Helm repository index
    (https://helm.sh/docs/topics/registries/)."""
    for region in REGIONS:
        # Training's charts are not offered on internet-free stacks (their images are not mirrored): refused there.
        for chart in set(CHART_SOURCES) - {"kueue", "jupyterhub", "aws-efa-k8s-device-plugin"}:
            short = "lbc" if chart == "aws-load-balancer-controller" else chart
            inputs = by_name(airgapped, f"cluster-{region}-{short}")["inputs"]
            assert inputs["chart"] == f"oci://{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/charts/{chart}"
            assert "repositoryOpts" not in inputs or not inputs["repositoryOpts"].get("repo")


CHART_IMAGE_DATA = yaml.safe_load((Path(__file__).parents[1] / "data" / "chart_images.yaml").read_text())


def _value(values: dict[str, Any], path: str) -> Any:
    for key in path.split("."):
        if not isinstance(values, dict) or key not in values:
            return None
        values = values[key]
    return values


def effective_images(chart: str, values: dict[str, Any]) -> list[str]:
    """The images a chart renders with ``values`` over its upstream defaults (tests/data/chart_images.yaml),
    without tags; an enabled subchart whose images are not mirrored is reported as such."""
    images = []
    for image in CHART_IMAGE_DATA[chart]["images"]:
        when = image.get("when")
        if when and not next((_value(values, p) for p in when if _value(values, p) is not None), False):
            continue
        if "subchart" in image:
            images.append(f"subchart {image['subchart']} (not mirrored)")
            continue
        registry_paths = image.get("registry")
        repository = _value(values, image["repository"])
        if registry_paths is None:
            images.append(repository or image["default"])
            continue
        default_registry, default_repository = image["default"].split("/", 1)
        registry = next((_value(values, p) for p in registry_paths if _value(values, p)), default_registry)
        images.append(f"{registry}/{repository or default_repository}")
    return images


def test_every_image_each_chart_renders_comes_through_the_mirror(airgapped):
    """Each chart's images as its own values.yaml and templates compose them at the pinned version (recorded in
    tests/data/chart_images.yaml from the upstream chart sources), with the program's values over the chart's
    defaults: a values key the chart does not read would leave its public default, and this fails."""
    cfg = parse_platform(_raw(FIXTURES, STACK), "f.yaml").cluster
    for region in REGIONS:
        mirror = f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com"
        for chart, (path, prefix, _) in CHART_IMAGES.items():
            data = CHART_IMAGE_DATA[chart]
            assert data["version"] == getattr(cfg.charts, chart.replace("-", "_")), chart
            # The program's key is one the chart reads for an image.
            assert any(
                path == image.get("repository") or path in image.get("registry", [])
                for image in data["images"]
            )
            short = "lbc" if chart == "aws-load-balancer-controller" else chart
            values = by_name(airgapped, f"cluster-{region}-{short}")["inputs"]["values"]
            images = effective_images(chart, values)
            assert images and all(image.startswith(f"{mirror}/{prefix}/") for image in images), (
                chart,
                images,
            )


def test_the_image_check_sees_a_values_key_the_chart_does_not_read():
    """The check above can fail: a mistyped key leaves the chart's public default, an enabled subchart is named."""
    assert effective_images("keda", {"image": {"registry": "mirror"}}) == [
        "ghcr.io/kedacore/keda",
        "ghcr.io/kedacore/keda-metrics-apiserver",
        "ghcr.io/kedacore/keda-admission-webhooks",
    ]
    assert effective_images(
        "metrics-server", {"image": {"repository": "m/ms"}, "addonResizer": {"enabled": True}}
    ) == [
        "m/ms",
        "registry.k8s.io/autoscaling/addon-resizer",
    ]
    assert effective_images("nvidia-device-plugin", {"gfd": {"enabled": True}})[1] == (
        "subchart node-feature-discovery (not mirrored)"
    )


def test_karpenter_runs_in_isolated_vpc_mode(airgapped):
    """Karpenter's settings.isolatedVPC: assume no AWS service without a VPC endpoint is reachable, and skip the
    pricing API (charts/karpenter/values.yaml of aws/karpenter-provider-aws)."""
    for region in REGIONS:
        assert (
            by_name(airgapped, f"cluster-{region}-karpenter")["inputs"]["values"]["settings"]["isolatedVPC"]
            is True
        )


def test_karpenter_isolated_vpc_is_off_with_internet(synth):
    values = by_name(synth("prod"), "cluster-us-east-1-karpenter")["inputs"]["values"]
    assert values["settings"]["isolatedVPC"] is False


def test_pull_through_cache_rules_for_each_upstream_with_credentials_where_required(airgapped):
    """ECR pull-through cache: ECR Public and registry.k8s.io need no credentials; GitHub's registry needs a
    Secrets Manager secret named ecr-pullthroughcache/... in the rule's account and region
    (https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache.html)."""
    for region in REGIONS:
        for prefix, upstream in PULL_THROUGH_UPSTREAMS.items():
            rule = by_name(airgapped, f"mirror-{region}-{prefix}")
            assert rule["inputs"]["ecrRepositoryPrefix"] == prefix
            assert rule["inputs"]["upstreamRegistryUrl"] == upstream
            credential = rule["inputs"].get("credentialArn")
            if upstream == "ghcr.io":
                assert credential.startswith(
                    f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:ecr-pullthroughcache/"
                )
            else:
                assert credential is None
            template = by_name(airgapped, f"mirror-{region}-{prefix}-template")["inputs"]
            assert template["prefix"] == prefix and template["appliedFors"] == ["PULL_THROUGH_CACHE"]
            assert template["encryptionConfigurations"][0]["encryptionType"] == "KMS"
            rules = json.loads(template["lifecyclePolicy"])["rules"]
            assert [rule["selection"]["tagStatus"] for rule in rules] == ["untagged", "any"]
            # The template exists before the first pull creates a repository from it.
            assert by_name(airgapped, f"mirror-{region}-{prefix}-template")["urn"] in rule["dependencies"]


def test_nodes_may_import_images_through_the_cache(airgapped):
    """The first pull through a cache rule imports the image and creates its repository: the puller needs
    ecr:BatchImportUpstreamImage and ecr:CreateRepository
    (https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-iam.html)."""
    for role in ("system-node-role", "node-role"):
        policy = json.loads(by_name(airgapped, f"cluster-eu-west-1-{role}-pull-through")["inputs"]["policy"])
        statement = policy["Statement"][0]
        assert statement["Action"] == ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
        assert statement["Resource"] == [
            f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/{prefix}/*" for prefix in PULL_THROUGH_UPSTREAMS
        ]


def test_gpu_plugin_image_has_a_copy_repository(airgapped):
    """nvcr.io is not an upstream pull-through cache supports: its image is copied into `copies/`."""
    for region in REGIONS:
        repo = by_name(airgapped, f"mirror-{region}-copy-nvidia-k8s-device-plugin")["inputs"]
        assert repo["name"] == "copies/nvidia/k8s-device-plugin" and repo["imageTagMutability"] == "IMMUTABLE"


def test_every_artifact_bucket_accepts_only_its_regions_endpoint_and_the_deployer(airgapped):
    """aws:sourceVpce is the endpoint a request came through; a Deny unless it matches shuts out every other
    path, so the deployer role and S3 replication are exempt by principal
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies-vpc-endpoint.html)."""
    exempt = [
        f"arn:aws:iam::{ACCOUNT}:role/mlops-prod-artifact-replication",
        f"arn:aws:iam::{ACCOUNT}:role/platform-deployer",
    ]
    for region, policy_name in (
        ("eu-west-1", "registry-artifacts-policy"),
        ("eu-central-1", "registry-artifacts-eu-central-1-policy"),
    ):
        endpoint = by_name(airgapped, f"net-{region}-s3-endpoint")["id"]
        statements = json.loads(by_name(airgapped, policy_name)["inputs"]["policy"])["Statement"]
        rule = next(s for s in statements if s["Sid"] == "DenyOutsideTheVpcEndpoint")
        assert rule["Condition"] == {
            "StringNotEquals": {"aws:sourceVpce": endpoint},
            "ArnNotLike": {"aws:PrincipalArn": exempt},
        }
        assert rule["Resource"] == [
            f"arn:aws:s3:::mlops-prod-{ACCOUNT}-artifacts-{region}",
            f"arn:aws:s3:::mlops-prod-{ACCOUNT}-artifacts-{region}/*",
        ]


def _raw(stack_dir, stack: str) -> dict:
    import yaml

    return yaml.safe_load((stack_dir / f"Pulumi.{stack}.yaml").read_text())["config"]["mlops:platform"]


def test_internet_free_cluster_needs_the_ghcr_secret_in_every_region():
    raw = _raw(FIXTURES, STACK)
    raw["mirror"]["credential-arns"]["ghcr.io"] = raw["mirror"]["credential-arns"]["ghcr.io"][:1]
    with pytest.raises(ConfigError) as error:
        parse_platform(raw, "f.yaml")
    assert str(error.value).startswith(
        "f.yaml: mlops:platform.mirror.credential-arns.ghcr.io: no secret for eu-central-1"
    )


def test_pull_through_secret_needs_its_name_prefix():
    raw = _raw(FIXTURES, STACK)
    raw["mirror"]["credential-arns"]["ghcr.io"][0] = (
        "arn:aws:secretsmanager:eu-west-1:444444444444:secret:ghcr-token"
    )
    with pytest.raises(ConfigError) as error:
        parse_platform(raw, "f.yaml")
    assert "mlops:platform.mirror.credential-arns.ghcr.io[0]" in str(error.value)
    assert "ecr-pullthroughcache/" in str(error.value)


def test_internet_free_refuses_an_mlflow_image_on_an_unmirrored_registry():
    # Outside prod a tag or another registry is allowed in general (prod takes only the account's ECR), so the
    # internet-free rule is the one that refuses it.
    raw = _raw(FIXTURES, STACK)
    raw["environment"] = "staging"
    raw["registry"]["mlflow-image"] = "docker.io/library/mlflow@sha256:" + "a" * 64
    with pytest.raises(ConfigError) as error:
        parse_platform(raw, "f.yaml")
    assert "mlops:platform.registry.mlflow-image: 'docker.io/library/mlflow@sha256:" in str(error.value)
    assert "unreachable without internet" in str(error.value)


def test_internet_free_refuses_an_mlflow_image_in_another_regions_ecr():
    """Interface endpoints reach their own region's service only ("Endpoints are supported within the same
    Region only", AWS PrivateLink considerations): MLflow on the primary cluster cannot pull from eu-central-1."""
    raw = _raw(FIXTURES, STACK)
    raw["environment"] = "staging"  # prod's own rule (the primary region's ECR, by digest) would answer first
    raw["registry"]["mlflow-image"] = raw["registry"]["mlflow-image"].replace("eu-west-1", "eu-central-1")
    with pytest.raises(ConfigError) as error:
        parse_platform(raw, "f.yaml")
    assert (
        "unreachable without internet from the primary region's cluster; allowed: the account's ECR in eu-west-1"
        in str(error.value)
    )


def test_mirror_needs_internet_free():
    raw = _raw(STACKS, "prod")
    raw["mirror"] = {"credential-arns": {}}
    with pytest.raises(ConfigError) as error:
        parse_platform(raw, "f.yaml")
    assert str(error.value) == "f.yaml: mlops:platform.mirror: only allowed with internet-free: true"


def test_karpenter_nodes_use_an_instance_profile_of_the_stack_since_iam_has_no_vpc_endpoint(airgapped):
    """ "There is currently no VPC private endpoint for the IAM API. As a result, you cannot use the default
    spec.role field in your EC2NodeClass ... specify ... spec.instanceProfile" (Karpenter, Getting Started,
    Advanced Installation, "Private Clusters"). With spec.instanceProfile Karpenter makes no IAM call
    (karpenter-provider-aws v1.5.0 pkg/controllers/nodeclass/instanceprofile.go), so its role needs no
    instance-profile action; it still passes the node role to EC2 (iam:PassRole)."""
    for region in REGIONS:
        spec = by_name(airgapped, f"cluster-{region}-node-class")["inputs"]["spec"]
        profile = by_name(airgapped, f"cluster-{region}-node-instance-profile")["inputs"]
        assert (
            "role" not in spec and spec["instanceProfile"] == profile["name"] == f"mlops-prod-{region}-nodes"
        )
        assert profile["role"] == by_name(airgapped, f"cluster-{region}-node-role")["id"]
        policy = json.loads(by_name(airgapped, f"cluster-{region}-karpenter-policy")["inputs"]["policy"])
        actions = {
            a
            for s in policy["Statement"]
            for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        }
        assert sorted(a for a in actions if a.startswith("iam:")) == ["iam:PassRole"]
