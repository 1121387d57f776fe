"""`mlops team new` takes a --model's provenance as flags; prod requires it, and errors name the flag."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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
        "--owner-role-arn", ROLE, "--cost-center", "cc-77", "--model", f"pricer={IMAGE}", *extra,
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
