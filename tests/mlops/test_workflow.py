"""The pull-request workflow: tests as the README runs them, offline SARIF, live preview only with credentials."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from policies.pack import BOUNDARY_PLACEHOLDER, BOUNDARY_POLICY
from tests.conftest import REPO, STACKS
from tests.test_repo import readme_commands

WORKFLOW = REPO / ".github" / "workflows" / "pull-request.yml"


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def step_using(job: dict, action: str) -> dict:
    (step,) = [step for step in job["steps"] if str(step.get("uses", "")).startswith(action)]
    return step


def preview_step(job: dict) -> dict:
    (step,) = [
        s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@") and "with" in s
    ]
    return step


def config_step(job: dict) -> dict:
    (step,) = [s for s in job["steps"] if "policies/config/" in s.get("run", "")]
    return step


def test_tests_run_with_the_readme_command():
    runs = [step.get("run", "") for step in workflow()["jobs"]["test"]["steps"]]
    assert readme_commands()[1] in runs


def test_policy_check_uploads_sarif_even_when_it_fails():
    job = workflow()["jobs"]["policy-check"]
    assert job["permissions"]["security-events"] == "write"
    check = [
        step["run"] for step in job["steps"] if "mlops check --all --format sarif" in step.get("run", "")
    ]
    assert check == [
        "python3 -m pip install --quiet uv && uv run --frozen mlops check --all --format sarif "
        "--output results.sarif"
    ]
    upload = step_using(job, "github/codeql-action/upload-sarif@")
    assert upload["if"] == "always()"
    assert upload["with"]["sarif_file"] == "results.sarif"


def test_live_preview_runs_only_with_credentials_and_uses_each_stacks_policy_config():
    jobs = workflow()["jobs"]
    probe = jobs["credentials"]["steps"][0]
    assert probe["env"]["AWS_ROLE_ARN"] == "${{ secrets.AWS_ROLE_ARN }}"
    live = jobs["live-preview"]
    assert live["if"] == "${{ needs.credentials.outputs.configured == 'true' }}"
    assert "credentials" in live["needs"]
    pulumi = preview_step(live)
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["stack-name"] == "${{ matrix.stack }}"
    assert pulumi["with"]["policyPacks"] == "policies"
    assert pulumi["with"]["policyPackConfigs"] == "${{ runner.temp }}/policy-config.json"
    assert config_step(live)["env"]["OUTPUT"] == "${{ runner.temp }}/policy-config.json"


def test_the_live_matrix_covers_every_stack_with_its_policy_config():
    include = workflow()["jobs"]["live-preview"]["strategy"]["matrix"]["include"]
    by_stack = {entry["stack"]: entry for entry in include}
    assert set(by_stack) == {
        path.name[len("Pulumi.") : -len(".yaml")] for path in STACKS.glob("Pulumi.*.yaml")
    }
    assert {stack: entry["policy-config"] for stack, entry in by_stack.items()} == {
        "dev": "dev",
        "staging": "staging",
        "prod": "prod",
        "team-fraud-dev": "team-dev",
        "team-fraud-prod": "team-prod",
    }
    for stack, entry in by_stack.items():
        assert (REPO / "policies" / "config" / f"{entry['policy-config']}.json").is_file()
        config = yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())["config"]
        if "mlops:team" in config:
            team = config["mlops:team"]
            assert entry["policy-config"] == f"team-{team['environment']}"
            assert entry["platform-stack"] == team["platform-stack"]
        else:
            assert "platform-stack" not in entry
            assert entry["policy-config"] == config["mlops:platform"]["environment"]


def run_config_step(tmp_path: Path, policy_config: str, platform_stack: str, outputs: dict | None) -> dict:
    """The live job's config step, run by bash with the real jq and a `pulumi` that prints `outputs` as the
    platform stack's outputs (what `pulumi stack output --json` prints)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    fake = bin_dir / "pulumi"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\ncat <<'EOF'\n{json.dumps(outputs or {})}\nEOF\n")
    fake.chmod(0o755)
    step = config_step(workflow()["jobs"]["live-preview"])
    output = tmp_path / "policy-config.json"
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "POLICY_CONFIG": policy_config,
        "PLATFORM_STACK": platform_stack,
        "OUTPUT": str(output),
    }
    result = subprocess.run(["bash", "-c", step["run"]], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (calls.read_text().split() if calls.exists() else []) == (
        ["stack", "output", "--json", "--stack", platform_stack] if platform_stack else []
    )
    return json.loads(output.read_text())


@pytest.mark.skipif(shutil.which("jq") is None, reason="the live job's runner has jq; this machine does not")
def test_the_config_step_fills_the_platform_boundary_into_a_team_config(tmp_path):
    arn = "arn:aws:iam::333333333333:policy/mlops-prod-permissions-boundary"
    written = run_config_step(tmp_path, "team-prod", "prod", {"identity": {"permissionsBoundaryArn": arn}})
    expected = json.loads((REPO / "policies" / "config" / "team-prod.json").read_text())
    assert expected[BOUNDARY_POLICY]["permissionsBoundaryArn"] == BOUNDARY_PLACEHOLDER
    expected[BOUNDARY_POLICY]["permissionsBoundaryArn"] = arn
    assert written == expected


@pytest.mark.skipif(shutil.which("jq") is None, reason="the live job's runner has jq; this machine does not")
def test_the_config_step_drops_the_boundary_of_a_platform_without_identity(tmp_path):
    (tmp_path / "team").mkdir()
    (tmp_path / "platform").mkdir()
    written = run_config_step(tmp_path / "team", "team-dev", "dev", {"environment": "dev", "identity": None})
    assert written[BOUNDARY_POLICY] == {"enforcementLevel": "mandatory"}
    # A platform stack's config is its file, unchanged, and no platform outputs are read.
    platform = run_config_step(tmp_path / "platform", "prod", "", None)
    assert platform == json.loads((REPO / "policies" / "config" / "prod.json").read_text())
