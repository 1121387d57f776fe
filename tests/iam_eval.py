"""A small evaluator of identity-based IAM statements, for tests that ask what a principal can really do.

It follows the evaluation logic of the IAM User Guide ("Policy evaluation logic"; "IAM JSON policy elements":
Action/NotAction, Resource/NotResource, Condition): an explicit Deny wins, then an Allow, else the request is
implicitly denied. Action names match case-insensitively with `*` and `?`; resources and ARN conditions match
case-sensitively with the same wildcards. Only the condition operators the platform's documents use are known;
any other raises, so a test can never pass on a condition it did not understand. The service definitions that
list every action come from parliament (duo-labs), not from this project.
"""

from __future__ import annotations

import warnings
from fnmatch import fnmatchcase
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import parliament

WRITE_LEVELS = frozenset({"Write", "Permissions management", "Tagging"})

# AWS managed policy PowerUserAccess, version v12 as AWS publishes it ("PowerUserAccess - AWS Managed Policy",
# AWS Managed Policy Reference Guide): everything but IAM, Organizations and Account, plus a few of those.
POWER_USER_ACCESS: list[dict[str, Any]] = [
    {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": "*"},
    {
        "Effect": "Allow",
        "Action": [
            "account:GetAccountInformation",
            "account:GetGovCloudAccountInformation",
            "account:GetPrimaryEmail",
            "account:ListRegions",
            "iam:CreateServiceLinkedRole",
            "iam:DeleteServiceLinkedRole",
            "iam:ListRoles",
            "organizations:DescribeEffectivePolicy",
            "organizations:DescribeOrganization",
        ],
        "Resource": "*",
    },
]


def _list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def action_matches(pattern: str, action: str) -> bool:
    return fnmatchcase(action.lower(), pattern.lower())


def resource_matches(pattern: str, resource: str) -> bool:
    return fnmatchcase(resource, pattern)


def _condition_holds(operator: str, key: str, expected: list[str], context: dict[str, Any]) -> bool:
    if operator.lower().startswith("forallvalues:"):
        # Every value of the request's multivalued key matches; true for an empty or absent set (IAM User Guide,
        # "Set operators for multivalued context keys").
        single = operator.split(":", 1)[1]
        return all(_condition_holds(single, key, expected, {key: value}) for value in _list(context.get(key)))
    if operator.lower().startswith("foranyvalue:"):
        # At least one value of the request's set matches; false for an empty or absent set.
        single = operator.split(":", 1)[1]
        return any(_condition_holds(single, key, expected, {key: value}) for value in _list(context.get(key)))
    base = operator.lower().removesuffix("ifexists")
    actual = context.get(key)
    if actual is None:
        if operator.lower().endswith("ifexists"):
            return True
        if base == "null":
            return [str(v).lower() for v in expected] == ["true"]
        # A negated operator is true when the key is absent (IAM User Guide, "Condition operators").
        return base in ("arnnotequals", "arnnotlike", "stringnotequals", "stringnotlike")
    if base == "null":
        return [str(v).lower() for v in expected] == ["false"]
    if base in ("arnequals", "arnlike", "stringlike"):
        return any(fnmatchcase(actual, str(value)) for value in expected)
    if base in ("arnnotequals", "arnnotlike", "stringnotlike"):
        return not any(fnmatchcase(actual, str(value)) for value in expected)
    if base == "stringequals":
        return actual in [str(value) for value in expected]
    if base == "bool":
        return actual.lower() in [str(value).lower() for value in expected]
    if base == "stringnotequals":
        return actual not in [str(value) for value in expected]
    raise ValueError(f"the evaluator does not know the condition operator {operator}")


def conditions_hold(statement: dict[str, Any], context: dict[str, str]) -> bool:
    return all(
        _condition_holds(operator, key, _list(values), context)
        for operator, block in (statement.get("Condition") or {}).items()
        for key, values in block.items()
    )


def applies(
    statement: dict[str, Any], action: str, resource: str, context: dict[str, str] | None = None
) -> bool:
    """Whether a statement covers (action, resource) under the request context."""
    if "NotAction" in statement:
        if any(action_matches(p, action) for p in _list(statement["NotAction"])):
            return False
    elif not any(action_matches(p, action) for p in _list(statement.get("Action"))):
        return False
    if "NotResource" in statement:
        if any(resource_matches(p, resource) for p in _list(statement["NotResource"])):
            return False
    elif not any(resource_matches(p, resource) for p in _list(statement.get("Resource"))):
        return False
    return conditions_hold(statement, context or {})


def decision(
    statements: list[dict[str, Any]], action: str, resource: str, context: dict[str, str] | None = None
) -> str:
    """ "Deny" (explicit), "Allow", or "ImplicitDeny" for one request against identity-based statements."""
    matching = [s for s in statements if applies(s, action, resource, context)]
    if any(s["Effect"] == "Deny" for s in matching):
        return "Deny"
    return "Allow" if any(s["Effect"] == "Allow" for s in matching) else "ImplicitDeny"


def denied_everywhere(statements: list[dict[str, Any]], action: str) -> bool:
    """An unconditional Deny on every resource covers the action."""
    return any(
        s["Effect"] == "Deny"
        and not s.get("Condition")
        and "*" in _list(s.get("Resource"))
        and applies(s, action, "*")
        for s in statements
    )


def service_actions(prefix: str, levels: frozenset[str] | None = None) -> dict[str, dict[str, Any]]:
    """``prefix:Action`` -> privilege, over every parliament definition of the service (they may disagree)."""
    found: dict[str, dict[str, Any]] = {}
    for service in parliament.iam_definition:
        if service["prefix"] != prefix:
            continue
        for privilege in service["privileges"]:
            if levels is None or privilege["access_level"] in levels:
                found.setdefault(f"{prefix}:{privilege['privilege']}", privilege)
    return found


def condition_keys(privilege: dict[str, Any]) -> set[str]:
    return {key for resource in privilege["resource_types"] for key in resource["condition_keys"]}


def allowed_actions(statement: dict[str, Any], universe: list[str]) -> list[str]:
    """The actions of ``universe`` an Allow statement's Action/NotAction covers (resources aside)."""
    if statement.get("Effect") != "Allow":
        return []
    if "NotAction" in statement:
        return [a for a in universe if not any(action_matches(p, a) for p in _list(statement["NotAction"]))]
    return [a for a in universe if any(action_matches(p, a) for p in _list(statement.get("Action")))]
