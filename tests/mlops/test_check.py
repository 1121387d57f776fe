"""`mlops check`: shipped stacks pass, the insecure fixture fails with exactly the expected policies."""

from __future__ import annotations

import json
import shutil
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
    "rds-enhanced-monitoring-prod",  # the database has no enhanced monitoring
    "route53-public-zone-signed-and-logged",  # a public zone unsigned and unlogged
    "vpc-endpoint-policy-restricted",  # an endpoint with the default policy
    "s3-artifacts-replicated-multi-region",  # the artifact bucket does not replicate in a two-region program
    "cloudtrail-bucket-replicated-and-locked-prod",  # the trail bucket has no object lock
    "iam-role-permissions-boundary",  # a role without the stack's boundary
    "s3-access-log-bucket-is-target",  # a tagged log bucket nothing logs into
}
# The resource (type::name) each policy names, and the end of its message.
EXPECTED_FINDINGS = {
    "rds-enhanced-monitoring-prod": (
        "aws:rds/instance:Instance::unencrypted-db",
        "unencrypted-db: enhanced monitoring is off (monitoringInterval unset or 0)",
    ),
    "route53-public-zone-signed-and-logged": (
        "aws:route53/zone:Zone::public-zone",
        "public zone public-zone: no DNSSEC signing (HostedZoneDnsSec); no key-signing key; "
        "no query logging (QueryLog)",
    ),
    "vpc-endpoint-policy-restricted": (
        "aws:ec2/vpcEndpoint:VpcEndpoint::default-policy-endpoint",
        "no endpoint policy: the default policy allows every principal every action on every resource",
    ),
    "s3-artifacts-replicated-multi-region": (
        "aws:s3/bucket:Bucket::public-bucket",
        "artifact bucket public-bucket is not replicated although the stack spans us-east-1, us-west-2",
    ),
    "cloudtrail-bucket-replicated-and-locked-prod": (
        "aws:s3/bucket:Bucket::trail-bucket",
        "trail trail: trail-bucket has no object lock configuration; trail-bucket does not replicate to a "
        "bucket tagged mlops:purpose=governance-trail-replica",
    ),
    "iam-role-permissions-boundary": (
        "aws:iam/role:Role::unbounded-role",
        "role unbounded-role does not carry the stack's permissions boundary",
    ),
    "s3-access-log-bucket-is-target": (
        "aws:s3/bucket:Bucket::orphan-access-logs",
        "orphan-access-logs is tagged mlops:purpose=access-logs but no bucket logs into it",
    ),
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
    """Every stack file in stacks/ passes the pack with its own config (team stacks: team-<env>.json with the
    platform's permissions boundary), so a finding on the shipped stacks is a regression."""
    result = run_mlops("check", "--all", "--format", "json")
    report = json.loads(result.stdout)
    stacks = {entry["stack"]: entry for entry in report["stacks"]}
    assert set(stacks) == {path.name[len("Pulumi.") : -len(".yaml")] for path in STACKS.glob("Pulumi.*.yaml")}
    mandatory = {
        name: sorted(v["policy"] for v in entry["violations"] if v["enforcement"] == "mandatory")
        for name, entry in stacks.items()
    }
    assert mandatory == {name: [] for name in stacks}
    assert report["mandatory"] == 0
    assert result.returncode == 0, result.stderr


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
    for policy, (resource, message) in EXPECTED_FINDINGS.items():
        assert by_policy[policy]["urn"].endswith(f"${resource}"), policy
        assert by_policy[policy]["message"].split("\n", 1)[1] == message, policy


def test_a_saved_document_and_synthesised_stacks_are_checked_by_the_pack_over_grpc(insecure_preview):
    """`mlops check` starts the pack as the Pulumi engine does and sends it the Analyzer requests: a saved
    document with its mandatory findings, and a platform and a team stack synthesised here (dev has advisory
    findings, reported as advisory), in the order named."""
    reports = {}
    for args in (("--from", str(insecure_preview)), ("dev", "team-fraud-dev")):
        result = run_mlops("check", *args, "--format", "json")
        assert result.returncode == (1 if args[0] == "--from" else 0), result.stderr[-800:]
        reports[args[0]] = json.loads(result.stdout)
    assert {v["policy"] for v in reports["--from"]["stacks"][0]["violations"]} == EXPECTED
    dev, team = reports["dev"]["stacks"]
    assert (dev["stack"], team["stack"]) == ("dev", "team-fraud-dev")
    assert {v["policy"] for v in dev["violations"]} == {
        "alb-ui-authenticated",  # dev's MLflow has no identity.oidc
        "rds-deletion-protection",
        "route53-public-zone-signed-and-logged",
    }
    assert {v["enforcement"] for v in dev["violations"]} == {"advisory"}
    assert team["violations"] == []


def test_text_sarif_and_markdown_reports(insecure_preview, tmp_path):
    text = run_mlops("check", "--from", str(insecure_preview))
    assert text.returncode == 1
    assert text.stdout.splitlines()[0] == "insecure (prod, 41 resources): 14 mandatory, 0 advisory"
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
    assert lines[0] == "### Policy check: 14 mandatory violation(s)"
    assert "| stack | environment | resources | mandatory | advisory |" in lines
    assert "| insecure | prod | 41 | 14 | 0 |" in lines
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


def test_another_stacks_broken_file_does_not_stop_a_check(tmp_path):
    """Only the stacks checked (and their platforms) are read: a half-edited stack file of another team must
    not stop everyone else's check (it stops `--all`, which names it)."""
    shutil.copy(STACKS / "Pulumi.dev.yaml", tmp_path)
    (tmp_path / "Pulumi.broken.yaml").write_text("config:\n  mlops:platform: [\n")
    result = run_mlops("check", "dev", "--stacks-dir", str(tmp_path), "--format", "json")
    assert result.returncode == 0, result.stderr[-2000:]
    assert [stack["stack"] for stack in json.loads(result.stdout)["stacks"]] == ["dev"]
    everything = run_mlops("check", "--all", "--stacks-dir", str(tmp_path))
    assert everything.returncode == 2
    assert "Pulumi.broken.yaml" in everything.stderr and "Traceback" not in everything.stderr
