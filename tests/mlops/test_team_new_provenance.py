"""`mlops team new` takes a --model's provenance as flags; prod requires it, and errors name the flag."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from components.loader import load_yaml
from tests.conftest import STACKS, run_mlops

ROLE = "arn:aws:iam::333333333333:role/risk-owners"
IMAGE = "333333333333.dkr.ecr.us-east-1.amazonaws.com/models/risk/pricer@sha256:" + "b" * 64
COMMIT = "c" * 40


@pytest.fixture
def stacks_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "stacks"
    folder.mkdir()
    shutil.copy(STACKS / "Pulumi.prod.yaml", folder)
    return folder


def new(stacks_dir: Path, *extra: str):
    return run_mlops(
        "team", "new", "risk", "--env", "prod", "--stacks-dir", str(stacks_dir), "--owner-group", "risk",
        "--owner-role-arn", ROLE, "--cost-center", "cc-77", "--model", f"pricer={IMAGE}", "--alert", "email:risk-oncall@example.com", *extra,
    )  # fmt: skip


def test_new_writes_the_provenance_flags(stacks_dir):
    result = new(
        stacks_dir,
        "--source", f"pricer=https://git.example/risk/pricer@{COMMIT}",
        "--license", "pricer=Apache-2.0",
        "--run", "pricer=runs:/0123456789abcdef0123456789abcdef/model",
        "--notes", "pricer=first release",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    written = load_yaml(stacks_dir / "Pulumi.team-risk-prod.yaml")["config"]["mlops:team"]
    assert written["models"][0]["versions"] == [
        {
            "name": "v1",
            "image": IMAGE,
            "weight": 100,
            "source": {"repository": "https://git.example/risk/pricer", "commit": COMMIT},
            "license": "Apache-2.0",
            "run": "runs:/0123456789abcdef0123456789abcdef/model",
            "notes": "first release",
        }
    ]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ((), "error: --source: missing; required in prod: the repository and commit the version was built from"),
        (
            ("--source", f"pricer=https://git.example/p@{COMMIT}", "--license", "pricer=CC-BY-NC-4.0",
             "--run", "pricer=models:/pricer/1"),
            "error: --license: 'CC-BY-NC-4.0' is not allowed by platform stack 'prod' (model-licenses.allowed); "
            "allowed: Apache-2.0, MIT",
        ),
        (("--license", "other=MIT"), "error: --license: 'other' names no --model; allowed: pricer"),
        (("--source", "pricer=https://git.example/p"), "error: --source: 'https://git.example/p' is not REPOSITORY@COMMIT"),
        (
            ("--source", f"pricer=https://git.example/p@{COMMIT}", "--license", "pricer=Apache-2.0", "--run", "pricer=x"),
            "error: --run: 'x' is not an MLflow model URI",
        ),
    ],
)  # fmt: skip
def test_provenance_flag_errors_are_one_line_naming_the_flag(stacks_dir, extra, expected):
    result = new(stacks_dir, *extra)
    assert result.returncode == 2
    assert result.stderr.startswith(expected) and result.stderr.count("\n") == 1
    assert sorted(path.name for path in stacks_dir.iterdir()) == ["Pulumi.prod.yaml"]


FULL = (
    "--source", f"pricer=https://git.example/p@{COMMIT}", "--license", "pricer=Apache-2.0",
    "--run", "pricer=models:/pricer/1",
)  # fmt: skip


def test_new_writes_the_alert_flags_as_owners_alerts(stacks_dir):
    result = new(stacks_dir, *FULL, "--alert", "https:https://events.example/risk")
    assert result.returncode == 0, result.stderr
    written = load_yaml(stacks_dir / "Pulumi.team-risk-prod.yaml")["config"]["mlops:team"]
    assert written["owners"]["alerts"] == [
        {"protocol": "email", "endpoint": "risk-oncall@example.com"},
        {"protocol": "https", "endpoint": "https://events.example/risk"},
    ]


@pytest.mark.parametrize(
    ("alert", "expected"),
    [
        ("oncall@example.com", "error: --alert: 'oncall@example.com' is not PROTOCOL:ENDPOINT; allowed: email:ADDRESS or https:URL"),
        ("sms:+15555550100", "error: --alert: 'sms:+15555550100' is not PROTOCOL:ENDPOINT; allowed: email:ADDRESS or https:URL"),
        ("email:", "error: --alert: 'email:' is not PROTOCOL:ENDPOINT"),
        ("email:not-an-address", "error: --alert: 'not-an-address' is not an e-mail address"),
    ],
)  # fmt: skip
def test_alert_flag_errors_are_one_line_naming_the_flag(stacks_dir, alert, expected):
    result = new(stacks_dir, *FULL, "--alert", alert)
    assert result.returncode == 2
    assert result.stderr.startswith(expected) and result.stderr.count("\n") == 1
    assert sorted(path.name for path in stacks_dir.iterdir()) == ["Pulumi.prod.yaml"]


def test_prod_requires_owners_alerts(stacks_dir):
    """Without --alert (or owners.alerts in --from) a prod team is refused, naming the flag; the config check
    names the key (mlops:team.owners.alerts)."""
    from components.config import parse_team
    from components.loader import ConfigError

    result = run_mlops(
        "team", "new", "risk", "--env", "prod", "--stacks-dir", str(stacks_dir), "--owner-group", "risk",
        "--owner-role-arn", ROLE, "--cost-center", "cc-77", "--model", f"pricer={IMAGE}", *FULL,
    )  # fmt: skip
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: mlops:team.owners.alerts: missing; required in prod: who hears")
    team = yaml.safe_load((STACKS / "Pulumi.team-fraud-prod.yaml").read_text())["config"]["mlops:team"]
    del team["owners"]["alerts"]
    with pytest.raises(ConfigError) as raised:
        parse_team(team, None)
    assert str(raised.value) == (
        "mlops:team.owners.alerts: missing; required in prod: who hears the team's model alarms "
        "(a list of {protocol: email|https, endpoint: ...})"
    )
    team["environment"] = "dev"
    team["platform-stack"] = "dev"
    assert parse_team(team, None).owners.alerts is None  # optional elsewhere


def test_every_shipped_prod_team_stack_has_alerts():
    from tests.conftest import FIXTURES

    files = [*STACKS.glob("Pulumi.team-*-prod.yaml"), *FIXTURES.glob("Pulumi.team-*-prod.yaml")]
    assert len(files) == 3
    for file in files:
        owners = yaml.safe_load(file.read_text())["config"]["mlops:team"]["owners"]
        assert owners["alerts"], file
