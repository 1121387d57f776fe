"""The release policies on real previews of the example team, its stack file committed in a git repository (the
base revision `mlops check` compares with, HEAD by default): a promotion by `mlops promote` passes the pack; a
hand edit that starts a new version above the first canary step (whatever the file says of how it got there),
or serves an image from outside the account's models/ repositories, fails it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlops.promote import Promotion, promote
from tests.conftest import STACKS, by_name, run_mlops
from tests.mlops.test_history import git

STACK = "team-fraud-prod"


@pytest.fixture
def stacks_dir(tmp_path: Path) -> Path:
    for name in ("dev", "staging", "prod", "team-fraud-dev", STACK):
        shutil.copy(STACKS / f"Pulumi.{name}.yaml", tmp_path)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "The example team: embedder v1 at 90%, v2 at 10%")
    return tmp_path


def violations(stacks_dir: Path, *options: str) -> list[tuple[str, str]]:
    done = run_mlops("check", STACK, "--format", "json", "--stacks-dir", str(stacks_dir), *options)
    assert done.returncode in (0, 1), done.stderr
    (report,) = json.loads(done.stdout)["stacks"]
    return sorted((v["policy"], v["urn"].rsplit("::", 1)[-1]) for v in report["violations"])


def test_the_example_promoted_to_50_50_passes_and_marks_how_v2_got_there(synth, stacks_dir):
    promote(Promotion(STACK, "embedder", "v2", step=True), stacks_dir)
    preview = synth(STACK, stacks_dir=stacks_dir)
    annotations = by_name(preview, "fraud-embedder-us-east-1-v2")["inputs"]["metadata"]["annotations"]
    assert annotations == {
        "mlops.platform/model": "embedder",
        "mlops.platform/version": "v2",
        "mlops.platform/canary-first-step": "10",
        "mlops.platform/image-account": "333333333333",
        "mlops.platform/stepped-from": "10",
        "mlops.platform/traffic-weight": "50",
        "mlops.platform/version-position": "later",
        # v2's provenance, from the stack file (prod requires it), beside the release annotations.
        "mlops.platform/source": "https://github.com/example-org/fraud-embedder",
        "mlops.platform/commit": "c4e7a0d3f6b9c2e5a8d1f4b7e0a3c6f9b2d5e8a1",
        "mlops.platform/license": "MIT",
        "mlops.platform/run": "runs:/5f3b2c1d9e8a4f7b6c5d4e3f2a1b0c9d/model",
        "mlops.platform/notes": "Canary: distilled from v1 on the same training set.",
    }
    assert violations(stacks_dir) == []


def test_a_hand_edit_of_a_served_version_to_50_passes_and_a_foreign_image_fails(stacks_dir):
    # v2 is served at the base revision (HEAD): its step to 50% is no new version's start.
    path = stacks_dir / f"Pulumi.{STACK}.yaml"
    text = path.read_text().replace("weight: 90\n", "weight: 50\n").replace("weight: 10\n", "weight: 50\n")
    text = text.replace(
        "333333333333.dkr.ecr.us-east-1.amazonaws.com/models/fraud/scorer@",
        "444444444444.dkr.ecr.us-east-1.amazonaws.com/models/fraud/scorer@",
    )
    path.write_text(text)
    assert violations(stacks_dir) == [
        ("model-image-from-models-ecr", "fraud-scorer-us-east-1-v3"),
        ("model-image-from-models-ecr", "fraud-scorer-us-west-2-v3"),
    ]


def test_a_new_version_with_a_hand_written_stepped_from_fails(stacks_dir):
    path = stacks_dir / f"Pulumi.{STACK}.yaml"
    text = path.read_text().replace("weight: 90\n", "weight: 50\n")
    text = text.replace("- name: v2\n", "- name: v9\n        stepped-from: 10\n").replace(
        "weight: 10\n", "weight: 50\n"
    )
    path.write_text(text)
    assert violations(stacks_dir) == [
        ("model-canary-first-step", "fraud-embedder-us-east-1-v9"),
        ("model-canary-first-step", "fraud-embedder-us-west-2-v9"),
    ]
    # Committed, the file is its own base: `--base` names the revision that was deployed.
    git(stacks_dir, "commit", "-qam", "embedder v9 at 50%")
    assert violations(stacks_dir) == []
    assert violations(stacks_dir, "--base", "HEAD~1") == [
        ("model-canary-first-step", "fraud-embedder-us-east-1-v9"),
        ("model-canary-first-step", "fraud-embedder-us-west-2-v9"),
    ]


def test_a_new_version_listed_first_fails(stacks_dir):
    path = stacks_dir / f"Pulumi.{STACK}.yaml"
    path.write_text(path.read_text().replace("- name: v1\n", "- name: v9\n"))
    assert violations(stacks_dir) == [
        ("model-canary-first-step", "fraud-embedder-us-east-1-v9"),
        ("model-canary-first-step", "fraud-embedder-us-west-2-v9"),
    ]
