"""What the GitHub deploy roles may do, as data (pure functions, tested apart and through parliament).

A platform stack's deploy role does one thing: assume the platform's deployer (``deployer.role-arn``), the role
`pulumi up` of a platform stack has always needed. A platform stack creates the permissions boundary, the keys,
the trail and every role without a narrower owner, so its deployer is administrator-equivalent by nature; the
GitHub role is only the approved way in (the environment's required reviewers), and the deployer's trust must name
it (README, "Promoting a model").

A team stack's deploy role gets exactly what a team stack manages, scoped to the team (IAM User Guide, "Permissions
boundaries for IAM entities": a delegated administrator creates roles only with the boundary):

- its existing roles (``<prefix>-team-<team>-models``, ``-workflow``: exact names), granted and re-bounded only
  with the platform's boundary, given only the platform's data policies as managed policies, passed only to EKS
  Pod Identity, never re-tagged ``team``;
- its image repositories (``models/<team>/*``), alert topic, alarms, dashboard and budget, by name;
- its target groups, created only tagged ``team: <team>`` (tags only as part of the creation) and changed only
  while tagged so; its Pod Identity associations and access entries changed (tags), or deleted, only while tagged
  so;
- dropping its S3 Access Grants, DNS records named ``*-<team>.<zone>`` (and the regional names), and Route 53
  health checks (which IAM cannot scope: no resource-level permission on CreateHealthCheck);
- the reads `pulumi refresh` and `pulumi up` make of those.

What IAM cannot bound stays the deployer's (mlops/deploy_plan.py routes such a change there): creating a role or
changing its trust (a trust the role wrote could admit a principal that tags its own session into another team's
data), creating or updating an access entry or a Pod Identity association (an update's Kubernetes groups and user
name have no condition key; a new one comes with a new owners role, region or role), and creating an access grant
(no condition key on its grantee, permission or sub-prefix).

Whatever a statement grants outside the boundary's services (IAM, Route 53, Budgets, the deployer) the boundary
allows only to the deploy roles (``deploy_boundary_statements``), so no other role under the boundary gains it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.blocks import Arns, document
from components.identity.policies import ROLE_OPERATIONS, boundary_arn

# Kubernetes RBAC groups of team deploy roles' access entries: ``mlops:deploy:<team>``; a team stack binds it
# in its namespace (components/serving/team.py). EKS refuses group names starting with ``system:``.
DEPLOY_GROUP_PREFIX = "mlops:deploy:"
POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"
# What `pulumi refresh` and `pulumi up` call on a team stack's resources that IAM cannot scope to resources (no
# resource-level permission): reads, and the two subscription writes of its alert topics (SNS authorizes
# Unsubscribe and SetSubscriptionAttributes on no resource); the calls that can be scoped sit with their resources'
# statements below. No data: no s3:GetObject, no secretsmanager:GetSecretValue.
UNSCOPED_ACTIONS = (
    "ec2:DescribeVpcs",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeRules",
    "sns:GetSubscriptionAttributes",
    "sns:SetSubscriptionAttributes",
    "sns:Unsubscribe",
)
CLUSTER_READS = (
    "eks:DescribeCluster",
    "eks:ListAccessEntries",
    "eks:ListPodIdentityAssociations",
    "eks:ListTagsForResource",
)
CLUSTER_CHILD_READS = (
    "eks:DescribeAccessEntry",
    "eks:ListAssociatedAccessPolicies",
    "eks:DescribePodIdentityAssociation",
)
REPOSITORY_ACTIONS = (
    "ecr:CreateRepository",
    "ecr:DeleteRepository",
    "ecr:DescribeRepositories",
    "ecr:PutImageScanningConfiguration",
    "ecr:PutImageTagMutability",
    "ecr:PutLifecyclePolicy",
    "ecr:GetLifecyclePolicy",
    "ecr:DeleteLifecyclePolicy",
    "ecr:SetRepositoryPolicy",
    "ecr:GetRepositoryPolicy",
    "ecr:DeleteRepositoryPolicy",
    "ecr:TagResource",
    "ecr:UntagResource",
    "ecr:ListTagsForResource",
)
TOPIC_ACTIONS = (
    "sns:CreateTopic",
    "sns:DeleteTopic",
    "sns:GetTopicAttributes",
    "sns:SetTopicAttributes",
    "sns:Subscribe",
    "sns:ListSubscriptionsByTopic",
    "sns:TagResource",
    "sns:UntagResource",
    "sns:ListTagsForResource",
)
ALARM_ACTIONS = (
    "cloudwatch:PutMetricAlarm",
    "cloudwatch:DeleteAlarms",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:TagResource",
    "cloudwatch:UntagResource",
    "cloudwatch:ListTagsForResource",
)
GRANT_READS = (
    "s3:GetAccessGrant",
    "s3:GetAccessGrantsInstance",
    "s3:GetAccessGrantsLocation",
    "s3:ListAccessGrants",
    "s3:ListAccessGrantsLocations",
    "s3:ListTagsForResource",
)
# Route 53 (Service Authorization Reference, "Actions, resources, and condition keys for Amazon Route 53"): the
# actions on hosted zones, health checks and changes, and the two that take no resource.
ROUTE53_SCOPED = (
    "route53:GetHostedZone",
    "route53:ListResourceRecordSets",
    "route53:GetHealthCheck",
    "route53:UpdateHealthCheck",
    "route53:DeleteHealthCheck",
    "route53:ChangeTagsForResource",
    "route53:ListTagsForResource",
    "route53:GetChange",
)
ROUTE53_RESOURCES = ("hostedzone/*", "healthcheck/*", "change/*")
ROUTE53_UNSCOPED = ("route53:CreateHealthCheck", "route53:ListHostedZones")
# Operating an existing team role: ROLE_OPERATIONS but its trust policy.
TEAM_ROLE_OPERATIONS = tuple(a for a in ROLE_OPERATIONS if a != "iam:UpdateAssumeRolePolicy")
# The team stack's roles: the models' (components/serving/team.py) and the workflows' (components/pipelines/team.py).
TEAM_ROLES = ("models", "workflow")
EKS_CHILDREN = ("podidentityassociation", "access-entry")
GRANT_PATHS = ("", "/location/*", "/grant/*")  # an Access Grants instance, its locations and grants
ROLE_READS = (
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListRolePolicies",
    "iam:ListAttachedRolePolicies",
    "iam:ListInstanceProfilesForRole",
)
ROLE_GRANTS = (
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:PutRolePermissionsBoundary",
)
BUDGET_ACTIONS = (
    "budgets:ModifyBudget",
    "budgets:ViewBudget",
    "budgets:TagResource",
    "budgets:UntagResource",
    "budgets:ListTagsForResource",
)


def deploy_role_name(prefix: str, environment: str) -> str:
    """``<prefix>-deploy-<GitHub environment>`` (at most 10 + 8 + 40 = 58 of IAM's 64 characters)."""
    return f"{prefix}-deploy-{environment}"


def deploy_group(team: str) -> str:
    """The Kubernetes group of a team's deploy role (its access entry's ``kubernetesGroups``)."""
    return f"{DEPLOY_GROUP_PREFIX}{team}"


def team_prefix(prefix: str, team: str) -> str:
    """What a team stack's named resources start with: roles, topics, alarms, dashboard, budget."""
    return f"{prefix}-team-{team}"


def platform_deploy_policy(deployer_arn: str) -> dict[str, Any]:
    """A platform environment's deploy role: assume the deployer, tagging the session (the GitHub action tags
    it with the repository, workflow and commit)."""
    return document(
        {
            "Sid": "AssumeTheDeployer",
            "Effect": "Allow",
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Resource": deployer_arn,
        }
    )


def team_deploy_policy(
    *,
    partition: str,
    account_id: str,
    prefix: str,
    team: str,
    regions: Sequence[str],
    zone: str | None,
    data_policy_arns: Sequence[str] = (),
) -> dict[str, Any]:
    """A team environment's deploy role (see the module docstring). ``regions``: the platform's; ``zone``: its
    DNS zone (None: the team has no DNS records to manage); ``data_policy_arns``: its data policies."""
    iam = Arns(partition, account_id, "")
    # Any region: the boundary keeps every service but IAM, Route 53 and Budgets to the platform's regions, and
    # one ARN per resource keeps the policy within IAM's 10,240 characters for a role's inline policies.
    anywhere = Arns(partition, account_id, "*")
    clusters_arn = anywhere.cluster(f"{prefix}-*")
    children = [anywhere.of("eks", f"{kind}/{prefix}-*/*", region="*") for kind in EKS_CHILDREN]
    own = team_prefix(prefix, team)
    roles = [iam.role(f"{own}-{role}") for role in TEAM_ROLES]
    boundary = boundary_arn(partition, account_id, prefix)
    tagged_request = {"StringEquals": {"aws:RequestTag/team": team}}
    tagged_resource = {"StringEquals": {"aws:ResourceTag/team": team}}
    in_regions = {"StringEquals": {"aws:RequestedRegion": list(regions)}}
    statements: list[dict[str, Any]] = [
        {
            "Sid": "WhatIamCannotScope",
            "Effect": "Allow",
            "Action": list(UNSCOPED_ACTIONS),
            "Resource": "*",
            "Condition": in_regions,
        },
        {
            "Sid": "ReadTheClusters",
            "Effect": "Allow",
            "Action": list(CLUSTER_READS),
            "Resource": clusters_arn,
        },
        {
            "Sid": "ReadAccessEntriesAndPodIdentity",
            "Effect": "Allow",
            "Action": list(CLUSTER_CHILD_READS),
            "Resource": children,
        },
        {
            "Sid": "ReadDataGrants",
            "Effect": "Allow",
            "Action": list(GRANT_READS),
            "Resource": [
                anywhere.of("s3", f"access-grants/default{suffix}", region="*") for suffix in GRANT_PATHS
            ],
        },
        *route53_statements(partition, "Dns"),
        {
            # iam:PermissionsBoundary: the boundary the role has, is created with or is given.
            "Sid": "GrantTheTeamsRolesOnlyWithinBoundary",
            "Effect": "Allow",
            "Action": list(ROLE_GRANTS),
            "Resource": roles,
            "Condition": {"ArnEquals": {"iam:PermissionsBoundary": boundary}},
        },
        {
            # Not iam:CreateRole nor iam:UpdateAssumeRolePolicy: a trust policy the role wrote could admit a principal
            # that tags its own session (team, kubernetes-namespace) and so reaches another team's data through the
            # platform's data policies; IAM has no condition key on a trust policy's content. Creating a team's
            # roles and changing their trust stays the deployer's.
            "Sid": "ReadAndOperateTheTeamsRoles",
            "Effect": "Allow",
            "Action": [*ROLE_READS, *TEAM_ROLE_OPERATIONS],
            "Resource": roles,
        },
        {
            "Sid": "NeverRetagTheTeamsRoles",
            "Effect": "Deny",
            "Action": ["iam:TagRole", "iam:UntagRole"],
            "Resource": roles,
            "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}},
        },
        {
            "Sid": "PassTheTeamsRolesToPodIdentity",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": roles,
            "Condition": {"StringEquals": {"iam:PassedToService": POD_IDENTITY_SERVICE}},
        },
        {
            "Sid": "NeverRemoveBoundaries",
            "Effect": "Deny",
            "Action": "iam:DeleteRolePermissionsBoundary",
            "Resource": "*",
        },
        {
            "Sid": "TheTeamsRepositories",
            "Effect": "Allow",
            "Action": list(REPOSITORY_ACTIONS),
            "Resource": anywhere.repository(f"models/{team}/*"),
        },
        {
            # A repository with a customer managed key: ECR describes the key and creates its grants on the
            # caller's behalf (Amazon ECR User Guide, "Encryption at rest": DescribeKey, then two CreateGrant).
            "Sid": "RepositoryKeysThroughEcr",
            "Effect": "Allow",
            "Action": ["kms:DescribeKey", "kms:RetireGrant"],
            "Resource": anywhere.key("*"),
            "Condition": {"StringLike": {"kms:ViaService": "ecr.*.amazonaws.com"}},
        },
        {
            "Sid": "RepositoryKeyGrantsThroughEcr",
            "Effect": "Allow",
            "Action": "kms:CreateGrant",
            "Resource": anywhere.key("*"),
            "Condition": {
                "StringLike": {"kms:ViaService": "ecr.*.amazonaws.com"},
                "Bool": {"kms:GrantIsForAWSResource": "true"},
            },
        },
        {
            "Sid": "TheTeamsTopics",
            "Effect": "Allow",
            "Action": list(TOPIC_ACTIONS),
            "Resource": [anywhere.sns_topic(f"{own}-alerts"), f"{anywhere.sns_topic(f'{own}-alerts')}:*"],
        },
        {
            "Sid": "TheTeamsAlarms",
            "Effect": "Allow",
            "Action": list(ALARM_ACTIONS),
            "Resource": [
                anywhere.of("cloudwatch", f"alarm:{name}", region="*")
                for name in [f"{own}.*", *([f"*-{team}.{zone}-*"] if zone else [])]
            ],
        },
        {
            "Sid": "TheTeamsDashboard",
            "Effect": "Allow",
            "Action": ["cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards", "cloudwatch:GetDashboard"],
            "Resource": iam.of("cloudwatch", f"dashboard/{own}-models"),
        },
        {
            "Sid": "TheTeamsBudget",
            "Effect": "Allow",
            "Action": list(BUDGET_ACTIONS),
            "Resource": iam.of("budgets", f"budget/{own}"),
        },
        {
            "Sid": "CreateTargetGroupsTaggedForTheTeam",
            "Effect": "Allow",
            "Action": "elasticloadbalancing:CreateTargetGroup",
            "Resource": anywhere.of("elasticloadbalancing", "targetgroup/*", region="*"),
            "Condition": tagged_request,
        },
        {
            # Elastic Load Balancing User Guide, "Grant permission to tag resources on creation": AddTags only as
            # part of CreateTargetGroup (elasticloadbalancing:CreateAction), so no existing target group is
            # re-tagged into the team's reach.
            "Sid": "TagTargetGroupsOnCreate",
            "Effect": "Allow",
            "Action": "elasticloadbalancing:AddTags",
            "Resource": anywhere.of("elasticloadbalancing", "targetgroup/*", region="*"),
            "Condition": {
                "StringEquals": {
                    "aws:RequestTag/team": team,
                    "elasticloadbalancing:CreateAction": "CreateTargetGroup",
                }
            },
        },
        {
            "Sid": "ChangeTheTeamsTargetGroups",
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:ModifyTargetGroupAttributes",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:RemoveTags",
            ],
            "Resource": anywhere.of("elasticloadbalancing", "targetgroup/*", region="*"),
            "Condition": tagged_resource,
        },
        {
            "Sid": "ChangeTheTeamsPodIdentityAndAccessEntries",
            "Effect": "Allow",
            # Not eks:UpdateAccessEntry: it changes an entry's Kubernetes groups and user name, and IAM offers no
            # condition key on them for an update (only on CreateAccessEntry).
            "Action": [
                "eks:UpdatePodIdentityAssociation",
                "eks:DeletePodIdentityAssociation",
                "eks:DeleteAccessEntry",
                "eks:TagResource",
                "eks:UntagResource",
            ],
            "Resource": children,
            "Condition": tagged_resource,
        },
        {
            # Not s3:CreateAccessGrant: IAM has no condition key on a grant's grantee, permission or sub-prefix, so
            # a new grant (a wider data access) stays the deployer's; the team role may only drop its own grants.
            "Sid": "DropTheTeamsDataGrants",
            "Effect": "Allow",
            "Action": ["s3:DeleteAccessGrant", "s3:TagResource", "s3:UntagResource"],
            "Resource": anywhere.of("s3", "access-grants/default/grant/*", region="*"),
            "Condition": tagged_resource,
        },
    ]
    if data_policy_arns:
        statements.insert(
            7,
            {
                "Sid": "AttachOnlyDataPoliciesWithinBoundary",
                "Effect": "Allow",
                "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
                "Resource": roles,
                "Condition": {
                    "ArnEquals": {
                        "iam:PermissionsBoundary": boundary,
                        "iam:PolicyARN": list(data_policy_arns),
                    }
                },
            },
        )
    if zone:
        statements.append(
            {
                "Sid": "TheTeamsRecords",
                "Effect": "Allow",
                "Action": "route53:ChangeResourceRecordSets",
                "Resource": Arns(partition, "", "").of("route53", "hostedzone/*"),
                "Condition": {
                    "ForAllValues:StringLike": {
                        "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
                            f"*-{team}.{zone}",
                            f"*-{team}.*.{zone}",
                        ]
                    }
                },
            }
        )
    return document(*statements)


def route53_statements(
    partition: str, sid: str, *, record_changes: bool = False, condition: dict | None = None
) -> list[dict[str, Any]]:
    """Route 53 health checks and reads (with ``record_changes``, record changes in any zone too: the boundary's
    ceiling; a team's own policy adds its record names' condition)."""
    actions = [*ROUTE53_SCOPED, *(["route53:ChangeResourceRecordSets"] if record_changes else [])]
    statements: list[dict[str, Any]] = [
        {
            "Sid": f"{sid}Route53",
            "Effect": "Allow",
            "Action": actions,
            "Resource": [Arns(partition, "", "").of("route53", resource) for resource in ROUTE53_RESOURCES],
        },
        {
            "Sid": f"{sid}Route53Unscoped",
            "Effect": "Allow",
            "Action": list(ROUTE53_UNSCOPED),
            "Resource": "*",
        },
    ]
    if condition:
        for statement in statements:
            statement["Condition"] = condition
    return statements


def deploy_boundary_statements(
    *, partition: str, account_id: str, prefix: str, deployer_arn: str | None, platform_roles: Sequence[str]
) -> list[dict[str, Any]]:
    """What the permissions boundary allows the deploy roles (``<prefix>-deploy-*``) beyond the platform's
    services: the team roles' IAM (only with the boundary), Route 53, Budgets and, for ``platform_roles`` (ARNs),
    assuming the deployer. Each statement names the deploy roles as ``aws:PrincipalArn``, so the other roles
    under the boundary gain nothing; what a deploy role may really do is its own policy's (team_deploy_policy)."""
    iam = Arns(partition, account_id, "")
    deploy_roles = {"ArnLike": {"aws:PrincipalArn": iam.role(deploy_role_name(prefix, "*"))}}
    team_roles = iam.role(f"{prefix}-team-*")
    boundary = boundary_arn(partition, account_id, prefix)
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DeployRolesGrantTeamRolesOnlyWithinBoundary",
            "Effect": "Allow",
            "Action": [*ROLE_GRANTS, "iam:AttachRolePolicy", "iam:DetachRolePolicy"],
            "Resource": team_roles,
            "Condition": {
                "ArnLike": deploy_roles["ArnLike"],
                "ArnEquals": {"iam:PermissionsBoundary": boundary},
            },
        },
        {
            "Sid": "DeployRolesReadAndOperateTeamRoles",
            "Effect": "Allow",
            "Action": [*ROLE_READS, *TEAM_ROLE_OPERATIONS],
            "Resource": team_roles,
            "Condition": deploy_roles,
        },
        {
            "Sid": "DeployRolesPassTeamRolesToPodIdentity",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": team_roles,
            "Condition": {
                "ArnLike": deploy_roles["ArnLike"],
                "StringEquals": {"iam:PassedToService": POD_IDENTITY_SERVICE},
            },
        },
        *route53_statements(partition, "DeployRoles", record_changes=True, condition=deploy_roles),
        {
            "Sid": "DeployRolesTeamBudgets",
            "Effect": "Allow",
            "Action": list(BUDGET_ACTIONS),
            "Resource": iam.of("budgets", f"budget/{prefix}-team-*"),
            "Condition": deploy_roles,
        },
    ]
    if deployer_arn and platform_roles:
        statements.append(
            {
                "Sid": "PlatformDeployRolesAssumeTheDeployer",
                "Effect": "Allow",
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Resource": deployer_arn,
                "Condition": {"ArnEquals": {"aws:PrincipalArn": list(platform_roles)}},
            }
        )
    return statements
