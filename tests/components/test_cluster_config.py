"""The `cluster` section of the platform config, validated without Pulumi."""

from __future__ import annotations

import copy

import pytest
import yaml

from components.cluster.config import ByoClusterConfig, EksClusterConfig
from components.config import parse_platform
from components.loader import ConfigError
from tests.conftest import FIXTURES, run_mlops


def prod_fixture() -> dict:
    document = yaml.safe_load((FIXTURES / "Pulumi.cluster-prod.yaml").read_text())
    return document["config"]["mlops:platform"]


def dev(cluster_changes: dict | None = None) -> dict:
    raw = copy.deepcopy(prod_fixture())
    raw["environment"] = "dev"
    raw["log-retention-days"] = 30
    raw["regions"] = raw["regions"][:1]
    raw["cluster"].update(cluster_changes or {})
    return raw


def byo(**changes) -> dict:
    raw = copy.deepcopy(prod_fixture())
    raw["cluster"] = {
        "mode": "byo",
        "kubeconfig-context": "onprem",
        "charts": {"keda": "2.17.1", "metrics-server": "3.12.2"},
        **changes,
    }
    return raw


def error_of(raw: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "stacks/Pulumi.x.yaml")
    return str(caught.value)


def test_fixture_cluster_parses():
    cluster = parse_platform(prod_fixture(), "f.yaml").cluster
    assert cluster is not None
    assert cluster.mode == "eks"
    assert cluster.kubernetes_version == "1.33"
    assert cluster.endpoint_public_access is False
    assert [pool.name for pool in cluster.node_pools or []] == ["cpu-on-demand", "cpu-spot", "gpu"]
    assert cluster.charts.karpenter == "1.5.0"
    assert cluster.addons is not None and cluster.addons.vpc_cni == "v1.19.5-eksbuild.3"
    assert cluster.system.desired_size == 3
    assert cluster.ami_alias == "al2023@v20250505"


def test_cluster_section_is_optional():
    raw = prod_fixture()
    del raw["cluster"]
    assert parse_platform(raw, "f.yaml").cluster is None


def test_public_endpoint_with_allow_list_is_fine_outside_prod():
    cluster = parse_platform(
        dev({"endpoint-public-access": True, "public-access-cidrs": ["203.0.113.0/24"]}), "f.yaml"
    ).cluster
    assert cluster is not None and cluster.public_access_cidrs == ["203.0.113.0/24"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"endpoint-public-access": True, "public-access-cidrs": ["203.0.113.0/24", "0.0.0.0/0"]},
            "stacks/Pulumi.x.yaml: mlops:platform.cluster.public-access-cidrs[1]: 0.0.0.0/0 opens the API endpoint "
            "to the whole internet; allowed: specific CIDRs (prefix /1 or longer)",
        ),
        (
            {"endpoint-public-access": True},
            "stacks/Pulumi.x.yaml: mlops:platform.cluster.public-access-cidrs: missing; a public endpoint needs an "
            "allow-list of CIDRs (never 0.0.0.0/0)",
        ),
        (
            {"public-access-cidrs": ["203.0.113.0/24"]},
            "stacks/Pulumi.x.yaml: mlops:platform.cluster.public-access-cidrs: only allowed with "
            "endpoint-public-access: true",
        ),
        (
            {"kubeconfig-context": "x"},
            "stacks/Pulumi.x.yaml: mlops:platform.cluster.kubeconfig-context: only allowed with mode: byo "
            "(mode eks builds its own kubeconfig)",
        ),
        (
            {"charts": {"karpenter": "^1.5", "keda": "2.17.1"}},
            "stacks/Pulumi.x.yaml: mlops:platform.cluster.charts.karpenter: '^1.5' is not an exact chart version; "
            "allowed: X.Y.Z (no ranges, no 'latest')",
        ),
        (
            {"charts": {"karpenter": "1.5.0", "keda": "2.17.1", "metrics-server": "3.12.2"}},
            "stacks/Pulumi.x.yaml: mlops:platform.cluster.charts.aws-load-balancer-controller: missing; required "
            "with mode: eks (an exact X.Y.Z)",
        ),
        (
            {"kubernetes-version": "1.33.1"},
            "stacks/Pulumi.x.yaml: mlops:platform.cluster.kubernetes-version: '1.33.1' is not a Kubernetes minor "
            "version; allowed: e.g. '1.33' (quoted)",
        ),
        (
            {"node-ami-alias": "ubuntu@latest"},
            "stacks/Pulumi.x.yaml: mlops:platform.cluster.node-ami-alias: 'ubuntu@latest' is not an AMI alias; "
            "allowed: al2023@latest, al2023@vYYYYMMDD",
        ),
    ],
)
def test_bad_eks_cluster_settings(changes, expected):
    assert error_of(dev(changes)) == expected


def test_public_endpoint_is_rejected_in_prod():
    raw = prod_fixture()
    raw["cluster"].update({"endpoint-public-access": True, "public-access-cidrs": ["203.0.113.0/24"]})
    assert error_of(raw) == (
        "stacks/Pulumi.x.yaml: mlops:platform.cluster.endpoint-public-access: true is not allowed in prod; "
        "allowed in prod: false (private endpoint only)"
    )


@pytest.mark.parametrize(
    ("pool_changes", "expected"),
    [
        (
            {"gpu-limit": None},
            "node-pools[2].gpu-limit: missing; a gpu: true pool needs a gpu-limit (GPUs in total)",
        ),
        (
            {"instance-categories": ["g"]},
            "node-pools[2].instance-families: set exactly one of instance-families (e.g. [g5, g6]) or "
            "instance-categories (e.g. [c, m, r])",
        ),
        (
            {"consolidate-after": "soon"},
            "node-pools[2].consolidate-after: 'soon' is not a duration; allowed: e.g. 30s, 5m, 720h or Never",
        ),
        (
            {"instance-families": ["G5"]},
            "node-pools[2].instance-families[0]: 'G5' is not valid; allowed: e.g. g5, m7i",
        ),
    ],
)
def test_bad_node_pools(pool_changes, expected):
    raw = dev()
    pool = raw["cluster"]["node-pools"][2]
    for key, value in pool_changes.items():
        if value is None:
            pool.pop(key)
        else:
            pool[key] = value
    assert error_of(raw) == f"stacks/Pulumi.x.yaml: mlops:platform.cluster.{expected}"


def test_duplicate_pool_names_and_gpu_without_device_plugin():
    raw = dev()
    raw["cluster"]["node-pools"][1]["name"] = "cpu-on-demand"
    assert error_of(raw).endswith("cluster.node-pools[1].name: node pool 'cpu-on-demand' is listed twice")
    raw = dev()
    del raw["cluster"]["charts"]["nvidia-device-plugin"]
    assert error_of(raw).endswith(
        "cluster.charts.nvidia-device-plugin: missing; required when a node pool has gpu: true"
    )


def test_byo_mode_parses_with_only_in_cluster_settings():
    cluster = parse_platform(byo(kubeconfig="~/.kube/config"), "f.yaml").cluster
    assert cluster is not None
    assert (cluster.mode, cluster.kubeconfig_context, cluster.kubeconfig) == (
        "byo",
        "onprem",
        "~/.kube/config",
    )
    assert cluster.charts.keda == "2.17.1"


BYO_ONLY = (
    "AWS-only setting, not allowed with mode: byo; allowed there: mode, kubernetes-version, kubeconfig, "
    "kubeconfig-context, charts (charts: keda, metrics-server)"
)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"public-access-cidrs": ["203.0.113.0/24"]}, "public-access-cidrs"),
        ({"endpoint-public-access": False}, "endpoint-public-access"),
        ({"addons": prod_fixture()["cluster"]["addons"]}, "addons"),
        ({"node-pools": prod_fixture()["cluster"]["node-pools"]}, "node-pools"),
        ({"system-nodes": {"min-size": 1, "desired-size": 1}}, "system-nodes"),
        ({"admin-role-arns": ["arn:aws:iam::333333333333:role/x"]}, "admin-role-arns"),
        (
            {"charts": {"keda": "2.17.1", "metrics-server": "3.12.2", "karpenter": "1.5.0"}},
            "charts.karpenter",
        ),
    ],
)
def test_byo_mode_rejects_aws_only_keys(changes, key):
    assert error_of(byo(**changes)) == f"stacks/Pulumi.x.yaml: mlops:platform.cluster.{key}: {BYO_ONLY}"


def test_an_eks_section_switched_to_byo_names_its_first_aws_only_key():
    """The EKS fixture's section with only `mode: byo` added: it lacks kubeconfig-context and has five charts, but
    the first error is its first AWS-only key as written (kubernetes-version is allowed in both modes)."""
    raw = prod_fixture()
    raw["cluster"] = {"mode": "byo", **raw["cluster"]}
    assert error_of(raw) == f"stacks/Pulumi.x.yaml: mlops:platform.cluster.admin-role-arns: {BYO_ONLY}"


def test_an_aws_only_key_comes_before_a_missing_byo_key():
    raw = byo(**{"endpoint-public-access": False})
    del raw["cluster"]["kubeconfig-context"]
    del raw["cluster"]["charts"]["metrics-server"]
    assert error_of(raw) == f"stacks/Pulumi.x.yaml: mlops:platform.cluster.endpoint-public-access: {BYO_ONLY}"


@pytest.mark.parametrize(
    ("cluster", "key"),
    [
        (
            {"mode": "byo", "charts": {"keda": "2.17.1", "karpenter": "1.5.0"}, "node-pools": []},
            "charts.karpenter",
        ),
        (
            {"mode": "byo", "node-pools": [], "charts": {"keda": "2.17.1", "karpenter": "1.5.0"}},
            "node-pools",
        ),
    ],
    ids=["chart-first", "key-first"],
)
def test_the_first_aws_only_key_as_written_is_named(cluster, key):
    raw = byo()
    raw["cluster"] = cluster
    assert error_of(raw) == f"stacks/Pulumi.x.yaml: mlops:platform.cluster.{key}: {BYO_ONLY}"


def test_byo_mode_needs_an_explicit_context():
    raw = byo()
    del raw["cluster"]["kubeconfig-context"]
    assert error_of(raw) == (
        "stacks/Pulumi.x.yaml: mlops:platform.cluster.kubeconfig-context: missing; mode byo names the context to "
        "deploy to (never the current one)"
    )


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (
            lambda raw: (
                raw["cluster"].update({"endpoint-public-access": True, "public-access-cidrs": ["0.0.0.0/0"]})
                or raw.update({"environment": "dev", "log-retention-days": 30})
            ),
            "mlops:platform.cluster.public-access-cidrs[0]",
        ),
        (
            lambda raw: raw["cluster"].update(
                {"endpoint-public-access": True, "public-access-cidrs": ["198.51.100.7/32"]}
            ),
            "mlops:platform.cluster.endpoint-public-access",
        ),
        (
            lambda raw: raw.update(byo(**{"node-pools": prod_fixture()["cluster"]["node-pools"]})),
            "mlops:platform.cluster.node-pools",
        ),
    ],
    ids=["open-cidr", "public-in-prod", "byo-node-pools"],
)
def test_bad_cluster_config_exits_2_with_one_line(tmp_path, mutate, key):
    raw = prod_fixture()
    mutate(raw)
    stack = tmp_path / "Pulumi.bad.yaml"
    stack.write_text(yaml.safe_dump({"config": {"mlops:platform": raw}}))
    result = run_mlops("preview", "bad", "--stacks-dir", str(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {stack}: {key}: ")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_the_modes_are_a_discriminated_union_and_eks_is_the_default():
    assert isinstance(parse_platform(prod_fixture(), "f.yaml").cluster, EksClusterConfig)
    assert isinstance(parse_platform(byo(), "f.yaml").cluster, ByoClusterConfig)


@pytest.mark.parametrize(
    ("mode", "shown"),
    [("gke", "'gke'"), (None, "no value"), (["a"], "a list of 1 item"), ({"x": 1}, "a mapping"), (3, "3")],
)
def test_an_unknown_mode_names_the_modes(mode, shown):
    """The value is shown as the user wrote it, not as pydantic's string of the union tag."""
    assert error_of(dev({"mode": mode})) == (
        f"stacks/Pulumi.x.yaml: mlops:platform.cluster.mode: {shown} is not allowed; allowed: eks, byo"
    )


def test_a_misspelt_key_lists_the_keys_of_its_mode():
    assert error_of(byo(kubeconfg="~/.kube/config")) == (
        "stacks/Pulumi.x.yaml: mlops:platform.cluster.kubeconfg: unknown key; allowed: mode, kubernetes-version, "
        "kubeconfig, kubeconfig-context, charts"
    )
    assert error_of(dev({"node-pool": []})).startswith(
        "stacks/Pulumi.x.yaml: mlops:platform.cluster.node-pool: unknown key; allowed: mode, kubernetes-version, "
        "endpoint-public-access,"
    )


def test_byo_needs_both_of_its_charts():
    raw = byo()
    del raw["cluster"]["charts"]["metrics-server"]
    assert error_of(raw) == (
        "stacks/Pulumi.x.yaml: mlops:platform.cluster.charts.metrics-server: missing; mode byo installs keda and "
        "metrics-server"
    )
