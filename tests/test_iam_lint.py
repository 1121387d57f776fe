"""Every IAM-language document of every shipped and fixture stack, against parliament and AWS's documented rules.

parliament (duo-labs) is the oracle nobody here wrote; its service definitions (with condition key types) drive
the project's own checks, which run over every document, not only the ones a defect was found in.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pytest

from tests.iam_lint import (
    ARN_OPERATORS,
    CASES,
    KINDS,
    WILDCARD,
    Case,
    Document,
    actions,
    base_operator,
    check_documents,
    condition_key_type,
    conditions,
    documents,
    load_allowlist,
    parliament_findings,
)

IDS = [case.label for case in CASES]


@pytest.fixture(scope="module")
def preview_of(synth):
    def get(case: Case) -> dict[str, Any]:
        return synth(case.stack, case.stacks_dir, case.program)

    return get


def all_documents(preview_of) -> list[Document]:
    return [document for case in CASES for document in documents(preview_of(case))]


# -- parliament -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_policy_document_is_of_a_known_kind(case, preview_of):
    """A new resource type or property carrying a policy must be classified (tests/iam_lint.py KINDS), so the
    noise filters apply to it by its kind and nobody's policy goes unlinted."""
    unknown = [(d.resource, d.type, d.property) for d in documents(preview_of(case)) if d.kind is None]
    assert unknown == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_parliament_findings_are_fixed_or_allow_listed(case, preview_of):
    allowed = {entry.finding for entry in load_allowlist()}
    open_findings = [
        finding
        for document in documents(preview_of(case))
        for finding in parliament_findings(document)
        if finding not in allowed
    ]
    assert open_findings == []


def test_every_allow_list_entry_still_matches_a_finding(preview_of):
    """The allow-list cannot rot: an entry whose finding is gone (fixed, renamed) fails until it is removed."""
    found = {finding for document in all_documents(preview_of) for finding in parliament_findings(document)}
    entries = load_allowlist()
    assert [entry for entry in entries if entry.finding not in found] == []
    assert len({entry.finding for entry in entries}) == len(entries), "duplicate allow-list entries"


def test_the_lint_sees_every_resource_type_and_property_it_claims(preview_of):
    """Each (resource type, property) in KINDS is carried by some stack or fixture, so the README's list of
    what is linted is exactly what is."""
    seen = {(document.type, document.property) for document in all_documents(preview_of)}
    assert [pair for pair in KINDS if pair not in seen] == []


# -- AWS's rules over every document ----------------------------------------------------------------------


def _arn_keys_use_arn_operators(statement: dict[str, Any]) -> list[str]:
    problems = []
    for operator, key, _values in conditions(statement):
        base = base_operator(operator)
        if base == "null":
            continue
        if (condition_key_type(key) or "").lower() == "arn" and base not in ARN_OPERATORS:
            problems.append(f"{operator} on ARN-typed {key}")
    return problems


def _equals_without_wildcards(statement: dict[str, Any]) -> list[str]:
    problems = []
    for operator, key, values in conditions(statement):
        if base_operator(operator) in ("stringequals", "stringnotequals", "stringequalsignorecase"):
            problems += [f"{operator} {key} = {value!r}" for value in values if WILDCARD.search(str(value))]
    return problems


def _no_context_on_describe_key(statement: dict[str, Any]) -> list[str]:
    keys = [key.lower() for _op, key, _values in conditions(statement)]
    describes = any(fnmatchcase("kms:describekey", action.lower()) for action in actions(statement))
    if describes and any(key.startswith("kms:encryptioncontext") for key in keys):
        return ["kms:DescribeKey under an encryption-context condition"]
    return []


# The defective statements these rules were written for: each check must catch its own defect.
OLD_LBC_STATEMENT = {
    "Sid": "ManageOwnSecurityGroups",
    "Effect": "Allow",
    "Action": ["ec2:DeleteSecurityGroup"],
    "Resource": "arn:aws:ec2:us-east-1:*:security-group/*",
    "Condition": {"StringEquals": {"ec2:Vpc": "arn:aws:ec2:us-east-1:*:vpc/vpc-1"}},
}
STRING_BOUNDARY_STATEMENT = {
    "Sid": "CreateRolesWithBoundary",
    "Effect": "Allow",
    "Action": ["iam:CreateRole"],
    "Resource": "arn:aws:iam::1:role/delegated/*",
    "Condition": {"StringEquals": {"iam:PermissionsBoundary": "arn:aws:iam::1:policy/boundary"}},
}
OLD_TRAIL_STATEMENT = {
    "Sid": "CloudTrailEncryptsOwnTrails",
    "Effect": "Allow",
    "Principal": {"Service": "cloudtrail.amazonaws.com"},
    "Action": ["kms:GenerateDataKey*", "kms:DescribeKey"],
    "Resource": "*",
    "Condition": {
        "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:1:trail/*"}
    },
}


def test_a_condition_on_an_arn_typed_key_uses_an_arn_operator(preview_of):
    """IAM User Guide, "IAM JSON policy elements: Condition operators" (ARN condition operators) and the
    Service Authorization Reference's key types (e.g. ec2:Vpc, iam:PermissionsBoundary, aws:SourceArn are ARN):
    an ARN key is compared with ArnEquals/ArnLike, whose segments may carry wildcards."""
    assert _arn_keys_use_arn_operators(OLD_LBC_STATEMENT) == ["StringEquals on ARN-typed ec2:Vpc"]
    # parliament's two IAM definitions type iam:PermissionsBoundary ARN and String: the ARN type must win.
    assert condition_key_type("iam:PermissionsBoundary") == "ARN"
    assert _arn_keys_use_arn_operators(STRING_BOUNDARY_STATEMENT) == [
        "StringEquals on ARN-typed iam:PermissionsBoundary"
    ]
    assert check_documents(all_documents(preview_of), _arn_keys_use_arn_operators) == []


def test_string_equals_never_carries_a_wildcard(preview_of):
    """IAM User Guide, "Condition operators" (string condition operators): StringEquals matches exactly; only
    StringLike expands `*` and `?`. A `*` under StringEquals matches nothing but a literal asterisk."""
    assert _equals_without_wildcards({"Condition": {"StringEquals": {"aws:SourceArn": "arn:aws:eks:*"}}})
    assert check_documents(all_documents(preview_of), _equals_without_wildcards) == []


def test_no_encryption_context_condition_on_describe_key(preview_of):
    """AWS KMS Developer Guide, "kms:EncryptionContext:context-key" and the DescribeKey entry of "Actions,
    resources, and condition keys for AWS KMS": DescribeKey carries no encryption context, so a statement that
    conditions on one never allows it (CreateTrail checks the trail's key with DescribeKey)."""
    assert _no_context_on_describe_key(OLD_TRAIL_STATEMENT)
    assert check_documents(all_documents(preview_of), _no_context_on_describe_key) == []


def test_a_key_policy_names_no_service_linked_role_as_principal(preview_of):
    """AWS KMS Developer Guide, "Key policies" (Principal element): a key policy naming a principal that does
    not exist is rejected (MalformedPolicyDocumentException); a service-linked role such as
    AWSServiceRoleForAutoScaling exists only once its service first needed it."""
    named = [
        f"{document.resource}: {arn}"
        for document in all_documents(preview_of)
        if document.kind == "key"
        for statement in document.policy["Statement"]
        for arn in _principal_arns(statement)
        if "/aws-service-role/" in arn
    ]
    assert named == []


def _principal_arns(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    found = principal.get("AWS", []) if isinstance(principal, dict) else []
    return found if isinstance(found, list) else [found]


def _resourceless_actions() -> set[str]:
    """Actions with no resource-level permissions in any of parliament's service definitions."""
    import parliament

    with_resources, without = set(), set()
    for service in parliament.iam_definition:
        for privilege in service["privileges"]:
            action = f"{service['prefix']}:{privilege['privilege']}".lower()
            types = [r["resource_type"] for r in privilege["resource_types"] if r["resource_type"]]
            (with_resources if types else without).add(action)
    return without - with_resources


RESOURCELESS = _resourceless_actions()


def _resourceless_actions_on_star(statement: dict[str, Any]) -> list[str]:
    resources = statement.get("Resource", [])
    resources = resources if isinstance(resources, list) else [resources]
    if statement.get("Effect") != "Allow" or "*" in resources or "NotResource" in statement:
        return []
    return [f"{action} on {resources}" for action in actions(statement) if action.lower() in RESOURCELESS]


def test_actions_without_resource_level_permissions_are_granted_on_star(preview_of):
    """Service Authorization Reference (e.g. "Actions, resources, and condition keys for Amazon CloudWatch
    Logs": DescribeLogGroups, StopQuery list no resource type): such an action is authorized only by a
    statement whose Resource is "*"; scoped to ARNs it is denied."""
    assert _resourceless_actions_on_star(
        {"Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "arn:x"}
    )
    identity = [d for d in all_documents(preview_of) if d.kind == "identity"]
    assert check_documents(identity, _resourceless_actions_on_star) == []
