"""`mlops team new` and `mlops team validate` know the training section: written through from a `--from` file,
checked against the platform's pools and the other teams' quotas (the overcommit check), one line on error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, run_mlops
from tests.mlops.test_team_cli import new_from, spec

STACKS = REPO / "stacks"


@pytest.fixture
def stacks_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "stacks"
    folder.mkdir()
    for name in ("prod", "team-fraud-prod", "team-recsys-prod"):
        shutil.copy(STACKS / f"Pulumi.{name}.yaml", folder)
    return folder


def with_training(cpu: str) -> dict:
    return spec(
        quotas={"cpu": "128", "memory": "256Gi", "gpus": 4, "pods": 40},
        training={
            "pools": [
                {"name": "cpu", "cpu": cpu, "memory": "64Gi"},
                {"name": "gpu", "cpu": "8", "memory": "64Gi", "gpus": 2},
            ],
            "notebook-profiles": [{"name": "gpu", "pool": "gpu", "cpu": "4", "memory": "16Gi", "gpus": 1}],
        },
    )


def test_team_new_writes_the_training_section_and_validate_checks_it(stacks_dir):
    result = new_from(stacks_dir, with_training("16"))
    assert result.returncode == 0, result.stderr
    written = yaml.safe_load((stacks_dir / "Pulumi.team-risk-prod.yaml").read_text())["config"]["mlops:team"]
    assert written["training"]["pools"][1] == {"name": "gpu", "cpu": "8", "memory": "64Gi", "gpus": 2}
    assert written["training"]["notebook-profiles"][0]["gpus"] == 1
    validated = run_mlops("team", "validate", "team-risk-prod", "--stacks-dir", str(stacks_dir))
    assert validated.returncode == 0, validated.stderr


def test_team_new_refuses_a_quota_that_overcommits_a_pool(stacks_dir):
    """cpu pool: limit 256 cores, factor 1.5 (384); fraud 96 + recsys 224 + risk 64 = 384 fits, 70 does not."""
    result = new_from(stacks_dir, with_training("70"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert (
        "training.pools[0].cpu: overcommits pool 'cpu': cpu cpu: risk 70 + fraud 96 + recsys 224 = 390 cores of "
        "256 (1.52x); allowed: at most 1.5x its limit" in result.stderr
    )
    assert not (stacks_dir / "Pulumi.team-risk-prod.yaml").exists()


def test_the_stack_file_schema_knows_the_training_sections():
    result = run_mlops("schema")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "TeamTraining" in text and "TrainingConfig" in text and "notebook-profiles" in text
