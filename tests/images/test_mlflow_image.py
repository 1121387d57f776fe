"""The platform's MLflow image (images/mlflow): its Dockerfile read by a real parser, its pinned requirements,
and its entry point run against a moto Secrets Manager on 127.0.0.1 with a stand-in `mlflow` on PATH.

No Docker engine runs here, so the image is not built; these tests check what the build would do and run the
very file the image copies as its entry point.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from dockerfile_parse import DockerfileParser
from moto.server import ThreadedMotoServer

from components.blocks.workload import RUN_AS_USER
from components.registry import MLFLOW_PORT
from tests.conftest import REPO

IMAGE = REPO / "images" / "mlflow"


def instructions() -> list[tuple[str, str]]:
    parser = DockerfileParser(str(IMAGE / "Dockerfile"))
    return [
        (item["instruction"], item["value"]) for item in parser.structure if item["instruction"] != "COMMENT"
    ]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(index for index, (kind, _) in enumerate(steps) if kind == "FROM")
    return steps[last_from:]


def test_the_pod_uid_is_the_image_user():
    """Kubernetes runAsNonRoot can only verify a numeric USER; the image's user is the pod's runAsUser
    (https://kubernetes.io/docs/concepts/security/pod-security-standards/ , "Running as Non-root")."""
    users = [value for kind, value in final_stage() if kind == "USER"]
    assert users == [f"{RUN_AS_USER}:{RUN_AS_USER}"]
    assert RUN_AS_USER >= 10000


def test_entrypoint_is_the_bootstrap_the_image_copies():
    stage = final_stage()
    [entrypoint] = [json.loads(value) for kind, value in stage if kind == "ENTRYPOINT"]
    copies = [value.split() for kind, value in stage if kind == "COPY"]
    assert ["bootstrap.py", entrypoint[-1]] in copies
    assert (IMAGE / "bootstrap.py").is_file()
    assert entrypoint[0] == "/opt/mlflow/bin/python"
    assert ("EXPOSE", str(MLFLOW_PORT)) in stage


def test_nothing_needs_a_writable_root_file_system():
    """The pod mounts its root file system read-only with a writable /tmp: home, scratch and bytecode stay off it."""
    env = " ".join(value for kind, value in final_stage() if kind == "ENV")
    for setting in ("HOME=/tmp", "TMPDIR=/tmp", "PYTHONDONTWRITEBYTECODE=1"):
        assert setting in env


def test_base_image_is_given_by_the_builder_not_a_floating_tag():
    """`FROM` takes BASE_IMAGE, declared without a default, so a build without a pinned base image fails."""
    steps = instructions()
    assert steps[0] == ("ARG", "BASE_IMAGE")
    assert [value.split()[0] for kind, value in steps if kind == "FROM"] == ["${BASE_IMAGE}", "${BASE_IMAGE}"]
    assert not any(kind == "ADD" for kind, _ in steps)


def test_the_rds_ca_bundle_is_fetched_at_build_only_with_its_pinned_checksum():
    """verify-full needs the CAs of RDS server certificates in the image (Amazon RDS User Guide, "Using SSL/TLS
    to encrypt a connection to a DB instance"); RDS_CA_SHA256 has no default, the build stage keeps the bundle
    only when its SHA-256 matches, and the final stage copies it where the bootstrap points libpq."""
    steps = instructions()
    assert ("ARG", "RDS_CA_SHA256") in steps[:3]
    build = steps[: max(i for i, (kind, _) in enumerate(steps) if kind == "FROM")]
    assert ("RUN", 'python /tmp/fetch_ca.py "$RDS_CA_URL" "$RDS_CA_SHA256" /opt/rds-ca.pem') in build
    assert ("COPY", "--from=build /opt/rds-ca.pem /opt/mlflow-bootstrap/rds-ca.pem") in final_stage()
    sys.path.insert(0, str(IMAGE))
    try:
        import bootstrap
    finally:
        sys.path.remove(str(IMAGE))
    assert bootstrap.RDS_CA_BUNDLE == "/opt/mlflow-bootstrap/rds-ca.pem"


@pytest.fixture
def bundle_server(tmp_path):
    import hashlib
    import http.server
    import threading

    body = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    (tmp_path / "bundle.pem").write_bytes(body)
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/bundle.pem", hashlib.sha256(body).hexdigest()
    server.shutdown()
    server.server_close()


def test_fetch_ca_keeps_only_the_bundle_with_the_pinned_checksum(bundle_server, tmp_path):
    url, digest = bundle_server
    script = str(IMAGE / "fetch_ca.py")
    good = subprocess.run(
        [sys.executable, script, url, digest, str(tmp_path / "ok.pem")], capture_output=True, text=True
    )
    assert good.returncode == 0, good.stderr
    assert (tmp_path / "ok.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    wrong = subprocess.run(
        [sys.executable, script, url, "0" * 64, str(tmp_path / "bad.pem")], capture_output=True, text=True
    )
    assert wrong.returncode == 1 and f"has SHA-256 {digest}, not the pinned {'0' * 64}" in wrong.stderr
    missing = subprocess.run(
        [sys.executable, script, url, "", str(tmp_path / "none.pem")], capture_output=True, text=True
    )
    assert missing.returncode == 1 and "RDS_CA_SHA256 must be" in missing.stderr
    assert not (tmp_path / "bad.pem").exists() and not (tmp_path / "none.pem").exists()


def requirement_pins(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", path.read_text(), flags=re.M))


def test_install_is_hash_checked_and_binary_only():
    """pip's hash-checking mode needs every requirement pinned with == and hashed
    (https://pip.pypa.io/en/stable/topics/secure-installs/#hash-checking-mode)."""
    [install] = [value for kind, value in instructions() if kind == "RUN" and "pip install" in value]
    assert "--require-hashes" in install and "--only-binary=:all:" in install
    text = (IMAGE / "requirements.txt").read_text()
    blocks = [block for block in re.split(r"\n(?=[A-Za-z0-9])", text) if not block.startswith("#")]
    assert len(blocks) > 50
    for block in blocks:
        assert re.match(r"^[A-Za-z0-9_.-]+==\S+", block), block.splitlines()[0]
        assert "--hash=sha256:" in block, block.splitlines()[0]


def test_requirements_pin_mlflow_boto3_and_psycopg2():
    """SQLAlchemy's `postgresql://` URLs use the psycopg2 driver by default
    (https://docs.sqlalchemy.org/en/20/dialects/postgresql.html#module-sqlalchemy.dialects.postgresql.psycopg2),
    and the bootstrap reads the secret with boto3: the public MLflow image has neither."""
    direct = requirement_pins(IMAGE / "requirements.in")
    assert set(direct) == {"mlflow", "boto3", "psycopg2-binary"}
    compiled = requirement_pins(IMAGE / "requirements.txt")
    for name, version in direct.items():
        assert compiled[name] == version


# ---------------------------------------------------------------------------------------------------------
# The entry point, run for real

STAND_IN = """#!{python}
import json, os, signal, sys, time
record = os.environ["RECORD"]
passfile = os.environ["PGPASSFILE"]
def dump(event):
    with open(record, "a") as f:
        f.write(json.dumps({{"event": event, "argv": sys.argv[1:], "env": dict(os.environ),
                            "passfile": open(passfile).read(), "mode": os.stat(passfile).st_mode & 0o777}}) + "\\n")
def stop(signum, frame):
    dump("sigterm")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
dump("start")
while True:
    time.sleep(0.05)
"""


@pytest.fixture(scope="module")
def secrets_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def events(record: Path) -> list[dict]:
    return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_bootstrap_runs_mlflow_with_the_secret_in_a_password_file_and_follows_rotation(
    secrets_endpoint, tmp_path
):
    """libpq reads a password file (mode 0600, `host:port:database:user:password`) on every connection
    (https://www.postgresql.org/docs/current/libpq-pgpass.html), so a rotated RDS-managed secret reaches new
    connections once the file is rewritten."""
    aws = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": secrets_endpoint,
    }
    client = boto3.client(
        "secretsmanager",
        region_name="us-east-1",
        endpoint_url=secrets_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    arn = client.create_secret(
        Name="rds!db-1", SecretString=json.dumps({"username": "mlflow_admin", "password": "first:pa\\ss"})
    )["ARN"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mlflow = bin_dir / "mlflow"
    mlflow.write_text(STAND_IN.format(python=sys.executable))
    mlflow.chmod(0o755)
    record, passfile = tmp_path / "record.jsonl", tmp_path / "scratch" / "mlflow.pgpass"
    passfile.parent.mkdir()
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "RECORD": str(record),
        **aws,
        "DB_SECRET_ARN": arn,
        "DB_HOST": "db.example.internal",
        "DB_NAME": "mlflow",
        "DB_USER": "mlflow_admin",
        "AWS_REGION": "us-east-1",
        "PGPASSFILE": str(passfile),
        "PGPASSWORD": "must-not-leak",
        "MLFLOW_DB_SECRET_REFRESH_SECONDS": "0.2",
        "MLFLOW_ARTIFACTS_DESTINATION": "s3://bucket/mlflow",
    }
    process = subprocess.Popen(
        [sys.executable, str(IMAGE / "bootstrap.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        [start] = wait_for(lambda: events(record))
        assert start["argv"] == [
            "server",
            "--host",
            "0.0.0.0",
            "--port",
            "5000",
            "--backend-store-uri",
            "postgresql://mlflow_admin@db.example.internal:5432/mlflow"
            "?sslmode=verify-full&sslrootcert=/opt/mlflow-bootstrap/rds-ca.pem",
        ]
        assert start["passfile"] == "db.example.internal:5432:mlflow:mlflow_admin:first\\:pa\\\\ss\n"
        assert start["mode"] == 0o600
        assert "PGPASSWORD" not in start["env"] and start["env"]["PGPASSFILE"] == str(passfile)
        assert start["env"]["MLFLOW_ARTIFACTS_DESTINATION"] == "s3://bucket/mlflow"
        assert "first" not in json.dumps(start["argv"]) + json.dumps(start["env"])

        client.put_secret_value(
            SecretId=arn, SecretString=json.dumps({"username": "mlflow_admin", "password": "second"})
        )
        wait_for(lambda: passfile.read_text().endswith(":second\n"))
        assert stat.S_IMODE(passfile.stat().st_mode) == 0o600

        process.send_signal(signal.SIGTERM)  # the kubelet stops PID 1; the server must get it
        assert process.wait(timeout=20) == 0
        assert [event["event"] for event in events(record)] == ["start", "sigterm"]
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_bootstrap_without_its_settings_is_one_clear_error(tmp_path):
    result = subprocess.run(
        [sys.executable, str(IMAGE / "bootstrap.py")],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "mlflow-bootstrap: missing environment variables: DB_SECRET_ARN, DB_HOST, DB_NAME, DB_USER, AWS_REGION\n"
    )
