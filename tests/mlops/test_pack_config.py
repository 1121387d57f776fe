"""`mlops pack-config`: a stack's live pack config with every placeholder filled, the base revision's traffic
read from a temporary git repository; its one-line errors write no file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlops.history import base_traffic
from mlops.promote import Promotion, promote
from policies.team_config import BASE_TRAFFIC_PLACEHOLDER
from tests.conftest import REPO, STACKS, run_mlops
from tests.mlops.test_history import git

STACK = "team-fraud-prod"
CONFIG = REPO / "policies" / "config"
ARN = "arn:aws:iam::333333333333:policy/mlops-prod-permissions-boundary"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The shipped stack files committed (tag `base`), the team's file absent there for team-fraud-dev."""
    for name in ("dev", "staging", "prod", STACK):
        shutil.copy(STACKS / f"Pulumi.{name}.yaml", tmp_path)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "base")
    git(tmp_path, "tag", "base")
    shutil.copy(STACKS / "Pulumi.team-fraud-dev.yaml", tmp_path)  # a new stack, not yet committed
    return tmp_path


def pack_config(repo: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlops", "pack-config", *args, "--stacks-dir", str(repo)],
        input=stdin or "",
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_base_revisions_traffic_is_the_committed_files_and_empty_for_a_new_stack(repo):
    promote(Promotion(STACK, "embedder", "v2", step=True), repo)  # the work tree: 50/50
    assert base_traffic(repo, STACK, "base") == {"scorer": {"v3": 100}, "embedder": {"v1": 90, "v2": 10}}
    git(repo, "commit", "-qam", "embedder v2 to 50%")
    assert base_traffic(repo, STACK, "HEAD")["embedder"] == {"v1": 50, "v2": 50}
    assert base_traffic(repo, "team-fraud-dev", "HEAD") == {}  # no file at HEAD: every model is new


def test_a_team_stacks_config_has_every_placeholder_filled(repo, tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"identity": {"permissionsBoundaryArn": ARN}, "allowedLicenses": ["MIT"]}))
    written = tmp_path / "config.json"
    done = pack_config(
        repo, STACK, "--platform-outputs", str(outputs), "--base", "base", "--output", str(written)
    )
    assert done.returncode == 0, done.stderr
    expected = json.loads((CONFIG / "team-prod.json").read_text())
    expected["iam-role-permissions-boundary"]["permissionsBoundaryArn"] = ARN
    expected["model-license-allowed"]["allowedLicenses"] = ["MIT"]
    expected["model-canary-first-step"]["baseTraffic"] = {
        "scorer": {"v3": 100},
        "embedder": {"v1": 90, "v2": 10},
    }
    assert json.loads(written.read_text()) == expected
    # Outputs on stdin ('-'); a stack new at the base compares with nothing: {}.
    done = pack_config(repo, "team-fraud-dev", "--platform-outputs", "-", "--base", "base", stdin="{}")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["model-canary-first-step"]["baseTraffic"] == {}


def test_a_placeholder_without_its_source_stays_with_a_note(repo):
    done = pack_config(repo, STACK)
    assert done.returncode == 0
    assert json.loads(done.stdout)["model-canary-first-step"]["baseTraffic"] == BASE_TRAFFIC_PLACEHOLDER
    assert done.stderr.splitlines() == [
        f"note: {STACK}: PLATFORM_PERMISSIONS_BOUNDARY_ARN left in place; --platform-outputs fills it",
        f"note: {STACK}: PLATFORM_ALLOWED_LICENSES left in place; --platform-outputs fills it",
        f"note: {STACK}: BASE_REVISION_TRAFFIC left in place; --base fills it",
    ]


def test_platform_stacks_get_their_config_unchanged_for_it_holds_no_placeholder(repo):
    for environment in ("dev", "staging", "prod"):
        text = (CONFIG / f"{environment}.json").read_text()
        assert "PLATFORM_" not in text and BASE_TRAFFIC_PLACEHOLDER not in text
        done = pack_config(repo, environment, "--base", "base")
        assert done.returncode == 0 and done.stderr == ""
        assert json.loads(done.stdout) == json.loads(text)


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ("nope",),
            None,
            "error: unknown stack 'nope': no {repo}/Pulumi.nope.yaml; stacks: dev, prod, staging, "
            "team-fraud-dev, team-fraud-prod",
        ),
        (
            (STACK, "--base", "no-such-ref"),
            None,
            "error: --base: 'no-such-ref' names no commit of the repository at {repo}",
        ),
        (
            (STACK, "--platform-outputs", "-"),
            "[1]",
            "error: <stdin>: (document): not stack outputs: a JSON array; "
            "expected what `pulumi stack output --json` prints",
        ),
        (
            (STACK, "--platform-outputs", "-"),
            "{",
            "error: <stdin>: line 1: not valid JSON: Expecting property name "
            "enclosed in double quotes at column 2 (the file ends early: truncated?)",
        ),
        (
            (STACK, "--platform-outputs", "-"),
            '{"allowedLicenses": "MIT"}',
            "error: <stdin>: allowedLicenses: must be a list, got 'MIT'",
        ),
        (
            (STACK, "--platform-outputs", "{repo}/absent.json"),
            None,
            "error: {repo}/absent.json: (file): cannot be read (No such file or directory)",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_file(repo, tmp_path, args, stdin, message):
    written = tmp_path / "config.json"
    done = pack_config(repo, *(a.format(repo=repo) for a in args), "--output", str(written), stdin=stdin)
    assert (done.returncode, done.stderr.strip()) == (2, message.format(repo=repo))
    assert not written.exists()


def test_check_refuses_an_unknown_base_before_synthesising(repo):
    done = run_mlops("check", STACK, "--stacks-dir", str(repo), "--base", "no-such-ref")
    assert (done.returncode, done.stderr.strip()) == (
        2,
        f"error: --base: 'no-such-ref' names no commit of the repository at {repo}",
    )
