"""What the GitHub deploy roles can really do: each request evaluated against the role's own policy AND the
permissions boundary it carries (IAM User Guide, "Policy evaluation logic": with a permissions boundary, an action
is allowed only when both the identity-based policy and the boundary allow it), the documents through parliament,
their sizes against IAM's quotas, and the Kubernetes identity of a team deploy role."""

from __future__ import annotations

import json
import re

import pytest

from components.identity.deploy_policies import deploy_group
from tests.conftest import by_name, states
from tests.iam_eval import decision
from tests.iam_lint import documents, parliament_findings

ACCOUNT = "333333333333"
IAM = f"arn:aws:iam::{ACCOUNT}"
BOUNDARY = f"{IAM}:policy/mlops-prod-permissions-boundary"
DEPLOYER = f"{IAM}:role/platform-deployer"
FRAUD_DEPLOY = f"{IAM}:role/mlops-prod-deploy-team-fraud-prod"
PLATFORM_DEPLOY = f"{IAM}:role/mlops-prod-deploy-prod"
DATA_POLICY = f"{IAM}:policy/mlops-prod-data-read-write"
EDIT = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
CLUSTER = f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/mlops-prod-us-east-1"
ACCESS_ENTRY = f"arn:aws:eks:us-east-1:{ACCOUNT}:access-entry/mlops-prod-us-east-1/role/{ACCOUNT}/x/abc"
TARGET_GROUP = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/fraud-scorer-v1-1a2b3c4d/0123"
ZONE = "arn:aws:route53:::hostedzone/Z123"


def statements(preview: dict, name: str) -> list[dict]:
    state = by_name(preview, name)
    return json.loads(state["inputs"]["policy"])["Statement"]


def effective(preview: dict, role: str, principal: str, action: str, resource: str, context: dict) -> str:
    """Allow only when the role's policy and the boundary both allow (and neither denies)."""
    full = {"aws:PrincipalArn": principal, "aws:RequestedRegion": "us-east-1", **context}
    own = decision(statements(preview, f"github-deploy-{role}-policy"), action, resource, full)
    ceiling = decision(statements(preview, "identity-permissions-boundary"), action, resource, full)
    if "Deny" in (own, ceiling):
        return "Deny"
    return "Allow" if own == ceiling == "Allow" else "ImplicitDeny"


FRAUD_ROLE = f"{IAM}:role/mlops-prod-team-fraud-models"
GRANTS = f"arn:aws:s3:us-east-1:{ACCOUNT}:access-grants/default"
WITH_BOUNDARY = {"iam:PermissionsBoundary": BOUNDARY}
OWNERS_ENTRY = {
    "aws:RequestTag/team": "fraud",
    "eks:accessEntryType": "STANDARD",
    "eks:principalArn": f"{IAM}:role/x",
}
NAMESPACED_EDIT = {"eks:accessScope": "namespace", "eks:policyArn": EDIT, "eks:namespaces": ["team-fraud"]}
FRAUD_REQUESTS = [
    # IAM: the team's existing roles only, only with the boundary, only the platform's data policies, only to Pod
    # Identity; never a new role nor a new trust (a trust it wrote could admit a self-tagging principal).
    ("iam:CreateRole", FRAUD_ROLE, WITH_BOUNDARY, "ImplicitDeny"),
    ("iam:UpdateAssumeRolePolicy", FRAUD_ROLE, {}, "ImplicitDeny"),
    ("iam:PutRolePolicy", FRAUD_ROLE, WITH_BOUNDARY, "Allow"),
    ("iam:PutRolePolicy", FRAUD_ROLE, {}, "ImplicitDeny"),
    ("iam:PutRolePolicy", f"{IAM}:role/mlops-prod-team-recsys-models", WITH_BOUNDARY, "ImplicitDeny"),
    ("iam:PutRolePolicy", f"{IAM}:role/mlops-prod-deploy-x", WITH_BOUNDARY, "ImplicitDeny"),
    # Team `fraud-x`'s role and topic: exact names, no `mlops-prod-team-fraud-*` wildcard reaching them.
    ("iam:PutRolePolicy", f"{IAM}:role/mlops-prod-team-fraud-x-models", WITH_BOUNDARY, "ImplicitDeny"),
    (
        "sns:SetTopicAttributes",
        f"arn:aws:sns:us-east-1:{ACCOUNT}:mlops-prod-team-fraud-x-alerts",
        {},
        "ImplicitDeny",
    ),
    ("iam:AttachRolePolicy", FRAUD_ROLE, {**WITH_BOUNDARY, "iam:PolicyARN": DATA_POLICY}, "Allow"),
    (
        "iam:AttachRolePolicy",
        FRAUD_ROLE,
        {**WITH_BOUNDARY, "iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"},
        "ImplicitDeny",
    ),
    ("iam:DeleteRolePermissionsBoundary", FRAUD_ROLE, {}, "Deny"),
    ("iam:TagRole", FRAUD_ROLE, {"aws:TagKeys": ["model-commit"]}, "Allow"),
    ("iam:TagRole", FRAUD_ROLE, {"aws:TagKeys": ["team", "x"]}, "Deny"),
    ("iam:UntagRole", FRAUD_ROLE, {"aws:TagKeys": ["team"]}, "Deny"),
    ("iam:PassRole", FRAUD_ROLE, {"iam:PassedToService": "pods.eks.amazonaws.com"}, "Allow"),
    ("iam:PassRole", FRAUD_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}, "ImplicitDeny"),
    ("sts:AssumeRole", DEPLOYER, {}, "ImplicitDeny"),
    # Named resources: repositories, topics, budget, alarms.
    ("ecr:CreateRepository", f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/models/fraud/scorer", {}, "Allow"),
    (
        "ecr:DeleteRepository",
        f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/models/recsys/ranker",
        {},
        "ImplicitDeny",
    ),
    ("sns:SetTopicAttributes", f"arn:aws:sns:us-east-1:{ACCOUNT}:mlops-prod-team-fraud-alerts", {}, "Allow"),
    ("sns:DeleteTopic", f"arn:aws:sns:us-east-1:{ACCOUNT}:mlops-prod-platform-alerts", {}, "ImplicitDeny"),
    ("budgets:ModifyBudget", f"arn:aws:budgets::{ACCOUNT}:budget/mlops-prod-team-fraud", {}, "Allow"),
    ("budgets:ModifyBudget", f"arn:aws:budgets::{ACCOUNT}:budget/mlops-prod-team-recsys", {}, "ImplicitDeny"),
    (
        "cloudwatch:PutMetricAlarm",
        f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:scorer-fraud.models.example.com-us-east-1-v1-healthy-hosts",
        {},
        "Allow",
    ),
    (
        "cloudwatch:DeleteAlarms",
        f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:ranker-recsys.models.example.com-us-east-1-v1-healthy-hosts",
        {},
        "ImplicitDeny",
    ),
    # Tagged resources: created only tagged for the team (tags only on creation), changed only while tagged so.
    ("elasticloadbalancing:CreateTargetGroup", TARGET_GROUP, {"aws:RequestTag/team": "fraud"}, "Allow"),
    (
        "elasticloadbalancing:CreateTargetGroup",
        TARGET_GROUP,
        {"aws:RequestTag/team": "recsys"},
        "ImplicitDeny",
    ),
    (
        "elasticloadbalancing:AddTags",
        TARGET_GROUP,
        {"aws:RequestTag/team": "fraud", "elasticloadbalancing:CreateAction": "CreateTargetGroup"},
        "Allow",
    ),
    (  # re-tagging another team's target group into the team's reach
        "elasticloadbalancing:AddTags",
        TARGET_GROUP,
        {"aws:RequestTag/team": "fraud", "aws:ResourceTag/team": "recsys"},
        "ImplicitDeny",
    ),
    ("elasticloadbalancing:DeleteTargetGroup", TARGET_GROUP, {"aws:ResourceTag/team": "fraud"}, "Allow"),
    (
        "elasticloadbalancing:DeleteTargetGroup",
        TARGET_GROUP,
        {"aws:ResourceTag/team": "platform"},
        "ImplicitDeny",
    ),
    # New Pod Identity associations and access entries come with a new stack, region, role or owners role: the
    # deployer's (mlops/deploy_plan.py routes them), never the team role's, whatever their tags.
    ("eks:CreatePodIdentityAssociation", CLUSTER, {"aws:RequestTag/team": "fraud"}, "ImplicitDeny"),
    ("eks:CreatePodIdentityAssociation", CLUSTER, {}, "ImplicitDeny"),
    # An entry EKS made itself (a managed node group's) carries no tag: no tag statement may bring it in reach.
    ("eks:TagResource", ACCESS_ENTRY, {"aws:RequestTag/team": "fraud"}, "ImplicitDeny"),
    (
        "eks:TagResource",
        ACCESS_ENTRY,
        {"aws:RequestTag/team": "fraud", "aws:ResourceTag/team": "platform"},
        "ImplicitDeny",
    ),
    ("eks:TagResource", CLUSTER, {"aws:RequestTag/team": "fraud"}, "ImplicitDeny"),
    ("eks:DeleteAccessEntry", ACCESS_ENTRY, {"aws:ResourceTag/team": "fraud"}, "Allow"),
    (
        "eks:TagResource",
        ACCESS_ENTRY,
        {"aws:RequestTag/cost-center": "cc-1", "aws:ResourceTag/team": "fraud"},
        "Allow",
    ),
    ("eks:DeleteAccessEntry", ACCESS_ENTRY, {"aws:ResourceTag/team": "recsys"}, "ImplicitDeny"),
    # An update may change an entry's groups and user name, which IAM cannot bound: never, even of its own team's.
    ("eks:UpdateAccessEntry", ACCESS_ENTRY, {"aws:ResourceTag/team": "fraud"}, "ImplicitDeny"),
    # Access entries: never created or scoped by the team role, even without a custom user name or foreign groups.
    ("eks:CreateAccessEntry", CLUSTER, OWNERS_ENTRY, "ImplicitDeny"),
    (
        "eks:CreateAccessEntry",
        CLUSTER,
        {**OWNERS_ENTRY, "eks:username": "arn:aws:sts::333333333333:assumed-role/platform-deployer/x"},
        "ImplicitDeny",
    ),
    (
        "eks:CreateAccessEntry",
        CLUSTER,
        {**OWNERS_ENTRY, "eks:kubernetesGroups": ["mlops:deploy:recsys"]},
        "ImplicitDeny",
    ),
    (
        "eks:AssociateAccessPolicy",
        ACCESS_ENTRY,
        {**NAMESPACED_EDIT, "aws:ResourceTag/team": "fraud"},
        "ImplicitDeny",
    ),
    (
        "eks:AssociateAccessPolicy",
        ACCESS_ENTRY,
        {**NAMESPACED_EDIT, "aws:ResourceTag/team": "platform"},
        "ImplicitDeny",
    ),
    (
        "eks:AssociateAccessPolicy",
        ACCESS_ENTRY,
        {**NAMESPACED_EDIT, "eks:namespaces": ["team-recsys"], "aws:ResourceTag/team": "fraud"},
        "ImplicitDeny",
    ),
    (
        "eks:AssociateAccessPolicy",
        ACCESS_ENTRY,
        {"eks:accessScope": "cluster", "eks:policyArn": EDIT, "aws:ResourceTag/team": "fraud"},
        "ImplicitDeny",
    ),
    (
        "eks:AssociateAccessPolicy",
        ACCESS_ENTRY,
        {**NAMESPACED_EDIT, "eks:policyArn": ADMIN, "aws:ResourceTag/team": "fraud"},
        "ImplicitDeny",
    ),
    (
        "eks:DisassociateAccessPolicy",
        ACCESS_ENTRY,
        {"eks:policyArn": EDIT, "aws:ResourceTag/team": "fraud"},
        "ImplicitDeny",
    ),
    (
        "eks:DisassociateAccessPolicy",
        ACCESS_ENTRY,
        {"eks:policyArn": EDIT, "aws:ResourceTag/team": "recsys"},
        "ImplicitDeny",
    ),
    # Data grants: dropping its own only; a new grant names a grantee and permission IAM cannot bound.
    ("s3:CreateAccessGrant", f"{GRANTS}/location/abc", {"aws:RequestTag/team": "fraud"}, "ImplicitDeny"),
    ("s3:DeleteAccessGrant", f"{GRANTS}/grant/g1", {"aws:ResourceTag/team": "fraud"}, "Allow"),
    ("s3:DeleteAccessGrant", f"{GRANTS}/grant/g1", {"aws:ResourceTag/team": "recsys"}, "ImplicitDeny"),
    (
        "s3:TagResource",
        f"{GRANTS}/grant/g1",
        {"aws:RequestTag/team": "fraud", "aws:ResourceTag/team": "recsys"},
        "ImplicitDeny",
    ),
    # DNS: only the team's record names.
    (
        "route53:ChangeResourceRecordSets",
        ZONE,
        {"route53:ChangeResourceRecordSetsNormalizedRecordNames": ["scorer-fraud.models.example.com"]},
        "Allow",
    ),
    (
        "route53:ChangeResourceRecordSets",
        ZONE,
        {
            "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
                "scorer-fraud.models.example.com",
                "ranker-recsys.models.example.com",
            ]
        },
        "ImplicitDeny",
    ),
    # Never the platform's own: its clusters' settings, the boundary, data.
    ("eks:UpdateClusterConfig", CLUSTER, {}, "ImplicitDeny"),
    ("iam:CreatePolicyVersion", BOUNDARY, {}, "ImplicitDeny"),
    ("s3:GetObject", "arn:aws:s3:::mlops-prod-artifacts/teams/recsys/model.bin", {}, "ImplicitDeny"),
]


@pytest.mark.parametrize(("action", "resource", "context", "expected"), FRAUD_REQUESTS)
def test_a_team_deploy_role_changes_only_its_teams_resources(synth, action, resource, context, expected):
    prod = synth("prod")
    assert effective(prod, "team-fraud-prod", FRAUD_DEPLOY, action, resource, context) == expected


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        (PLATFORM_DEPLOY, "Allow"),
        (FRAUD_DEPLOY, "ImplicitDeny"),  # the boundary names the platform environments' roles only
        (f"{IAM}:role/mlops-prod-team-fraud-models", "ImplicitDeny"),
    ],
)
def test_only_a_platform_deploy_role_assumes_the_deployer(synth, principal, expected):
    prod = synth("prod")
    assert statements(prod, "github-deploy-prod-policy") == [
        {
            "Sid": "AssumeTheDeployer",
            "Effect": "Allow",
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Resource": DEPLOYER,
        }
    ]
    context = {"aws:PrincipalArn": principal, "aws:RequestedRegion": "us-east-1"}
    boundary = statements(prod, "identity-permissions-boundary")
    assert decision(boundary, "sts:AssumeRole", DEPLOYER, context) == expected


@pytest.mark.parametrize(
    ("action", "resource", "context"),
    [
        ("iam:PutRolePolicy", f"{IAM}:role/mlops-prod-team-fraud-x", {"iam:PermissionsBoundary": BOUNDARY}),
        (
            "iam:PassRole",
            f"{IAM}:role/mlops-prod-team-fraud-x",
            {"iam:PassedToService": "pods.eks.amazonaws.com"},
        ),
        ("route53:ChangeResourceRecordSets", ZONE, {}),
        ("budgets:ModifyBudget", f"arn:aws:budgets::{ACCOUNT}:budget/mlops-prod-team-fraud", {}),
    ],
)
def test_the_boundary_gives_the_deploy_extras_to_deploy_roles_only(synth, action, resource, context):
    """A model's workload role carries the same boundary: what the boundary adds for deploy roles is conditioned on
    the principal's ARN, so a workload role whose own policy asked for it would still be refused."""
    boundary = statements(synth("prod"), "identity-permissions-boundary")
    for principal, expected in [
        (FRAUD_DEPLOY, "Allow"),
        (f"{IAM}:role/mlops-prod-team-fraud-models", "ImplicitDeny"),
    ]:
        full = {"aws:PrincipalArn": principal, "aws:RequestedRegion": "us-east-1", **context}
        assert decision(boundary, action, resource, full) == expected, principal


def test_the_deploy_policies_pass_parliament(synth):
    """One finding, allow-listed (tests/iam_allowlist.yaml): parliament knows elasticloadbalancing:CreateAction only
    for the classic load balancer's AddTags, while the Elastic Load Balancing User Guide ("ELB API permissions to
    tag resources during creation", https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/
    tagging-resources-during-creation.html) documents it for tagging a target group on CreateTargetGroup."""
    found = {
        (d.resource, f.issue, f.detail)
        for d in documents(synth("prod"))
        if d.resource.startswith("github-deploy-") and d.kind != "trust"
        for f in parliament_findings(d)
    }
    detail = "Unknown condition elasticloadbalancing:CreateAction for action elasticloadbalancing:AddTags"
    assert found == {
        (f"github-deploy-team-{team}-prod-policy", "UNKNOWN_CONDITION_FOR_ACTION", detail)
        for team in ("fraud", "recsys")
    }


def _characters(policy) -> int:
    text = policy if isinstance(policy, str) else json.dumps(policy)
    return len(re.sub(r"\s", "", text))


@pytest.mark.parametrize("stack", ["prod", "team-fraud-prod"])
def test_policies_fit_iam_character_quotas(synth, stack):
    """IAM User Guide, "IAM and AWS STS quotas" (https://docs.aws.amazon.com/IAM/latest/UserGuide/
    reference_iam-quotas.html): a managed policy is at most 6,144 characters and a role's inline policies together
    at most 10,240, white space not counted."""
    preview = synth(stack)
    managed = {s["urn"]: _characters(s["inputs"]["policy"]) for s in states(preview, "aws:iam/policy:Policy")}
    assert bool(managed) is (stack == "prod")  # team stacks create no managed policy
    assert max(managed.values(), default=0) <= 6144, managed
    inline: dict[str, int] = {}
    for state in states(preview, "aws:iam/rolePolicy:RolePolicy"):
        role = (state["propertyDependencies"].get("role") or [state["inputs"].get("role")])[0]
        inline[role] = inline.get(role, 0) + _characters(state["inputs"]["policy"])
    assert inline and max(inline.values()) <= 10240, inline


def test_team_deploy_roles_reach_the_clusters_through_their_group_only(synth):
    """Each team deploy role gets an access entry without an access policy, mapped to its Kubernetes group
    (Amazon EKS User Guide, "Grant IAM users access to Kubernetes with EKS access entries": Kubernetes groups of a
    STANDARD entry are authorized by RBAC); cluster-wide it may only read Namespaces and Kueue queues."""
    prod = synth("prod")
    for region in ("us-east-1", "us-west-2"):
        entry = by_name(prod, f"github-deploy-team-fraud-prod-{region}-access")
        assert entry["inputs"]["type"] == "STANDARD"
        # Tagged the platform's, so the team's own deploy role can neither delete nor re-tag its entry.
        assert (
            entry["inputs"]["tags"]["team"] == "platform"
            and entry["inputs"]["tags"]["mlops:deploys"] == "fraud"
        )
        assert entry["inputs"]["kubernetesGroups"] == ["mlops:deploy:fraud"]
        assert entry["inputs"]["clusterName"] == f"mlops-prod-{region}"
        assert entry["propertyDependencies"]["principalArn"] == [
            by_name(prod, "github-deploy-team-fraud-prod-role")["urn"]
        ]
        role = by_name(prod, f"github-team-deployers-{region}")
        assert role["inputs"]["rules"] == [
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]},
            {
                "apiGroups": ["kueue.x-k8s.io"],
                "resources": ["clusterqueues", "resourceflavors"],
                "verbs": ["get", "list", "watch"],
            },
        ]
        binding = by_name(prod, f"github-team-deployers-{region}-binding")
        assert [s["name"] for s in binding["inputs"]["subjects"]] == [
            "mlops:deploy:fraud",
            "mlops:deploy:recsys",
        ]
        assert binding["inputs"]["roleRef"]["name"] == "mlops:team-deployers"
    association_types = {s["type"] for s in states(prod) if "github-deploy" in s["urn"]}
    assert "aws:eks/accessPolicyAssociation:AccessPolicyAssociation" not in association_types


def test_a_team_stack_binds_its_deploy_group_in_its_namespace_only(synth):
    team = synth("team-fraud-prod")
    bindings = [
        s
        for s in states(team, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
        if s["urn"].endswith("-deployer")
    ]
    assert len(bindings) == 2  # one per cluster
    for binding in bindings:
        assert binding["inputs"]["metadata"]["namespace"] == "team-fraud"
        assert binding["inputs"]["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "cluster-admin",
        }
        assert binding["inputs"]["subjects"] == [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": deploy_group("fraud")}
        ]


def test_eks_authorizes_tags_on_creation_on_the_create_action(synth):
    """The Service Authorization Reference (parliament's copy of it) lists eks:TagResource as no dependent action of
    CreateAccessEntry or CreatePodIdentityAssociation, unlike ecr:TagResource for CreateRepository and
    elasticloadbalancing:AddTags for CreateTargetGroup: the team policy grants EKS tags on creation through
    aws:RequestTag on the create actions only, and no eks:TagResource but on resources already the team's."""
    import parliament

    def dependents(prefix: str, action: str) -> set[str]:
        return {
            dependent
            for service in parliament.iam_definition
            if service["prefix"] == prefix
            for privilege in service["privileges"]
            if privilege["privilege"] == action
            for resource in privilege["resource_types"]
            for dependent in resource.get("dependent_actions") or []
        }

    assert dependents("eks", "CreateAccessEntry") == set()
    assert dependents("eks", "CreatePodIdentityAssociation") == set()
    assert dependents("ecr", "CreateRepository") == {"ecr:TagResource"}
    assert dependents("elasticloadbalancing", "CreateTargetGroup") == {"elasticloadbalancing:AddTags"}
    tagging = [
        s
        for s in statements(synth("prod"), "github-deploy-team-fraud-prod-policy")
        if "eks:TagResource" in s["Action"]
    ]
    assert [s["Condition"] for s in tagging] == [{"StringEquals": {"aws:ResourceTag/team": "fraud"}}]
