"""SecureBucket and the roles, built by tests/fixtures/blocks_program under one component and read back from
the preview: the resources, their names, parent, inputs and what waits for what."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import STACKS
from tests.iam_lint import documents, parliament_findings

PARENT = "urn:pulumi:dev::mlops-platform::pulumi:pulumi:Stack$mlops:test:Holder::holder"


@pytest.fixture
def blocks(synth_program) -> dict[str, dict[str, Any]]:
    preview = synth_program("dev", "blocks_program", STACKS)
    return {step["urn"].rsplit("::", 1)[-1]: step["newState"] for step in preview["steps"]}


def urn(state: dict[str, Any]) -> str:
    return state["urn"]


def test_the_baseline_resources_with_their_names_and_parent(blocks):
    data = {name for name in blocks if name.startswith("holder-data")}
    assert data == {
        f"holder-data{suffix}"
        for suffix in (
            "",
            "-ownership",
            "-public-access-block",
            "-encryption",
            "-versioning",
            "-lifecycle",
            "-object-lock",
            "-policy",
            "-logging",
        )
    }
    assert all(blocks[name]["parent"] == PARENT for name in blocks if name.startswith("holder-"))


def test_sse_kms_with_a_bucket_key(blocks):
    rule = blocks["holder-data-encryption"]["inputs"]["rules"][0]
    assert rule == {
        "applyServerSideEncryptionByDefault": {
            "sseAlgorithm": "aws:kms",
            "kmsMasterKeyId": "arn:aws:kms:eu-west-1:123456789012:key/k",
        },
        "bucketKeyEnabled": True,
    }


def test_access_log_targets_use_sse_s3(blocks):
    """S3 user guide, "Enabling Amazon S3 server access logging": the target bucket's default encryption must
    be SSE-S3 (SSE-KMS is not supported for log delivery)."""
    rule = blocks["holder-logs-encryption"]["inputs"]["rules"][0]
    assert rule == {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}


def test_public_access_block_and_owner_enforced_ownership(blocks):
    inputs = blocks["holder-data-public-access-block"]["inputs"]
    assert {
        key: inputs[key]
        for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    } == dict.fromkeys(
        ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True
    )
    assert blocks["holder-data-ownership"]["inputs"]["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    assert "holder-logs-ownership" not in blocks  # ownership_controls=False


def test_protection_and_force_destroy_follow_the_arguments(blocks):
    data, logs = blocks["holder-data"], blocks["holder-logs"]
    assert (data["protect"], data["retainOnDelete"], data["inputs"]["bucket"]) == (
        True,
        True,
        "mlops-prod-data",
    )
    assert "forceDestroy" not in data["inputs"]
    assert logs["inputs"]["forceDestroy"] is True and logs["protect"] is False


def test_versioning_first_then_lifecycle_and_object_lock(blocks):
    """S3 user guide, "Configuring Object Lock": Object Lock needs versioning; noncurrent-version lifecycle rules
    only act on a versioned bucket."""
    versioning = urn(blocks["holder-data-versioning"])
    assert blocks["holder-data-versioning"]["inputs"]["versioningConfiguration"] == {"status": "Enabled"}
    assert versioning in blocks["holder-data-lifecycle"]["dependencies"]
    lock = blocks["holder-data-object-lock"]
    assert versioning in lock["dependencies"]
    assert lock["inputs"]["objectLockEnabled"] == "Enabled"
    assert lock["inputs"]["rule"] == {"defaultRetention": {"mode": "GOVERNANCE", "days": 30}}
    assert blocks["holder-data-lifecycle"]["inputs"]["rules"][0]["id"] == "expire"
    assert "holder-replica-object-lock" not in blocks


def test_bucket_policy_tls_statement_first_or_last(blocks):
    data = json.loads(blocks["holder-data-policy"]["inputs"]["policy"])
    assert [s["Sid"] for s in data["Statement"]] == ["DenyInsecureTransport"]
    logs = json.loads(blocks["holder-logs-bucket-policy"]["inputs"]["policy"])
    assert [s.get("Sid") for s in logs["Statement"]] == ["Write", "DenyInsecureTransport"]
    arn = "arn:aws:s3:::" + blocks["holder-logs"]["id"]
    assert logs["Statement"][1]["Resource"] == [arn, f"{arn}/*"]
    assert logs["Statement"][0]["Resource"] == f"{arn}/*"


def test_policy_and_logging_wait_for_what_they_are_told(blocks):
    assert (
        urn(blocks["holder-logs-public-access-block"]) in blocks["holder-logs-bucket-policy"]["dependencies"]
    )
    assert urn(blocks["holder-data-public-access-block"]) not in blocks["holder-data-policy"]["dependencies"]
    logging = blocks["holder-data-logging"]
    assert urn(blocks["holder-logs-bucket-policy"]) in logging["dependencies"]
    assert logging["inputs"]["targetPrefix"] == "data/"
    assert logging["inputs"]["targetBucket"] == blocks["holder-logs"]["id"]


def test_replication_waits_for_both_versionings(blocks):
    """S3 user guide, "Requirements and considerations for replication": source and destination buckets must
    have versioning enabled."""
    replication = blocks["holder-replication"]
    assert {urn(blocks["holder-data-versioning"]), urn(blocks["holder-replica-versioning"])} <= set(
        replication["dependencies"]
    )
    rule = replication["inputs"]["rules"][0]
    assert rule["id"] == "to-eu-central-1" and rule["priority"] == 1
    assert rule["destination"]["encryptionConfiguration"] == {
        "replicaKmsKeyId": "arn:aws:kms:eu-central-1:123456789012:key/r"
    }
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    assert replication["inputs"]["role"] == "arn:aws:iam::111111111111:role/mlops-prod-replication"


def test_service_role_trust_policy_and_attachments(blocks):
    role = blocks["holder-replication-role"]
    assert role["inputs"]["name"] == "mlops-prod-replication"
    assert json.loads(role["inputs"]["assumeRolePolicy"])["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
        }
    ]
    assert blocks["holder-replication-policy"]["inputs"]["role"] == role["id"]
    attachments = {
        name: state["inputs"] for name, state in blocks.items() if name.startswith("holder-nodes-")
    }
    assert attachments == {
        "holder-nodes-amazoneksworkernodepolicy": {
            "role": blocks["holder-nodes"]["id"],
            "policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        },
        "holder-nodes-service-role/amazonebscsidriverpolicy": {
            "role": blocks["holder-nodes"]["id"],
            "policyArn": "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
        },
    }


def test_pod_identity_role_one_association_per_cluster(blocks):
    role = blocks["holder-app-role"]
    associations = {
        name: state
        for name, state in blocks.items()
        if state["type"] == "aws:eks/podIdentityAssociation:PodIdentityAssociation"
    }
    assert set(associations) == {"holder-app-identity", "holder-app-identity-eu-central-1"}
    for state, cluster in zip(
        associations.values(), ("mlops-prod-eu-west-1", "mlops-prod-eu-central-1"), strict=True
    ):
        assert state["inputs"]["clusterName"] == cluster
        assert (state["inputs"]["namespace"], state["inputs"]["serviceAccount"]) == ("apps", "app")
        assert urn(role) in state["dependencies"]
        assert state["inputs"]["tags"] == {"team": "platform", "managed-by": "x"}
    assert json.loads(role["inputs"]["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"] == {
        "aws:SourceAccount": "123456789012",
        "aws:RequestTag/eks-cluster-arn": "arn:aws:eks:eu-west-1:123456789012:cluster/mlops-prod-eu-west-1",
    }


def test_every_document_the_blocks_build_passes_parliament(synth_program):
    preview = synth_program("dev", "blocks_program", STACKS)
    docs = documents(preview)
    assert len(docs) == 8  # three trust policies, two role policies, three bucket policies
    assert [finding for doc in docs for finding in parliament_findings(doc)] == []
