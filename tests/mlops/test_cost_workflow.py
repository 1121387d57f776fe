"""The pull-request workflow posts the cost difference against the base branch next to the policy report."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import REPO, STACKS
from tests.mlops.test_workflow import workflow


def _cost_step(job: dict) -> tuple[int, dict]:
    (found,) = [(i, step) for i, step in enumerate(job["steps"]) if "mlops cost" in step.get("run", "")]
    return found


def test_the_cost_difference_is_appended_to_the_policy_comment_before_it_is_posted():
    job = workflow()["jobs"]["policy-check"]
    index, step = _cost_step(job)
    names = [s.get("name", "") for s in job["steps"]]
    assert names.index("Pull-request comment body (also the job summary)") < index
    assert index < names.index(
        "Pull-request comment (not from forks or Dependabot, whose token cannot write)"
    )
    assert step["if"] == "always()"
    script = step["run"]
    # the base branch estimated with its own code and stacks, in a worktree of origin/<base>
    assert 'git worktree add --detach "$RUNNER_TEMP/base" "origin/$BASE_REF"' in script
    assert step["env"] == {"BASE_REF": "${{ github.base_ref }}"}
    assert re.search(
        r"mlops cost \$\(names \.\) --format json --output \"\$RUNNER_TEMP/cost-base.json\"", script
    )
    assert re.search(
        r"mlops cost \$\(names \.\) --compare \"\$RUNNER_TEMP/cost-base.json\" --format markdown --output cost-diff.md",
        script,
    )
    assert "{ echo; cat cost-diff.md; } >> policy-report.md" in script


def test_the_steps_stack_list_is_every_stack_file():
    script = _cost_step(workflow()["jobs"]["policy-check"])[1]["run"]
    (function,) = [line for line in script.splitlines() if line.startswith("names()")]
    listed = subprocess.run(
        ["bash", "-c", f"{function}\nnames {REPO}"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert sorted(listed) == sorted(
        p.name[len("Pulumi.") : -len(".yaml")] for p in STACKS.glob("Pulumi.*.yaml")
    )
    assert "prod" in listed and "team-fraud-prod" in listed
