"""IAM: no wildcard administrators hiding in a policy document."""

from __future__ import annotations

from pulumi_policy import Severity

from policies.base import as_strings, document, get, items, resource_policy, statements

DOCUMENT_TYPES = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
)
ADMIN_POLICIES = ("AdministratorAccess", "IAMFullAccess", "PowerUserAccess")


def wildcard_statements(doc) -> list[str]:
    """Sids (or positions) of Allow statements granting every action on every resource."""
    found = []
    for index, statement in enumerate(statements(doc)):
        if statement.get("Effect") != "Allow":
            continue
        actions = as_strings(statement.get("Action"))
        resources = as_strings(statement.get("Resource"))
        if ("*" in actions or "*:*" in actions) and "*" in resources:
            found.append(str(statement.get("Sid") or f"#{index}"))
    return found


def _no_star(props, args):
    key = DOCUMENT_TYPES.get(args.resource_type, "policy")
    wildcards = wildcard_statements(document(props.get(key)))
    for inline in items(props.get("inlinePolicies")):
        wildcards += wildcard_statements(document(get(inline, "policy")))
    return [f"statement {sid} allows * on *" for sid in wildcards]


def _no_admin_attachment(props, _args):
    arn = props.get("policyArn")
    if isinstance(arn, str) and arn.rsplit("/", 1)[-1] in ADMIN_POLICIES:
        return f"attaches {arn.rsplit('/', 1)[-1]}; grant what the workload needs instead"
    return None


POLICIES = [
    resource_policy(
        "iam-no-star-on-star",
        area="iam",
        severity=Severity.CRITICAL,
        description="IAM policies never allow every action on every resource.",
        types=[*DOCUMENT_TYPES, "aws:iam/role:Role"],
        check=_no_star,
        remediation="List the actions and scope the resources to the team's own buckets, prefixes and repositories.",
    ),
    resource_policy(
        "iam-no-admin-attachment",
        area="iam",
        severity=Severity.HIGH,
        description="Roles, users and groups never get AWS's administrator managed policies.",
        types=ATTACHMENTS,
        check=_no_admin_attachment,
        remediation="Attach a scoped policy instead.",
    ),
]
