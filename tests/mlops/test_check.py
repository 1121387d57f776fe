"""`mlops check`: shipped stacks pass, the insecure fixture fails with exactly the expected policies."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import FIXTURES, REPO, STACKS, run_mlops

INSECURE_PROGRAM = REPO / "tests" / "fixtures" / "insecure" / "__main__.py"
EXPECTED = {
    "s3-public-access-block-all",  # public bucket: two public-access settings off
    "s3-no-public-acl",  # public bucket: public-read ACL
    "rds-encrypted-customer-key",  # unencrypted database
    "eks-private-endpoint",  # public cluster endpoint in prod
    "k8s-no-privileged",  # privileged pod
    "k8s-image-pinned",  # `latest` image in prod
    "sg-no-open-ingress",  # SSH open to 0.0.0.0/0
}


@pytest.fixture(scope="module")
def insecure_preview(tmp_path_factory):
    code = (
        "import json, sys; from pathlib import Path; from mlops.synth import synthesize\n"
        f"json.dump(synthesize('insecure', Path({str(FIXTURES)!r}), Path({str(INSECURE_PROGRAM)!r})), sys.stdout)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    path = tmp_path_factory.mktemp("check") / "insecure.json"
    path.write_text(result.stdout)
    return path


def test_every_shipped_stack_passes_with_no_mandatory_violation():
    result = run_mlops("check", "--all", "--format", "json")
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    stacks = {entry["stack"]: entry for entry in report["stacks"]}
    assert set(stacks) == {path.name[len("Pulumi.") : -len(".yaml")] for path in STACKS.glob("Pulumi.*.yaml")}
    assert report["mandatory"] == 0
    for entry in stacks.values():
        assert [v for v in entry["violations"] if v["enforcement"] == "mandatory"] == []


def test_insecure_fixture_fails_with_exactly_the_expected_policies(insecure_preview):
    result = run_mlops("check", "--from", str(insecure_preview), "--format", "json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    violations = report["stacks"][0]["violations"]
    assert {v["policy"] for v in violations} == EXPECTED
    assert len(violations) == len(EXPECTED)
    assert all(v["enforcement"] == "mandatory" for v in violations)
    by_policy = {v["policy"]: v for v in violations}
    assert by_policy["sg-no-open-ingress"]["urn"].endswith("aws:ec2/securityGroup:SecurityGroup::ssh-open")
    assert by_policy["sg-no-open-ingress"]["message"].endswith(
        "ingress from 0.0.0.0/0 on tcp 22-22; only 443 may be open"
    )
    assert by_policy["k8s-image-pinned"]["message"].endswith(
        "container 'main': image 'registry.example/web:latest' is not pinned by digest (@sha256:...)"
    )


def test_text_sarif_and_markdown_reports(insecure_preview, tmp_path):
    text = run_mlops("check", "--from", str(insecure_preview))
    assert text.returncode == 1
    assert text.stdout.splitlines()[0] == "insecure (prod, 18 resources): 7 mandatory, 0 advisory"
    assert "  [mandatory] rds-encrypted-customer-key  urn:pulumi:insecure::mlops-platform::" in text.stdout

    sarif_path = tmp_path / "results.sarif"
    sarif = run_mlops(
        "check", "--from", str(insecure_preview), "--format", "sarif", "--output", str(sarif_path)
    )
    assert sarif.returncode == 1
    document = json.loads(sarif_path.read_text())
    assert document["version"] == "2.1.0"
    run = document["runs"][0]
    assert {result["ruleId"] for result in run["results"]} == EXPECTED
    assert all(result["level"] == "error" for result in run["results"])
    assert {
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for result in run["results"]
    } == {
        str(insecure_preview.relative_to(REPO))
        if insecure_preview.is_relative_to(REPO)
        else str(insecure_preview)
    }
    located = run_mlops(
        "check", "--from", str(insecure_preview), "--stacks-dir", str(FIXTURES), "--format", "sarif"
    )
    assert {
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for result in json.loads(located.stdout)["runs"][0]["results"]
    } == {"tests/fixtures/stacks/Pulumi.insecure.yaml"}
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert all(rule_ids[result["ruleIndex"]] == result["ruleId"] for result in run["results"])

    markdown = run_mlops("check", "--from", str(insecure_preview), "--format", "markdown")
    lines = markdown.stdout.splitlines()
    assert lines[0] == "### Policy check: 7 mandatory violation(s)"
    assert "| stack | environment | resources | mandatory | advisory |" in lines
    assert "| insecure | prod | 18 | 7 | 0 |" in lines
    assert any(
        line.startswith("| insecure | mandatory | `eks-private-endpoint` | `public-cluster` |")
        for line in lines
    )


def test_user_errors_exit_2():
    unknown = run_mlops("check", "qa")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().startswith("error: unknown stack 'qa'")
    bad_format = run_mlops("check", "dev", "--format", "xml")
    assert bad_format.returncode == 2
    assert (
        bad_format.stderr == "error: --format: 'xml' is not a format; allowed: text, json, sarif, markdown\n"
    )
    nothing = run_mlops("check")
    assert nothing.returncode == 2
    assert nothing.stderr == "error: STACK: name at least one stack, or pass --all or --from FILE\n"


def test_an_unreadable_or_foreign_document_exits_2_with_one_line(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = run_mlops("check", "--from", str(broken))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {broken}: line 1: not valid JSON: Expecting property name")
    assert len(result.stderr.strip().splitlines()) == 1
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"resources": []}))
    result = run_mlops("check", "--from", str(foreign))
    assert (result.returncode, result.stderr) == (
        2,
        f"error: {foreign}: steps: missing: not a preview; expected what `mlops preview --json` prints\n",
    )


def test_a_json_report_merges_back_into_the_same_sarif_and_markdown(insecure_preview, tmp_path):
    from tests.mlops.test_merge import validate_sarif

    report = tmp_path / "report.json"
    run_mlops("check", "--from", str(insecure_preview), "--format", "json", "--output", str(report))
    assert json.loads(report.read_text())["shard"] == {"index": 1, "count": 1}
    merged = {}
    for fmt in ("sarif", "markdown"):
        direct = run_mlops("check", "--from", str(insecure_preview), "--format", fmt)
        merged[fmt] = run_mlops("merge-reports", str(report), "--format", fmt)
        assert merged[fmt].returncode == direct.returncode == 1
        assert merged[fmt].stdout == direct.stdout
    validate_sarif(json.loads(merged["sarif"].stdout))
