"""The example team stacks, synthesised offline with the platform's outputs through a StackReference."""

from __future__ import annotations

import json
import shutil

import yaml

from tests.conftest import STACKS, by_name, run_mlops, states
from tests.kube import invalid_builtin_objects, is_builtin, manifests


def test_prod_team_preview_holds_the_team_space_and_models(synth):
    team = synth("team-fraud-prod")
    for region in ("us-east-1", "us-west-2"):
        assert by_name(team, f"team-fraud-{region}-ns")["inputs"]["metadata"]["name"] == "team-fraud"
        assert (
            by_name(team, f"team-fraud-{region}-quota")["inputs"]["spec"]["hard"]["requests.nvidia.com/gpu"]
            == "40"
        )
        assert (
            by_name(team, f"team-fraud-{region}-limits")["inputs"]["spec"]["limits"][0]["type"] == "Container"
        )
        deny = by_name(team, f"team-fraud-{region}-netpol-default-deny")["inputs"]["spec"]
        assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        identity = by_name(team, f"team-fraud-{region}-pod-identity")["inputs"]
        assert identity["clusterName"] == f"mlops-prod-{region}" and identity["namespace"] == "team-fraud"
        route = by_name(team, f"fraud-embedder-{region}-route")["inputs"]
        action = json.loads(route["metadata"]["annotations"]["alb.ingress.kubernetes.io/actions.weighted"])
        assert [(g["targetGroupARN"], g["weight"]) for g in action["forwardConfig"]["targetGroups"]] == [
            (by_name(team, f"fraud-embedder-{region}-v1-tg")["id"], 90),
            (by_name(team, f"fraud-embedder-{region}-v2-tg")["id"], 10),
        ]
    deployments = states(team, "kubernetes:apps/v1:Deployment")
    # The model versions, and the router of the team's inference graph (components.pipelines.graphs).
    assert sorted(d["inputs"]["metadata"]["name"] for d in deployments) == sorted(
        ["embedder-v1", "embedder-v2", "scorer-v3", "graph-fraud-check"] * 2
    )
    assert len(states(team, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")) == 4
    assert len(states(team, "kubernetes:keda.sh/v1alpha1:ScaledObject")) == 2
    assert len(states(team, "kubernetes:policy/v1:PodDisruptionBudget")) == 4  # one per model per region
    assert len(states(team, "kubernetes:batch/v1:Job")) == 1  # scorer v3 (100%) sets its MLflow alias
    # 47 of the team space and models (the alias Job among them); 8 of its pipelines (the workflow account, its
    # executor Role and binding, the artifact repository, the SSO account, its token, Role and binding); 3 per
    # region of the graph's router; training's Role, RoleBinding and two notebook NetworkPolicies (Kueue's queues:
    # tests/training); per region the RoleBinding of the team's deploy group (components.serving.team).
    assert sum(is_builtin(m["apiVersion"]) for m in manifests(team)) == 47 + 8 + 3 * 2 + 4 + 2
    assert invalid_builtin_objects(team) == []


def test_team_resources_use_the_platform_outputs(synth):
    platform, team = synth("prod"), synth("team-fraud-prod")
    # The team's data access comes from the platform's `data` outputs: its policy for the team's own prefix and
    # the Access Grants location of each shared prefix (components.data).
    data = platform["outputs"]["data"]
    assert (
        by_name(team, "team-fraud-data-own-prefix")["inputs"]["policyArn"] == data["policyArns"]["read-write"]
    )
    grant = by_name(team, "team-fraud-data-us-west-2-grant-shared-features")["inputs"]
    assert (
        grant["accessGrantsLocationId"] == data["locations"]["shared/features/"]["locationIds"]["us-west-2"]
    )
    provider = by_name(team, "k8s-us-west-2")["inputs"]["kubeconfig"]
    kubeconfig = json.loads(provider)
    cluster = platform["outputs"]["regions"]["us-west-2"]["cluster"]
    assert kubeconfig["clusters"][0]["cluster"] == {
        "server": cluster["endpoint"],
        "certificate-authority-data": cluster["certificateAuthority"],
    }
    repo = by_name(team, "team-fraud-scorer-repo")["inputs"]
    assert repo["encryptionConfigurations"] == [
        {"encryptionType": "KMS", "kmsKey": platform["outputs"]["regions"]["us-east-1"]["keyArns"]["images"]}
    ]
    assert by_name(team, "team-fraud-scorer-repo-lifecycle")["inputs"]["repository"] == "models/fraud/scorer"


def test_a_renamed_platform_output_is_a_clear_error(tmp_path):
    for path in STACKS.glob("Pulumi.*.yaml"):
        shutil.copy(path, tmp_path)
    # A platform stack without a registry exports `registry: null`: the team stack must say what is missing.
    platform = yaml.safe_load((tmp_path / "Pulumi.dev.yaml").read_text())
    del platform["config"]["mlops:platform"]["registry"]
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(platform))
    result = run_mlops("preview", "team-fraud-dev", "--stacks-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == "error: platform stack 'dev' has no model registry (its `registry:` section)\n"


def test_team_new_output_previews(tmp_path):
    for path in STACKS.glob("Pulumi.*.yaml"):
        shutil.copy(path, tmp_path)
    created = run_mlops(
        "team",
        "new",
        "risk",
        "--env",
        "dev",
        "--stacks-dir",
        str(tmp_path),
        "--owner-group",
        "risk",
        "--owner-role-arn",
        "arn:aws:iam::111111111111:role/risk",
        "--cost-center",
        "cc-9",
        "--model",
        "pricer=registry.example/pricer:1.0.0",
    )
    assert created.returncode == 0, created.stderr
    assert run_mlops("team", "validate", "team-risk-dev", "--stacks-dir", str(tmp_path)).returncode == 0
    preview = run_mlops("preview", "team-risk-dev", "--stacks-dir", str(tmp_path), "--json")
    assert preview.returncode == 0, preview.stderr
    document = json.loads(preview.stdout)
    assert document["outputs"]["models"] == {"pricer": {"v1": 100}}
    assert document["outputs"]["namespace"] == "team-risk"
