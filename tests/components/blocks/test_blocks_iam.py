"""The IAM statement builders: exact documents, and each one linted by parliament."""

from __future__ import annotations

import json

import pytest

from components.blocks import (
    allow,
    bucket_and_objects,
    deny_insecure_transport,
    document,
    key_root_statement,
    key_service_statement,
    pod_identity_trust,
    service_trust,
    to_json,
)
from tests.iam_lint import Document, parliament_findings

BUCKET = "arn:aws:s3:::mlops-prod-123456789012-artifacts-eu-west-1"


def findings(policy: dict, kind: str) -> list:
    return parliament_findings(Document("doc", "t", "p", kind, policy))


def test_document_and_its_json_form():
    doc = document(allow("s3:GetObject", f"{BUCKET}/*"))
    assert doc == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/*"}],
    }
    assert to_json(doc) == json.dumps(doc)
    assert to_json({"b": 1, "a": 2}, sort_keys=True) == '{"a": 2, "b": 1}'
    assert document(policy_id="Q") == {"Version": "2012-10-17", "Id": "Q", "Statement": []}


def test_allow_keeps_the_order_sid_effect_action_resource_condition():
    statement = allow(
        ["s3:ListBucket"], BUCKET, sid="List", condition={"StringLike": {"s3:prefix": ["mlflow/*"]}}
    )
    assert list(statement) == ["Sid", "Effect", "Action", "Resource", "Condition"]
    assert statement["Action"] == ["s3:ListBucket"]
    assert findings(document(statement), "identity") == []


def test_tls_only_statement_on_a_bucket():
    """S3 user guide, "Security best practices for Amazon S3": enforce encryption of data in transit with a
    Deny on ``aws:SecureTransport`` false."""
    statement = deny_insecure_transport(bucket_and_objects(BUCKET))
    assert statement == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [BUCKET, f"{BUCKET}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    assert findings(document(statement), "resource") == []


def test_tls_only_statement_on_a_topic_and_a_queue():
    topic = "arn:aws:sns:eu-west-1:123456789012:alerts"
    assert deny_insecure_transport(topic, action="sns:Publish") == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sns:Publish",
        "Resource": topic,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    queue = "arn:aws:sqs:eu-west-1:123456789012:q"
    assert deny_insecure_transport(queue, action="sqs:*", sid="Tls")["Sid"] == "Tls"
    assert findings(document(deny_insecure_transport(queue, action="sqs:*")), "resource") == []


def test_service_trust_pinned_to_the_account_and_source():
    """IAM user guide, "The confused deputy problem": ``aws:SourceAccount`` and ``aws:SourceArn``."""
    doc = service_trust(
        "cloudtrail.amazonaws.com",
        account_id="123456789012",
        source_arn="arn:aws:cloudtrail:eu-west-1:123456789012:trail/t",
    )
    assert doc == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": "123456789012"},
                    "ArnLike": {"aws:SourceArn": "arn:aws:cloudtrail:eu-west-1:123456789012:trail/t"},
                },
            }
        ],
    }
    assert findings(doc, "trust") == []


def test_service_trust_without_conditions_and_with_session_tags():
    doc = service_trust("eks.amazonaws.com", tag_session=True)
    assert doc["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ]
    assert findings(doc, "trust") == []


CLUSTER_C = "arn:aws:eks:eu-west-1:123456789012:cluster/c"


@pytest.mark.parametrize(
    ("scope", "condition"),
    [
        ({}, {"StringEquals": {"aws:SourceAccount": "123456789012"}}),
        (
            {"cluster_arn": CLUSTER_C},
            {
                "StringEquals": {
                    "aws:SourceAccount": "123456789012",
                    "aws:RequestTag/eks-cluster-arn": CLUSTER_C,
                }
            },
        ),
        (
            {
                "cluster_arn": [CLUSTER_C, CLUSTER_C.replace("eu-west-1", "us-east-1")],
                "namespace": "team-a",
                "service_account": "models",
            },
            {
                "StringEquals": {
                    "aws:SourceAccount": "123456789012",
                    "aws:RequestTag/eks-cluster-arn": [
                        CLUSTER_C,
                        CLUSTER_C.replace("eu-west-1", "us-east-1"),
                    ],
                    "aws:RequestTag/kubernetes-namespace": "team-a",
                    "aws:RequestTag/kubernetes-service-account": "models",
                }
            },
        ),
    ],
)
def test_pod_identity_trust_pins_the_session_tags_pod_identity_sends(scope, condition):
    """EKS user guide, "Create IAM role with trust policy required by EKS Pod Identity"
    (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html): principal ``pods.eks.amazonaws.com``,
    actions ``sts:AssumeRole`` and ``sts:TagSession``; Pod Identity sends the request tags ``eks-cluster-arn``,
    ``kubernetes-namespace`` and ``kubernetes-service-account``, which the trust policy's conditions may pin.
    ``aws:SourceAccount`` is the confused-deputy key (IAM user guide, "The confused deputy problem")."""
    doc = pod_identity_trust(account_id="123456789012", **scope)
    assert doc["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": condition,
        }
    ]
    assert findings(doc, "trust") == []


def test_pod_identity_trust_unconditioned():
    assert "Condition" not in pod_identity_trust()["Statement"][0]


def test_key_statements():
    root = key_root_statement("arn:aws:iam::123456789012:root")
    assert root == {
        "Sid": "AccountAdministersKey",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    service = key_service_statement(
        "AlarmsPublish",
        {"Service": "cloudwatch.amazonaws.com"},
        ["kms:Decrypt", "kms:GenerateDataKey*"],
        {"StringEquals": {"aws:SourceAccount": "123456789012"}},
    )
    assert list(service) == ["Sid", "Effect", "Principal", "Action", "Resource", "Condition"]
    assert service["Resource"] == "*"
    assert findings(document(root, service), "key") == []
