"""The workflow archive's database and user on the registry's PostgreSQL, created by a Kubernetes Job.

RDS creates one database and the master user; a database and user of the archive's own need SQL, and the
database is reachable only from the cluster (isolated subnets, a security group open to the cluster). So a Job in
the `argo` namespace does it: its service account's Pod Identity role reads the RDS-managed master secret from
Secrets Manager (nothing else), and it runs an idempotent script with the platform's MLflow image (Python,
psycopg2, boto3): create the role `argo` if missing and (re)set its password, create the database
`argo_archive` owned by it if missing, revoke PUBLIC's connect right. Re-running it changes nothing but the
password, which it sets to the one in the Secret the controller reads.

The archive user has a password because Argo's controller authenticates to PostgreSQL only with a user name and
password from a Secret (chart values.yaml controller.persistence.postgresql.userNameSecret/passwordSecret): it
is drawn by Pulumi (a RandomPassword, a secret in the stack's state) and handed to the Job and the controller
through that Secret in the `argo` namespace only. The master password never leaves Secrets Manager.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.base import child_opts
from components.blocks import PodIdentityRole, allow, document, pod_identity_trust, to_json
from components.blocks.roles import Association
from components.blocks.workload import RUN_AS_USER, container_security_context

ARCHIVE_DATABASE = "argo_archive"
ARCHIVE_USER = "argo"
ARCHIVE_TABLE = "argo_workflows"
ARCHIVE_SECRET = "argo-archive-db"
BOOTSTRAP_ACCOUNT = "argo-archive-bootstrap"
ARGO_NAMESPACE = "argo"
MASTER_DATABASE = "mlflow"  # the database RDS created with the instance (components.registry.database)

# Runs in the Job's container. The master connection verifies the server certificate against the RDS CA bundle
# the MLflow image ships (images/mlflow/bootstrap.py RDS_CA_BUNDLE). CREATE DATABASE cannot run in a transaction
# block, hence autocommit; identifiers are fixed constants, the password is passed as a bound parameter to a
# server-side format() so that it is quoted as a literal.
BOOTSTRAP_SCRIPT = f"""\
import json, os
import boto3, psycopg2

secret = json.loads(boto3.client("secretsmanager", region_name=os.environ["AWS_REGION"]).get_secret_value(
    SecretId=os.environ["DB_SECRET_ARN"])["SecretString"])
connection = psycopg2.connect(host=os.environ["DB_HOST"], port=5432, dbname="{MASTER_DATABASE}",
    user=secret["username"], password=secret["password"], sslmode="verify-full",
    sslrootcert="/opt/mlflow-bootstrap/rds-ca.pem")
connection.autocommit = True
with connection.cursor() as cursor:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", ("{ARCHIVE_USER}",))
    if cursor.fetchone() is None:
        cursor.execute("CREATE ROLE {ARCHIVE_USER} LOGIN")
    cursor.execute("SELECT format('ALTER ROLE {ARCHIVE_USER} PASSWORD %%L', %s)", (os.environ["ARCHIVE_PASSWORD"],))
    cursor.execute(cursor.fetchone()[0])
    # PostgreSQL 16: the creator of a role may administer it but not act as it; CREATE DATABASE ... OWNER needs that.
    cursor.execute("GRANT {ARCHIVE_USER} TO CURRENT_USER")
    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", ("{ARCHIVE_DATABASE}",))
    if cursor.fetchone() is None:
        cursor.execute("CREATE DATABASE {ARCHIVE_DATABASE} OWNER {ARCHIVE_USER}")
    cursor.execute("REVOKE CONNECT ON DATABASE {ARCHIVE_DATABASE} FROM PUBLIC")
print("archive database {ARCHIVE_DATABASE} and user {ARCHIVE_USER} are in place")
"""


def archive_bootstrap_policy(secret_arn: str, database_key: str) -> dict[str, Any]:
    """The bootstrap's role: read the database's managed master secret, decrypt it through Secrets Manager only."""
    return document(
        allow("secretsmanager:GetSecretValue", secret_arn, sid="ReadDatabaseSecret"),
        allow(
            "kms:Decrypt",
            database_key,
            sid="DatabaseKeyThroughSecretsManager",
            condition={"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}},
        ),
    )


@dataclass(frozen=True)
class Archive:
    secret: k8s.core.v1.Secret
    job: k8s.batch.v1.Job
    role: PodIdentityRole


def archive_database(
    owner: pulumi.Resource, name: str, args: Any, labels: dict[str, str], in_ns: pulumi.ResourceOptions
) -> Archive:
    """The archive's credentials Secret, the bootstrap's service account, role and Job (``args``:
    components.pipelines.argo.ArgoWorkflowsArgs)."""
    ctx = args.context
    password = random.RandomPassword(
        f"{name}-archive-password",
        random.RandomPasswordArgs(length=32, special=False),
        opts=pulumi.ResourceOptions(parent=owner),
    )
    secret = k8s.core.v1.Secret(
        f"{name}-archive-secret",
        k8s.core.v1.SecretInitArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ARCHIVE_SECRET, namespace=ARGO_NAMESPACE, labels=labels),
            type="Opaque",
            string_data={"username": ARCHIVE_USER, "password": password.result},
        ),
        opts=in_ns,
    )
    account = k8s.core.v1.ServiceAccount(
        f"{name}-archive-sa",
        k8s.core.v1.ServiceAccountInitArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=BOOTSTRAP_ACCOUNT, namespace=ARGO_NAMESPACE, labels=labels
            ),
            automount_service_account_token=False,
        ),
        opts=in_ns,
    )
    trust = pulumi.Output.from_input(args.cluster_name).apply(
        lambda cluster: to_json(
            pod_identity_trust(
                account_id=ctx.account_id,
                cluster_arn=ctx.arn.cluster(cluster),
                namespace=ARGO_NAMESPACE,
                service_account=BOOTSTRAP_ACCOUNT,
            )
        )
    )
    role = PodIdentityRole(
        f"{name}-archive",
        ctx,
        parent=owner,
        provider=args.aws_provider,
        role_name=f"{ctx.prefix}-argo-archive-bootstrap",
        trust=trust,
        policy=pulumi.Output.all(args.database_secret_arn, args.database_key_arn).apply(
            lambda v: to_json(archive_bootstrap_policy(v[0], v[1]))
        ),
        associations=[
            Association(
                args.cluster_name,
                ARGO_NAMESPACE,
                BOOTSTRAP_ACCOUNT,
                pulumi.ResourceOptions(depends_on=[account]),
            )
        ],
    )
    script = k8s.core.v1.ConfigMap(
        f"{name}-archive-script",
        k8s.core.v1.ConfigMapInitArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="argo-archive-bootstrap", namespace=ARGO_NAMESPACE, labels=labels
            ),
            data={"bootstrap.py": BOOTSTRAP_SCRIPT},
        ),
        opts=in_ns,
    )
    job = k8s.batch.v1.Job(
        f"{name}-archive-job",
        k8s.batch.v1.JobInitArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="argo-archive-bootstrap", namespace=ARGO_NAMESPACE, labels=labels
            ),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=6,
                active_deadline_seconds=900,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels={**labels, "app": "argo-archive-bootstrap"}),
                    spec=bootstrap_pod_spec(args, secret_arn=args.database_secret_arn),
                ),
            ),
        ),
        # Credentials come from the association, which must exist before the pod starts.
        opts=child_opts(
            owner,
            provider=args.k8s_provider,
            depends_on=[secret, script, account, *role.associations, *args.ready],
        ),
    )
    return Archive(secret, job, role)


def bootstrap_pod_spec(args: Any, secret_arn: pulumi.Input[str]) -> k8s.core.v1.PodSpecArgs:
    """The Job's pod: the platform baseline (non-root, read-only root, no token, seccomp), with a liveness and a
    readiness check that the script's process (PID 1) is alive."""
    alive = k8s.core.v1.ProbeArgs(
        exec_=k8s.core.v1.ExecActionArgs(command=["python", "-c", "import os; os.kill(1, 0)"]),
        period_seconds=30,
        timeout_seconds=5,
    )
    amounts = {"cpu": "100m", "memory": "256Mi"}
    return k8s.core.v1.PodSpecArgs(
        service_account_name=BOOTSTRAP_ACCOUNT,
        automount_service_account_token=False,
        restart_policy="OnFailure",
        enable_service_links=False,
        security_context=k8s.core.v1.PodSecurityContextArgs(
            run_as_non_root=True,
            run_as_user=RUN_AS_USER,
            run_as_group=RUN_AS_USER,
            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
        ),
        containers=[
            k8s.core.v1.ContainerArgs(
                name="bootstrap",
                image=args.bootstrap_image,
                command=["python", "/bootstrap/bootstrap.py"],
                env=[
                    k8s.core.v1.EnvVarArgs(name="AWS_REGION", value=args.context.region),
                    k8s.core.v1.EnvVarArgs(name="DB_HOST", value=args.database_host),
                    k8s.core.v1.EnvVarArgs(name="DB_SECRET_ARN", value=secret_arn),
                    k8s.core.v1.EnvVarArgs(
                        name="ARCHIVE_PASSWORD",
                        value_from=k8s.core.v1.EnvVarSourceArgs(
                            secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(
                                name=ARCHIVE_SECRET, key="password"
                            )
                        ),
                    ),
                ],
                resources=k8s.core.v1.ResourceRequirementsArgs(requests=amounts, limits=amounts),
                liveness_probe=alive,
                readiness_probe=alive,
                security_context=container_security_context(),
                volume_mounts=[
                    k8s.core.v1.VolumeMountArgs(name="script", mount_path="/bootstrap", read_only=True),
                    k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
                ],
            )
        ],
        volumes=[
            k8s.core.v1.VolumeArgs(
                name="script", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name="argo-archive-bootstrap")
            ),
            k8s.core.v1.VolumeArgs(
                name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(medium="Memory", size_limit="64Mi")
            ),
        ],
    )
