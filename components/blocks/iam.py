"""IAM statement and document builders: each statement the platform repeats is written here once.

Documents are plain dicts serialised with ``json.dumps``; the key order of every builder is the order the
platform's documents have always had, so a document built here is byte-identical to the one it replaces.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

VERSION = "2012-10-17"
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"

Statement = dict[str, Any]
Actions = str | Sequence[str]
Resources = str | Sequence[str]


def _one_or_list(value: str | Sequence[str]) -> str | list[str]:
    return value if isinstance(value, str) else list(value)


def document(*statements: Statement, policy_id: str | None = None) -> dict[str, Any]:
    """A policy document: ``{"Version": "2012-10-17", ["Id": ...,] "Statement": [...]}``."""
    doc: dict[str, Any] = {"Version": VERSION}
    if policy_id is not None:
        doc["Id"] = policy_id
    doc["Statement"] = list(statements)
    return doc


def to_json(doc: Mapping[str, Any], *, sort_keys: bool = False) -> str:
    """A document as IAM receives it: ``json.dumps`` with its default separators (``sort_keys`` where a
    component always sorted its documents)."""
    return json.dumps(doc, sort_keys=sort_keys)


def allow(
    actions: Actions, resources: Resources, sid: str | None = None, condition: Mapping[str, Any] | None = None
) -> Statement:
    """An identity-policy Allow statement (``Sid``, ``Effect``, ``Action``, ``Resource``, ``Condition``)."""
    statement: Statement = {"Sid": sid} if sid is not None else {}
    statement.update(
        {"Effect": "Allow", "Action": _one_or_list(actions), "Resource": _one_or_list(resources)}
    )
    if condition:
        statement["Condition"] = dict(condition)
    return statement


def bucket_and_objects(bucket_arn: str) -> list[str]:
    """A bucket and every object in it: what a bucket-wide statement names."""
    return [bucket_arn, f"{bucket_arn}/*"]


def deny_insecure_transport(
    resources: Resources, *, action: Actions = "s3:*", sid: str = "DenyInsecureTransport"
) -> Statement:
    """Refuse any request that does not use TLS (``aws:SecureTransport`` false), from anyone.

    AWS's guidance for S3 ("Enforce encryption of data in transit", S3 security best practices), SNS ("Enforce
    encryption of data in transit") and SQS alike; ``action`` is the service's actions the resource policy
    may name (an SNS topic policy names SNS actions only).
    """
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": _one_or_list(action),
        "Resource": _one_or_list(resources),
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def _trust(principal: Mapping[str, Any], action: Actions, condition: Mapping[str, Any]) -> dict[str, Any]:
    statement: Statement = {"Effect": "Allow", "Principal": dict(principal), "Action": _one_or_list(action)}
    if condition:
        statement["Condition"] = dict(condition)
    return document(statement)


def service_trust(
    service: str | Sequence[str],
    *,
    account_id: str | None = None,
    source_arn: str | None = None,
    tag_session: bool = False,
) -> dict[str, Any]:
    """A role trust policy for an AWS service principal (``"s3.amazonaws.com"``).

    ``account_id`` pins ``aws:SourceAccount`` and ``source_arn`` pins ``aws:SourceArn`` (``ArnLike``, so a
    pattern may name every resource of a kind): the confused-deputy protection of IAM's "The confused deputy
    problem". ``tag_session`` adds ``sts:TagSession`` for services that pass session tags.
    """
    condition: dict[str, Any] = {}
    if account_id is not None:
        condition["StringEquals"] = {"aws:SourceAccount": account_id}
    if source_arn is not None:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    action: Actions = ["sts:AssumeRole", "sts:TagSession"] if tag_session else "sts:AssumeRole"
    return _trust({"Service": _one_or_list(service)}, action, condition)


def pod_identity_trust(
    *,
    account_id: str | None = None,
    cluster_arn: str | Sequence[str] | None = None,
    namespace: str | None = None,
    service_account: str | None = None,
) -> dict[str, Any]:
    """The trust policy of a role EKS Pod Identity assumes: ``pods.eks.amazonaws.com`` with ``sts:AssumeRole``
    and ``sts:TagSession`` (EKS user guide, "Create IAM role with trust policy required by EKS Pod Identity",
    https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html).

    ``account_id`` pins ``aws:SourceAccount``, the confused-deputy key EKS Pod Identity sends (EKS best practices,
    "Working with IAM roles for EKS Pod Identities": EKS passes the source organization of the account). The
    cluster, namespace and service account are pinned through the session tags Pod Identity sends with the
    request, as that page documents them: ``aws:RequestTag/eks-cluster-arn`` (one ARN or several: a role shared by
    one service account in several clusters), ``aws:RequestTag/kubernetes-namespace`` and
    ``aws:RequestTag/kubernetes-service-account``. A role trusted this way cannot be used by an association that
    disables session tags, which the platform never creates.
    """
    equals: dict[str, Any] = {}
    if account_id is not None:
        equals["aws:SourceAccount"] = account_id
    if cluster_arn:
        equals["aws:RequestTag/eks-cluster-arn"] = _one_or_list(cluster_arn)
    if namespace is not None:
        equals["aws:RequestTag/kubernetes-namespace"] = namespace
    if service_account is not None:
        equals["aws:RequestTag/kubernetes-service-account"] = service_account
    condition = {"StringEquals": equals} if equals else {}
    return _trust({"Service": POD_IDENTITY_PRINCIPAL}, ["sts:AssumeRole", "sts:TagSession"], condition)


# -- key policies --------------------------------------------------------------------------------------


def key_root_statement(root_arn: str, sid: str = "AccountAdministersKey") -> Statement:
    """The account administers its key (KMS developer guide, "Default key policy": allows access to the AWS
    account and enables IAM policies); without it nobody could change the key policy again."""
    return {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": root_arn}, "Action": "kms:*", "Resource": "*"}


def key_service_statement(
    sid: str,
    principal: Mapping[str, Any],
    actions: Actions,
    condition: Mapping[str, Any] | None = None,
) -> Statement:
    """A key-policy statement for one principal (``{"Service": ...}`` or ``{"AWS": ...}``); a key policy's
    ``Resource`` is always ``"*"``, the key itself."""
    statement: Statement = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": dict(principal),
        "Action": _one_or_list(actions),
        "Resource": "*",
    }
    if condition:
        statement["Condition"] = dict(condition)
    return statement
