"""The governance trail survives a region: in a multi-region platform its bucket replicates to a bucket in the
secondary region; in prod both lock every log file in GOVERNANCE mode (the prod preview, us-east-1 -> us-west-2).
"""

from __future__ import annotations

import json

import pytest
import yaml

from components.config import parse_platform
from components.loader import ConfigError
from components.observability.config import TrailConfig
from tests.conftest import STACKS, by_name, states

ACCOUNT = "333333333333"
PURPOSE = "mlops:purpose"


@pytest.fixture(scope="module")
def prod(synth):
    return synth("prod")


def _key(document: dict, region: str, purpose: str) -> str:
    return document["outputs"]["regions"][region]["keyArns"][purpose]


def test_trail_bucket_replicates_every_log_file_to_the_secondary_region(prod):
    """S3 User Guide, "Replicating encrypted objects": SSE-KMS objects replicate only with
    SourceSelectionCriteria.SseKmsEncryptedObjects enabled and a ReplicaKmsKeyID of the destination's region."""
    trail = by_name(prod, "observability-trail-trail")["inputs"]
    config = by_name(prod, "observability-trail-replication")
    assert config["type"] == "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
    assert (
        config["inputs"]["bucket"]
        == trail["s3BucketName"]
        == by_name(prod, "observability-trail-bucket")["id"]
    )
    assert config["inputs"]["role"] == f"arn:aws:iam::{ACCOUNT}:role/mlops-prod-trail-replication"
    replica = by_name(prod, "observability-trail-replica")
    (rule,) = config["inputs"]["rules"]
    assert rule["destination"] == {
        "bucket": f"arn:aws:s3:::{replica['id']}",
        "storageClass": "STANDARD",
        "encryptionConfiguration": {"replicaKmsKeyId": _key(prod, "us-west-2", "logs")},
    }
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    assert rule["filter"] == {"prefix": ""} and rule["status"] == "Enabled" and rule["id"] == "to-us-west-2"
    assert "::aws-us-west-2::" in replica["provider"] and "::aws-us-east-1::" in config["provider"]


def test_delete_markers_of_the_trail_are_not_replicated(prod):
    """S3 User Guide, "Replicating delete markers between buckets": with DeleteMarkerReplication disabled a
    delete in the source leaves the replica's current version visible, so a delete in the primary region
    cannot hide the copy of the audit trail."""
    (rule,) = by_name(prod, "observability-trail-replication")["inputs"]["rules"]
    assert rule["deleteMarkerReplication"] == {"status": "Disabled"}


def test_both_trail_buckets_lock_log_files_in_governance_mode_in_prod(prod):
    """S3 User Guide, "Object Lock considerations": replicating from an Object Lock bucket needs Object Lock on
    the destination (replication failure reason DstBucketObjectLockConfigMissing), and Object Lock needs
    versioning; it can be enabled on an existing bucket by its lock configuration."""
    for bucket, lock in (
        ("observability-trail-bucket", "observability-trail-object-lock"),
        ("observability-trail-replica", "observability-trail-replica-object-lock"),
    ):
        config = by_name(prod, lock)
        assert config["inputs"] == {
            "bucket": by_name(prod, bucket)["id"],
            "objectLockEnabled": "Enabled",
            "rule": {"defaultRetention": {"days": 365, "mode": "GOVERNANCE"}},
        }
        versioning = lock.replace("object-lock", "versioning")
        assert by_name(prod, versioning)["urn"] in config["dependencies"]
    replication = by_name(prod, "observability-trail-replication")["dependencies"]
    for waited in ("replica-object-lock", "replica-versioning", "replica-encryption", "replication-policy"):
        assert by_name(prod, f"observability-trail-{waited}")["urn"] in replication


def test_access_log_buckets_are_not_locked_and_stay_in_the_logged_buckets_region(prod):
    """S3 User Guide, "Object Lock considerations": buckets with Object Lock can't be destination buckets for
    server access logs; "Enabling Amazon S3 server access logging": the destination bucket must be in the same
    Region as the source bucket."""
    locked = {
        state["inputs"]["bucket"]
        for state in states(prod, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    }
    for source, target, region in (
        ("observability-trail-access-logging", "observability-trail-access-logs", "us-east-1"),
        ("observability-trail-replica-logging", "observability-trail-replica-access-logs", "us-west-2"),
    ):
        logging = by_name(prod, source)
        bucket = by_name(prod, target)
        assert logging["inputs"]["targetBucket"] == bucket["id"] and bucket["id"] not in locked
        assert f"::aws-{region}::" in logging["provider"] and f"::aws-{region}::" in bucket["provider"]
        assert bucket["inputs"]["tags"][PURPOSE] == "access-logs"


def test_trail_buckets_carry_their_purpose_tags(prod):
    assert by_name(prod, "observability-trail-bucket")["inputs"]["tags"][PURPOSE] == "governance-trail"
    assert (
        by_name(prod, "observability-trail-replica")["inputs"]["tags"][PURPOSE] == "governance-trail-replica"
    )


def test_replica_is_encrypted_with_the_secondary_regions_logs_key_whose_policy_enables_iam_policies(prod):
    """KMS Developer Guide, "Default key policy": the statement giving the account's root kms:* enables IAM
    policies for the key, so the replication role's identity policy is enough for S3 to encrypt replicas."""
    sse = by_name(prod, "observability-trail-replica-encryption")["inputs"]["rules"][0]
    assert sse["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": _key(prod, "us-west-2", "logs"),
    }
    assert sse["bucketKeyEnabled"] is True
    key_policy = json.loads(by_name(prod, "keys-us-west-2-logs")["inputs"]["policy"])
    root = next(s for s in key_policy["Statement"] if s["Sid"] == "AccountAdministersKey")
    assert root == {
        "Sid": "AccountAdministersKey",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def test_replication_role_is_trusted_by_s3_of_this_account_and_uses_exactly_the_two_logs_keys(prod):
    """S3 User Guide, "Replicating encrypted objects": kms:Decrypt on the source key through S3 of the source
    region, kms:Encrypt on the replica key, and ("Amazon S3 Bucket Keys and replication") kms:Decrypt on the
    replica key for the destination's Bucket Key."""
    trust = json.loads(by_name(prod, "observability-trail-replication-role")["inputs"]["assumeRolePolicy"])
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    ]
    policy = json.loads(by_name(prod, "observability-trail-replication-policy")["inputs"]["policy"])
    by_sid = {statement["Sid"]: statement for statement in policy["Statement"]}
    assert by_sid["DecryptSource"]["Resource"] == _key(prod, "us-east-1", "logs")
    assert by_sid["DecryptSource"]["Condition"] == {
        "StringLike": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    }
    assert by_sid["EncryptReplicas"]["Resource"] == [_key(prod, "us-west-2", "logs")]
    assert set(by_sid["EncryptReplicas"]["Action"]) == {"kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"}
    replica_arn = f"arn:aws:s3:::{by_name(prod, 'observability-trail-replica')['id']}"
    assert by_sid["WriteReplicas"]["Resource"] == [f"{replica_arn}/*"]


def test_locked_trail_buckets_are_protected_and_retained_in_prod(prod):
    """S3 User Guide, "Bypassing governance mode": deleting a locked version needs s3:BypassGovernanceRetention
    and the bypass header; the platform's destroy never empties them: it stops at the protected buckets and, once
    unprotected, leaves them in the account."""
    for name in ("observability-trail-bucket", "observability-trail-replica"):
        bucket = by_name(prod, name)
        assert bucket["protect"] is True and bucket["retainOnDelete"] is True
        assert not bucket["inputs"].get("forceDestroy")


def test_every_configuration_of_a_kept_trail_bucket_is_kept_too(prod):
    """S3 User Guide, "Configuring S3 Object Lock": once Object Lock is enabled, versioning cannot be suspended;
    the provider suspends versioning when a BucketVersioning is deleted, so a destroy that deleted the children
    of a kept, locked bucket would fail there (and leave the bucket without its policy and public-access block
    first). Every sub-resource of both locked buckets is kept on delete with its bucket."""
    for log_bucket in ("observability-trail-access-logs", "observability-trail-replica-access-logs"):
        # The access-log buckets the kept buckets log to are kept with them (not locked: S3 delivers no access
        # logs to an Object Lock bucket).
        assert by_name(prod, log_bucket)["retainOnDelete"] is True, log_bucket
    for bucket in ("observability-trail-bucket", "observability-trail-replica"):
        urn = by_name(prod, bucket)["urn"]
        children = {
            state["urn"].rsplit("::", 1)[-1]: state
            for state in states(prod)
            if urn in (state.get("propertyDependencies") or {}).get("bucket", [])
        }
        types = {state["type"].split(":")[-1] for state in children.values()}
        assert types >= {
            "BucketVersioning",
            "BucketPublicAccessBlock",
            "BucketServerSideEncryptionConfiguration",
            "BucketPolicy",
            "BucketObjectLockConfiguration",
        }, bucket
        assert {name: state.get("retainOnDelete") for name, state in children.items()} == {
            name: True for name in children
        }, bucket


def test_single_region_stacks_neither_replicate_nor_lock_the_trail(synth):
    staging = synth("staging")
    names = {state["urn"].rsplit("::", 1)[-1] for state in states(staging)}
    assert "observability-trail-bucket" in names
    assert not {n for n in names if n.startswith("observability-trail-replica") or n.endswith("object-lock")}
    assert "observability-trail-replication" not in names


def test_lock_days_default_and_bounds():
    assert TrailConfig().lock_days == 365
    assert TrailConfig.model_validate({"lock-days": 30}).lock_days == 30


def test_lock_days_longer_than_the_retention_is_refused_with_the_key_and_the_allowed_range():
    raw = yaml.safe_load((STACKS / "Pulumi.prod.yaml").read_text())["config"]["mlops:platform"]
    raw["observability"]["trail"] = {"retention-days": 400, "glacier-after-days": 90, "lock-days": 730}
    with pytest.raises(ConfigError) as error:
        parse_platform(raw, "stacks/Pulumi.prod.yaml")
    assert str(error.value) == (
        "stacks/Pulumi.prod.yaml: mlops:platform.observability.trail.lock-days: "
        "730 exceeds retention-days (400); allowed: 1 to 400"
    )
