"""Entry point of the platform's MLflow image: database credentials from Secrets Manager, then `mlflow server`.

The RDS-managed master password lives only in Secrets Manager. This reads it with the pod's own credentials
(EKS Pod Identity), writes it to a libpq password file under /tmp (the pod's memory-backed scratch volume; the
root file system is read-only) and runs the MLflow server as its child. psycopg2 (libpq) reads that file on
every new connection, and the file is rewritten when Secrets Manager rotates the secret (RDS rotates managed
master passwords on a schedule), so new connections keep working after a rotation without a restart. The
password is never in an environment variable, on a command line, in a Kubernetes Secret or in Pulumi state.

Environment: DB_SECRET_ARN, DB_HOST, DB_NAME, DB_USER, AWS_REGION (required); DB_PORT (5432), MLFLOW_PORT
(5000), TLS_CERT_FILE and TLS_KEY_FILE (serve HTTPS with them), PGPASSFILE (/tmp/mlflow.pgpass),
MLFLOW_DB_SECRET_REFRESH_SECONDS (60). Everything else (e.g. MLFLOW_ARTIFACTS_DESTINATION, MLFLOW_SERVER_ALLOWED_HOSTS, MLFLOW_WORKERS) is read by `mlflow server` itself.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping

REQUIRED = ("DB_SECRET_ARN", "DB_HOST", "DB_NAME", "DB_USER", "AWS_REGION")


def passfile_field(value: str) -> str:
    """A libpq password-file field: backslash and colon are escaped with a backslash."""
    return value.replace("\\", "\\\\").replace(":", "\\:")


def passfile_line(host: str, port: str, database: str, user: str, password: str) -> str:
    return ":".join(passfile_field(part) for part in (host, port, database, user, password)) + "\n"


def write_passfile(path: str, content: str) -> None:
    """Replace the password file atomically with mode 0600 (libpq ignores a file others can read)."""
    directory = os.path.dirname(path) or "."
    handle, staging = tempfile.mkstemp(dir=directory, prefix=".pgpass-")
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(content)
        os.replace(staging, path)
    except BaseException:
        if os.path.exists(staging):
            os.unlink(staging)
        raise


# The RDS certificate bundle the image ships (Dockerfile, fetch_ca.py).
RDS_CA_BUNDLE = "/opt/mlflow-bootstrap/rds-ca.pem"


def backend_store_uri(env: Mapping[str, str]) -> str:
    """PostgreSQL over TLS, the server's certificate and host name verified against the RDS CAs
    (sslmode=verify-full; libpq docs "SSL Support"), without a password: libpq takes it from the password file."""
    port = env.get("DB_PORT", "5432")
    root = env.get("DB_SSLROOTCERT", RDS_CA_BUNDLE)
    return (
        f"postgresql://{env['DB_USER']}@{env['DB_HOST']}:{port}/{env['DB_NAME']}"
        f"?sslmode=verify-full&sslrootcert={root}"
    )


def server_command(env: Mapping[str, str]) -> list[str]:
    """`mlflow server`; HTTPS when TLS_CERT_FILE and TLS_KEY_FILE name the mounted certificate (the platform's
    issuer signs it): MLflow runs uvicorn by default and hands it `--uvicorn-opts` (mlflow/server/__init__.py
    _build_uvicorn_command), where `--ssl-certfile` and `--ssl-keyfile` are uvicorn's TLS options."""
    command = [
        "mlflow",
        "server",
        "--host",
        "0.0.0.0",
        "--port",
        env.get("MLFLOW_PORT", "5000"),
        "--backend-store-uri",
        backend_store_uri(env),
    ]
    if env.get("TLS_CERT_FILE") and env.get("TLS_KEY_FILE"):
        command += [
            "--uvicorn-opts",
            f"--ssl-certfile {env['TLS_CERT_FILE']} --ssl-keyfile {env['TLS_KEY_FILE']}",
        ]
    return command


def read_password(client, secret_arn: str) -> tuple[str, str]:
    """The secret's current version id and the password in its JSON (RDS stores {"username", "password"})."""
    secret = client.get_secret_value(SecretId=secret_arn)
    return secret["VersionId"], json.loads(secret["SecretString"])["password"]


def main() -> int:
    env = dict(os.environ)
    missing = [key for key in REQUIRED if not env.get(key)]
    if missing:
        print(f"mlflow-bootstrap: missing environment variables: {', '.join(missing)}", file=sys.stderr)
        return 2
    import boto3  # imported late so that a configuration error is reported without the SDK's start-up cost

    client = boto3.client("secretsmanager", region_name=env["AWS_REGION"])
    passfile = env.get("PGPASSFILE", "/tmp/mlflow.pgpass")
    refresh = float(env.get("MLFLOW_DB_SECRET_REFRESH_SECONDS", "60"))
    fields = (env["DB_HOST"], env.get("DB_PORT", "5432"), env["DB_NAME"], env["DB_USER"])

    version, password = read_password(client, env["DB_SECRET_ARN"])
    write_passfile(passfile, passfile_line(*fields, password))
    child_env = {key: value for key, value in env.items() if key != "PGPASSWORD"}
    child_env["PGPASSFILE"] = passfile
    children: list[subprocess.Popen] = []

    def forward(signum, _frame):
        # As PID 1 this process gets the kubelet's SIGTERM; the server shuts down gracefully on it.
        for running in children:
            running.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    child = subprocess.Popen(server_command(env), env=child_env)
    children.append(child)

    while True:
        try:
            code = child.wait(timeout=refresh)
            break
        except subprocess.TimeoutExpired:
            pass
        try:
            latest, password = read_password(client, env["DB_SECRET_ARN"])
        except Exception as exc:  # a transient API error must not stop a running server; retry next round
            print(f"mlflow-bootstrap: could not refresh the database secret: {exc}", file=sys.stderr)
            continue
        if latest != version:
            write_passfile(passfile, passfile_line(*fields, password))
            version = latest
    # A child killed by a signal reports -N; exit like a shell would (128 + N).
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
