"""Multi-stack synthesis in forked children: the same documents as a fresh interpreter per stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
