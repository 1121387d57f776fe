"""`mlops verify` against a moto server on 127.0.0.1 that holds an account built from a shipped stack."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.conftest import run_mlops
from tests.moto_account import MOTO_ACCOUNT, deploy

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


@pytest.fixture(scope="module")
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server._server.server_address
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def account(moto_endpoint, synth, tmp_path_factory):
    """The prod stack, as the moto account holds it, and its real outputs in a file."""
    deployment = deploy(synth("prod"), moto_endpoint)
    path = tmp_path_factory.mktemp("verify") / "outputs.json"
    path.write_text(json.dumps(deployment.outputs))
    return deployment, path


def client(endpoint: str, service: str, region: str):
    return boto3.client(service, region_name=region, endpoint_url=endpoint,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def verify(endpoint: str, outputs: Path, *extra: str):
    return run_mlops("verify", "prod", "--outputs", str(outputs), "--endpoint-url", endpoint, *extra, env=CREDENTIALS)


def test_compliant_account_passes(moto_endpoint, account):
    _deployment, outputs = account
    result = verify(moto_endpoint, outputs, "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    checks = {(r["check"], r["status"]) for r in report["results"]}
    assert ("kms.rotation", "pass") in checks and ("vpc.flow-logs", "pass") in checks
    assert report["summary"]["fail"] == 0 and report["summary"]["error"] == 0
    assert report["summary"]["pass"] == 2 * 2 * 6 + 2  # enabled + rotation for 6 keys in 2 regions, 2 VPCs
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
        "kms.enabled", key, "Enabled", "Disabled"
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
        ec2.create_flow_logs(ResourceIds=[vpc], ResourceType="VPC", TrafficType="ALL",
                             LogDestinationType="cloud-watch-logs", LogGroupName="restored",
                             DeliverLogsPermissionArn=f"arn:aws:iam::{MOTO_ACCOUNT}:role/flow-logs")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert f"FAIL  vpc.flow-logs                {vpc}  -- VPC {vpc} has no active flow log" in lines
    assert lines[-1] == "25 passed, 1 failed, 0 errors"


def test_unreachable_endpoint_exits_2(account):
    _, outputs = account
    result = run_mlops("verify", "prod", "--outputs", str(outputs), "--endpoint-url", "http://127.0.0.1:9", env=CREDENTIALS)
    assert result.returncode == 2
    assert result.stderr == 'error: cannot reach the AWS endpoint: Could not connect to the endpoint URL: "http://127.0.0.1:9/"\n'


def test_no_credentials_exits_2(account, moto_endpoint):
    _, outputs = account
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update({"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
    import subprocess
    import sys

    from tests.conftest import REPO

    result = subprocess.run(
        [sys.executable, "-m", "mlops", "verify", "prod", "--outputs", str(outputs), "--endpoint-url", moto_endpoint],
        cwd=REPO, capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert result.returncode == 2
    assert result.stderr == "error: no AWS credentials found (set a profile with --profile, or AWS_* environment variables)\n"


def test_outputs_must_come_from_somewhere(tmp_path):
    result = run_mlops("verify", "prod", env={**CREDENTIALS, "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert result.stderr.startswith("error: no --outputs FILE given and no Pulumi CLI on PATH")
    broken = tmp_path / "outputs.json"
    broken.write_text("{}")
    result = run_mlops("verify", "prod", "--outputs", str(broken), env=CREDENTIALS)
    assert result.returncode == 2
    assert result.stderr == "error: the outputs lack environment, primaryRegion, regions: not the outputs of a platform stack\n"
