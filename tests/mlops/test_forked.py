"""Multi-stack synthesis in forked children: the same documents as a fresh interpreter per stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mlops import forked
from tests.conftest import REPO, STACKS

SCRIPT = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "from mlops.forked import synthesize_many\n"
    "json.dump(synthesize_many(sys.argv[2:], Path(sys.argv[1])), sys.stdout)\n"
)


def test_forked_children_give_each_stack_the_document_of_a_fresh_interpreter(synth, tmp_path):
    """A platform and a team stack synthesised in forked children (the team's platform outputs computed in a
    forked child too, the cache being empty) equal those of one spawned interpreter per stack: no runtime
    state leaks from the parent, which imported the SDKs, nor from one child to the next."""
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(STACKS), "team-fraud-dev", "dev"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "MLOPS_CACHE_DIR": str(tmp_path / "cache")},
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    team, platform = json.loads(result.stdout)
    assert platform == synth("dev")
    assert team == synth("team-fraud-dev")
    assert list((tmp_path / "cache").glob("outputs-dev-*.json"))


def test_the_sdk_modules_preloaded_are_those_the_program_uses():
    modules = forked.sdk_modules()
    assert {
        "pulumi_aws.s3",
        "pulumi_aws.eks",
        "pulumi_kubernetes.apps.v1",
        "pulumi_kubernetes.core.v1",
    } <= set(modules)
    assert all(name.startswith(("pulumi_aws.", "pulumi_kubernetes.")) for name in modules)


def _die() -> None:
    import os

    os._exit(3)


def test_a_child_that_dies_is_an_error_naming_the_stack_not_a_hang():
    """A forked child killed before it answers (out of memory, a signal, os._exit) must fail the command."""
    from mlops.synth import ProgramError

    with pytest.raises(ProgramError, match=r"^synthesising stack 'dev': its process ended without a result"):
        forked.run_forked([("dev", _die, (), "stack 'dev'")], workers=2)


def test_forked_jobs_return_their_results_by_key_each_in_its_own_process():
    results = forked.run_forked([(str(n), os.getpid, (), f"job {n}") for n in range(3)], workers=2)
    assert set(results) == {"0", "1", "2"}
    assert len(set(results.values())) == 3 and os.getpid() not in results.values()


def _sleep() -> None:
    import time

    time.sleep(60)


def test_a_failure_stops_the_siblings_still_running():
    """One stack failing must end the command now, not when its slowest (or hung) sibling ends."""
    import time

    from mlops.synth import ProgramError

    started = time.perf_counter()
    with pytest.raises(ProgramError):
        forked.run_forked([("slow", _sleep, (), "stack 'slow'"), ("dev", _die, (), "stack 'dev'")], workers=2)
    assert time.perf_counter() - started < 30
