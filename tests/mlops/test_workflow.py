"""The pull-request workflow: tests as the README runs them, offline SARIF, live preview only with credentials."""

from __future__ import annotations

import yaml

from tests.conftest import REPO
from tests.test_repo import readme_commands

WORKFLOW = REPO / ".github" / "workflows" / "pull-request.yml"


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def step_using(job: dict, action: str) -> dict:
    (step,) = [step for step in job["steps"] if str(step.get("uses", "")).startswith(action)]
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
    pulumi = step_using(live, "pulumi/actions@")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["policyPacks"] == "policies"
    assert pulumi["with"]["policyPackConfigs"] == "policies/config/${{ matrix.stack }}.json"
    for stack in live["strategy"]["matrix"]["stack"]:
        assert (REPO / "stacks" / f"Pulumi.{stack}.yaml").is_file()
        assert (REPO / "policies" / "config" / f"{stack}.json").is_file()
