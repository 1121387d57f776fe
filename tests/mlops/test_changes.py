"""`mlops check --changed-since` and `--shard`: which stacks a change affects, and how stacks split into shards."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from components.loader import ConfigError
from mlops.changes import (
    Stack,
    affected_stacks,
    assign_shards,
    changed_paths,
    inventory,
    parse_shard,
    shard_stacks,
)
from tests.conftest import STACKS, run_mlops

SHIPPED = [
    Stack("dev", None, 1),
    Stack("prod", None, 2),
    Stack("staging", None, 1),
    Stack("team-fraud-dev", "dev", 1),
    Stack("team-fraud-prod", "prod", 2),
    Stack("team-recsys-prod", "prod", 1),
]
EVERY = ("dev", "prod", "staging", "team-fraud-dev", "team-fraud-prod", "team-recsys-prod")


def test_inventory_reads_each_stacks_kind_platform_and_regions():
    assert inventory(STACKS) == SHIPPED


def test_inventory_takes_the_last_part_of_a_fully_qualified_platform_stack(tmp_path):
    (tmp_path / "Pulumi.team-a-prod.yaml").write_text(
        "config:\n  mlops:team:\n    name: a\n    environment: prod\n"
        "    platform-stack: acme/mlops-platform/prod\n    regions: [us-east-1, us-west-2]\n"
    )
    assert inventory(tmp_path) == [Stack("team-a-prod", "prod", 2)]


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (["stacks/Pulumi.team-fraud-dev.yaml"], ("team-fraud-dev",)),
        (["stacks/Pulumi.prod.yaml"], ("prod", "team-fraud-prod", "team-recsys-prod")),
        (["stacks/Pulumi.staging.yaml"], ("staging",)),
        (
            ["stacks/Pulumi.dev.yaml", "stacks/Pulumi.team-fraud-prod.yaml"],
            ("dev", "team-fraud-dev", "team-fraud-prod"),
        ),
        (["components/cluster/eks.py"], EVERY),
        (["stacks/__main__.py"], EVERY),
        (["stacks/team.py"], EVERY),
        (["policies/pack.py"], EVERY),
        (["mlops/synth.py"], EVERY),
        (["Pulumi.yaml"], EVERY),
        (["pyproject.toml"], EVERY),
        (["uv.lock"], EVERY),
        (["Makefile"], EVERY),  # of no known kind: every stack, never a silent pass
        (["docs/first-deployment.md", "tests/mlops/test_check.py", "README.md"], ()),
        (
            [
                "benchmarks/growth.py",
                ".github/workflows/pull-request.yml",
                ".ci/run",
                "images/mlflow/Dockerfile",
            ],
            (),
        ),
        (["stacks/Pulumi.team-gone-dev.yaml"], ()),  # a removed team stack: nothing left to check
        ([], ()),
    ],
)
def test_affected_stacks(paths, expected):
    assert affected_stacks(paths, SHIPPED).stacks == expected


def test_affected_stacks_say_why_and_list_what_had_no_effect():
    selection = affected_stacks(["stacks/Pulumi.prod.yaml", "docs/a.md", "tests/b.py"], SHIPPED)
    assert selection.reasons == {
        "prod": "stacks/Pulumi.prod.yaml changed",
        "team-fraud-prod": "stacks/Pulumi.prod.yaml changed (its platform stack)",
        "team-recsys-prod": "stacks/Pulumi.prod.yaml changed (its platform stack)",
    }
    assert selection.ignored == ("docs/a.md", "tests/b.py")
    everything = affected_stacks(["uv.lock", "stacks/Pulumi.dev.yaml"], SHIPPED)
    assert everything.reasons["prod"] == "uv.lock changed (every stack)"
    assert everything.reasons["dev"] == "stacks/Pulumi.dev.yaml changed"


def test_a_removed_platform_stack_file_selects_the_teams_still_built_on_it():
    teams = [Stack("team-a-qa", "qa", 1), Stack("team-b-dev", "dev", 1), Stack("dev")]
    assert affected_stacks(["stacks/Pulumi.qa.yaml"], teams).stacks == ("team-a-qa",)


def test_stack_files_are_those_of_the_stacks_folder_wherever_it_is():
    assert affected_stacks(["Pulumi.dev.yaml"], SHIPPED, ".").stacks == ("dev", "team-fraud-dev")
    assert affected_stacks(["infra/stacks/Pulumi.dev.yaml"], SHIPPED, "infra/stacks").stacks == (
        "dev",
        "team-fraud-dev",
    )
    # A stack file in another folder is not one of these stacks' files: a path of no known kind.
    assert affected_stacks(["other/Pulumi.dev.yaml"], SHIPPED, "infra/stacks").stacks == EVERY


@pytest.mark.parametrize(("text", "expected"), [("1/1", (1, 1)), ("2/4", (2, 4)), (" 3/3 ", (3, 3))])
def test_parse_shard(text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["0/2", "3/2", "x", "1/0", "1/257", "-1/2", "1/2/3", "1 / 2", ""])
def test_parse_shard_refuses(text):
    with pytest.raises(ConfigError) as error:
        parse_shard(text)
    assert (
        str(error.value) == f"--shard: {text!r} is not a shard; write I/N with 1 <= I <= N <= 256, e.g. 1/4"
    )


def test_shipped_stacks_split_with_teams_beside_their_platform():
    # Costs: prod 8, dev 4, staging 4, team-fraud-prod 2, team-fraud-dev 1, team-recsys-prod 1 (platform region
    # 4, team region 1). A team away from its platform also costs its platform's outputs (prod's: 8).
    assert assign_shards(SHIPPED, 1) == [list(EVERY)]
    assert assign_shards(SHIPPED, 2) == [
        ["prod", "team-fraud-prod", "team-recsys-prod"],
        ["dev", "staging", "team-fraud-dev"],
    ]
    assert assign_shards(SHIPPED, 3) == [
        ["prod", "team-fraud-prod", "team-recsys-prod"],
        ["dev", "team-fraud-dev"],
        ["staging"],
    ]
    # With shards to spare, recsys costs 1 + 8 on an empty shard against 10 + 1 beside prod and its other team.
    assert assign_shards(SHIPPED, 6) == [
        ["prod", "team-fraud-prod"],
        ["dev", "team-fraud-dev"],
        ["staging"],
        ["team-recsys-prod"],
        [],
        [],
    ]


def test_many_teams_spread_when_their_platform_is_the_heavier_choice():
    teams = [Stack(f"team-t{number}-dev", "dev", 1) for number in range(10)]
    shards = assign_shards([Stack("dev"), *teams], 2)
    # dev (4) on shard 1; team-t0 then costs 1 there and 1 + 4 (dev's outputs) on shard 2: a tie, the lower
    # shard; team-t1 costs 6 on shard 1, 5 on shard 2; from then on the shards alternate: 9 units each.
    assert shards == [
        ["dev", "team-t0-dev", "team-t2-dev", "team-t4-dev", "team-t6-dev", "team-t8-dev"],
        ["team-t1-dev", "team-t3-dev", "team-t5-dev", "team-t7-dev", "team-t9-dev"],
    ]
    assert sorted(name for shard in shards for name in shard) == sorted(["dev", *(t.name for t in teams)])


def test_a_shard_of_a_selection_prices_platforms_from_the_whole_folder():
    # Only the two teams changed: each shard that holds one pays its platform's outputs (prod 8, dev 4).
    assert shard_stacks(["team-fraud-dev", "team-fraud-prod"], SHIPPED, 1, 2) == ["team-fraud-prod"]
    assert shard_stacks(["team-fraud-dev", "team-fraud-prod"], SHIPPED, 2, 2) == ["team-fraud-dev"]
    assert shard_stacks(["team-fraud-dev", "team-fraud-prod"], SHIPPED, 3, 3) == []


# ---------------------------------------------------------------------------------------------------------
# Against a real git repository


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path) -> Path:
    """A repository holding a copy of the shipped stack files, `main` at one commit, on a branch `change`."""
    (tmp_path / "stacks").mkdir()
    for path in STACKS.glob("Pulumi.*.yaml"):
        shutil.copy(path, tmp_path / "stacks" / path.name)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("guide\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(
        tmp_path,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "0",
    )
    git(tmp_path, "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "stacks")
    git(tmp_path, "checkout", "-q", "-b", "change")
    return tmp_path


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", message)


def test_changed_paths_are_the_branchs_commits_and_what_is_not_committed(repo):
    team = repo / "stacks" / "Pulumi.team-fraud-dev.yaml"
    team.write_text(team.read_text().replace("pods: 40", "pods: 41"))
    commit(repo, "team")
    # Meanwhile on main: not part of this change (the diff starts at the merge base).
    git(repo, "checkout", "-q", "main")
    (repo / "stacks" / "Pulumi.staging.yaml").write_text("config: {}\n")
    commit(repo, "main moves on")
    git(repo, "checkout", "-q", "change")
    assert changed_paths("main", repo / "stacks") == (["stacks/Pulumi.team-fraud-dev.yaml"], "stacks")
    # Staged, unstaged and untracked files count too; a rename is a removal and an addition.
    (repo / "docs" / "guide.md").write_text("changed\n")
    (repo / "stacks" / "Pulumi.team-new-dev.yaml").write_text("config: {}\n")
    git(repo, "mv", "stacks/Pulumi.team-fraud-prod.yaml", "stacks/Pulumi.team-fraud2-prod.yaml")
    assert changed_paths("main", repo / "stacks")[0] == [
        "docs/guide.md",
        "stacks/Pulumi.team-fraud-dev.yaml",
        "stacks/Pulumi.team-fraud-prod.yaml",
        "stacks/Pulumi.team-fraud2-prod.yaml",
        "stacks/Pulumi.team-new-dev.yaml",
    ]


def test_changed_since_a_bad_revision_is_one_line_and_exit_2(repo, tmp_path_factory):
    result = run_mlops("check", "--changed-since", "origin/main", "--stacks-dir", str(repo / "stacks"))
    assert result.returncode == 2
    assert result.stderr == (
        f"error: --changed-since: 'origin/main' is not a commit in {repo} (fetch the base branch first; "
        "in GitHub Actions, actions/checkout with fetch-depth: 0)\n"
    )
    outside = tmp_path_factory.mktemp("no-git")
    result = run_mlops("check", "--changed-since", "main", "--stacks-dir", str(outside))
    assert result.returncode == 2
    assert (
        result.stderr == f"error: --changed-since: the stacks folder {outside} is not in a git repository\n"
    )


def test_a_documentation_change_checks_nothing_and_says_so(repo):
    (repo / "docs" / "guide.md").write_text("changed\n")
    commit(repo, "docs")
    result = run_mlops(
        "check", "--changed-since", "main", "--stacks-dir", str(repo / "stacks"), "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"shard": {"index": 1, "count": 1}, "stacks": [], "mandatory": 0}
    assert result.stderr == (
        "no stack is affected by the 1 path(s) changed since main (documentation, tests, benchmarks or CI only): "
        "nothing to check\n"
    )


def test_a_team_stack_change_checks_that_team_only(repo):
    # A broken quota in the changed team file: the check reaches that stack (and only it) and reports the
    # file and key, before any synthesis.
    team = repo / "stacks" / "Pulumi.team-fraud-dev.yaml"
    team.write_text(team.read_text().replace("pods: 40", "pods: many"))
    commit(repo, "team")
    result = run_mlops("check", "--changed-since", "main", "--stacks-dir", str(repo / "stacks"))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0] == "team-fraud-dev: stacks/Pulumi.team-fraud-dev.yaml changed"
    assert lines[1].startswith(f"error: {team}: mlops:team.quotas.pods: ")
    assert len(lines) == 2
    # The other shard of the same change is empty, and says so.
    other = run_mlops(
        "check",
        "--changed-since",
        "main",
        "--shard",
        "2/2",
        "--stacks-dir",
        str(repo / "stacks"),
        "--format",
        "json",
    )
    assert other.returncode == 0, other.stderr
    assert json.loads(other.stdout) == {"shard": {"index": 2, "count": 2}, "stacks": [], "mandatory": 0}
    assert other.stderr.splitlines() == [
        "team-fraud-dev: stacks/Pulumi.team-fraud-dev.yaml changed",
        "shard 2/2: no stack (0 of 1)",
    ]
