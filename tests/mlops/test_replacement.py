"""`mlops preview --against`: config changes that would replace or delete stateful resources are refused."""

from __future__ import annotations

import copy
import json

from mlops.replacement import STATEFUL, Resource, current, read_previous, refused_changes
from tests.conftest import by_name, run_mlops

KEY = "urn:pulumi:dev::mlops-platform::mlops:encryption:KeyRing$aws:kms/key:Key::keys-us-east-1-logs"
DB = "urn:pulumi:dev::mlops-platform::mlops:registry:ModelRegistry$aws:rds/instance:Instance::registry-db"


def resource(urn, type_, inputs, deps=None):
    return Resource(urn, type_, inputs, deps or {})


def test_a_kms_key_turning_multi_region_is_refused_with_the_property_and_what_is_lost():
    """multi_region is ForceNew in the provider (terraform-provider-aws internal/service/kms/key.go)."""
    old = {KEY: resource(KEY, "aws:kms/key:Key", {"multiRegion": False})}
    new = {KEY: resource(KEY, "aws:kms/key:Key", {"multiRegion": True})}
    assert refused_changes(old, new) == [
        "refused: aws:kms/key:Key keys-us-east-1-logs: multiRegion false -> true would replace it "
        f"({STATEFUL['aws:kms/key:Key'].loses})"
    ]
    assert refused_changes(old, new, allowed=["keys-us-east-1-logs"]) == []


def test_changes_that_update_in_place_are_not_refused():
    old = {
        DB: resource(
            DB, "aws:rds/instance:Instance", {"engineVersion": "16.4", "instanceClass": "db.t4g.medium"}
        )
    }
    new = {
        DB: resource(
            DB, "aws:rds/instance:Instance", {"engineVersion": "16", "instanceClass": "db.r6g.large"}
        )
    }
    assert refused_changes(old, new) == []


def test_a_removed_stateful_resource_is_refused():
    old = {DB: resource(DB, "aws:rds/instance:Instance", {"identifier": "mlops-dev-mlflow"})}
    [line] = refused_changes(old, {})
    assert line.startswith(
        "refused: aws:rds/instance:Instance registry-db would be deleted: it is no longer in the program"
    )


def test_a_computed_property_left_out_keeps_its_value():
    """object_lock_enabled on a bucket is Optional+Computed: leaving it out keeps the deployed bucket."""
    urn = "urn:pulumi:prod::mlops-platform::mlops:registry:ModelRegistry$aws:s3/bucket:Bucket::registry-artifacts-us-east-1"
    old = {urn: resource(urn, "aws:s3/bucket:Bucket", {"bucket": "b", "objectLockEnabled": True})}
    new = {urn: resource(urn, "aws:s3/bucket:Bucket", {"bucket": "b"})}
    assert refused_changes(old, new) == []
    renamed = {urn: resource(urn, "aws:s3/bucket:Bucket", {"bucket": "c"})}
    assert refused_changes(old, renamed)[0].startswith(
        'refused: aws:s3/bucket:Bucket registry-artifacts-us-east-1: bucket "b" -> "c"'
    )


def test_values_from_other_resources_are_compared_by_the_resource_they_come_from():
    """An offline preview has stand-ins for other resources' outputs (a key ARN): the same key is no change, another
    key is (kms_key_id is ForceNew in terraform-provider-aws internal/service/rds/instance.go)."""
    database_key = (
        "urn:pulumi:dev::mlops-platform::mlops:encryption:KeyRing$aws:kms/key:Key::keys-us-east-1-database"
    )
    logs_key = "urn:pulumi:dev::mlops-platform::mlops:encryption:KeyRing$aws:kms/key:Key::keys-us-east-1-logs"
    old = {
        DB: resource(
            DB,
            "aws:rds/instance:Instance",
            {"kmsKeyId": "arn:aws:kms:us-east-1:1:key/real"},
            {"kmsKeyId": [database_key]},
        )
    }
    same = {
        DB: resource(
            DB,
            "aws:rds/instance:Instance",
            {"kmsKeyId": "arn:aws:kms:us-east-1:1:key/mock"},
            {"kmsKeyId": [database_key]},
        )
    }
    assert refused_changes(old, same) == []
    other = {
        DB: resource(
            DB,
            "aws:rds/instance:Instance",
            {"kmsKeyId": "arn:aws:kms:us-east-1:1:key/mock"},
            {"kmsKeyId": [logs_key]},
        )
    }
    [line] = refused_changes(old, other)
    assert line.startswith(
        "refused: aws:rds/instance:Instance registry-db: kmsKeyId from keys-us-east-1-database -> from "
        "keys-us-east-1-logs would replace it"
    )


def test_storage_encryption_left_out_is_false_and_refused():
    """storage_encrypted defaults to false (ForceNew): dropping it from an encrypted database replaces it."""
    old = {DB: resource(DB, "aws:rds/instance:Instance", {"storageEncrypted": True})}
    new = {DB: resource(DB, "aws:rds/instance:Instance", {})}
    [line] = refused_changes(old, new)
    assert line.startswith("refused: aws:rds/instance:Instance registry-db: storageEncrypted true -> false")


def test_repository_cluster_and_replica_key_replacements_are_refused():
    """ForceNew in terraform-provider-aws: ECR name and encryption_configuration (ecr/repository.go); EKS name,
    role_arn, and encryption_config when removed (eks/cluster.go); a replica key's primary_key_arn."""
    repo = "urn:pulumi:team-fraud-dev::mlops-platform::mlops:team:TeamSpace$aws:ecr/repository:Repository::team-fraud-scorer-repo"
    eks = "urn:pulumi:prod::mlops-platform::mlops:cluster:ServingCluster$aws:eks/cluster:Cluster::cluster-us-east-1-eks"
    replica = "urn:pulumi:prod::mlops-platform::mlops:encryption:KeyRing$aws:kms/replicaKey:ReplicaKey::keys-us-west-2-logs"
    role_a, role_b = (
        f"urn:pulumi:prod::mlops-platform::mlops:cluster:ServingCluster$aws:iam/role:Role::{n}"
        for n in ("a", "b")
    )
    secrets = {"provider": {"keyArn": "arn:k"}, "resources": ["secrets"]}
    old = {
        repo: resource(repo, "aws:ecr/repository:Repository", {"name": "models/fraud/scorer"}),
        eks: resource(
            eks,
            "aws:eks/cluster:Cluster",
            {
                "name": "c",
                "roleArn": "x",
                "encryptionConfig": secrets,
                "vpcConfig": {"subnetIds": ["s1", "s2"]},
            },
            {"roleArn": [role_a]},
        ),
        replica: resource(
            replica, "aws:kms/replicaKey:ReplicaKey", {"primaryKeyArn": "p"}, {"primaryKeyArn": ["urn:x::k1"]}
        ),
    }
    new = {
        repo: resource(repo, "aws:ecr/repository:Repository", {"name": "models/fraud/scorer2"}),
        eks: resource(
            eks,
            "aws:eks/cluster:Cluster",
            {"name": "c", "roleArn": "y", "vpcConfig": {"subnetIds": ["s1", "s3"]}},
            {"roleArn": [role_b]},
        ),
        replica: resource(
            replica, "aws:kms/replicaKey:ReplicaKey", {"primaryKeyArn": "p"}, {"primaryKeyArn": ["urn:x::k2"]}
        ),
    }
    lines = [line.split(" would replace", 1)[0] for line in refused_changes(old, new)]
    assert lines == [
        "refused: aws:eks/cluster:Cluster cluster-us-east-1-eks: roleArn from a -> from b",
        "refused: aws:eks/cluster:Cluster cluster-us-east-1-eks: encryptionConfig removed",
        "refused: aws:kms/replicaKey:ReplicaKey keys-us-west-2-logs: primaryKeyArn from k1 -> from k2",
        'refused: aws:ecr/repository:Repository team-fraud-scorer-repo: name "models/fraud/scorer" -> "models/fraud/scorer2"',
    ]


def test_a_major_upgrade_deferred_to_the_maintenance_window_is_refused():
    """Without ApplyImmediately, RDS applies an engine version change in the next maintenance window ("Modifying
    an Amazon RDS DB instance"), while the same update deletes the old family's parameter group the instance
    still uses: refused unless applyImmediately is on for that deployment."""
    old = {DB: resource(DB, "aws:rds/instance:Instance", {"engineVersion": "16"})}
    deferred = {DB: resource(DB, "aws:rds/instance:Instance", {"engineVersion": "17"})}
    [line] = refused_changes(old, deferred)
    assert line.startswith(
        "refused: aws:rds/instance:Instance registry-db: engineVersion 16 -> 17 is a major upgrade"
    )
    assert "set registry.db-apply-immediately: true for this deployment" in line
    immediate = {
        DB: resource(DB, "aws:rds/instance:Instance", {"engineVersion": "17", "applyImmediately": True})
    }
    assert refused_changes(old, immediate) == []
    minor = {DB: resource(DB, "aws:rds/instance:Instance", {"engineVersion": "16.8"})}
    assert refused_changes(old, minor) == []


def test_reads_a_stack_export(tmp_path):
    export = {
        "version": 3,
        "deployment": {
            "resources": [
                {
                    "urn": KEY,
                    "type": "aws:kms/key:Key",
                    "custom": True,
                    "inputs": {"multiRegion": False},
                    "outputs": {},
                },
            ]
        },
    }
    path = tmp_path / "state.json"
    path.write_text(json.dumps(export))
    assert read_previous(path)[KEY].inputs == {"multiRegion": False}


def test_preview_against_a_single_region_state_refuses_the_key_replacements(synth, tmp_path):
    """End to end: dev's keys as a single-region deployment made them; the new program would replace each."""
    dev = synth("dev")
    previous = copy.deepcopy(dev)
    for step in previous["steps"]:
        if step["newState"]["type"] == "aws:kms/key:Key":
            step["newState"]["inputs"]["multiRegion"] = False
    path = tmp_path / "previous.json"
    path.write_text(json.dumps(previous))
    result = run_mlops("preview", "dev", "--against", str(path))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 6
    assert lines[0] == (
        "error: dev: refused: aws:kms/key:Key keys-us-east-1-artifacts: multiRegion false -> true would replace it "
        f"({STATEFUL['aws:kms/key:Key'].loses})"
    )
    assert result.stdout == ""
    allowed = [arg for line in lines for arg in ("--allow-replacement", line.split()[4].rstrip(":"))]
    assert run_mlops("preview", "dev", "--against", str(path), *allowed).returncode == 0


def test_preview_against_itself_passes_and_an_unreadable_file_is_one_line(synth, tmp_path):
    path = tmp_path / "same.json"
    path.write_text(json.dumps(synth("dev")))
    assert refused_changes(read_previous(path), current(synth("dev"))) == []
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    result = run_mlops("preview", "dev", "--against", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {bad}: (document): neither `mlops preview --json` output (steps) nor `pulumi stack export` "
        "(deployment.resources)"
    ]
    assert by_name(synth("dev"), "registry-db")["type"] == "aws:rds/instance:Instance"
