"""`mlops history`: the release history of a team's models, from a temporary git repository with several
commits: a merged pull request, a squash merge, a direct commit, a broken revision and a renamed folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mlops.history import changes, digest
from mlops.promote import Promotion, promote
from tests.conftest import STACKS, run_mlops

STACK = "team-fraud-prod"
V1 = "sha256:f6ba70a1af95f6cf50746566c8f9768483400af7504472b8c5ae0a3b956cae2c"
V2 = "sha256:348656c439477d255a17e20c82bc3399900b60387b9a61172744c0bd39e874d9"
V2B = "sha256:" + "d" * 64


def git(repo: Path, *args: str, author: str = "Ada Admin", date: str = "2026-03-01T10:00:00+00:00") -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": author,
        "GIT_AUTHOR_EMAIL": f"{author.split()[0].lower()}@example.com",
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_NAME": author,
        "GIT_COMMITTER_EMAIL": f"{author.split()[0].lower()}@example.com",
        "GIT_COMMITTER_DATE": date,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """main: the example (90/10); PR #7 (merged): 50/50; a squash merge (#8): 0/100; a direct commit: a new
    digest for v2; a broken revision, then its fix; the folder renamed."""
    repo = tmp_path_factory.mktemp("history")
    stacks = repo / "stacks"
    stacks.mkdir()
    for name in ("dev", "staging", "prod", "team-fraud-dev", STACK):
        shutil.copy(STACKS / f"Pulumi.{name}.yaml", stacks)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "Team fraud in prod", date="2026-03-01T10:00:00+00:00")

    git(repo, "checkout", "-qb", "promote-50")
    promote(Promotion(STACK, "embedder", "v2", step=True), stacks)
    git(repo, "commit", "-qam", "embedder v2 to 50%", author="Bob Builder", date="2026-03-02T10:00:00+00:00")
    git(repo, "checkout", "-q", "main")
    git(
        repo,
        "merge",
        "-q",
        "--no-ff",
        "promote-50",
        "-m",
        "Merge pull request #7 from fraud/promote-50",
        date="2026-03-02T11:00:00+00:00",
    )

    promote(Promotion(STACK, "embedder", "v2", step=True), stacks)
    git(
        repo,
        "commit",
        "-qam",
        "embedder v2 to 100% (#8)",
        author="Carol Canary",
        date="2026-03-03T10:00:00+00:00",
    )

    image = f"333333333333.dkr.ecr.us-east-1.amazonaws.com/models/fraud/embedder@{V2B}"
    promote(
        Promotion(
            STACK,
            "embedder",
            "v2",
            image=image,
            source="https://github.com/example-org/fraud-embedder@"
            + "e" * 40,  # a new image needs new provenance
            run="models:/fraud-embedder/2",
        ),
        stacks,
    )
    git(repo, "commit", "-qam", "embedder v2 rebuilt", date="2026-03-04T10:00:00+00:00")

    path = stacks / f"Pulumi.{STACK}.yaml"
    good = path.read_text()
    path.write_text(good.replace("weight: 100", "weight: 90"))  # weights 0 + 90: refused by the spec
    git(repo, "commit", "-qam", "broken", date="2026-03-05T10:00:00+00:00")
    path.write_text(good)
    git(repo, "commit", "-qam", "fixed", date="2026-03-05T11:00:00+00:00")

    git(repo, "mv", "stacks", "deploy")
    git(repo, "commit", "-qm", "stack files in deploy/", date="2026-03-06T10:00:00+00:00")
    return repo


def test_history_lists_each_release_step_with_commit_author_date_and_pull_request(repository):
    result = run_mlops(
        "history", STACK, "embedder", "--format", "json", "--stacks-dir", str(repository / "deploy")
    )
    assert result.returncode == 0, result.stderr
    found = [
        (c["author"], c["date"], c["pull_request"], c["version"], c["change"], c["before"], c["after"])
        for c in json.loads(result.stdout)
    ]
    assert found == [
        ("Ada Admin", "2026-03-01T10:00:00+00:00", None, "v1", "added", None, f"{V1} at 90"),
        ("Ada Admin", "2026-03-01T10:00:00+00:00", None, "v2", "added", None, f"{V2} at 10"),
        ("Bob Builder", "2026-03-02T10:00:00+00:00", 7, "v1", "weight", 90, 50),
        ("Bob Builder", "2026-03-02T10:00:00+00:00", 7, "v2", "weight", 10, 50),
        ("Carol Canary", "2026-03-03T10:00:00+00:00", 8, "v1", "weight", 50, 0),
        ("Carol Canary", "2026-03-03T10:00:00+00:00", 8, "v2", "weight", 50, 100),
        ("Ada Admin", "2026-03-04T10:00:00+00:00", None, "v2", "image", V2, V2B),
    ]
    commits = {c["commit"] for c in json.loads(result.stdout)}
    log = git(repository, "log", "--format=%H %s").splitlines()
    subjects = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in log}
    assert sorted(subjects[c] for c in commits) == sorted(
        ["Team fraud in prod", "embedder v2 to 50%", "embedder v2 to 100% (#8)", "embedder v2 rebuilt"]
    )


def test_history_as_markdown_names_the_pull_requests(repository):
    result = run_mlops(
        "history", STACK, "embedder", "--format", "markdown", "--stacks-dir", str(repository / "deploy")
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "| date | commit | author | pull request | version | change |"
    assert lines[1] == "| --- | --- | --- | --- | --- | --- |"
    assert len(lines) == 2 + 7
    assert lines[4].startswith("| 2026-03-02T10:00:00+00:00 | ")
    assert lines[4].endswith(" | Bob Builder | #7 | embedder/v1 | weight 90 -> 50 |")


def test_history_of_all_models_includes_the_unchanged_scorer_once(repository):
    result = run_mlops("history", STACK, "--format", "json", "--stacks-dir", str(repository / "deploy"))
    scorer = [c for c in json.loads(result.stdout) if c["model"] == "scorer"]
    assert [(c["version"], c["change"]) for c in scorer] == [("v3", "added")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["embedder", "--format", "yaml"],
            "error: --format: 'yaml' is not a format; allowed: text, json, markdown",
        ),
        (["ranker"], "error: {file}: mlops:team.models: no model 'ranker'; models: scorer, embedder"),
    ],
)
def test_history_refusals_are_one_line(repository, args, message):
    folder = repository / "deploy"
    result = run_mlops("history", STACK, *args, "--stacks-dir", str(folder))
    assert result.returncode == 2
    assert result.stderr == message.format(file=folder / f"Pulumi.{STACK}.yaml") + "\n"


def test_history_outside_a_repository_is_one_line(tmp_path):
    shutil.copy(STACKS / f"Pulumi.{STACK}.yaml", tmp_path)
    result = run_mlops("history", STACK, "--stacks-dir", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: git rev-parse: fatal: not a git repository")
    assert len(result.stderr.splitlines()) == 1


def test_changes_between_two_revisions():
    before = {"v1": ("r/m@sha256:aa", 90), "v2": ("r/m@sha256:bb", 10)}
    after = {"v2": ("r/m@sha256:cc", 100), "v3": ("r/m:1.0", 0)}
    assert changes(before, after) == [
        ("v2", "image", "sha256:bb", "sha256:cc"),
        ("v2", "weight", 10, 100),
        ("v3", "added", None, "r/m:1.0 at 0"),
        ("v1", "removed", 90, None),
    ]
    assert digest("r/m@sha256:aa") == "sha256:aa"
