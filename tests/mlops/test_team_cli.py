"""`mlops team new | validate | list`: self-service team stacks, validated before anything is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from components.loader import load_yaml
from tests.conftest import STACKS, run_mlops

ROLE = "arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_mlops-risk_abc"
DIGEST = "@sha256:" + "b" * 64


@pytest.fixture
def stacks_dir(tmp_path: Path) -> Path:
    for name in ("dev", "staging", "prod"):
        shutil.copy(STACKS / f"Pulumi.{name}.yaml", tmp_path)
    return tmp_path


def new(stacks_dir: Path, *extra: str, team: str = "risk", env: str = "dev"):
    return run_mlops(
        "team",
        "new",
        team,
        "--env",
        env,
        "--stacks-dir",
        str(stacks_dir),
        "--owner-group",
        "risk-engineers",
        "--owner-role-arn",
        ROLE,
        "--cost-center",
        "cc-77",
        *extra,
    )


def test_new_writes_a_valid_file_and_refuses_to_overwrite(stacks_dir):
    result = new(stacks_dir, "--model", "pricer=registry.example/pricer:1.0.0")
    target = stacks_dir / "Pulumi.team-risk-dev.yaml"
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {target}"
    team = load_yaml(target)["config"]["mlops:team"]  # the strict reader: what Pulumi reads
    assert team["name"] == "risk" and team["environment"] == "dev" and team["platform-stack"] == "dev"
    assert team["regions"] == ["us-east-1"]
    assert team["owners"] == {"sso-group": "risk-engineers", "role-arn": ROLE}
    assert team["models"][0]["versions"] == [
        {"name": "v1", "image": "registry.example/pricer:1.0.0", "weight": 100}
    ]
    assert team["quotas"] == {"cpu": "8", "memory": "32Gi", "gpus": 0, "pods": 50}

    validated = run_mlops("team", "validate", "team-risk-dev", "--stacks-dir", str(stacks_dir))
    assert validated.returncode == 0, validated.stderr
    assert validated.stdout.strip() == "ok: team risk (dev) on dev: pricer"

    before = target.read_bytes()
    again = new(stacks_dir, "--model", "other=registry.example/other:2.0.0")
    assert again.returncode == 2
    assert (
        again.stderr
        == f"error: {target}: (file): already exists; refusing to overwrite (edit it, or remove it first)\n"
    )
    assert target.read_bytes() == before


# What prod requires of every model version (components.serving.provenance).
PROVENANCE = {
    "source": {"repository": "https://git.example/risk/pricer", "commit": "a" * 40},
    "license": "Apache-2.0",
    "run": "models:/pricer/7",
}


def spec(**changes) -> dict:
    base = {
        "platform-stack": "prod",
        "regions": ["us-east-1"],
        "owners": {
            "sso-group": "risk-engineers",
            "role-arn": ROLE,
            "alerts": [{"protocol": "email", "endpoint": "risk-oncall@example.com"}],
        },
        "cost-center": "cc-77",
        "data-classification": "internal",
        "quotas": {"cpu": "16", "memory": "64Gi", "gpus": 2, "pods": 40},
        "models": [
            {
                "name": "pricer",
                "resources": {"cpu": "1", "memory": "2Gi", "gpus": 1},
                "autoscaling": {"min-replicas": 1, "max-replicas": 1, "cpu-target": 70},
                "versions": [
                    {"name": "v1", "image": "registry.example/pricer" + DIGEST, "weight": 90, **PROVENANCE},
                    {"name": "v2", "image": "registry.example/pricer" + DIGEST, "weight": 10, **PROVENANCE},
                ],
            }
        ],
    }
    base.update(changes)
    return base


def new_from(stacks_dir: Path, value: dict, team: str = "risk", env: str = "prod"):
    source = stacks_dir.parent / "input.yaml"
    source.write_text(yaml.safe_dump(value))
    return run_mlops(
        "team", "new", team, "--env", env, "--stacks-dir", str(stacks_dir), "--from", str(source)
    )


def test_new_from_file(stacks_dir):
    result = new_from(stacks_dir, spec())
    assert result.returncode == 0, result.stderr
    written = load_yaml(stacks_dir / "Pulumi.team-risk-prod.yaml")["config"]["mlops:team"]
    assert [v["weight"] for v in written["models"][0]["versions"]] == [90, 10]


def mutate_model(**changes):
    value = spec()
    value["models"][0].update(changes)
    return value


def versions(*pairs):
    return [{"name": name, "image": image, "weight": weight} for name, image, weight in pairs]


@pytest.mark.parametrize(
    ("value", "team", "expected"),
    [
        (
            mutate_model(versions=versions(("v1", "r/p" + DIGEST, 80), ("v2", "r/p" + DIGEST, 10))),
            "risk",
            "{source}: models[0].versions: weights 80 + 10 = 90; allowed: weights summing to 100",
        ),
        (
            mutate_model(versions=versions(("v1", "registry.example/pricer:1.0.0", 100))),
            "risk",
            "{source}: models[0].versions[0].image: 'registry.example/pricer:1.0.0' is a tag; "
            "allowed in prod: an image pinned by digest (@sha256:<64 hex>)",
        ),
        (
            spec(quota={"cpu": "1"}),
            "risk",
            "{source}: quota: unknown key; allowed: name, environment, platform-stack, regions, owners, "
            "cost-center, data-classification, quotas, data-access, ingress, client-certificates, training, models, "
            "pipelines, graphs, lake-formation, budget, canary-steps",
        ),
        (
            spec(quotas={"cpu": "16", "memory": "64Gi", "gpus": 1, "pods": 40}),
            "risk",
            "{source}: quotas.gpus: 1 is below the models' GPU demand of 2 "
            "(GPUs per pod x max-replicas x versions, summed over models)",
        ),
        (
            spec(),
            "Risk_Team",
            "TEAM: 'Risk_Team' is not a DNS-1123 label; allowed: lowercase letters, digits and '-', "
            "starting and ending with a letter or digit",
        ),
    ],
    ids=["weights-not-100", "tag-in-prod", "unknown-key", "gpus-beyond-quota", "name-not-dns-1123"],
)
def test_bad_spec_exits_2_with_one_line_and_writes_nothing(stacks_dir, value, team, expected):
    """The error names the `--from` file and its key (or the TEAM argument), never the stack file, which is
    not written."""
    before = sorted(path.name for path in stacks_dir.iterdir())
    result = new_from(stacks_dir, value, team=team)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "error: " + expected.format(source=stacks_dir.parent / "input.yaml") + "\n"
    assert sorted(path.name for path in stacks_dir.iterdir()) == before


def test_bad_model_flag(stacks_dir):
    result = new(stacks_dir, "--model", "no-image")
    assert result.returncode == 2
    assert (
        result.stderr == "error: --model: 'no-image' is not NAME=IMAGE (e.g. scorer=registry/scorer:1.0.0)\n"
    )


def test_latest_is_refused_even_outside_prod(stacks_dir):
    result = new(stacks_dir, "--model", "pricer=registry.example/pricer:latest")
    assert result.returncode == 2
    assert result.stderr == (
        "error: --model: 'registry.example/pricer:latest' has no fixed tag; "
        "allowed: a version tag, or a digest (@sha256:...)\n"
    )


def test_region_must_belong_to_platform(stacks_dir):
    result = new(stacks_dir, "--model", "p=r/p:1.0.0", "--region", "eu-west-1")
    assert result.returncode == 2
    assert result.stderr == "error: --region: 'eu-west-1' is not a region of 'dev'; allowed: us-east-1\n"
    assert not (stacks_dir / "Pulumi.team-risk-dev.yaml").exists()


def test_unknown_platform_stack(stacks_dir):
    result = new(stacks_dir, "--model", "p=r/p:1.0.0", "--platform-stack", "qa")
    assert result.returncode == 2
    assert result.stderr == (
        "error: --platform-stack: 'qa' has no stack file Pulumi.qa.yaml; platform stacks: dev, prod, staging\n"
    )


def test_validate_a_file_path_and_a_broken_file(stacks_dir, tmp_path):
    good = run_mlops(
        "team", "validate", str(STACKS / "Pulumi.team-fraud-prod.yaml"), "--stacks-dir", str(STACKS)
    )
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == "ok: team fraud (prod) on prod: scorer, embedder"
    broken = load_yaml(STACKS / "Pulumi.team-fraud-prod.yaml")
    broken["config"]["mlops:team"]["models"][1]["versions"][1]["weight"] = 20
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    bad = run_mlops("team", "validate", str(path), "--stacks-dir", str(STACKS))
    assert bad.returncode == 2
    assert (
        bad.stderr
        == f"error: {path}: mlops:team.models[1].versions: weights 90 + 20 = 110; allowed: weights summing to 100\n"
    )


def test_list_shows_teams_models_and_weights():
    result = run_mlops("team", "list")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[1:] if line.strip()]
    assert rows[3][:9] == [
        "team-fraud-prod",
        "fraud",
        "prod",
        "prod",
        "embedder",
        "v1",
        "(90),",
        "v2",
        "(10)",
    ]
    assert rows[0][:6] == ["team-fraud-dev", "fraud", "dev", "dev", "scorer", "v3"]


def test_team_dependents_blocks_a_platform_destroy_while_team_stacks_use_it():
    """A platform destroyed under its team stacks leaves their ALBs (the controller is gone before their
    Ingresses), whose network interfaces keep the subnets and the VPC from being deleted (EC2 DeleteSubnet:
    DependencyViolation), and their records in the public zone, which Route 53 refuses to delete
    (DeleteHostedZone: HostedZoneNotEmpty). `mlops team dependents` names them and exits 1."""
    blocked = run_mlops("team", "dependents", "prod")
    assert blocked.returncode == 1
    assert blocked.stdout == (
        "team-fraud-prod: team fraud (us-east-1, us-west-2)\nteam-recsys-prod: team recsys (us-east-1)\n"
    )
    assert blocked.stderr.startswith("error: destroy these team stacks before prod:")
    clear = run_mlops("team", "dependents", "staging")
    assert (clear.returncode, clear.stdout) == (0, "ok: no team stack is built on staging\n")
    wrong = run_mlops("team", "dependents", "team-fraud-prod")
    assert wrong.returncode == 2
    assert wrong.stderr.endswith("mlops:platform: missing; 'team-fraud-prod' is not a platform stack\n")
