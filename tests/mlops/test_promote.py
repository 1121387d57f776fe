"""`mlops promote`: a promotion edits the team stack file in place, keeps every other byte, and is checked by the
strict reader, the team spec and the platform checks before it replaces the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from components.loader import ConfigError, load_yaml
from components.serving.canary import canary_steps_error, next_step, rebalance
from mlops import promote as promote_module
from mlops.promote import Promotion, promote
from tests.conftest import STACKS, run_mlops

STACK = "team-fraud-prod"
FILE = f"Pulumi.{STACK}.yaml"
REGISTRY = "333333333333.dkr.ecr.us-east-1.amazonaws.com/models/fraud/embedder"
V1 = f"{REGISTRY}@sha256:f6ba70a1af95f6cf50746566c8f9768483400af7504472b8c5ae0a3b956cae2c"
V2 = f"{REGISTRY}@sha256:348656c439477d255a17e20c82bc3399900b60387b9a61172744c0bd39e874d9"
V3 = f"{REGISTRY}@sha256:" + "c" * 64
SOURCE = "https://github.com/example-org/fraud-embedder"
COMMIT = "d" * 40
RUN = "models:/fraud-embedder/3"
# The provenance prod requires of a new version (or a new image), as flags and as the file then holds it.
PROVENANCE = {"source": f"{SOURCE}@{COMMIT}", "license": "MIT", "run": RUN}
PROVENANCE_FLAGS = ["--source", f"{SOURCE}@{COMMIT}", "--license", "MIT", "--run", RUN]
V3_LINES = (
    f"      - name: v3\n        image: {V3}\n        weight: 10\n        source:\n          repository: {SOURCE}\n"
    f"          commit: {COMMIT}\n        license: MIT\n        run: {RUN}\n"
)
# The embedder's last version's last line in the example file (the sections after models: follow it).
V2_LAST = "        notes: 'Canary: distilled from v1 on the same training set.'\n"


@pytest.fixture
def stacks_dir(tmp_path: Path) -> Path:
    for name in ("dev", "staging", "prod", "team-fraud-dev", STACK):
        shutil.copy(STACKS / f"Pulumi.{name}.yaml", tmp_path)
    return tmp_path


def weights(stacks_dir: Path, model: str = "embedder") -> dict[str, int]:
    team = load_yaml(stacks_dir / FILE)["config"]["mlops:team"]  # the strict reader: what Pulumi reads
    (spec,) = [m for m in team["models"] if m["name"] == model]
    return {v["name"]: v["weight"] for v in spec["versions"]}


def leftovers(stacks_dir: Path) -> list[str]:
    return sorted(p.name for p in stacks_dir.iterdir() if p.name.startswith("."))


def test_the_example_team_goes_from_90_10_to_50_50_to_0_100_with_the_command(stacks_dir):
    original = (stacks_dir / FILE).read_text()
    assert weights(stacks_dir) == {"v1": 90, "v2": 10}
    first = run_mlops("promote", STACK, "embedder", "v2", "--step", "--stacks-dir", str(stacks_dir))
    assert first.returncode == 0, first.stderr
    assert weights(stacks_dir) == {"v1": 50, "v2": 50}
    assert first.stderr.strip() == f"wrote {stacks_dir / FILE}: embedder v1 50, v2 50"
    assert first.stdout.splitlines()[:2] == [f"--- a/{FILE}", f"+++ b/{FILE}"]
    assert [
        line for line in first.stdout.splitlines() if line[:1] in "+-" and line[:3] not in ("---", "+++")
    ] == [
        "-        weight: 90",
        "+        weight: 50",
        "-        weight: 10",
        "+        weight: 50",
        "+        stepped-from: 10",
    ]
    second = run_mlops("promote", STACK, "embedder", "v2", "--step", "--stacks-dir", str(stacks_dir))
    assert second.returncode == 0, second.stderr
    assert weights(stacks_dir) == {"v1": 0, "v2": 100}
    # Byte for byte: the file is the original with exactly these lines changed (comments, quoting, order kept).
    expected = original.replace("        weight: 90\n", "        weight: 0\n").replace(
        "        weight: 10\n", "        weight: 100\n        stepped-from: 50\n"
    )
    assert (stacks_dir / FILE).read_text() == expected
    assert original.startswith("# Example model-team stack: team fraud in prod.")
    validated = run_mlops("team", "validate", STACK, "--stacks-dir", str(stacks_dir))
    assert validated.returncode == 0, validated.stderr
    third = run_mlops("promote", STACK, "embedder", "v2", "--step", "--stacks-dir", str(stacks_dir))
    assert third.returncode == 2
    assert third.stderr == "error: --step: version v2 of embedder already holds 100\n"
    assert leftovers(stacks_dir) == []


COMMENTED = """\
# A team file with comments everywhere promote could disturb.
config:
  mlops:team:
    name: fraud  # the team
    environment: prod
    platform-stack: prod
    regions:
    - us-east-1 # primary
    - us-west-2
    owners:
      sso-group: fraud-ml-engineers
      role-arn: arn:aws:iam::333333333333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_mlops-fraud_0123456789abcdef
      alerts:
      - protocol: email
        endpoint: fraud-ml-oncall@example.com
    cost-center: 'cc-2040'
    data-classification: confidential
    quotas:
      cpu: '64'
      memory: 256Gi
      gpus: 12
      pods: 120
    canary-steps: [5, 25, 100]   # flow style kept
    models:
    # the GPU model
    - name: embedder
      resources:
        cpu: '4'
        memory: 16Gi
        gpus: 1
      autoscaling:
        min-replicas: 2
        max-replicas: 6
        cpu-target: 60
      versions:
      - name: v1
        image: {v1}
        weight: 95   # stable
        source: {{repository: 'https://github.com/example-org/fraud-embedder', commit: 9b1d4e7a2c5f8e0b3d6a9c2f5e8b1d4a7c0e3f6b}}
        license: Apache-2.0
        run: models:/fraud-embedder/1
      # the candidate
      - name: v2
        image: "{v2}"
        weight: 5    # canary
        source:
          repository: https://github.com/example-org/fraud-embedder
          commit: "c4e7a0d3f6b9c2e5a8d1f4b7e0a3c6f9b2d5e8a1"
        license: MIT  # distilled
        run: runs:/5f3b2c1d9e8a4f7b6c5d4e3f2a1b0c9d/model

# trailing comment
"""


def test_comments_quotes_and_flow_style_outside_the_changed_lines_are_kept_byte_for_byte(stacks_dir):
    text = COMMENTED.format(v1=V1, v2=V2)
    (stacks_dir / FILE).write_text(text)
    result = promote(Promotion(STACK, "embedder", "v2", step=True), stacks_dir)
    assert result.after == text.replace("weight: 95   # stable", "weight: 75   # stable").replace(
        "        weight: 5    # canary\n", "        weight: 25   # canary\n        stepped-from: 5\n"
    )
    assert (stacks_dir / FILE).read_text() == result.after


def test_a_new_version_starts_at_the_first_canary_step_taken_from_the_version_with_the_most_traffic(
    stacks_dir,
):
    for _ in range(2):
        promote(Promotion(STACK, "embedder", "v2", step=True), stacks_dir)
    text = (stacks_dir / FILE).read_text().replace("gpus: 12", "gpus: 18")
    (stacks_dir / FILE).write_text(text)
    result = promote(Promotion(STACK, "embedder", "v3", image=V3, **PROVENANCE), stacks_dir)
    assert weights(stacks_dir) == {"v1": 0, "v2": 90, "v3": 10}
    # v3 follows v2's last line; the sections after models: (pipelines, graphs) stay below it.
    assert (
        "        weight: 90\n        stepped-from: 100\n        source:\n" in result.after
        and f"{V2_LAST}{V3_LINES}    # A training pipeline" in result.after
    )
    assert result.after == result.before.replace(
        "        weight: 100\n        stepped-from: 50\n", "        weight: 90\n        stepped-from: 100\n"
    ).replace(V2_LAST, V2_LAST + V3_LINES)


def test_a_new_version_above_the_first_step_needs_an_override_which_is_recorded(stacks_dir):
    text = (stacks_dir / FILE).read_text().replace("gpus: 12", "gpus: 18")
    (stacks_dir / FILE).write_text(text)
    with pytest.raises(ConfigError) as refused:
        promote(Promotion(STACK, "embedder", "v3", image=V3, weight=50, **PROVENANCE), stacks_dir)
    assert str(refused.value) == (
        "--weight: 50 starts new version v3 above the first canary step 10 of mlops:team.canary-steps; allowed: 10 "
        "or less, or --override REASON (recorded in the file)"
    )
    assert (stacks_dir / FILE).read_text() == text
    reason = "INC-4711: v2 misroutes, v3 carries the fix"
    promote(
        Promotion(
            STACK,
            "embedder",
            "v3",
            image=V3,
            weight=50,
            override=reason,
            notes="Fixes INC-4711.",
            **PROVENANCE,
        ),
        stacks_dir,
    )
    assert weights(stacks_dir) == {"v1": 40, "v2": 10, "v3": 50}
    version = load_yaml(stacks_dir / FILE)["config"]["mlops:team"]["models"][1]["versions"][2]
    assert version == {
        "name": "v3",
        "image": V3,
        "weight": 50,
        "stepped-from": 0,
        "canary-override": reason,
        "source": {"repository": SOURCE, "commit": COMMIT},
        "license": "MIT",
        "run": RUN,
        "notes": "Fixes INC-4711.",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["embedder", "v2", "--image", f"{REGISTRY}:2.0.0", *PROVENANCE_FLAGS],
            f"error: {{file}}: mlops:team.models[1].versions[1].image: '{REGISTRY}:2.0.0' is a tag; allowed in prod: "
            "an image pinned by digest (@sha256:<64 hex>) (refused; the file is unchanged)",
        ),
        (
            ["embedder", "v3", "--image", V3, *PROVENANCE_FLAGS],
            "error: {file}: mlops:team.quotas.gpus: 32 GPUs is below the models' 18 at max-replicas plus the "
            "training quotas' 20; allowed: at least 38 (refused; the file is unchanged)",
        ),
        (
            ["embedder", "v3", "--image", V3],
            "error: --source: missing; required in prod: the repository and commit the version was built from "
            "(source.repository, source.commit)",
        ),
        (
            ["embedder", "v3", "--image", V3, "--source", SOURCE, "--license", "MIT", "--run", RUN],
            f"error: --source: '{SOURCE}' is not REPOSITORY@COMMIT (e.g. https://git.example/scorer@<40 hex>)",
        ),
        (
            [
                "embedder",
                "v3",
                "--image",
                V3,
                "--source",
                f"{SOURCE}@abc123",
                "--license",
                "MIT",
                "--run",
                RUN,
            ],
            "error: --source: 'abc123' is not a commit id; allowed: 40 lowercase hex digits (git rev-parse HEAD)",
        ),
        (
            ["embedder", "v3", "--image", V3, *PROVENANCE_FLAGS[:2], "--run", RUN],
            "error: --license: missing; required in prod: the version's SPDX license identifier",
        ),
        (
            [
                "embedder",
                "v3",
                "--image",
                V3,
                *PROVENANCE_FLAGS[:2],
                "--license",
                "CC-BY-NC-4.0",
                "--run",
                RUN,
            ],
            "error: --license: 'CC-BY-NC-4.0' is not allowed by platform stack 'prod' (model-licenses.allowed); "
            "allowed: Apache-2.0, MIT, BSD-2-Clause, BSD-3-Clause, ISC, MPL-2.0, CC-BY-4.0, CC0-1.0",
        ),
        (
            ["embedder", "v3", "--image", V3, *PROVENANCE_FLAGS[:4], "--run", "s3://bucket/model"],
            "error: --run: 's3://bucket/model' is not an MLflow model URI; allowed: runs:/<run id>/<artifact path> "
            "or models:/<registered model>/<version number>",
        ),
        (
            ["embedder", "v2", "--image", V3, "--license", "MIT"],
            "error: --source: required: --image gives version v2 of embedder a new image in prod, and its "
            "provenance describes the old one; give --source REPOSITORY@COMMIT and --run URI for the new image",
        ),
        (
            ["embedder", "v2", "--image", V3, "--source", f"{SOURCE}@{COMMIT}"],
            "error: --run: required: --image gives version v2 of embedder a new image in prod, and its "
            "provenance describes the old one; give --source REPOSITORY@COMMIT and --run URI for the new image",
        ),
        (
            ["embedder", "v2", "--step", "--notes", "Now at half."],
            "error: --notes: version v2 of embedder exists; provenance is given with a new version, or with "
            "--image for a new image",
        ),
        (
            ["embedder", "v2", "--step", "--weight", "50"],
            "error: --step: moves to the next canary step; leave out --weight (or --step)",
        ),
        (
            ["embedder", "v2"],
            "error: give --step, --weight N or --image REF (see `mlops promote --help`)",
        ),
        (
            ["embedder", "v9", "--step"],
            "error: version 'v9' is not in mlops:team.models[1].versions; versions: v1, v2",
        ),
        (
            ["ranker", "v1", "--step"],
            "error: model 'ranker' is not in mlops:team.models; models: scorer, embedder",
        ),
        (
            ["embedder", "v2", "--weight", "101"],
            "error: --weight: must be less than or equal to 100, got '101' (see `mlops promote --help`)",
        ),
    ],
)
def test_each_refusal_is_one_line_and_writes_nothing(stacks_dir, args, message):
    path = stacks_dir / FILE
    quota = "      gpus: 40\n      pods: 200\n"
    assert path.read_text().count(quota) == 1
    path.write_text(
        path.read_text().replace(quota, "      gpus: 32\n      pods: 200\n")
    )  # what the file needs
    before = (stacks_dir / FILE).read_bytes()
    result = run_mlops("promote", STACK, *args, "--stacks-dir", str(stacks_dir))
    assert result.returncode == 2
    assert result.stderr == message.format(file=stacks_dir / FILE) + "\n"
    assert result.stdout == ""
    assert (stacks_dir / FILE).read_bytes() == before
    assert leftovers(stacks_dir) == []


def test_a_three_version_model_refuses_a_weight_the_other_versions_cannot_give():
    with pytest.raises(
        ValueError, match=r"^weight 90 for v3 leaves v1 -20; lower the other versions first \(v2 30\)$"
    ):
        rebalance({"v1": 30, "v2": 30, "v3": 40}, "v3", 90)
    assert rebalance({"v1": 50, "v2": 40, "v3": 10}, "v3", 30) == {"v1": 30, "v2": 40, "v3": 30}
    assert rebalance({"v1": 0, "v2": 100}, "v1", 100) == {"v1": 100, "v2": 0}


def test_a_file_whose_layout_would_change_is_refused_before_any_edit(stacks_dir):
    original = (stacks_dir / FILE).read_text()
    quotas = "    quotas:\n      cpu: '480'\n      memory: 3584Gi\n      gpus: 40\n      pods: 200\n"
    assert original.count(quotas) == 1
    text = original.replace(quotas, quotas.replace("\n      ", "\n          "))  # one mapping indented by 6
    (stacks_dir / FILE).write_text(text)
    with pytest.raises(ConfigError, match=r"its layout \(mixed indentation or flow style\) would change"):
        promote(Promotion(STACK, "embedder", "v2", step=True), stacks_dir)
    assert (stacks_dir / FILE).read_text() == text


def test_a_failure_after_the_temporary_file_is_written_leaves_the_old_file_whole(stacks_dir, monkeypatch):
    before = (stacks_dir / FILE).read_bytes()

    def broken(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(promote_module.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        promote(Promotion(STACK, "embedder", "v2", step=True), stacks_dir)
    assert (stacks_dir / FILE).read_bytes() == before
    assert leftovers(stacks_dir) == []


def test_dry_run_prints_the_diff_and_writes_nothing(stacks_dir):
    before = (stacks_dir / FILE).read_bytes()
    result = run_mlops(
        "promote", STACK, "embedder", "v2", "--weight", "30", "--dry-run", "--stacks-dir", str(stacks_dir)
    )
    assert result.returncode == 0, result.stderr
    assert "+        weight: 30" in result.stdout.splitlines()
    assert result.stderr.strip() == f"would write {stacks_dir / FILE}: embedder v1 70, v2 30"
    assert (stacks_dir / FILE).read_bytes() == before


def test_canary_steps_rules():
    assert canary_steps_error([10, 50, 100]) is None
    assert (
        canary_steps_error([])
        == "is empty; allowed: increasing percentages ending at 100, e.g. [10, 50, 100]"
    )
    assert (
        canary_steps_error([0, 100])
        == "[0, 100] has a step outside 1..100; allowed: increasing percentages ending at 100"
    )
    assert next_step([10, 50, 100], 10) == 50 and next_step([10, 50, 100], 0) == 10
    assert next_step([10, 50, 100], 100) is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "    canary-steps: [50, 10, 100]\n",
            "mlops:team.canary-steps: [50, 10, 100] is not strictly increasing; allowed: increasing percentages "
            "ending at 100",
        ),
        (
            "    canary-steps: [10, 50]\n",
            "mlops:team.canary-steps: [10, 50] ends at 50; allowed: increasing percentages ending at 100",
        ),
    ],
)
def test_bad_canary_steps_are_one_line_naming_file_and_key(stacks_dir, line, message):
    path = stacks_dir / FILE
    path.write_text(path.read_text().replace("    models:\n", line + "    models:\n", 1))
    result = run_mlops("team", "validate", STACK, "--stacks-dir", str(stacks_dir))
    assert result.returncode == 2
    assert result.stderr == f"error: {path}: {message}\n"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "        stepped-from: 10\n",
            "mlops:team.models[1].versions[1].stepped-from: 10 equals weight; allowed: the weight before the last change",
        ),
        (
            "        canary-override: why\n",
            "mlops:team.models[1].versions[1].canary-override: must have at least 10 characters, got 'why'",
        ),
        (
            "        mlflow: {model: fraud/embedder, version: 3}\n",
            "mlops:team.models[1].versions[1].mlflow.model: 'fraud/embedder' does not match the allowed pattern "
            "^[A-Za-z0-9][A-Za-z0-9_\\-]*$",
        ),
        (
            "        mlflow: {model: fraud-embedder, version: 0}\n",
            "mlops:team.models[1].versions[1].mlflow.version: must be greater than or equal to 1, got 0",
        ),
    ],
)
def test_bad_version_records_are_one_line_naming_file_and_key(stacks_dir, extra, message):
    path = stacks_dir / FILE
    text = path.read_text()
    assert text.count(V2_LAST) == 1
    path.write_text(text.replace(V2_LAST, V2_LAST + extra))  # a key of the embedder's v2
    result = run_mlops("team", "validate", STACK, "--stacks-dir", str(stacks_dir))
    assert result.returncode == 2
    assert result.stderr == f"error: {path}: {message}\n"
