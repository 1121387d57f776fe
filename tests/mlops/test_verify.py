"""`mlops verify` against a moto server on 127.0.0.1 that holds an account built from a shipped stack."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_mlops
from tests.moto_account import MOTO_ACCOUNT, deploy, moto_client

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


@pytest.fixture(scope="module")
def account(moto_endpoint, synth, tmp_path_factory):
    """The prod stack, as the moto account holds it, and its real outputs in a file."""
    deployment = deploy(synth("prod"), moto_endpoint)
    path = tmp_path_factory.mktemp("verify") / "outputs.json"
    path.write_text(json.dumps(deployment.outputs))
    return deployment, path


def client(endpoint: str, service: str, region: str):
    return moto_client(service, endpoint, region)


def verify(endpoint: str, outputs: Path, *extra: str):
    return run_mlops(
        "verify", "prod", "--outputs", str(outputs), "--endpoint-url", endpoint, *extra, env=CREDENTIALS
    )


def test_compliant_account_passes(moto_endpoint, account):
    deployment, outputs = account
    result = verify(moto_endpoint, outputs, "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    checks = {}
    for r in report["results"]:
        checks.setdefault(r["check"], []).append(r["status"])
    assert report["summary"]["fail"] == 0 and report["summary"]["error"] == 0
    expected = {
        "kms.enabled": 12,
        "kms.rotation": 12,  # 6 keys in each of 2 regions
        "vpc.flow-logs": 2,
        "vpc.s3-prefix-list": 2,
        "eks.private-endpoint": 2,
        "eks.secrets-encryption": 2,
        "eks.logging": 2,
        "eks.access-entries": 2,
        "s3.public-access-block": 2,
        "s3.encryption": 2,
        "s3.versioning": 2,
        "s3.replication": 1,
        "ecr.replication": 1,
        "rds.encrypted": 1,
        "rds.kms": 1,
        "rds.multi-az": 1,
        "rds.deletion-protection": 1,
        "rds.private": 1,
        "cloudtrail.logging": 1,
        "cloudtrail.validation": 1,
        "cloudtrail.multi-region": 1,
        "cloudtrail.kms": 1,
        "alarm.data": len(
            [n for names in deployment.outputs["observability"]["alarmNames"].values() for n in names]
        ),
    }
    assert {check: len(statuses) for check, statuses in checks.items()} == expected
    assert all(MOTO_ACCOUNT in r["resource"] for r in report["results"] if r["check"].startswith("kms"))


def failures(result) -> list[dict]:
    assert result.returncode == 1, result.stdout + result.stderr
    return [r for r in json.loads(result.stdout)["results"] if r["status"] != "pass"]


def key_of(deployment, region: str, purpose: str) -> str:
    return deployment.outputs["regions"][region]["keyArns"][purpose]


def test_drift_rotation_off(moto_endpoint, account):
    deployment, outputs = account
    kms = client(moto_endpoint, "kms", "us-east-1")
    key = key_of(deployment, "us-east-1", "artifacts")
    kms.disable_key_rotation(KeyId=key)
    try:
        [failure] = failures(verify(moto_endpoint, outputs, "--format", "json"))
    finally:
        kms.enable_key_rotation(KeyId=key)
    assert failure["check"] == "kms.rotation" and failure["resource"] == key
    assert (failure["expected"], failure["actual"]) == (True, False)
    assert failure["message"] == "artifacts key rotation: expected True, found False"


def test_drift_key_disabled(moto_endpoint, account):
    deployment, outputs = account
    kms = client(moto_endpoint, "kms", "us-west-2")
    key = key_of(deployment, "us-west-2", "logs")
    kms.disable_key(KeyId=key.rsplit("/", 1)[-1])  # moto takes ids here, not ARNs
    try:
        found = failures(verify(moto_endpoint, outputs, "--format", "json"))
    finally:
        kms.enable_key(KeyId=key.rsplit("/", 1)[-1])
    assert next((f["check"], f["resource"], f["expected"], f["actual"]) for f in found) == (
        "kms.enabled",
        key,
        "Enabled",
        "Disabled",
    )


def test_drift_flow_log_deleted_text_output(moto_endpoint, account):
    deployment, outputs = account
    ec2 = client(moto_endpoint, "ec2", "us-west-2")
    vpc = deployment.outputs["regions"]["us-west-2"]["vpcId"]
    [log] = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])["FlowLogs"]
    ec2.delete_flow_logs(FlowLogIds=[log["FlowLogId"]])
    try:
        result = verify(moto_endpoint, outputs)
    finally:
        ec2.create_flow_logs(
            ResourceIds=[vpc],
            ResourceType="VPC",
            TrafficType="ALL",
            LogDestinationType="cloud-watch-logs",
            LogGroupName="restored",
            DeliverLogsPermissionArn=f"arn:aws:iam::{MOTO_ACCOUNT}:role/flow-logs",
        )
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert f"FAIL  vpc.flow-logs                {vpc}  -- VPC {vpc} has no active flow log" in lines
    assert lines[-1].endswith(" passed, 1 failed, 0 errors")


def test_drift_s3_prefix_list_grew_since_the_stack_ran(moto_endpoint, account, tmp_path):
    """AWS-managed prefix lists change as AWS adds addresses ("AWS-managed prefix lists", Amazon VPC User Guide:
    "you cannot create, modify, share, or delete" them, AWS maintains them); the published CIDRs, which the
    NetworkPolicies copy, are compared with the list's entries now (GetManagedPrefixListEntries)."""
    deployment, _ = account
    stale = json.loads(json.dumps(deployment.outputs))
    live = stale["regions"]["us-west-2"]["s3Cidrs"]
    stale["regions"]["us-west-2"]["s3Cidrs"] = live[1:]
    path = tmp_path / "stale.json"
    path.write_text(json.dumps(stale))
    [failure] = failures(verify(moto_endpoint, path, "--format", "json"))
    assert (failure["check"], failure["resource"]) == ("vpc.s3-prefix-list", "com.amazonaws.us-west-2.s3")
    assert failure["actual"] == sorted(live)
    assert failure["message"] == (
        f"S3 addresses changed since the stack ran (new: {live[0]}; "
        "gone: none): run `pulumi up` on the platform stack, then on every team stack"
    )


def test_unreachable_endpoint_exits_2(account):
    _, outputs = account
    result = run_mlops(
        "verify", "prod", "--outputs", str(outputs), "--endpoint-url", "http://127.0.0.1:9", env=CREDENTIALS
    )
    assert result.returncode == 2
    assert (
        result.stderr
        == 'error: cannot reach the AWS endpoint: Could not connect to the endpoint URL: "http://127.0.0.1:9/"\n'
    )


def test_no_credentials_exits_2(account, moto_endpoint):
    _, outputs = account
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        {
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }
    )
    import subprocess
    import sys

    from tests.conftest import REPO

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops",
            "verify",
            "prod",
            "--outputs",
            str(outputs),
            "--endpoint-url",
            moto_endpoint,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert (
        result.stderr
        == "error: no AWS credentials found (set a profile with --profile, or AWS_* environment variables)\n"
    )


def test_outputs_must_come_from_somewhere(tmp_path):
    result = run_mlops("verify", "prod", env={**CREDENTIALS, "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert result.stderr.startswith("error: no --outputs FILE given and no Pulumi CLI on PATH")
    broken = tmp_path / "outputs.json"
    broken.write_text("{}")
    result = run_mlops("verify", "prod", "--outputs", str(broken), env=CREDENTIALS)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {broken}: the outputs lack environment, primaryRegion, regions: not the outputs of a platform stack\n"
    )


PRIMARY_BUCKET = "mlops-prod-333333333333-artifacts-us-east-1"  # as the stack names it


def only_failure(endpoint, outputs, *extra):
    found = failures(verify(endpoint, outputs, "--format", "json", *extra))
    assert len(found) == 1, found
    return found[0]


def test_drift_bucket_encryption_removed(moto_endpoint, account):
    deployment, outputs = account
    s3 = client(moto_endpoint, "s3", "us-east-1")
    saved = s3.get_bucket_encryption(Bucket=PRIMARY_BUCKET)["ServerSideEncryptionConfiguration"]
    s3.delete_bucket_encryption(Bucket=PRIMARY_BUCKET)
    try:
        failure = only_failure(moto_endpoint, outputs)
    finally:
        s3.put_bucket_encryption(Bucket=PRIMARY_BUCKET, ServerSideEncryptionConfiguration=saved)
    assert (failure["check"], failure["resource"]) == ("s3.encryption", PRIMARY_BUCKET)
    assert failure["expected"] == {
        "algorithm": "aws:kms",
        "key": key_of(deployment, "us-east-1", "artifacts"),
    }
    assert failure["actual"]["key"] != failure["expected"]["key"]


def test_drift_public_access_block_deleted(moto_endpoint, account):
    _, outputs = account
    s3 = client(moto_endpoint, "s3", "us-east-1")
    saved = s3.get_public_access_block(Bucket=PRIMARY_BUCKET)["PublicAccessBlockConfiguration"]
    s3.delete_public_access_block(Bucket=PRIMARY_BUCKET)
    try:
        failure = only_failure(moto_endpoint, outputs)
    finally:
        s3.put_public_access_block(Bucket=PRIMARY_BUCKET, PublicAccessBlockConfiguration=saved)
    assert failure["check"] == "s3.public-access-block"
    assert failure["actual"] == {
        "BlockPublicAcls": False,
        "IgnorePublicAcls": False,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False,
    }


def test_drift_versioning_suspended(moto_endpoint, account):
    _, outputs = account
    s3 = client(moto_endpoint, "s3", "us-west-2")
    replica = "mlops-prod-333333333333-artifacts-us-west-2"
    s3.put_bucket_versioning(Bucket=replica, VersioningConfiguration={"Status": "Suspended"})
    try:
        failure = only_failure(moto_endpoint, outputs)
    finally:
        s3.put_bucket_versioning(Bucket=replica, VersioningConfiguration={"Status": "Enabled"})
    assert (failure["check"], failure["resource"], failure["expected"], failure["actual"]) == (
        "s3.versioning",
        replica,
        "Enabled",
        "Suspended",
    )
    assert failure["message"] == f"bucket {replica} versioning: expected 'Enabled', found 'Suspended'"


def test_drift_trail_logging_stopped(moto_endpoint, account):
    deployment, outputs = account
    trails = client(moto_endpoint, "cloudtrail", "us-east-1")
    arn = deployment.outputs["observability"]["trailArn"]
    trails.stop_logging(Name=arn)
    try:
        failure = only_failure(moto_endpoint, outputs)
    finally:
        trails.start_logging(Name=arn)
    assert (failure["check"], failure["resource"], failure["expected"], failure["actual"]) == (
        "cloudtrail.logging",
        arn,
        True,
        False,
    )


def test_drift_database_deletion_protection_off(moto_endpoint, account):
    _, outputs = account
    rds = client(moto_endpoint, "rds", "us-east-1")
    rds.modify_db_instance(
        DBInstanceIdentifier="mlops-prod-mlflow", DeletionProtection=False, ApplyImmediately=True
    )
    try:
        failure = only_failure(moto_endpoint, outputs)
    finally:
        rds.modify_db_instance(
            DBInstanceIdentifier="mlops-prod-mlflow", DeletionProtection=True, ApplyImmediately=True
        )
    assert (failure["check"], failure["resource"], failure["actual"]) == (
        "rds.deletion-protection",
        "mlops-prod-mlflow",
        False,
    )


def test_drift_cluster_authentication_mode(moto_endpoint, account):
    from tests.moto_account import set_access_config

    _, outputs = account
    set_access_config("us-west-2", "mlops-prod-us-west-2", "CONFIG_MAP")
    try:
        failure = only_failure(moto_endpoint, outputs)
    finally:
        set_access_config("us-west-2", "mlops-prod-us-west-2", "API")
    assert (failure["check"], failure["resource"], failure["expected"], failure["actual"]) == (
        "eks.access-entries",
        "mlops-prod-us-west-2",
        "API",
        "CONFIG_MAP",
    )


def test_drift_image_replication_removed(moto_endpoint, account):
    _, outputs = account
    ecr = client(moto_endpoint, "ecr", "us-east-1")
    saved = ecr.describe_registry()["replicationConfiguration"]
    ecr.put_replication_configuration(replicationConfiguration={"rules": []})
    try:
        failure = only_failure(moto_endpoint, outputs)
    finally:
        ecr.put_replication_configuration(replicationConfiguration=saved)
    assert (failure["check"], failure["expected"], failure["actual"]) == (
        "ecr.replication",
        ["us-west-2"],
        [],
    )


def test_drift_alarm_without_data(moto_endpoint, account):
    deployment, outputs = account
    cloudwatch = client(moto_endpoint, "cloudwatch", "us-west-2")
    name = deployment.outputs["observability"]["alarmNames"]["us-west-2"][0]
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="INSUFFICIENT_DATA", StateReason="no datapoints")
    try:
        patient = verify(moto_endpoint, outputs, "--format", "json")
        failure = only_failure(moto_endpoint, outputs, "--stale-after", "0")
    finally:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="restored")
    assert patient.returncode == 0  # just entered INSUFFICIENT_DATA: within the default hour
    assert (failure["check"], failure["resource"], failure["actual"]) == (
        "alarm.data",
        name,
        "INSUFFICIENT_DATA",
    )
    assert failure["message"].startswith(f"alarm {name} has had INSUFFICIENT_DATA since ")


def test_dev_database_is_expected_without_deletion_protection(moto_endpoint, account):
    """Dev's database destroys cleanly (no deletion protection); elsewhere protection off is drift."""
    from mlops.verify import check_database

    rds = client(moto_endpoint, "rds", "us-east-1")
    rds.modify_db_instance(
        DBInstanceIdentifier="mlops-prod-mlflow", DeletionProtection=False, ApplyImmediately=True
    )
    try:
        clients = lambda service, region: client(moto_endpoint, service, region)  # noqa: E731
        dev = {
            r.check: r for r in check_database(clients, "us-east-1", "mlops-prod-mlflow", None, False, False)
        }
        prod = {
            r.check: r for r in check_database(clients, "us-east-1", "mlops-prod-mlflow", None, True, True)
        }
    finally:
        rds.modify_db_instance(
            DBInstanceIdentifier="mlops-prod-mlflow", DeletionProtection=True, ApplyImmediately=True
        )
    assert dev["rds.deletion-protection"].status == "pass"
    assert prod["rds.deletion-protection"].status == "fail"
