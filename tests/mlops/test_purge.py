"""`mlops purge-repositories` against a moto server on 127.0.0.1: it deletes exactly the repositories ECR created."""

from __future__ import annotations

import json

import pytest

from components.config import parse_platform
from mlops.purge import unmanaged_prefixes
from tests.conftest import FIXTURES, STACKS, run_mlops
from tests.mlops.test_verify import CREDENTIALS
from tests.moto_account import MOTO_ACCOUNT, moto_client

FIXTURE_ACCOUNT = "444444444444"


@pytest.fixture
def stacks_dir(tmp_path):
    """The internet-free fixture stack, in moto's account."""
    text = (FIXTURES / "Pulumi.airgapped-cluster.yaml").read_text().replace(FIXTURE_ACCOUNT, MOTO_ACCOUNT)
    (tmp_path / "Pulumi.airgapped-cluster.yaml").write_text(text)
    return tmp_path


def ecr(endpoint: str, region: str):
    return moto_client("ecr", endpoint, region)


MANAGED = {
    "eu-west-1": ["models/fraud/scorer", "copies/nvidia/k8s-device-plugin", "platform/mlflow"],
    "eu-central-1": ["copies/nvidia/k8s-device-plugin"],
}
CREATED_BY_ECR = {
    "eu-west-1": [
        "ecr-public/karpenter/controller",
        "k8s/metrics-server/metrics-server",
        "ghcr/kedacore/keda",
    ],
    "eu-central-1": ["ecr-public/eks/aws-load-balancer-controller", "models/fraud/scorer"],
}


def names(endpoint: str, region: str) -> list[str]:
    return sorted(r["repositoryName"] for r in ecr(endpoint, region).describe_repositories()["repositories"])


def test_unmanaged_prefixes_of_an_internet_free_multi_region_stack():
    """Pull-through cache creates `<prefix>/<upstream path>` on first pull
    (https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-creating-rule.html), and registry
    replication creates the destination repository when it does not exist
    (https://docs.aws.amazon.com/AmazonECR/latest/userguide/replication.html): neither is a Pulumi resource."""
    import yaml

    raw = yaml.safe_load((FIXTURES / "Pulumi.airgapped-cluster.yaml").read_text())["config"]["mlops:platform"]
    places = [(p.region, p.prefix) for p in unmanaged_prefixes(parse_platform(raw, "f.yaml"))]
    assert places == [
        ("eu-west-1", "ecr-public/"),
        ("eu-west-1", "ghcr/"),
        ("eu-west-1", "k8s/"),
        ("eu-central-1", "ecr-public/"),
        ("eu-central-1", "ghcr/"),
        ("eu-central-1", "k8s/"),
        ("eu-central-1", "models/"),
    ]
    dev = yaml.safe_load((STACKS / "Pulumi.dev.yaml").read_text())["config"]["mlops:platform"]
    assert unmanaged_prefixes(parse_platform(dev, "f.yaml")) == []  # one region, with internet


def test_purge_lists_then_deletes_only_what_ecr_created(moto_endpoint, stacks_dir):
    for region in ("eu-west-1", "eu-central-1"):
        for name in MANAGED[region] + CREATED_BY_ECR[region]:
            ecr(moto_endpoint, region).create_repository(repositoryName=name)
    # A repository with an image: DeleteRepository refuses it unless forced.
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "digest": "sha256:" + "a" * 64,
            "size": 1,
            "mediaType": "application/vnd.docker.container.image.v1+json",
        },
        "layers": [],
    }
    ecr(moto_endpoint, "eu-west-1").put_image(
        repositoryName="ecr-public/karpenter/controller", imageManifest=json.dumps(manifest), imageTag="1.5.0"
    )
    args = (
        "purge-repositories",
        "airgapped-cluster",
        "--stacks-dir",
        str(stacks_dir),
        "--endpoint-url",
        moto_endpoint,
    )

    listed = run_mlops(*args, env=CREDENTIALS)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        "would delete eu-west-1 ecr-public/karpenter/controller (pull-through cache from public.ecr.aws)",
        "would delete eu-west-1 ghcr/kedacore/keda (pull-through cache from ghcr.io)",
        "would delete eu-west-1 k8s/metrics-server/metrics-server (pull-through cache from registry.k8s.io)",
        "would delete eu-central-1 ecr-public/eks/aws-load-balancer-controller (pull-through cache from public.ecr.aws)",
        "would delete eu-central-1 models/fraud/scorer (registry replication from the primary region)",
    ]
    assert names(moto_endpoint, "eu-west-1") == sorted(MANAGED["eu-west-1"] + CREATED_BY_ECR["eu-west-1"])

    deleted = run_mlops(*args, "--delete", env=CREDENTIALS)
    assert deleted.returncode == 0, deleted.stderr
    assert [line.split(" ", 1)[0] for line in deleted.stdout.splitlines()] == ["deleted"] * 5
    for region in ("eu-west-1", "eu-central-1"):
        assert names(moto_endpoint, region) == sorted(MANAGED[region])
    again = run_mlops(*args, "--delete", env=CREDENTIALS)
    assert again.stdout.strip() == "no repositories created by ECR for this stack"


def test_purge_refuses_another_accounts_credentials(moto_endpoint):
    result = run_mlops(
        "purge-repositories",
        "airgapped-cluster",
        "--stacks-dir",
        str(FIXTURES),
        "--endpoint-url",
        moto_endpoint,
        env=CREDENTIALS,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: the credentials are for account {MOTO_ACCOUNT}; "
        f"{FIXTURES / 'Pulumi.airgapped-cluster.yaml'} declares account-id {FIXTURE_ACCOUNT}"
    )
