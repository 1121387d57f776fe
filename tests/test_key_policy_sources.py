"""Every key-policy statement that grants an AWS service principal carries that service's source condition.

IAM User Guide, "The confused deputy problem" (cross-service confused deputy prevention,
https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html): a statement that trusts a service
principal is limited to the account's own resources by ``aws:SourceAccount`` / ``aws:SourceArn`` (or their
organization forms), or, in a key policy, by what KMS sees of the request: ``kms:ViaService``,
``kms:CallerAccount`` or the service's ``kms:EncryptionContext:...`` (AWS KMS Developer Guide, "AWS KMS
condition keys"). A service that documents none of these for the statement it needs is listed in
``EXCEPTIONS`` with the actions it may have unconditioned, the reason and the page that says so; any other
unconditioned statement, or an excepted service granted more than its listed actions, fails here.

The walk covers every ``aws:kms/key:Key`` and ``aws:kms/replicaKey:ReplicaKey`` policy and every
``aws:kms/keyPolicy:KeyPolicy`` of the shipped platform previews.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import pytest

from tests.conftest import states

KEY_POLICY_PROPERTIES = {
    "aws:kms/key:Key": "policy",
    "aws:kms/replicaKey:ReplicaKey": "policy",
    "aws:kms/keyPolicy:KeyPolicy": "policy",
}
SOURCE_KEYS = ("aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths")
SOURCE_PREFIXES = ("kms:viaservice", "kms:calleraccount", "kms:encryptioncontext:")


@dataclass(frozen=True)
class Unconditioned:
    actions: frozenset[str]
    reason: str
    url: str


# Service principal (a pattern: CloudWatch Logs' principal names its region) -> what it may have without a
# source condition, and why.
EXCEPTIONS: dict[str, Unconditioned] = {
    "logs.*.amazonaws.com": Unconditioned(
        frozenset({"kms:DescribeKey"}),
        "DescribeKey carries no encryption context (its KMS condition keys include no kms:EncryptionContext key), "
        "and CloudWatch Logs documents only kms:EncryptionContext:aws:logs:arn for its key-policy statement; "
        "DescribeKey returns the key's metadata, never data",
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html",
    ),
    "dnssec-route53.amazonaws.com": Unconditioned(
        frozenset({"kms:CreateGrant"}),
        "Route 53's documented CreateGrant statement carries kms:GrantIsForAWSResource only (its signing "
        "statement carries aws:SourceAccount and aws:SourceArn, which this platform sets)",
        "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-configuring-dnssec-cmk-requirements.html",
    ),
    "events.amazonaws.com": Unconditioned(
        frozenset({"kms:Decrypt", "kms:GenerateDataKey*"}),
        "EventBridge delivering to an encrypted SNS topic passes no source context to KMS; the documented key "
        "statement has no condition, and which rules may publish is limited by each topic's policy",
        "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-troubleshooting.html",
    ),
}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def service_principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    return [str(s) for s in _list(principal.get("Service", []))] if isinstance(principal, dict) else []


def source_condition_keys(statement: dict[str, Any]) -> list[str]:
    """The condition keys of a statement that limit a service principal to the account's own use."""
    return [
        key
        for block in (statement.get("Condition") or {}).values()
        for key in block
        if key.lower() in SOURCE_KEYS or key.lower().startswith(SOURCE_PREFIXES)
    ]


def key_policies(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for state in states(document):
        prop = KEY_POLICY_PROPERTIES.get(state["type"])
        if prop is not None:
            found.append((state["urn"].rsplit("::", 1)[-1], json.loads(state["inputs"][prop])))
    return found


def problems_of(name: str, policy: dict[str, Any]) -> list[str]:
    """What a key policy grants a service principal without a source condition beyond its exception."""
    found = []
    for statement in policy["Statement"]:
        if statement.get("Effect") != "Allow":
            continue
        for service in service_principals(statement):
            if source_condition_keys(statement):
                continue
            excepted = next((e for p, e in EXCEPTIONS.items() if fnmatchcase(service, p)), None)
            actions = set(_list(statement.get("Action", [])))
            if excepted is None or not actions <= excepted.actions:
                found.append(f"{name}: {statement.get('Sid', '?')} grants {service} {sorted(actions)}")
    return found


@pytest.mark.parametrize("stack", ["prod", "dev", "staging"])
def test_service_principals_in_key_policies_carry_a_source_condition(synth, stack):
    """IAM User Guide, "The confused deputy problem"
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html) and AWS KMS Developer Guide, "AWS
    KMS condition keys" (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html)."""
    policies = key_policies(synth(stack))
    assert len(policies) >= 6  # at least one key ring
    services = {s for _, p in policies for st in p["Statement"] for s in service_principals(st)}
    assert services  # the walk reaches statements for services (the logs key's at least)
    assert [problem for name, policy in policies for problem in problems_of(name, policy)] == []


def test_the_prod_preview_walks_the_keys_each_exception_is_about(synth):
    """Each exception names a service some key policy of prod grants, so none outlives its statement."""
    services = {
        service
        for _, policy in key_policies(synth("prod"))
        for statement in policy["Statement"]
        for service in service_principals(statement)
    }
    for pattern in EXCEPTIONS:
        assert any(fnmatchcase(service, pattern) for service in services), pattern


def test_a_service_statement_without_a_source_condition_is_found():
    bare = {
        "Statement": [
            {
                "Sid": "S3UsesKey",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "kms:Decrypt",
                "Resource": "*",
            }
        ]
    }
    assert problems_of("k", bare) == ["k: S3UsesKey grants s3.amazonaws.com ['kms:Decrypt']"]
    conditioned = json.loads(json.dumps(bare))
    conditioned["Statement"][0]["Condition"] = {"StringEquals": {"aws:SourceAccount": "1"}}
    assert problems_of("k", conditioned) == []


def test_an_excepted_service_granted_more_than_its_listed_actions_is_found():
    wide = {
        "Statement": [
            {
                "Sid": "LogsDescribe",
                "Effect": "Allow",
                "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
                "Action": ["kms:DescribeKey", "kms:Decrypt"],
                "Resource": "*",
            }
        ]
    }
    assert problems_of("k", wide) == [
        "k: LogsDescribe grants logs.us-east-1.amazonaws.com ['kms:Decrypt', 'kms:DescribeKey']"
    ]
    wide["Statement"][0]["Action"] = "kms:DescribeKey"
    assert problems_of("k", wide) == []
