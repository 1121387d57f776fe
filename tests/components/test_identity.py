"""Identity Center permission sets, EKS access entries and OIDC sign-in."""

from __future__ import annotations

import json

import pytest

from components.identity.config import AccessRole, OidcConfig
from components.identity.oidc import oidc_ingress_annotations
from components.identity.policies import (
    IDENTITY_CENTER_SERVICES,
    inline_policy,
    managed_policy_arns,
    permission_set_name,
    role_principal_arn,
    sso_role_arn,
)
from tests.conftest import by_name, states
from tests.iam_eval import (
    POWER_USER_ACCESS,
    WRITE_LEVELS,
    allowed_actions,
    condition_keys,
    decision,
    denied_everywhere,
    service_actions,
)

INSTANCE = "arn:aws:sso:::instance/ssoins-7223a1b2c3d4e5f6"
GROUPS = {
    "platform-admin": "9a6712f4-5011-70e1-4b3c-2f1e0d9c8b7a",
    "ml-engineer": "9a6712f4-5011-70e1-4b3c-2f1e0d9c8b7b",
    "read-only": "9a6712f4-5011-70e1-4b3c-2f1e0d9c8b7c",
}
SUFFIXES = {
    "platform-admin": "1f9ff11932198c00",
    "ml-engineer": "2a8ee22843209d11",
    "read-only": "3b7dd33754310e22",
}
REGIONS = ["us-east-1", "us-west-2"]


def statements(role: str) -> list[dict]:
    return inline_policy(
        role, partition="aws", account_id="333333333333", regions=REGIONS, prefix="mlops-prod"
    )["Statement"]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("role", ["platform-admin", "ml-engineer", "read-only"])
def test_no_statement_allows_every_action_on_every_resource(role):
    for statement in statements(role):
        actions, resources = as_list(statement["Action"]), as_list(statement.get("Resource", []))
        assert "*" not in actions, statement["Sid"]
        if statement["Effect"] == "Allow" and "*" in resources:
            # Only actions without resource-level permissions may name "*" as resource.
            assert actions == ["ecr:GetAuthorizationToken"], statement["Sid"]


def test_ml_engineer_policy_is_scoped_to_the_platform_prefix():
    by_sid = {statement["Sid"]: statement for statement in statements("ml-engineer")}
    assert list(by_sid) == [
        "ListPlatformBuckets",
        "ReadWriteModelArtifacts",
        "RegistryLogin",
        "PushPullModelImages",
        "ClusterAccess",
        "UsePlatformKeysViaStorage",
        "ReadModelLogs",
    ]
    assert by_sid["ReadWriteModelArtifacts"] == {
        "Sid": "ReadWriteModelArtifacts",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload"],
        "Resource": ["arn:aws:s3:::mlops-prod-*/*"],
    }
    assert by_sid["ListPlatformBuckets"]["Resource"] == ["arn:aws:s3:::mlops-prod-*"]
    assert by_sid["PushPullModelImages"]["Resource"] == [
        "arn:aws:ecr:us-east-1:333333333333:repository/models/*",
        "arn:aws:ecr:us-west-2:333333333333:repository/models/*",
    ]
    assert by_sid["ClusterAccess"] == {
        "Sid": "ClusterAccess",
        "Effect": "Allow",
        "Action": ["eks:DescribeCluster", "eks:AccessKubernetesApi"],
        "Resource": [
            "arn:aws:eks:us-east-1:333333333333:cluster/mlops-prod-*",
            "arn:aws:eks:us-west-2:333333333333:cluster/mlops-prod-*",
        ],
    }
    assert by_sid["UsePlatformKeysViaStorage"]["Condition"] == {
        "StringEquals": {
            "aws:ResourceTag/managed-by": "pulumi-mlops-platform",
            "kms:ViaService": [
                "s3.us-east-1.amazonaws.com",
                "ecr.us-east-1.amazonaws.com",
                "s3.us-west-2.amazonaws.com",
                "ecr.us-west-2.amazonaws.com",
            ],
        }
    }
    # No IAM, no deletes of buckets or repositories.
    actions = [action for statement in by_sid.values() for action in statement["Action"]]
    assert not [a for a in actions if a.startswith("iam:") or "Delete" in a]


IAM = "arn:aws:iam::333333333333"
BOUNDARY = f"{IAM}:policy/mlops-prod-permissions-boundary"
DELEGATED_ROLE = f"{IAM}:role/mlops-prod-delegated/model-batch"
DELEGATED_PREFIXES = tuple(
    f"{IAM}:{kind}/mlops-prod-delegated/"
    for kind in ("role", "policy", "instance-profile", "server-certificate")
)
# Service-linked roles: only their AWS service can assume them and AWS defines their policies (IAM User Guide,
# "Create a service-linked role"); PowerUserAccess itself grants creating and deleting them.
SERVICE_LINKED = {"iam:createservicelinkedrole", "iam:deleteservicelinkedrole"}
IAM_WRITES = service_actions("iam", WRITE_LEVELS)


def admin_statements() -> list[dict]:
    """What an SSO platform admin's session is evaluated against: PowerUserAccess, the inline policy (IAM reads
    of IAMReadOnlyAccess grant no write)."""
    assert "arn:aws:iam::aws:policy/PowerUserAccess" in managed_policy_arns("aws", "platform-admin")
    return [*POWER_USER_ACCESS, *statements("platform-admin")]


def iam_write_problems(statement: dict, effective: list[dict]) -> list[str]:
    """Each IAM write action an Allow statement grants must be denied everywhere, be a service-linked-role
    action, or be confined to the delegated path -- with the ArnEquals iam:PermissionsBoundary condition on
    the platform's boundary where the action takes that key (Service Authorization Reference, IAM)."""
    problems = []
    resources = as_list(statement.get("Resource", []))
    for action in allowed_actions(statement, list(IAM_WRITES)):
        if denied_everywhere(effective, action) or action.lower() in SERVICE_LINKED:
            continue
        outside = [r for r in resources if not r.startswith(DELEGATED_PREFIXES)]
        if outside:
            problems.append(f"{action} on {outside}")
        needs_boundary = "iam:PermissionsBoundary" in condition_keys(IAM_WRITES[action])
        if needs_boundary and statement.get("Condition") != {
            "ArnEquals": {"iam:PermissionsBoundary": BOUNDARY}
        }:
            problems.append(f"{action} without the boundary condition")
    return problems


# The statement that let admins rewrite any customer managed policy, the deployer's included.
OLD_MANAGE_CUSTOMER_POLICIES = {
    "Sid": "ManageCustomerPolicies",
    "Effect": "Allow",
    "Action": ["iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion"],
    "Resource": f"{IAM}:policy/*",
}


def test_every_iam_write_a_platform_admin_gets_is_confined_to_the_delegated_path_with_the_boundary():
    """IAM User Guide, "Permissions boundaries for IAM entities" (delegating responsibility to others): an admin
    who may write IAM outside a bounded scope can grant themselves anything. Statement by statement over the
    effective policy (PowerUserAccess + inline), every IAM Write/Permissions management/Tagging action
    (parliament's IAM service definitions) is denied, a service-linked-role action, or confined to the
    delegated path and, where the action takes iam:PermissionsBoundary, conditioned on the platform's boundary."""
    assert iam_write_problems(OLD_MANAGE_CUSTOMER_POLICIES, admin_statements()) == [
        f"iam:CreatePolicyVersion on ['{IAM}:policy/*']",
        f"iam:SetDefaultPolicyVersion on ['{IAM}:policy/*']",
    ]
    effective = admin_statements()
    problems = {s.get("Sid", "PowerUserAccess"): iam_write_problems(s, effective) for s in effective}
    assert {sid: found for sid, found in problems.items() if found} == {}
    # Something is granted: the delegated path is usable.
    assert allowed_actions(by_sid("CreateAndGrantRolesOnlyWithinBoundary"), list(IAM_WRITES))


def by_sid(sid: str) -> dict:
    return {statement["Sid"]: statement for statement in statements("platform-admin")}[sid]


@pytest.mark.parametrize(
    ("action", "resource", "context", "expected"),
    [
        ("iam:CreateRole", DELEGATED_ROLE, {"iam:PermissionsBoundary": BOUNDARY}, "Allow"),
        ("iam:CreateRole", DELEGATED_ROLE, {}, "ImplicitDeny"),
        (
            "iam:CreateRole",
            f"{IAM}:role/platform-deployer",
            {"iam:PermissionsBoundary": BOUNDARY},
            "ImplicitDeny",
        ),
        ("iam:PutRolePermissionsBoundary", DELEGATED_ROLE, {"iam:PermissionsBoundary": BOUNDARY}, "Allow"),
        (
            "iam:PutRolePermissionsBoundary",
            DELEGATED_ROLE,
            {"iam:PermissionsBoundary": f"{IAM}:policy/open"},
            "Deny",
        ),
        ("iam:DeleteRolePermissionsBoundary", DELEGATED_ROLE, {"iam:PermissionsBoundary": BOUNDARY}, "Deny"),
        ("iam:CreatePolicyVersion", f"{IAM}:policy/mlops-prod-delegated/batch-read", {}, "Allow"),
        ("iam:CreatePolicyVersion", f"{IAM}:policy/platform-deployer", {}, "ImplicitDeny"),
        ("iam:SetDefaultPolicyVersion", BOUNDARY, {}, "Deny"),
        (
            "iam:UpdateAssumeRolePolicy",
            f"{IAM}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_x_1",
            {},
            "Deny",
        ),
    ],
)
def test_a_delegated_role_gets_the_boundary_and_never_loses_it(action, resource, context, expected):
    """IAM User Guide, "Permissions boundaries for IAM entities", the delegation example: creating, granting and
    setting the boundary of a role are allowed only with iam:PermissionsBoundary equal to the boundary (so the
    boundary can be put on an existing delegated role), deleting a boundary is always denied, and the boundary
    policy cannot be edited."""
    assert decision(admin_statements(), action, resource, context) == expected


def test_platform_admins_cannot_write_to_identity_center():
    """Service Authorization Reference, "Actions, resources, and condition keys for AWS IAM Identity Center"
    (and AWS Identity Store, IAM Identity Center directory): with PowerUserAccess allowing every action outside
    IAM, Organizations and Account, an admin could edit the platform-admin permission set
    (PutInlinePolicyToPermissionSet, ProvisionPermissionSet, CreateAccountAssignment, group memberships) and get
    iam:* without the boundary. Every write action of those services meets an unconditional explicit Deny."""
    effective = admin_statements()
    writes = [a for prefix in IDENTITY_CENTER_SERVICES for a in service_actions(prefix, WRITE_LEVELS)]
    assert "sso:PutInlinePolicyToPermissionSet" in writes and "identitystore:CreateGroupMembership" in writes
    assert [a for a in writes if decision(POWER_USER_ACCESS, a, "*") != "Allow"] == []
    assert [a for a in writes if not denied_everywhere(effective, a)] == []
    reads = [
        a for prefix in IDENTITY_CENTER_SERVICES for a in service_actions(prefix, frozenset({"Read", "List"}))
    ]
    assert [a for a in reads if decision(effective, a, "*") != "Allow"] == []


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("role/platform-deployer", "Deny"),
        ("role/mlops-prod-us-east-1-karpenter", "Deny"),
        ("role/OrganizationAccountAccessRole", "Deny"),
        ("role/mlops-prod-delegated/model-batch", "Allow"),
    ],
)
def test_platform_admins_assume_only_delegated_roles(role, expected):
    """IAM User Guide, "Policy evaluation logic" and STS AssumeRole: PowerUserAccess allows sts:AssumeRole on
    every role, so any role whose trust policy names the account (the deployer's, for instance) would lend
    its unbounded permissions. Only the delegated roles, which carry the boundary, can be assumed."""
    assert decision(admin_statements(), "sts:AssumeRole", f"{IAM}:{role}") == expected


def test_the_boundary_policy_exists_and_is_in_the_outputs_contract(observe):
    boundary = by_name(observe, "identity-permissions-boundary")
    assert boundary["type"] == "aws:iam/policy:Policy"
    assert boundary["inputs"]["name"] == "mlops-prod-permissions-boundary"
    document = json.loads(boundary["inputs"]["policy"])
    assert not [
        s
        for s in document["Statement"]
        if any(a.startswith(("iam:", "sso:", "organizations:")) for a in s["Action"])
    ]
    assert observe["outputs"]["identity"]["permissionsBoundaryArn"].endswith(
        ":policy/mlops-prod-permissions-boundary"
    )


def test_read_only_policy_is_exactly_cluster_view():
    assert statements("read-only") == [
        {
            "Sid": "ClusterView",
            "Effect": "Allow",
            "Action": ["eks:DescribeCluster", "eks:AccessKubernetesApi"],
            "Resource": [
                "arn:aws:eks:us-east-1:333333333333:cluster/mlops-prod-*",
                "arn:aws:eks:us-west-2:333333333333:cluster/mlops-prod-*",
            ],
        }
    ]


def test_an_sso_role_path_in_us_east_1_has_no_region_segment():
    """IAM Identity Center User Guide, "Referencing permission sets in resource policies, Amazon EKS cluster
    configuration maps, and AWS KMS key policies": roles are under aws-reserved/sso.amazonaws.com/<region>/,
    except when the identity source is hosted in us-east-1, where the ARN has no region."""
    assert sso_role_arn("aws", "123456789012", "us-east-1", "mlops-prod-read-only", "0123456789abcdef") == (
        "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_mlops-prod-read-only_0123456789abcdef"
    )
    assert sso_role_arn("aws", "123456789012", "us-east-2", "ps", "0123456789abcdef") == (
        "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/us-east-2/AWSReservedSSO_ps_0123456789abcdef"
    )


def test_sso_role_arn_pattern_and_sources():
    assert sso_role_arn(
        "aws-us-gov", "123456789012", "us-gov-west-1", "mlops-prod-read-only", "0123456789abcdef"
    ) == (
        "arn:aws-us-gov:iam::123456789012:role/aws-reserved/sso.amazonaws.com/us-gov-west-1/"
        "AWSReservedSSO_mlops-prod-read-only_0123456789abcdef"
    )
    common = dict(partition="aws", account_id="123456789012", sso_region="eu-west-1", permission_set="ps")
    group = GROUPS["read-only"]
    assert role_principal_arn(AccessRole.model_validate({"group-id": group}), **common) is None
    explicit = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_ps_ab"
    assert (
        role_principal_arn(AccessRole.model_validate({"group-id": group, "role-arn": explicit}), **common)
        == explicit
    )
    with_suffix = AccessRole.model_validate({"group-id": group, "role-suffix": "00112233445566ff"})
    assert role_principal_arn(with_suffix, **common).endswith("/eu-west-1/AWSReservedSSO_ps_00112233445566ff")


def test_permission_set_names_fit_identity_center_limit():
    assert permission_set_name("staging", "platform-admin") == "mlops-staging-platform-admin"
    with pytest.raises(ValueError, match="longer than 32"):
        permission_set_name("a-very-long-environment", "platform-admin")


def test_oidc_annotations():
    oidc = OidcConfig.model_validate(
        {
            "issuer": "https://idp.example.com",
            "authorization-endpoint": "https://idp.example.com/authorize",
            "token-endpoint": "https://idp.example.com/token",
            "user-info-endpoint": "https://idp.example.com/userinfo",
            "client-id": "mlflow",
            "session-timeout-seconds": 900,
        }
    )
    annotations = oidc_ingress_annotations(oidc, "mlflow-oidc")
    assert annotations["alb.ingress.kubernetes.io/auth-type"] == "oidc"
    assert json.loads(annotations["alb.ingress.kubernetes.io/auth-idp-oidc"]) == {
        "issuer": "https://idp.example.com",
        "authorizationEndpoint": "https://idp.example.com/authorize",
        "tokenEndpoint": "https://idp.example.com/token",
        "userInfoEndpoint": "https://idp.example.com/userinfo",
        "secretName": "mlflow-oidc",
    }
    assert annotations["alb.ingress.kubernetes.io/auth-session-timeout"] == "900"
    assert annotations["alb.ingress.kubernetes.io/auth-on-unauthenticated-request"] == "authenticate"


# ---------------------------------------------------------------------------------------------------------
# The synthesised fixture program


def test_three_permission_sets_with_durations_and_tags(observe):
    sets = {
        state["inputs"]["name"]: state
        for state in states(observe, "aws:ssoadmin/permissionSet:PermissionSet")
    }
    assert {name: state["inputs"]["sessionDuration"] for name, state in sets.items()} == {
        "mlops-prod-platform-admin": "PT4H",
        "mlops-prod-ml-engineer": "PT8H",
        "mlops-prod-read-only": "PT8H",
    }
    component = by_name(observe, "identity")
    assert component["type"] == "mlops:identity:PlatformIdentity"
    for state in sets.values():
        assert state["inputs"]["instanceArn"] == INSTANCE
        assert state["parent"] == component["urn"]
        assert state["inputs"]["tags"]["managed-by"] == "pulumi-mlops-platform"
        assert state["provider"].split("::")[-2] == "aws-us-east-1"


def test_policies_attached_and_inline_documents_match(observe):
    attachments = states(observe, "aws:ssoadmin/managedPolicyAttachment:ManagedPolicyAttachment")
    assert sorted(a["inputs"]["managedPolicyArn"] for a in attachments) == [
        "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
        "arn:aws:iam::aws:policy/PowerUserAccess",
        "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
    ]
    for role in ("platform-admin", "ml-engineer", "read-only"):
        inline = by_name(observe, f"identity-{role}-inline")["inputs"]
        assert json.loads(inline["inlinePolicy"]) == inline_policy(
            role, partition="aws", account_id="333333333333", regions=REGIONS, prefix="mlops-prod"
        )
        assert inline["permissionSetArn"] == by_name(observe, f"identity-{role}")["id"].split(",")[0]


def test_assignments_give_each_group_its_permission_set_after_policies(observe):
    for role, group in GROUPS.items():
        assignment = by_name(observe, f"identity-{role}-assignment")
        permission_set = by_name(observe, f"identity-{role}")
        assert assignment["inputs"] == {
            "instanceArn": INSTANCE,
            "permissionSetArn": permission_set["id"].split(",")[0],
            "principalType": "GROUP",
            "principalId": group,
            "targetType": "AWS_ACCOUNT",
            "targetId": "333333333333",
        }
        assert by_name(observe, f"identity-{role}-inline")["urn"] in assignment["dependencies"]


@pytest.mark.parametrize("region", REGIONS)
def test_access_entries_map_sso_roles_into_every_cluster(observe, region):
    expected = {
        "platform-admin": ("AmazonEKSClusterAdminPolicy", {"type": "cluster"}),
        "ml-engineer": (
            "AmazonEKSEditPolicy",
            {"type": "namespace", "namespaces": ["models-fraud", "models-ranking"]},
        ),
        "read-only": ("AmazonEKSViewPolicy", {"type": "cluster"}),
    }
    for role, (policy, scope) in expected.items():
        principal = (
            # Identity Center in us-east-1: no region segment in the reserved path.
            "arn:aws:iam::333333333333:role/aws-reserved/sso.amazonaws.com/"
            f"AWSReservedSSO_mlops-prod-{role}_{SUFFIXES[role]}"
        )
        entry = by_name(observe, f"identity-{region}-{role}")
        assert entry["type"] == "aws:eks/accessEntry:AccessEntry"
        assert entry["inputs"]["clusterName"] == f"mlops-prod-{region}"
        assert entry["inputs"]["principalArn"] == principal
        assert entry["inputs"]["type"] == "STANDARD"
        assert entry["provider"].split("::")[-2] == f"aws-{region}"
        association = by_name(observe, f"identity-{region}-{role}-policy")
        assert association["inputs"] == {
            "clusterName": f"mlops-prod-{region}",
            "principalArn": principal,
            "policyArn": f"arn:aws:eks::aws:cluster-access-policy/{policy}",
            "accessScope": scope,
        }
        assert entry["urn"] in association["dependencies"]


def test_oidc_secret_is_a_secret_and_annotations_exported(observe):
    secret = by_name(observe, "mlflow-oidc-client")
    assert secret["type"] == "kubernetes:core/v1:Secret"
    assert secret["inputs"]["metadata"]["namespace"] == "mlflow"
    assert secret["inputs"]["metadata"]["name"] == "oidc-client"
    assert secret["inputs"]["stringData"] == {
        "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
        "value": "[secret]",
    }
    assert secret["parent"] == by_name(observe, "mlflow-oidc")["urn"]
    annotations = observe["outputs"]["mlflowIngressAnnotations"]
    assert annotations["alb.ingress.kubernetes.io/auth-type"] == "oidc"
    assert json.loads(annotations["alb.ingress.kubernetes.io/auth-idp-oidc"])["secretName"] == "oidc-client"


def test_permission_set_arns_exported(observe):
    exported = observe["outputs"]["identity"]["permissionSetArns"]
    assert exported == {role: by_name(observe, f"identity-{role}")["id"].split(",")[0] for role in GROUPS}
    assert all(
        arn.startswith("arn:aws:sso:::permissionSet/ssoins-7223a1b2c3d4e5f6/ps-") for arn in exported.values()
    )


def test_ml_engineers_can_push_to_every_team_model_repository(synth):
    """ECR repository ARNs are arn:aws:ecr:<region>:<account>:repository/<name> (Service Authorization
    Reference, Amazon ECR resource types); team repositories are named models/<team>/<model>."""
    from fnmatch import fnmatchcase

    push = {s["Sid"]: s for s in statements("ml-engineer")}["PushPullModelImages"]
    team = synth("team-fraud-prod")
    names = [r["inputs"]["name"] for r in states(team, "aws:ecr/repository:Repository")]
    assert names and all(name.startswith("models/fraud/") for name in names)
    for region in REGIONS:
        for name in names:
            arn = f"arn:aws:ecr:{region}:333333333333:repository/{name}"
            assert any(fnmatchcase(arn, pattern) for pattern in push["Resource"]), arn
