"""The model registry in the shipped stacks: buckets, replication, images, database, MLflow."""

from __future__ import annotations

import json

import pytest
import yaml

from components.registry import artifact_bucket_policy, replication_policy
from tests.conftest import REPO, STACKS, by_name, run_mlops, states
from tests.kube import invalid_builtin_objects, manifests

PRIMARY = "mlops-prod-333333333333-artifacts-us-east-1"
REPLICA = "mlops-prod-333333333333-artifacts-us-west-2"


def named(document, suffix):
    return by_name(document, f"registry-{suffix}")


def test_artifact_bucket_baseline(synth):
    prod = synth("prod")
    bucket = named(prod, "artifacts-us-east-1")
    assert bucket["inputs"]["bucket"] == PRIMARY and "objectLockEnabled" not in bucket["inputs"]
    assert named(prod, "artifacts-us-east-1-versioning")["inputs"]["versioningConfiguration"] == {
        "status": "Enabled"
    }
    block = named(prod, "artifacts-us-east-1-public-access-block")["inputs"]
    assert [
        block[k]
        for k in ("blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets")
    ] == [True] * 4
    rule = named(prod, "artifacts-us-east-1-encryption")["inputs"]["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": prod["outputs"]["regions"]["us-east-1"]["keyArns"]["artifacts"],
    }
    assert rule["bucketKeyEnabled"] is True
    logging = named(prod, "artifacts-us-east-1-logging")["inputs"]
    assert logging["targetBucket"] == "mlops-prod-333333333333-access-logs-us-east-1"
    lifecycle = {r["id"]: r for r in named(prod, "artifacts-us-east-1-lifecycle")["inputs"]["rules"]}
    assert lifecycle["abort-incomplete-uploads"]["abortIncompleteMultipartUpload"] == {
        "daysAfterInitiation": 7
    }
    assert lifecycle["noncurrent-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": 365}
    lock = named(prod, "artifacts-us-east-1-object-lock")["inputs"]["rule"]["defaultRetention"]
    assert lock == {"mode": "GOVERNANCE", "days": 30}
    assert named(prod, "artifacts-us-east-1-object-lock")["inputs"]["objectLockEnabled"] == "Enabled"


def test_bucket_policy_statements(synth):
    policy = json.loads(named(synth("prod"), "artifacts-policy")["inputs"]["policy"])
    arn = f"arn:aws:s3:::{PRIMARY}"
    assert policy == artifact_bucket_policy(
        arn,
        None,
        [
            "arn:aws:iam::333333333333:role/mlops-prod-artifact-replication",
            "arn:aws:iam::333333333333:role/platform-deployer",
        ],
    )
    tls, unencrypted = policy["Statement"]
    assert tls == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    assert unencrypted["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}
    }


def test_internet_free_policy_requires_the_endpoint():
    policy = artifact_bucket_policy("arn:aws:s3:::b", "vpce-1", ["arn:aws:iam::1:role/r"])
    statement = policy["Statement"][2]
    assert statement["Condition"] == {
        "StringNotEquals": {"aws:sourceVpce": "vpce-1"},
        "ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::1:role/r"]},
    }


def test_replication_rule_and_role(synth):
    prod = synth("prod")
    config = named(prod, "replication")["inputs"]
    [rule] = config["rules"]
    west_keys = prod["outputs"]["regions"]["us-west-2"]["keyArns"]
    assert rule["status"] == "Enabled" and rule["id"] == "to-us-west-2"
    assert rule["destination"] == {
        "bucket": f"arn:aws:s3:::{REPLICA}",
        "storageClass": "STANDARD",
        "encryptionConfiguration": {"replicaKmsKeyId": west_keys["artifacts"]},
    }
    assert rule["deleteMarkerReplication"] == {"status": "Enabled"}
    assert rule["filter"] == {"prefix": ""}
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    assert config["role"] == named(prod, "replication-role")["inputs"]["name"].join(
        ["arn:aws:iam::333333333333:role/", ""]
    )
    policy = json.loads(named(prod, "replication-policy")["inputs"]["policy"])
    east_key = prod["outputs"]["regions"]["us-east-1"]["keyArns"]["artifacts"]
    assert policy == replication_policy(
        f"arn:aws:s3:::{PRIMARY}",
        east_key,
        [(f"arn:aws:s3:::{REPLICA}", west_keys["artifacts"])],
        "us-east-1",
    )
    replica = named(prod, "artifacts-us-west-2")
    assert "::aws-us-west-2::" in replica["provider"]
    assert (
        named(prod, "artifacts-us-west-2-encryption")["inputs"]["rules"][0][
            "applyServerSideEncryptionByDefault"
        ]["kmsMasterKeyId"]
        == west_keys["artifacts"]
    )


def test_images_replicated_and_defaulted(synth):
    prod = synth("prod")
    replication = named(prod, "image-replication")["inputs"]["replicationConfiguration"]["rules"][0]
    assert replication["destinations"] == [{"region": "us-west-2", "registryId": "333333333333"}]
    template = named(prod, "image-template-us-west-2")["inputs"]
    assert template["imageTagMutability"] == "IMMUTABLE"
    assert template["encryptionConfigurations"] == [
        {"encryptionType": "KMS", "kmsKey": prod["outputs"]["regions"]["us-west-2"]["keyArns"]["images"]}
    ]
    assert sorted(template["appliedFors"]) == ["CREATE_ON_PUSH", "REPLICATION"]


def test_database(synth):
    prod, dev = synth("prod"), synth("dev")
    db = named(prod, "db")
    inputs = db["inputs"]
    assert (inputs["storageEncrypted"], inputs["multiAz"], inputs["deletionProtection"]) == (True, True, True)
    assert inputs["backupRetentionPeriod"] == 30 and inputs["publiclyAccessible"] is False
    assert inputs["iamDatabaseAuthenticationEnabled"] is True and inputs["manageMasterUserPassword"] is True
    assert inputs["kmsKeyId"] == prod["outputs"]["regions"]["us-east-1"]["keyArns"]["database"]
    assert inputs["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    assert inputs["skipFinalSnapshot"] is False and inputs["finalSnapshotIdentifier"].startswith(
        "mlops-prod-mlflow-final-"
    )
    assert inputs["engineVersion"] == "16"
    dev_db = named(dev, "db")["inputs"]
    assert dev_db["multiAz"] is False and dev_db["backupRetentionPeriod"] == 7
    rule = named(prod, "db-from-cluster")["inputs"]
    assert (
        rule["fromPort"] == 5432
        and rule["referencedSecurityGroupId"]
        == (prod["outputs"]["regions"]["us-east-1"]["cluster"]["clusterSecurityGroupId"])
    )
    assert "cidrIpv4" not in rule and "ingress" not in named(prod, "db-sg")["inputs"]
    params = {p["name"]: p["value"] for p in named(prod, "db-parameters")["inputs"]["parameters"]}
    assert params["rds.force_ssl"] == "1"


def test_protected_in_prod_not_in_dev(synth):
    prod, dev = synth("prod"), synth("dev")
    stateful = ("aws:s3/bucket:Bucket", "aws:rds/instance:Instance")
    prod_states = [s for kind in stateful for s in states(prod, kind)]
    registry_states = [s for s in prod_states if "mlops:registry:ModelRegistry" in s["urn"]]
    assert len(registry_states) == 5  # artifacts, replica, two access-log buckets, database
    assert all(s["protect"] for s in prod_states)
    assert all(s["retainOnDelete"] for s in registry_states if s["type"] == "aws:s3/bucket:Bucket")
    assert not any(s["protect"] for kind in stateful for s in states(dev, kind))


def test_mlflow_is_hardened_and_valid(synth):
    prod = synth("prod")
    deployment = named(prod, "mlflow")["inputs"]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"].startswith("333333333333.dkr.ecr.us-east-1.amazonaws.com/mlops/mlflow@sha256:")
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["resources"]["limits"] == {"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "10Gi"}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["MLFLOW_ARTIFACTS_DESTINATION"] == f"s3://{PRIMARY}/mlflow"
    assert env["DB_HOST"] == prod["outputs"]["registry"]["databaseEndpoint"]
    assert pod["automountServiceAccountToken"] is False and deployment["spec"]["replicas"] == 3
    mlflow_objects = [
        m
        for m in manifests(prod)
        if m["metadata"].get("namespace") == "mlflow" or m["metadata"].get("name") == "mlflow"
    ]
    assert len(mlflow_objects) == 12  # with sign-in: the client Secret and its reader Role and RoleBinding
    assert invalid_builtin_objects(prod) == []
    ingress = named(prod, "mlflow-ingress")["inputs"]["metadata"]["annotations"]
    assert ingress["alb.ingress.kubernetes.io/scheme"] == "internal"
    assert json.loads(ingress["alb.ingress.kubernetes.io/listen-ports"]) == [{"HTTPS": 443}]
    policy = json.loads(named(prod, "mlflow-policy")["inputs"]["policy"])
    assert {s["Sid"]: s["Resource"] for s in policy["Statement"]}[
        "ReadWriteMlflowArtifacts"
    ] == f"arn:aws:s3:::{PRIMARY}/mlflow/*"


def test_registry_outputs(synth):
    registry = synth("prod")["outputs"]["registry"]
    assert registry["artifactBucketName"] == PRIMARY
    assert registry["replicaBucketArns"] == {"us-west-2": f"arn:aws:s3:::{REPLICA}"}
    assert registry["repositoryUrlPrefix"] == "333333333333.dkr.ecr.us-east-1.amazonaws.com"
    assert registry["mlflowUrl"] == "https://mlflow.prod.mlops.internal"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"mlflow-image": "ghcr.io/mlflow/mlflow:v2.19.0"},
            "mlops:platform.registry.mlflow-image: 'ghcr.io/mlflow/mlflow:v2.19.0' is not a digest in this account's ECR; "
            "allowed in prod: 333333333333.dkr.ecr.us-east-1.amazonaws.com/<repository>@sha256:<64 hex>",
        ),
        (
            {"mlflow-image": "ghcr.io/mlflow/mlflow@sha256:" + "a" * 64},
            "mlops:platform.registry.mlflow-image: 'ghcr.io/mlflow/mlflow@sha256:"
            + "a" * 64
            + "' is not a digest in this account's ECR",
        ),
        (
            {"mlflow-image": "444444444444.dkr.ecr.us-east-1.amazonaws.com/mlops/mlflow@sha256:" + "a" * 64},
            "mlops:platform.registry.mlflow-image: '444444444444.dkr.ecr.us-east-1.amazonaws.com/mlops/mlflow@sha256:",
        ),
        (
            {"mlflow-image": "333333333333.dkr.ecr.us-east-1.amazonaws.com/mlops/mlflow:3.17.2-1"},
            "mlops:platform.registry.mlflow-image: '333333333333.dkr.ecr.us-east-1.amazonaws.com/mlops/mlflow:3.17.2-1' is not a digest",
        ),
        (
            {"certificate-arn": None},
            "mlops:platform.registry.certificate-arn: missing; MLflow's internal HTTPS ingress needs an ACM certificate "
            "for mlflow.prod.mlops.internal in us-east-1",
        ),
        (
            {"certificate-arn": "arn:aws:acm:us-west-2:333333333333:certificate/mlflow-prod"},
            "mlops:platform.registry.certificate-arn: 'arn:aws:acm:us-west-2:333333333333:certificate/mlflow-prod' is in "
            "another region; allowed: a certificate in us-east-1",
        ),
        ({"db-storage": 20}, "mlops:platform.registry.db-storage: unknown key; allowed: postgres-version"),
        (
            {"mlflow-cpu": "lots"},
            "mlops:platform.registry.mlflow-cpu: 'lots' is not a CPU quantity such as 500m, 2 or 1.5",
        ),
    ],
    ids=[
        "tag-in-prod",
        "public-digest-in-prod",
        "other-account-in-prod",
        "own-ecr-tag-in-prod",
        "no-certificate",
        "certificate-in-other-region",
        "unknown-key",
        "bad-cpu-quantity",
    ],
)
def test_bad_registry_config(tmp_path, change, expected):
    config = yaml.safe_load((STACKS / "Pulumi.prod.yaml").read_text())
    config["config"]["mlops:platform"]["registry"].update(change)
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump(config))
    result = run_mlops("preview", "bad", "--stacks-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {tmp_path}/Pulumi.bad.yaml: {expected}")
    assert result.stderr.count("\n") == 1


def test_mlflow_runs_the_image_entrypoint_without_a_password_anywhere(synth):
    """The image's own entry point (images/mlflow/bootstrap.py) reads the secret: no command override, no
    mounted script, no password in the pod spec."""
    prod = synth("prod")
    pod = named(prod, "mlflow")["inputs"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert "command" not in container and "args" not in container
    assert container["volumeMounts"] == [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "scratch", "mountPath": "/scratch"},
    ]
    assert [volume["name"] for volume in pod["volumes"]] == ["tmp", "scratch"]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["DB_USER"] == "mlflow_admin" and "PGPASSWORD" not in env
    assert env["DB_SECRET_ARN"].startswith("arn:aws:secretsmanager:us-east-1:333333333333:secret:rds!")
    assert not [
        m for m in manifests(prod) if m["kind"] == "ConfigMap" and m["metadata"].get("namespace") == "mlflow"
    ]


def test_mlflow_allowed_hosts_include_the_ingress_and_service_names(synth):
    """MLflow 3's server refuses Host headers outside --allowed-hosts (env MLFLOW_SERVER_ALLOWED_HOSTS; default
    localhost and private IPs only, health endpoints exempt), so the ingress host and the in-cluster service
    name must be listed (mlflow/utils/cli_args.py, mlflow/server/fastapi_security.py of mlflow 3.17.2)."""
    prod = synth("prod")
    [container] = named(prod, "mlflow")["inputs"]["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    [rule] = named(prod, "mlflow-ingress")["inputs"]["spec"]["rules"]
    assert env["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",") == [
        rule["host"],
        "mlflow:5000",
        "mlflow.mlflow:5000",
        "mlflow.mlflow.svc:5000",
        "mlflow.mlflow.svc.cluster.local:5000",
    ]
    assert rule["host"] == "mlflow.prod.mlops.internal"


def test_mlflow_buffers_uploads_on_a_disk_scratch_volume_it_requests(synth):
    """MLflow's server writes each proxied artifact upload to a temporary file before sending it to S3, in
    Python's tempfile directory (TMPDIR). /tmp is a 256Mi memory volume, so TMPDIR points at a disk-backed
    emptyDir: its sizeLimit and the container's ephemeral-storage request and limit are the same size, so the
    scheduler places the pod on a node with that much disk and the kubelet evicts it only beyond it
    (Kubernetes docs, "Local ephemeral storage": emptyDir volumes without medium count towards it)."""
    prod = synth("prod")
    pod = named(prod, "mlflow")["inputs"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    [scratch] = [v for v in pod["volumes"] if v["name"] == "scratch"]
    assert scratch["emptyDir"] == {"sizeLimit": "10Gi"}
    tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
    assert tmp["emptyDir"] == {"medium": "Memory", "sizeLimit": "256Mi"}
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["TMPDIR"] == "/scratch"
    assert container["resources"]["requests"]["ephemeral-storage"] == "10Gi"
    assert container["resources"]["limits"] == container["resources"]["requests"]


def test_mlflow_role_trusts_pod_identity_of_this_cluster_only(synth):
    trust = json.loads(named(synth("prod"), "mlflow-role")["inputs"]["assumeRolePolicy"])["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {
                "StringEquals": {
                    "aws:SourceAccount": "333333333333",
                    "aws:RequestTag/eks-cluster-arn": "arn:aws:eks:us-east-1:333333333333:cluster/mlops-prod-us-east-1",
                },
            },
        }
    ]


def test_mlflow_reaches_its_database_in_the_vpc(synth):
    egress = named(synth("prod"), "mlflow-netpol-allow-egress")["inputs"]["spec"]["egress"]
    assert {
        "to": [{"ipBlock": {"cidr": "10.30.0.0/16"}}],
        "ports": [{"port": 5432, "protocol": "TCP"}],
    } in egress


def test_replica_bucket_has_object_lock_when_the_source_has(synth):
    prod = synth("prod")
    assert named(prod, "artifacts-us-west-2-object-lock")["inputs"]["objectLockEnabled"] == "Enabled"
    lock = named(prod, "artifacts-us-west-2-object-lock")["inputs"]["rule"]["defaultRetention"]
    assert lock == named(prod, "artifacts-us-east-1-object-lock")["inputs"]["rule"]["defaultRetention"]


def test_image_templates_use_a_role_ecr_can_assume(synth):
    prod = synth("prod")
    role = named(prod, "image-template-role")
    assert json.loads(role["inputs"]["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "ecr.amazonaws.com"
    }
    policy = json.loads(named(prod, "image-template-policy")["inputs"]["policy"])
    assert policy["Statement"][0]["Resource"] == [
        f"arn:aws:ecr:{region}:333333333333:repository/models/*" for region in ("us-east-1", "us-west-2")
    ]
    assert policy["Statement"][1]["Resource"] == [
        prod["outputs"]["regions"][region]["keyArns"]["images"] for region in ("us-east-1", "us-west-2")
    ]
    for region in ("us-east-1", "us-west-2"):
        template = named(prod, f"image-template-{region}")
        assert role["urn"] in template["propertyDependencies"]["customRoleArn"]


def test_database_key_lets_secrets_manager_hold_the_managed_master_password():
    from components.blocks import PlatformContext
    from components.encryption import key_policy

    statements = {
        s["Sid"]: s
        for s in key_policy("database", PlatformContext("prod", "aws", "1", "us-east-1"))["Statement"]
    }
    assert statements["UseThroughSecretsManagerForManagedDatabaseSecrets"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com", "kms:CallerAccount": "1"}
    }


def test_mlflow_has_a_record_in_the_private_zone_pointing_at_its_load_balancer(synth):
    """The record is made from the DNS name the load balancer controller writes into the Ingress status, which
    Pulumi waits for before an Ingress counts as created (pulumi-kubernetes provider/pkg/await/ingress.go:
    ready once `.status.loadBalancer.ingress` is set)."""
    prod = synth("prod")
    ingress = named(prod, "mlflow-ingress")
    record = named(prod, "mlflow-record")
    assert record["inputs"]["name"] == "mlflow.prod.mlops.internal" and record["inputs"]["type"] == "CNAME"
    # The mock controller names the ALB host after the load-balancer-name annotation, as AWS does.
    [target] = record["inputs"]["records"]
    assert target.startswith("internal-mlops-prod-mlflow-") and target.endswith(
        ".us-east-1.elb.amazonaws.com"
    )
    assert record["inputs"]["zoneId"] == prod["outputs"]["privateZoneId"]
    assert ingress["urn"] in record["dependencies"]
    annotations = ingress["inputs"]["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/load-balancer-name"] == "mlops-prod-mlflow"
    assert (
        annotations["alb.ingress.kubernetes.io/certificate-arn"]
        == "arn:aws:acm:us-east-1:333333333333:certificate/mlflow-prod"
    )
    assert "alb.ingress.kubernetes.io/group.name" not in annotations


def test_replication_from_an_object_locked_source_reads_retention_and_legal_hold():
    """Amazon S3 User Guide, "Setting up permissions for live replication" / "Using Object Lock with S3
    Replication": the replication role needs s3:GetObjectRetention and s3:GetObjectLegalHold on the source
    objects, or Object Lock objects replicate as FAILED."""
    policy = replication_policy("arn:aws:s3:::src", "key-src", [("arn:aws:s3:::dst", "key-dst")], "us-east-1")
    reads = next(s for s in policy["Statement"] if s["Sid"] == "ReadSourceVersions")
    assert {"s3:GetObjectRetention", "s3:GetObjectLegalHold"} <= set(reads["Action"])
    assert reads["Resource"] == "arn:aws:s3:::src/*"


def test_stack_config_loads_without_pulumi():
    """Stack files are parsed by the command line before any program runs: reading the registry's config model
    (through ``components.config``) must not import the Pulumi SDK, which the registry's components need."""
    import subprocess
    import sys

    code = (
        "import sys, components.config\n"
        "from components.registry import RegistryConfig\n"
        "assert RegistryConfig is components.config.RegistryConfig\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_aws')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_registry_buckets_say_what_they_are_for(synth, stack):
    """The policy pack recognises a bucket's role only by the tag mlops:purpose: every region's access-log
    bucket is `access-logs` (and is the target of the artifact bucket's logging), every artifact bucket,
    primary and replicas, is `model-artifacts`."""
    document = synth(stack)
    regions = list(document["outputs"]["regions"])
    assert regions
    for region in regions:
        logs = named(document, f"access-logs-{region}")["inputs"]
        artifacts = named(document, f"artifacts-{region}")["inputs"]
        assert logs["tags"]["mlops:purpose"] == "access-logs"
        assert artifacts["tags"]["mlops:purpose"] == "model-artifacts"
        assert logs["tags"]["environment"] == artifacts["tags"]["environment"] == stack
        logging = named(document, f"artifacts-{region}-logging")["inputs"]
        assert logging["targetBucket"] == logs["bucket"]
