"""The permissions boundary on every role the platform and its teams create, and what it leaves them.

IAM User Guide, "Permissions boundaries for IAM entities": a role's effective permissions are the intersection of
its identity-based policies and its boundary (an explicit deny in either wins); service-linked roles take no
boundary; within one account a resource-based policy that names a role ARN is limited by the boundary too. So
every action a platform role's own policies (inline and AWS managed, tests/aws_managed.py) allow must also be
allowed by the boundary, under the request AWS actually makes, and the tests here evaluate exactly that with the
evaluator of tests/iam_eval.py.
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from typing import Any

import pytest

from components.identity.policies import BoundaryScope, boundary_policy
from tests.aws_managed import managed_statements
from tests.conftest import STACKS, by_name, states
from tests.iam_eval import action_matches, decision, service_actions

ROLE = "aws:iam/role:Role"
BOUNDARY_URN = (
    "urn:pulumi:prod::mlops-platform::mlops:identity:PlatformIdentity$aws:iam/policy:Policy"
    "::identity-permissions-boundary"
)
ACCOUNT = "333333333333"
NODE_ROLES = [f"arn:aws:iam::{ACCOUNT}:role/cluster-{r}-node-role-*" for r in ("us-east-1", "us-west-2")]
ELB_SLR = (
    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/elasticloadbalancing.amazonaws.com/"
    "AWSServiceRoleForElasticLoadBalancing"
)

# Roles whose KMS requests the role's own policy leaves unconditioned, but which AWS always makes through a
# service (kms:ViaService set, grants for an AWS resource): S3 replication (the artifacts' and the trail's)
# encrypts and decrypts replicas; ECR
# creates the grants of the repositories it creates with the template role ("Repository creation templates",
# ECR User Guide); EKS describes the secrets key the cluster uses (its key policy admits EKS only,
# components/encryption.py). Roles by resource name (a regex).
KMS_THROUGH = {
    r"registry-replication-role": "s3",
    r"observability-trail-replication-role": "s3",
    r"registry-image-template-role": "ecr",
    r"cluster-[a-z0-9-]+-cluster-role": "eks",
}
# IAM and the Price List API are global: a request to them names us-east-1 (IAM User Guide, "AWS global
# condition context keys", aws:RequestedRegion).
GLOBAL_SERVICES = {"iam": "us-east-1", "pricing": "us-east-1", "route53": "us-east-1", "budgets": "us-east-1"}


def region_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 and parts[3] not in ("", "*") else None


def concrete_resource(action: str, resource: str, region: str, stack: str, account: str) -> str:
    """The resource a request names when the policy grants the action on "*": Pod Identity credentials name the
    node's cluster, the load balancing service-linked role has one name (IAM User Guide, "Using service-linked
    roles for Elastic Load Balancing"), a key is a key of the region."""
    if resource != "*":
        return resource
    if action_matches("eks-auth:*", action):
        return f"arn:aws:eks:{region}:{account}:cluster/mlops-{stack}-{region}"
    if action == "iam:CreateServiceLinkedRole":
        return ELB_SLR.replace(ACCOUNT, account)
    if action.startswith("kms:"):
        return f"arn:aws:kms:{region}:{account}:key/mrk-example"
    return resource


def request_context(statement: dict[str, Any], region: str) -> dict[str, str]:
    """The context of a request the statement allows: each key its conditions require, at a value that meets
    them (a StringLike wildcard stands for the region), and a present key where Null says false."""
    context: dict[str, str] = {}
    for operator, block in (statement.get("Condition") or {}).items():
        base = operator.split(":")[-1].lower()
        for key, values in block.items():
            value = str(values[0] if isinstance(values, list) else values)
            if base in ("stringequals", "stringlike", "arnequals", "arnlike", "bool", "stringequalsifexists"):
                context[key] = value.replace("*", region) if base == "stringlike" else value
            elif base == "null" and value.lower() == "false":
                context[key] = "present"
    return context


def expand(action: str) -> list[str]:
    if "*" not in action and "?" not in action:
        return [action]
    return [a for a in service_actions(action.split(":")[0]) if action_matches(action, a)]


def role_statements(
    preview: dict[str, Any], role: dict[str, Any], platform: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every statement of the role's inline policies and of its managed policies: AWS managed ones, and the
    platform's own (a team role's data policy, read from the ``platform`` preview)."""
    found: list[dict[str, Any]] = []
    for policy in states(preview, "aws:iam/rolePolicy:RolePolicy"):
        if role["urn"] in policy["propertyDependencies"].get("role", []):
            found += json.loads(policy["inputs"]["policy"])["Statement"]
    for attachment in states(preview, "aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        if role["urn"] in attachment["propertyDependencies"].get("role", []):
            arn = attachment["inputs"]["policyArn"]
            own = [
                p
                for p in states(platform or {"steps": []}, "aws:iam/policy:Policy")
                if arn.endswith(f":policy/{p['inputs'].get('name')}")
            ]
            if attachment["propertyDependencies"].get("policyArn") == [BOUNDARY_URN]:
                # A GitHub deploy role is granted the boundary policy itself.
                found += json.loads(boundary_of(preview)["inputs"]["policy"])["Statement"]
            else:
                found += (
                    json.loads(own[0]["inputs"]["policy"])["Statement"] if own else managed_statements(arn)
                )
    return found


def cut_off(
    preview: dict[str, Any],
    role: dict[str, Any],
    boundary: list[dict[str, Any]],
    platform: dict[str, Any] | None = None,
) -> list[str]:
    """The requests the role's own policies allow and the boundary does not."""
    name = role["urn"].rsplit("::", 1)[-1]
    stack = role["urn"].split(":")[2]  # urn:pulumi:<stack>::...
    account = role["inputs"]["permissionsBoundary"].split(":")[4]
    home = re.search(r"aws-([a-z]+-[a-z]+-\d)", role["provider"]).group(1)
    through = [svc for pattern, svc in KMS_THROUGH.items() if re.fullmatch(pattern, name)]
    refused = []
    for statement in role_statements(preview, role, platform):
        if statement["Effect"] != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for action in (a for pattern in actions for a in expand(pattern)):
            service = action.split(":")[0]
            # A statement may grant actions of two services on resources of both (the load balancer
            # controller's): IAM authorizes an action only against resources of its own service.
            for resource in (r for r in resources if r == "*" or r.split(":")[2] in (service, "*")):
                region = region_of(resource) or home
                # aws:PrincipalArn: the role's ARN, which every request it makes carries (the boundary gives
                # the GitHub deploy roles more by naming them).
                context = {
                    "aws:RequestedRegion": GLOBAL_SERVICES.get(service, region),
                    "aws:PrincipalArn": f"arn:aws:iam::{account}:role/{role['inputs'].get('name', name)}",
                }
                context.update(request_context(statement, region))
                if service == "kms" and not {"kms:ViaService", "kms:GrantIsForAWSResource"} & set(context):
                    assert through, f"{name}: {action} without kms:ViaService, and no service it goes through"
                    context["kms:ViaService"] = f"{through[0]}.{region}.amazonaws.com"
                    context["kms:GrantIsForAWSResource"] = "true"
                target = concrete_resource(action, resource, region, stack, account)
                if target.count(":") >= 5 and target.split(":")[3] == "*":  # any region: a request names one
                    parts = target.split(":")
                    target = ":".join([*parts[:3], region, *parts[4:]])
                if decision(boundary, action, target, context) != "Allow":
                    refused.append(f"{name}: {action} on {target} {context}")
    return refused


@pytest.fixture(scope="module")
def prod(synth):
    return synth("prod")


def boundary_of(preview: dict[str, Any]) -> dict[str, Any]:
    [policy] = [
        p
        for p in states(preview, "aws:iam/policy:Policy")
        if p["inputs"]["tags"].get("mlops:purpose") == "permissions-boundary"
    ]
    return policy


def test_every_platform_role_carries_the_boundary_and_waits_for_it(prod):
    """IAM refuses a permissions boundary that does not exist (CreateRole, PermissionsBoundary: "the ARN of the
    managed policy"): each role names the created policy's ARN, so the engine creates the policy first."""
    boundary = boundary_of(prod)
    assert boundary["urn"] == BOUNDARY_URN  # the URN it always had: no replacement of a protected policy
    assert boundary["inputs"]["tags"]["mlops:purpose"] == "permissions-boundary"
    roles = states(prod, ROLE)
    # 21 of the platform and its clusters, the database's monitoring role, the trail's replication role, the
    # workflow archive's bootstrap (components.pipelines.archive), the roles S3 Access Grants assumes for the
    # declared data locations, one per region, and GitHub Actions' deploy roles (one per environment: prod, team-fraud-prod, team-recsys-prod) and
    # pull-request preview role, and OpenCost's Prometheus query role in each region (components.cost.opencost).
    assert len(roles) == 23 + 2 + 1 + 2 + 4 + 2
    for role in roles:
        assert (
            role["inputs"]["permissionsBoundary"]
            == f"arn:aws:iam::{ACCOUNT}:policy/mlops-prod-permissions-boundary"
        )
        assert role["propertyDependencies"]["permissionsBoundary"] == [BOUNDARY_URN], role["urn"]
        assert BOUNDARY_URN in role["dependencies"]
    order = [state["urn"] for state in states(prod)]
    assert order.index(BOUNDARY_URN) < min(order.index(role["urn"]) for role in roles)


def test_a_stack_without_identity_has_no_boundary_and_unbounded_roles(synth):
    dev = synth("dev")
    assert [
        p for p in states(dev, "aws:iam/policy:Policy") if "mlops:purpose" in p["inputs"].get("tags", {})
    ] == []
    assert all("permissionsBoundary" not in role["inputs"] for role in states(dev, ROLE))


def test_the_boundary_names_exactly_the_platforms_clusters_and_node_roles(prod):
    statements = {s["Sid"]: s for s in json.loads(boundary_of(prod)["inputs"]["policy"])["Statement"]}
    assert statements["PassNodeRolesToEc2"] == {
        "Sid": "PassNodeRolesToEc2",
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": NODE_ROLES,
        "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
    }
    assert statements["PodIdentityInPlatformClusters"]["Resource"] == [
        f"arn:aws:eks:{r}:{ACCOUNT}:cluster/mlops-prod-{r}" for r in ("us-east-1", "us-west-2")
    ]
    # The Karpenter role passes its cluster's node role by the ARN Pulumi auto-named it with, which the pattern
    # matches; the system node role (passed by nobody) and the other region's node role do not.
    for region, pattern, other in zip(("us-east-1", "us-west-2"), NODE_ROLES, NODE_ROLES[::-1], strict=True):
        karpenter = json.loads(by_name(prod, f"cluster-{region}-karpenter-policy")["inputs"]["policy"])
        [passed] = [s["Resource"] for s in karpenter["Statement"] if s["Action"] == "iam:PassRole"]
        assert passed == f"arn:aws:iam::{ACCOUNT}:role/{by_name(prod, f'cluster-{region}-node-role')['id']}"
        assert fnmatchcase(passed, pattern) and not fnmatchcase(passed, other)
        system = f"arn:aws:iam::{ACCOUNT}:role/{by_name(prod, f'cluster-{region}-system-node-role')['id']}"
        assert not any(fnmatchcase(system, p) for p in NODE_ROLES)


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_no_platform_role_loses_a_permission_of_its_own_policies_under_the_boundary(synth, stack):
    """Effective permissions = identity policies ∩ boundary (IAM User Guide, "Permissions boundaries for IAM
    entities", "Evaluating effective permissions with boundaries"): every request a role's inline and AWS
    managed policies allow stays allowed by the boundary."""
    preview = synth(stack)
    boundary = json.loads(boundary_of(preview)["inputs"]["policy"])["Statement"]
    # The pull-request preview role holds AWS's ReadOnlyAccess, capped by the boundary on purpose: it reads only
    # what the boundary's services allow (README "Promoting a model").
    roles = [r for r in states(preview, ROLE) if not r["urn"].endswith("::github-pr-preview-role")]
    assert roles
    refused = [line for role in roles for line in cut_off(preview, role, boundary)]
    assert refused == []


def test_the_team_role_carries_the_platforms_exported_boundary(synth):
    platform, team = synth("prod", deployed=True), synth("team-fraud-prod")
    exported = platform["outputs"]["identity"]["permissionsBoundaryArn"]
    assert exported == f"arn:aws:iam::{ACCOUNT}:policy/mlops-prod-permissions-boundary"
    roles = states(team, ROLE)  # the models' role and the workflows' (components.pipelines.team)
    assert len(roles) == 2
    boundary = json.loads(boundary_of(synth("prod"))["inputs"]["policy"])["Statement"]
    for role in roles:
        assert role["inputs"]["permissionsBoundary"] == exported
        assert cut_off(team, role, boundary, synth("prod")) == []


def test_a_team_of_a_platform_without_boundary_has_an_unbounded_role(synth):
    [role] = states(synth("team-fraud-dev"), ROLE)
    assert "permissionsBoundary" not in role["inputs"]


def test_the_team_fixture_program_bounds_its_role(synth_program):
    team = synth_program("team-fraud-prod", "team_program", stacks_dir=STACKS)
    [role] = states(team, ROLE)
    assert (
        role["inputs"]["permissionsBoundary"]
        == f"arn:aws:iam::{ACCOUNT}:policy/mlops-prod-permissions-boundary"
    )


SCOPE = BoundaryScope(
    clusters={"us-east-1": "mlops-prod-us-east-1", "us-west-2": "mlops-prod-us-west-2"}, ec2_roles=NODE_ROLES
)
BOUNDARY = boundary_policy(
    partition="aws", account_id=ACCOUNT, regions=["us-east-1", "us-west-2"], scope=SCOPE
)["Statement"]
DELEGATED = f"arn:aws:iam::{ACCOUNT}:role/mlops-prod-delegated/etl"
NODE = f"arn:aws:iam::{ACCOUNT}:role/cluster-us-east-1-node-role-0ef2bd2"


@pytest.mark.parametrize(
    ("action", "resource", "context", "expected"),
    [
        ("iam:PassRole", NODE, {"iam:PassedToService": "ec2.amazonaws.com"}, "Allow"),
        ("iam:PassRole", NODE, {"iam:PassedToService": "lambda.amazonaws.com"}, "ImplicitDeny"),
        ("iam:PassRole", DELEGATED, {"iam:PassedToService": "ec2.amazonaws.com"}, "ImplicitDeny"),
        (
            "iam:CreateServiceLinkedRole",
            ELB_SLR,
            {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"},
            "Allow",
        ),
        (
            "iam:CreateServiceLinkedRole",
            f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
            {"iam:AWSServiceName": "autoscaling.amazonaws.com"},
            "ImplicitDeny",
        ),
        ("kms:Decrypt", f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k", {}, "ImplicitDeny"),
        (
            "kms:Decrypt",
            f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k",
            {"kms:ViaService": "s3.us-east-1.amazonaws.com"},
            "Allow",
        ),
        (
            "kms:CreateGrant",
            f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k",
            {"kms:ViaService": "ec2.us-east-1.amazonaws.com"},
            "ImplicitDeny",
        ),
        (
            "kms:CreateGrant",
            f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k",
            {"kms:GrantIsForAWSResource": "true"},
            "Allow",
        ),
        (
            "kms:Decrypt",
            f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/k",
            {"kms:ViaService": "s3.eu-west-1.amazonaws.com"},
            "ImplicitDeny",
        ),
        (
            "eks-auth:AssumeRoleForPodIdentity",
            f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/other",
            {"aws:RequestedRegion": "us-east-1"},
            "ImplicitDeny",
        ),
        ("ssmmessages:OpenDataChannel", "*", {"aws:RequestedRegion": "eu-west-1"}, "ImplicitDeny"),
        (
            "acm:DeleteCertificate",
            f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/c",
            {"aws:RequestedRegion": "us-east-1"},
            "ImplicitDeny",
        ),
    ],
)
def test_the_boundarys_iam_kms_and_agent_statements_stay_on_the_platforms_own_resources(
    action, resource, context, expected
):
    """Widening the boundary widens the delegated roles platform admins create too: each statement added for
    the platform's roles admits only the platform's node roles (to EC2), the load balancing service-linked role,
    keys through AWS services and grants for AWS resources (AWS KMS Developer Guide, "kms:ViaService",
    "kms:GrantIsForAWSResource"), the platform's clusters and regions."""
    assert decision(BOUNDARY, action, resource, context) == expected


def test_no_other_iam_action_passes_the_boundary():
    """Of every IAM action (parliament's IAM definition), only PassRole and CreateServiceLinkedRole can be allowed,
    and only on the resources above: whatever a delegated role's own policy says, it cannot create or change
    principals, policies or boundaries."""
    reachable = {
        action
        for action in service_actions("iam")
        for resource in (
            "*",
            DELEGATED,
            NODE,
            ELB_SLR,
            f"arn:aws:iam::{ACCOUNT}:policy/mlops-prod-permissions-boundary",
        )
        if decision(
            BOUNDARY,
            action,
            resource,
            {
                "aws:RequestedRegion": "us-east-1",
                "iam:PassedToService": "ec2.amazonaws.com",
                "iam:AWSServiceName": "elasticloadbalancing.amazonaws.com",
            },
        )
        == "Allow"
    }
    assert reachable == {"iam:PassRole", "iam:CreateServiceLinkedRole"}


def test_without_clusters_the_boundary_names_no_iam_and_no_cluster():
    statements = boundary_policy(partition="aws", account_id=ACCOUNT, regions=["us-east-1"])["Statement"]
    assert [s["Sid"] for s in statements] == [
        "PlatformServicesInPlatformRegions",
        "UseKeysThroughServices",
        "GrantKeysOnlyToAwsResources",
        "NodeAgentChannelsInPlatformRegions",
        "ListCertificatesInPlatformRegions",
        "DescribeCertificatesInPlatformRegions",
        "ReadPriceList",
    ]


def test_the_rds_enhanced_monitoring_managed_policy_stays_allowed():
    """The monitoring role RDS enhanced monitoring assumes gets AmazonRDSEnhancedMonitoringRole (AWS Managed Policy
    Reference Guide): its log-group and log-stream actions in the database's region pass the boundary."""
    arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
    for statement in managed_statements(arn):
        for action in statement["Action"]:
            for resource in statement["Resource"]:
                target = resource.replace("*:*", f"us-east-1:{ACCOUNT}", 1)
                assert decision(BOUNDARY, action, target, {"aws:RequestedRegion": "us-east-1"}) == "Allow"
