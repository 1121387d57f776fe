"""What the access roles may do, as data: permission set names, the SSO role ARNs Identity Center provisions,
the AWS managed policies, the inline policies scoped to the platform, and the permissions boundary of the
roles platform admins create (pure functions, tested apart)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from components.blocks import Arns, document
from components.configbase import MANAGED_BY
from components.identity.config import AccessRole

# The access roles, as keyed in config (identity.roles) and used in permission set names.
ROLE_KEYS = ("platform-admin", "ml-engineer", "read-only")

EKS_ACCESS_POLICIES = {
    "platform-admin": "AmazonEKSClusterAdminPolicy",
    "ml-engineer": "AmazonEKSEditPolicy",
    "read-only": "AmazonEKSViewPolicy",
}

DESCRIPTIONS = {
    "platform-admin": "Operates the MLOps platform: infrastructure and cluster administration",
    "ml-engineer": "Trains, registers and serves models in the platform's buckets, repositories and namespaces",
    "read-only": "Views the platform's resources, dashboards and clusters without reading data",
}


def permission_set_name(environment: str, role: str) -> str:
    """The permission set's name; it is also the middle of the SSO role name, so keep it short (<= 32)."""
    name = f"mlops-{environment}-{role}"
    if len(name) > 32:
        raise ValueError(f"permission set name {name!r} is longer than 32 characters")
    return name


def sso_role_arn(partition: str, account_id: str, sso_region: str, permission_set: str, suffix: str) -> str:
    """The ARN of the role Identity Center provisions for ``permission_set`` (with its reserved path).

    EKS access entries need the full ARN including the reserved path: ``aws-reserved/sso.amazonaws.com/<region>/``,
    except when Identity Center's home region is us-east-1, whose roles have no region segment
    (IAM Identity Center User Guide, "Referencing permission sets in resource policies, Amazon EKS cluster
    configuration maps, and AWS KMS key policies").
    """
    region_segment = "" if sso_region == "us-east-1" else f"{sso_region}/"
    return Arns(partition, account_id, sso_region).role(
        f"AWSReservedSSO_{permission_set}_{suffix}", path=f"/aws-reserved/sso.amazonaws.com/{region_segment}"
    )


def role_principal_arn(
    role: AccessRole, *, partition: str, account_id: str, sso_region: str, permission_set: str
) -> str | None:
    """The principal ARN of an access role: configured whole, built from a configured suffix, or not yet known."""
    if role.role_arn:
        return role.role_arn
    if role.role_suffix:
        return sso_role_arn(partition, account_id, sso_region, permission_set, role.role_suffix)
    return None


def access_policy_arn(partition: str, policy: str) -> str:
    return Arns(partition, "aws", "").of("eks", f"cluster-access-policy/{policy}")


def managed_policy_arns(partition: str, role: str) -> list[str]:
    """AWS managed policies per role. No AdministratorAccess: admins get PowerUser, IAM reads and scoped IAM."""
    aws_managed = Arns(partition, "aws", "").managed_policy
    return {
        "platform-admin": [
            aws_managed("PowerUserAccess"),
            aws_managed("IAMReadOnlyAccess"),
        ],
        "ml-engineer": [],
        # ViewOnlyAccess lists and describes resources but reads no data (no s3:GetObject).
        "read-only": [aws_managed("job-function/ViewOnlyAccess")],
    }[role]


def boundary_name(prefix: str) -> str:
    """The managed policy every role a platform admin creates must carry as its permissions boundary."""
    return f"{prefix}-permissions-boundary"


def boundary_arn(partition: str, account_id: str, prefix: str) -> str:
    return Arns(partition, account_id, "").policy(boundary_name(prefix))


def delegated_path(prefix: str) -> str:
    """The IAM path of the roles, policies, instance profiles and server certificates platform admins manage
    (the platform's own IAM entities live outside it, out of the admins' reach)."""
    return f"/{prefix}-delegated/"


# What a role under the boundary may do in the platform's regions: the platform's data and compute services;
# never Identity Center, Organizations or the account itself, and of IAM only the few uses boundary_policy
# names. A boundary grants nothing on its own.
BOUNDARY_SERVICES = (
    "s3",
    "ecr",
    "logs",
    "cloudwatch",
    "aps",
    "sqs",
    "sns",
    "events",
    "sagemaker",
    "eks",
    "ec2",
    "elasticloadbalancing",
    "autoscaling",
    "rds",
    "secretsmanager",
    "ssm",
    "xray",
    "tag",
)

# IAM Identity Center and its directories: whoever writes there edits permission sets, assignments or group
# memberships, i.e. grants themselves any permission set (iam:* included) without the boundary. The verbs of
# every Write, Permissions management and Tagging action of these services (Service Authorization Reference,
# "Actions, resources, and condition keys for AWS IAM Identity Center", "... AWS Identity Store" and "... IAM
# Identity Center directory"); the reads (Describe, Get, Is, List, Search) stay allowed.
IDENTITY_CENTER_WRITE_VERBS = {
    "sso": (
        "Associate",
        "Attach",
        "Create",
        "Delete",
        "Detach",
        "Disassociate",
        "Import",
        "Provision",
        "Put",
        "Start",
        "Tag",
        "Untag",
        "Update",
    ),
    "identitystore": ("Create", "Delete", "Update"),
    "sso-directory": (
        "Add",
        "Complete",
        "Create",
        "Delete",
        "Disable",
        "Enable",
        "Import",
        "Remove",
        "Start",
        "Update",
        "Verify",
    ),
}
IDENTITY_CENTER_SERVICES = tuple(IDENTITY_CENTER_WRITE_VERBS)


@dataclass(frozen=True)
class BoundaryScope:
    """The platform's own resources its roles reach beyond ``BOUNDARY_SERVICES``, which the boundary names.

    ``clusters``: region -> EKS cluster name (nodes get Pod Identity credentials there; the load balancer
    controller and the control plane create the load balancing service-linked role). ``ec2_roles``: ARNs (or
    ARN patterns) of the node roles Karpenter passes to EC2. ``deploy_statements``: the GitHub deploy roles'.
    """

    clusters: Mapping[str, str] = field(default_factory=dict)
    ec2_roles: Sequence[str] = ()
    # What the GitHub deploy roles may do beyond the boundary's services, each statement conditioned on their
    # ARNs (components/identity/deploy_policies.py deploy_boundary_statements).
    deploy_statements: Sequence[Mapping[str, Any]] = ()


# What the SSM agent on every node calls (AWS managed policy AmazonSSMManagedInstanceCore, v2): message channels
# only, no resource-level permissions, so granted on "*" within the platform's regions.
NODE_AGENT_ACTIONS = (
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    "ec2messages:AcknowledgeMessage",
    "ec2messages:DeleteMessage",
    "ec2messages:FailMessage",
    "ec2messages:GetEndpoint",
    "ec2messages:GetMessages",
    "ec2messages:SendReply",
)
LOAD_BALANCING_SERVICE = "elasticloadbalancing.amazonaws.com"


def boundary_policy(
    *, partition: str, account_id: str, regions: Sequence[str], scope: BoundaryScope | None = None
) -> dict[str, Any]:
    """The permissions boundary: the most a role that carries it can do, whatever its own policies say.

    Every role the platform creates carries it, as do the roles platform admins create (admin_iam_statements).
    Beyond the platform's services in its regions it allows exactly what the platform's own roles need and
    nothing else of IAM: passing the node roles to EC2 (Karpenter), creating the load balancing service-linked
    role (the load balancer controller, the EKS control plane), Pod Identity credentials from the platform's
    clusters (nodes), the SSM agent's message channels (nodes), certificate reads (the load balancer
    controller), price list reads (Karpenter), and the platform's keys only through AWS services (a grant only
    for an AWS resource). Each of these is allowed to the admins' delegated roles too: a delegated role could
    launch instances with a node role or read certificates, which is the price of one boundary for all; none of
    them reaches IAM principals, policies or another boundary.
    """
    in_regions = {"StringEquals": {"aws:RequestedRegion": list(regions)}}
    scope = scope or BoundaryScope()
    keys = [Arns(partition, account_id, region).key("*") for region in regions]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "PlatformServicesInPlatformRegions",
            "Effect": "Allow",
            "Action": [f"{service}:*" for service in BOUNDARY_SERVICES],
            "Resource": "*",
            "Condition": in_regions,
        },
        {
            # kms:ViaService is set only on requests an AWS service makes for the caller (S3, EBS, ECR, ...).
            "Sid": "UseKeysThroughServices",
            "Effect": "Allow",
            "Action": [
                "kms:Decrypt",
                "kms:Encrypt",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:DescribeKey",
                "kms:RetireGrant",
            ],
            "Resource": keys,
            "Condition": {"Null": {"kms:ViaService": "false"}},
        },
        {
            # EBS (volumes of nodes and of the CSI driver) and ECR (replicated repositories) hold grants.
            "Sid": "GrantKeysOnlyToAwsResources",
            "Effect": "Allow",
            "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
            "Resource": keys,
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
        {
            "Sid": "NodeAgentChannelsInPlatformRegions",
            "Effect": "Allow",
            "Action": list(NODE_AGENT_ACTIONS),
            "Resource": "*",
            "Condition": in_regions,
        },
        {
            "Sid": "ListCertificatesInPlatformRegions",
            "Effect": "Allow",
            "Action": "acm:ListCertificates",
            "Resource": "*",
            "Condition": in_regions,
        },
        {
            "Sid": "DescribeCertificatesInPlatformRegions",
            "Effect": "Allow",
            "Action": "acm:DescribeCertificate",
            "Resource": [
                Arns(partition, account_id, region).of("acm", "certificate/*", region=region)
                for region in regions
            ],
        },
        {
            # The Price List API answers in a few regions only (us-east-1, eu-central-1, ap-south-1): no region
            # condition; public prices, read-only.
            "Sid": "ReadPriceList",
            "Effect": "Allow",
            "Action": "pricing:GetProducts",
            "Resource": "*",
        },
    ]
    if scope.clusters:
        statements += [
            {
                "Sid": "PodIdentityInPlatformClusters",
                "Effect": "Allow",
                "Action": "eks-auth:AssumeRoleForPodIdentity",
                "Resource": [
                    Arns(partition, account_id, region).cluster(name)
                    for region, name in scope.clusters.items()
                ],
            },
            {
                # IAM is global: its requests name us-east-1, not a platform region, so no region condition.
                "Sid": "CreateLoadBalancingServiceLinkedRole",
                "Effect": "Allow",
                "Action": "iam:CreateServiceLinkedRole",
                "Resource": Arns(partition, account_id, "").service_linked_role(
                    LOAD_BALANCING_SERVICE, "AWSServiceRoleForElasticLoadBalancing"
                ),
                "Condition": {"StringEquals": {"iam:AWSServiceName": LOAD_BALANCING_SERVICE}},
            },
        ]
    if scope.ec2_roles:
        statements.append(
            {
                "Sid": "PassNodeRolesToEc2",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": list(scope.ec2_roles),
                "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
            }
        )
    statements += [dict(statement) for statement in scope.deploy_statements]
    return document(*statements)


# What operating a role (not granting it anything) takes: the delegated admins' and the team deploy roles'.
ROLE_OPERATIONS = (
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:UpdateAssumeRolePolicy",
    "iam:DeleteRole",
    "iam:TagRole",
    "iam:UntagRole",
)


def admin_iam_statements(*, partition: str, account_id: str, prefix: str) -> list[dict[str, Any]]:
    """IAM for platform admins through a permissions boundary (IAM User Guide, "Permissions boundaries for
    IAM entities", delegating responsibility to others): roles, customer managed policies, instance profiles and
    server certificates only under the delegated path; roles created, granted or re-bounded only with the
    platform's boundary; boundaries never removed; the boundary policy never edited.

    PowerUserAccess (the admins' managed policy) allows every action but iam:*, organizations:* and account:*,
    so the ways around the boundary through other services are closed here too: Identity Center writes (an
    admin could otherwise edit their own permission set) and assuming any role but a delegated one (roles that
    trust the account, such as the deployer, would otherwise hand out their permissions). Service-linked roles
    stay creatable through PowerUserAccess's own iam:CreateServiceLinkedRole: only their service can assume them.
    """
    iam = Arns(partition, account_id, "")
    path = delegated_path(prefix)
    delegated_roles = iam.role("*", path=path)
    boundary = boundary_arn(partition, account_id, prefix)
    with_boundary = {"ArnEquals": {"iam:PermissionsBoundary": boundary}}
    return [
        {
            # iam:PermissionsBoundary: the boundary the role has, is created with or is given; absent without one.
            "Sid": "CreateAndGrantRolesOnlyWithinBoundary",
            "Effect": "Allow",
            "Action": [
                "iam:CreateRole",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:AttachRolePolicy",
                "iam:DetachRolePolicy",
                "iam:PutRolePermissionsBoundary",
            ],
            "Resource": delegated_roles,
            "Condition": with_boundary,
        },
        {
            "Sid": "OperateDelegatedRoles",
            "Effect": "Allow",
            "Action": [
                *ROLE_OPERATIONS,
                "iam:PassRole",
            ],
            "Resource": delegated_roles,
        },
        {
            # Only policies of the delegated path: a new version of any other policy would change roles that
            # carry no boundary (the platform's own roles, the deployer).
            "Sid": "ManageDelegatedPolicies",
            "Effect": "Allow",
            "Action": [
                "iam:CreatePolicy",
                "iam:CreatePolicyVersion",
                "iam:DeletePolicy",
                "iam:DeletePolicyVersion",
                "iam:SetDefaultPolicyVersion",
                "iam:TagPolicy",
                "iam:UntagPolicy",
            ],
            "Resource": iam.policy("*", path=path),
        },
        {
            "Sid": "ManageDelegatedProfilesAndCertificates",
            "Effect": "Allow",
            "Action": [
                "iam:CreateInstanceProfile",
                "iam:DeleteInstanceProfile",
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:TagInstanceProfile",
                "iam:UntagInstanceProfile",
                "iam:UploadServerCertificate",
                "iam:DeleteServerCertificate",
            ],
            "Resource": [
                iam.of("iam", f"instance-profile{path}*"),
                iam.of("iam", f"server-certificate{path}*"),
            ],
        },
        {
            "Sid": "NeverRemoveBoundaries",
            "Effect": "Deny",
            "Action": ["iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary"],
            "Resource": "*",
        },
        {
            "Sid": "NeverSetAnotherBoundary",
            "Effect": "Deny",
            "Action": ["iam:PutRolePermissionsBoundary", "iam:PutUserPermissionsBoundary"],
            "Resource": "*",
            "Condition": {"ArnNotEquals": {"iam:PermissionsBoundary": boundary}},
        },
        {
            "Sid": "NeverEditTheBoundaryPolicy",
            "Effect": "Deny",
            "Action": [
                "iam:CreatePolicyVersion",
                "iam:DeletePolicy",
                "iam:DeletePolicyVersion",
                "iam:SetDefaultPolicyVersion",
                "iam:TagPolicy",
                "iam:UntagPolicy",
            ],
            "Resource": boundary,
        },
        {
            # Identity Center owns the SSO roles; editing them would bypass the permission sets.
            "Sid": "ProtectSsoRoles",
            "Effect": "Deny",
            "Action": ["iam:*"],
            "Resource": [iam.role("*", path="/aws-reserved/sso.amazonaws.com/")],
        },
        {
            "Sid": "NeverChangeIdentityCenter",
            "Effect": "Deny",
            "Action": [
                f"{service}:{verb}*"
                for service, verbs in IDENTITY_CENTER_WRITE_VERBS.items()
                for verb in verbs
            ],
            "Resource": "*",
        },
        {
            # Deploying the platform is the deployer role's job (cluster.admin-role-arns), not an SSO session's.
            "Sid": "AssumeOnlyDelegatedRoles",
            "Effect": "Deny",
            "Action": "sts:AssumeRole",
            "NotResource": delegated_roles,
        },
    ]


def _regional(partition: str, account_id: str, regions: Sequence[str]) -> list[Arns]:
    return [Arns(partition, account_id, region) for region in regions]


def _cluster_statement(
    sid: str, partition: str, account_id: str, regions: Sequence[str], prefix: str
) -> dict:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["eks:DescribeCluster", "eks:AccessKubernetesApi"],
        "Resource": [arns.cluster(f"{prefix}-*") for arns in _regional(partition, account_id, regions)],
    }


def admin_policy(*, partition: str, account_id: str, regions: Sequence[str], prefix: str) -> dict[str, Any]:
    """Platform admins: IAM through the permissions boundary only (PowerUserAccess excludes IAM), the clusters."""
    return document(
        *admin_iam_statements(partition=partition, account_id=account_id, prefix=prefix),
        _cluster_statement("ClusterAccess", partition, account_id, regions, prefix),
    )


def ml_engineer_policy(
    *, partition: str, account_id: str, regions: Sequence[str], prefix: str
) -> dict[str, Any]:
    """ML engineers: the platform's artifacts and model images, their keys through S3 and ECR, the clusters
    and the model logs."""
    regional = _regional(partition, account_id, regions)
    platform_buckets = Arns(partition, account_id, "")
    return document(
        {
            "Sid": "ListPlatformBuckets",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": [platform_buckets.bucket(f"{prefix}-*")],
        },
        {
            "Sid": "ReadWriteModelArtifacts",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": [platform_buckets.objects(f"{prefix}-*")],
        },
        {
            # GetAuthorizationToken has no resource-level permissions: it is a registry login only.
            "Sid": "RegistryLogin",
            "Effect": "Allow",
            "Action": ["ecr:GetAuthorizationToken"],
            "Resource": ["*"],
        },
        {
            "Sid": "PushPullModelImages",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:InitiateLayerUpload",
                "ecr:UploadLayerPart",
                "ecr:CompleteLayerUpload",
                "ecr:PutImage",
                "ecr:DescribeImages",
                "ecr:DescribeImageScanFindings",
                "ecr:ListImages",
            ],
            # Model repositories are named models/<team>/<model> (components/team.py), in every region they
            # replicate to.
            "Resource": [arns.repository("models/*") for arns in regional],
        },
        _cluster_statement("ClusterAccess", partition, account_id, regions, prefix),
        {
            # Artifacts and images are encrypted with the platform's keys: use them only through
            # S3 and ECR, and only keys this platform manages.
            "Sid": "UsePlatformKeysViaStorage",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            "Resource": [arns.key("*") for arns in regional],
            "Condition": {
                "StringEquals": {
                    "aws:ResourceTag/managed-by": MANAGED_BY,
                    "kms:ViaService": [
                        f"{service}.{region}.amazonaws.com" for region in regions for service in ("s3", "ecr")
                    ],
                },
            },
        },
        {
            "Sid": "ReadModelLogs",
            "Effect": "Allow",
            "Action": [
                "logs:GetLogEvents",
                "logs:FilterLogEvents",
                "logs:StartQuery",
                "logs:GetQueryResults",
            ],
            "Resource": [arns.log_group(f"/aws/containerinsights/{prefix}-*") for arns in regional],
        },
    )


def read_only_policy(
    *, partition: str, account_id: str, regions: Sequence[str], prefix: str
) -> dict[str, Any]:
    """Read-only: the clusters' view (ViewOnlyAccess, the managed policy, covers the rest)."""
    return document(_cluster_statement("ClusterView", partition, account_id, regions, prefix))


INLINE_POLICIES = {
    "platform-admin": admin_policy,
    "ml-engineer": ml_engineer_policy,
    "read-only": read_only_policy,
}


def inline_policy(
    role: str, *, partition: str, account_id: str, regions: Sequence[str], prefix: str
) -> dict[str, Any]:
    """The inline policy of a permission set, scoped to this account and the platform's name prefix."""
    if role not in INLINE_POLICIES:
        raise ValueError(f"unknown role {role!r}; allowed: {', '.join(ROLE_KEYS)}")
    return INLINE_POLICIES[role](partition=partition, account_id=account_id, regions=regions, prefix=prefix)
