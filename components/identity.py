"""Single sign-on: IAM Identity Center permission sets, their access to the clusters, and OIDC for web UIs.

People never get IAM users. Three Identity Center permission sets (platform admin, ML engineer, read-only) are
assigned to the directory groups named in config; Identity Center provisions one role per permission set in
the account (``AWSReservedSSO_<name>_<suffix>``), and EKS access entries map those roles into every cluster
with a cluster-, namespace- or view-scoped access policy. Web UIs (MLflow) sign users in through the load
balancer's ``authenticate-oidc`` action, configured on their Ingress by ``oidc_ingress_annotations``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.base import child_opts
from components.config import (
    CONFIG_NAMESPACE,
    OIDC_SECRET_KEY,
    AccessRole,
    ConfigError,
    IdentityConfig,
    OidcConfig,
)
from components.configbase import MANAGED_BY

# The access roles, as keyed in config (identity.roles) and used in permission set names.
ROLE_KEYS = ("platform-admin", "ml-engineer", "read-only")

EKS_ACCESS_POLICIES = {
    "platform-admin": "AmazonEKSClusterAdminPolicy",
    "ml-engineer": "AmazonEKSEditPolicy",
    "read-only": "AmazonEKSViewPolicy",
}

_DESCRIPTIONS = {
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
    return (
        f"arn:{partition}:iam::{account_id}:role/aws-reserved/sso.amazonaws.com/{region_segment}"
        f"AWSReservedSSO_{permission_set}_{suffix}"
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
    return f"arn:{partition}:eks::aws:cluster-access-policy/{policy}"


def managed_policy_arns(partition: str, role: str) -> list[str]:
    """AWS managed policies per role. No AdministratorAccess: admins get PowerUser, IAM reads and scoped IAM."""
    return {
        "platform-admin": [
            f"arn:{partition}:iam::aws:policy/PowerUserAccess",
            f"arn:{partition}:iam::aws:policy/IAMReadOnlyAccess",
        ],
        "ml-engineer": [],
        # ViewOnlyAccess lists and describes resources but reads no data (no s3:GetObject).
        "read-only": [f"arn:{partition}:iam::aws:policy/job-function/ViewOnlyAccess"],
    }[role]


def boundary_name(prefix: str) -> str:
    """The managed policy every role a platform admin creates must carry as its permissions boundary."""
    return f"{prefix}-permissions-boundary"


def boundary_arn(partition: str, account_id: str, prefix: str) -> str:
    return f"arn:{partition}:iam::{account_id}:policy/{boundary_name(prefix)}"


def delegated_path(prefix: str) -> str:
    """The IAM path of the roles, policies, instance profiles and server certificates platform admins manage
    (the platform's own IAM entities live outside it, out of the admins' reach)."""
    return f"/{prefix}-delegated/"


# What a role created under the boundary may ever do: the platform's data and compute services, never IAM,
# Identity Center, Organizations or the account itself. A boundary grants nothing on its own.
BOUNDARY_SERVICES = (
    "s3", "ecr", "logs", "cloudwatch", "aps", "sqs", "sns", "events", "sagemaker", "eks", "ec2", "elasticloadbalancing",
    "autoscaling", "rds", "secretsmanager", "ssm", "xray", "tag",
)

# IAM Identity Center and its directories: whoever writes there edits permission sets, assignments or group
# memberships, i.e. grants themselves any permission set (iam:* included) without the boundary. The verbs of
# every Write, Permissions management and Tagging action of these services (Service Authorization Reference,
# "Actions, resources, and condition keys for AWS IAM Identity Center", "... AWS Identity Store" and "... IAM
# Identity Center directory"); the reads (Describe, Get, Is, List, Search) stay allowed.
IDENTITY_CENTER_WRITE_VERBS = {
    "sso": (
        "Associate", "Attach", "Create", "Delete", "Detach", "Disassociate", "Import", "Provision", "Put", "Start",
        "Tag", "Untag", "Update",
    ),
    "identitystore": ("Create", "Delete", "Update"),
    "sso-directory": (
        "Add", "Complete", "Create", "Delete", "Disable", "Enable", "Import", "Remove", "Start", "Update", "Verify",
    ),
}
IDENTITY_CENTER_SERVICES = tuple(IDENTITY_CENTER_WRITE_VERBS)


def boundary_policy(*, partition: str, account_id: str, regions: Sequence[str]) -> dict[str, Any]:
    """The permissions boundary: the most a delegated role can do, whatever its own policies say."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PlatformServicesInPlatformRegions",
                "Effect": "Allow",
                "Action": [f"{service}:*" for service in BOUNDARY_SERVICES],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": list(regions)}},
            },
            {
                "Sid": "UseKeysThroughServices",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": [f"arn:{partition}:kms:{region}:{account_id}:key/*" for region in regions],
                "Condition": {"Null": {"kms:ViaService": "false"}},
            },
        ],
    }


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
    iam = f"arn:{partition}:iam::{account_id}"
    path = delegated_path(prefix)
    delegated_roles = f"{iam}:role{path}*"
    boundary = boundary_arn(partition, account_id, prefix)
    with_boundary = {"ArnEquals": {"iam:PermissionsBoundary": boundary}}
    return [
        {
            # iam:PermissionsBoundary: the boundary the role has, is created with or is given; absent without one.
            "Sid": "CreateAndGrantRolesOnlyWithinBoundary",
            "Effect": "Allow",
            "Action": [
                "iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:AttachRolePolicy",
                "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary",
            ],
            "Resource": delegated_roles,
            "Condition": with_boundary,
        },
        {
            "Sid": "OperateDelegatedRoles",
            "Effect": "Allow",
            "Action": [
                "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy", "iam:DeleteRole",
                "iam:TagRole", "iam:UntagRole", "iam:PassRole",
            ],
            "Resource": delegated_roles,
        },
        {
            # Only policies of the delegated path: a new version of any other policy would change roles that
            # carry no boundary (the platform's own roles, the deployer).
            "Sid": "ManageDelegatedPolicies",
            "Effect": "Allow",
            "Action": [
                "iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
                "iam:SetDefaultPolicyVersion", "iam:TagPolicy", "iam:UntagPolicy",
            ],
            "Resource": f"{iam}:policy{path}*",
        },
        {
            "Sid": "ManageDelegatedProfilesAndCertificates",
            "Effect": "Allow",
            "Action": [
                "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile", "iam:TagInstanceProfile", "iam:UntagInstanceProfile",
                "iam:UploadServerCertificate", "iam:DeleteServerCertificate",
            ],
            "Resource": [f"{iam}:instance-profile{path}*", f"{iam}:server-certificate{path}*"],
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
                "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
                "iam:SetDefaultPolicyVersion", "iam:TagPolicy", "iam:UntagPolicy",
            ],
            "Resource": boundary,
        },
        {
            # Identity Center owns the SSO roles; editing them would bypass the permission sets.
            "Sid": "ProtectSsoRoles",
            "Effect": "Deny",
            "Action": ["iam:*"],
            "Resource": [f"{iam}:role/aws-reserved/sso.amazonaws.com/*"],
        },
        {
            "Sid": "NeverChangeIdentityCenter",
            "Effect": "Deny",
            "Action": [f"{service}:{verb}*" for service, verbs in IDENTITY_CENTER_WRITE_VERBS.items() for verb in verbs],
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


def inline_policy(
    role: str, *, partition: str, account_id: str, regions: Sequence[str], prefix: str
) -> dict[str, Any]:
    """The inline policy of a permission set, scoped to this account and the platform's name prefix."""
    clusters = [f"arn:{partition}:eks:{region}:{account_id}:cluster/{prefix}-*" for region in regions]
    if role == "platform-admin":
        return {
            "Version": "2012-10-17",
            "Statement": [
                # PowerUserAccess excludes IAM: admins get it through the permissions boundary only.
                *admin_iam_statements(partition=partition, account_id=account_id, prefix=prefix),
                {
                    "Sid": "ClusterAccess",
                    "Effect": "Allow",
                    "Action": ["eks:DescribeCluster", "eks:AccessKubernetesApi"],
                    "Resource": clusters,
                },
            ],
        }
    if role == "ml-engineer":
        # Model repositories are named models/<team>/<model> (components/team.py), in every region they replicate to.
        repositories = [f"arn:{partition}:ecr:{region}:{account_id}:repository/models/*" for region in regions]
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ListPlatformBuckets",
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                    "Resource": [f"arn:{partition}:s3:::{prefix}-*"],
                },
                {
                    "Sid": "ReadWriteModelArtifacts",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload"],
                    "Resource": [f"arn:{partition}:s3:::{prefix}-*/*"],
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
                        "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                        "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
                        "ecr:PutImage", "ecr:DescribeImages", "ecr:DescribeImageScanFindings",
                        "ecr:ListImages",
                    ],
                    "Resource": repositories,
                },
                {
                    "Sid": "ClusterAccess",
                    "Effect": "Allow",
                    "Action": ["eks:DescribeCluster", "eks:AccessKubernetesApi"],
                    "Resource": clusters,
                },
                {
                    # Artifacts and images are encrypted with the platform's keys: use them only through
                    # S3 and ECR, and only keys this platform manages.
                    "Sid": "UsePlatformKeysViaStorage",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                    "Resource": [f"arn:{partition}:kms:{region}:{account_id}:key/*" for region in regions],
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
                    "Action": ["logs:GetLogEvents", "logs:FilterLogEvents", "logs:StartQuery", "logs:GetQueryResults"],
                    "Resource": [
                        f"arn:{partition}:logs:{region}:{account_id}:log-group:/aws/containerinsights/{prefix}-*"
                        for region in regions
                    ],
                },
            ],
        }
    if role == "read-only":
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ClusterView",
                    "Effect": "Allow",
                    "Action": ["eks:DescribeCluster", "eks:AccessKubernetesApi"],
                    "Resource": clusters,
                },
            ],
        }
    raise ValueError(f"unknown role {role!r}; allowed: {', '.join(ROLE_KEYS)}")


@dataclass(frozen=True)
class ClusterAccessTarget:
    """A cluster the SSO roles are mapped into, with the provider of its region."""

    region: str
    cluster_name: pulumi.Input[str]
    provider: pulumi.ProviderResource


@dataclass(frozen=True)
class PlatformIdentityArgs:
    environment: str
    account_id: str
    partition: str
    regions: Sequence[str]
    identity: IdentityConfig
    tags: Mapping[str, str]
    # The provider of Identity Center's home region (ssoadmin calls go there).
    sso_provider: pulumi.ProviderResource
    clusters: Sequence[ClusterAccessTarget] = field(default_factory=tuple)
    # Protect the boundary policy (prod): deleting it would fail anyway while delegated roles use it
    # (DeleteConflict), and a replacement would leave those roles pointing at a policy that is gone.
    protect: bool = False

    @property
    def sso_region(self) -> str:
        return self.identity.sso_region or self.regions[0]

    @property
    def prefix(self) -> str:
        return self.identity.resource_prefix or f"mlops-{self.environment}"


def _role_config(identity: IdentityConfig, role: str) -> AccessRole:
    return {
        "platform-admin": identity.roles.platform_admin,
        "ml-engineer": identity.roles.ml_engineer,
        "read-only": identity.roles.read_only,
    }[role]


class PlatformIdentity(pulumi.ComponentResource):
    """Permission sets with their policies and group assignments, and EKS access entries for their roles.

    Attributes: ``permission_sets`` (role -> PermissionSet), ``assignments``, ``inline_policies``,
    ``managed_attachments``, ``access_entries`` / ``access_associations`` (keyed ``(region, role)``),
    ``principal_arns`` (role -> SSO role ARN, for roles whose suffix is configured), ``pending_roles``
    (roles without a known SSO role ARN yet, hence without access entries).
    """

    def __init__(self, name: str, args: PlatformIdentityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:identity:PlatformIdentity", name, None, opts)
        identity = args.identity
        sso = child_opts(self, provider=args.sso_provider)
        self.permission_sets: dict[str, aws.ssoadmin.PermissionSet] = {}
        self.inline_policies: dict[str, aws.ssoadmin.PermissionSetInlinePolicy] = {}
        self.managed_attachments: dict[str, list[aws.ssoadmin.ManagedPolicyAttachment]] = {}
        self.assignments: dict[str, aws.ssoadmin.AccountAssignment] = {}
        self.principal_arns: dict[str, str] = {}
        self.pending_roles: list[str] = []
        # The boundary platform admins must attach to every role they create (see admin_iam_statements).
        self.permissions_boundary = aws.iam.Policy(
            f"{name}-permissions-boundary",
            aws.iam.PolicyArgs(
                name=boundary_name(args.prefix),
                description="Permissions boundary of every role a platform admin creates",
                policy=json.dumps(
                    boundary_policy(partition=args.partition, account_id=args.account_id, regions=list(args.regions))
                ),
                tags={**args.tags, "Name": boundary_name(args.prefix)},
            ),
            opts=child_opts(self, provider=args.sso_provider, protect=args.protect),
        )

        for role in ROLE_KEYS:
            settings = _role_config(identity, role)
            ps_name = permission_set_name(args.environment, role)
            permission_set = aws.ssoadmin.PermissionSet(
                f"{name}-{role}",
                aws.ssoadmin.PermissionSetArgs(
                    name=ps_name,
                    description=_DESCRIPTIONS[role],
                    instance_arn=identity.sso_instance_arn,
                    session_duration=settings.session_duration,
                    tags={**args.tags, "Name": ps_name},
                ),
                opts=sso,
            )
            self.permission_sets[role] = permission_set
            attachments = [
                aws.ssoadmin.ManagedPolicyAttachment(
                    f"{name}-{role}-{arn.rsplit('/', 1)[-1].lower()}",
                    aws.ssoadmin.ManagedPolicyAttachmentArgs(
                        instance_arn=identity.sso_instance_arn,
                        permission_set_arn=permission_set.arn,
                        managed_policy_arn=arn,
                    ),
                    opts=sso,
                )
                for arn in managed_policy_arns(args.partition, role)
            ]
            self.managed_attachments[role] = attachments
            policy = aws.ssoadmin.PermissionSetInlinePolicy(
                f"{name}-{role}-inline",
                aws.ssoadmin.PermissionSetInlinePolicyArgs(
                    instance_arn=identity.sso_instance_arn,
                    permission_set_arn=permission_set.arn,
                    inline_policy=json.dumps(
                        inline_policy(
                            role, partition=args.partition, account_id=args.account_id,
                            regions=list(args.regions), prefix=args.prefix,
                        ),
                        sort_keys=True,
                    ),
                ),
                opts=sso,
            )
            self.inline_policies[role] = policy
            # Assign after the policies are attached, so the provisioned role never exists without them.
            self.assignments[role] = aws.ssoadmin.AccountAssignment(
                f"{name}-{role}-assignment",
                aws.ssoadmin.AccountAssignmentArgs(
                    instance_arn=identity.sso_instance_arn,
                    permission_set_arn=permission_set.arn,
                    principal_type="GROUP",
                    principal_id=settings.group_id,
                    target_type="AWS_ACCOUNT",
                    target_id=args.account_id,
                ),
                opts=child_opts(
                    self, provider=args.sso_provider, depends_on=[policy, *attachments, self.permissions_boundary]
                ),
            )
            principal = role_principal_arn(
                settings, partition=args.partition, account_id=args.account_id,
                sso_region=args.sso_region, permission_set=ps_name,
            )
            if principal is None:
                self.pending_roles.append(role)
            else:
                self.principal_arns[role] = principal

        self.access_entries: dict[tuple[str, str], aws.eks.AccessEntry] = {}
        self.access_associations: dict[tuple[str, str], aws.eks.AccessPolicyAssociation] = {}
        for target in args.clusters:
            regional = child_opts(self, provider=target.provider)
            for role, principal in self.principal_arns.items():
                key = f"{name}-{target.region}-{role}"
                entry = aws.eks.AccessEntry(
                    key,
                    aws.eks.AccessEntryArgs(
                        cluster_name=target.cluster_name,
                        principal_arn=principal,
                        type="STANDARD",
                        tags={**args.tags, "Name": key},
                    ),
                    opts=child_opts(self, provider=target.provider, depends_on=[self.assignments[role]]),
                )
                scope = (
                    aws.eks.AccessPolicyAssociationAccessScopeArgs(
                        type="namespace", namespaces=list(identity.ml_engineer_namespaces)
                    )
                    if role == "ml-engineer"
                    else aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster")
                )
                self.access_entries[(target.region, role)] = entry
                self.access_associations[(target.region, role)] = aws.eks.AccessPolicyAssociation(
                    f"{key}-policy",
                    aws.eks.AccessPolicyAssociationArgs(
                        cluster_name=entry.cluster_name,
                        principal_arn=entry.principal_arn,
                        policy_arn=access_policy_arn(args.partition, EKS_ACCESS_POLICIES[role]),
                        access_scope=scope,
                    ),
                    opts=regional,
                )

        self.permission_set_arns: dict[str, pulumi.Output[str]] = {
            role: permission_set.arn for role, permission_set in self.permission_sets.items()
        }
        self.register_outputs(
            {
                "permissionSetArns": self.permission_set_arns,
                "permissionsBoundaryArn": self.permissions_boundary.arn,
                "principalArns": self.principal_arns,
                "pendingRoles": self.pending_roles,
            }
        )

    def contract_values(self) -> dict[str, Any]:
        """The values of ``IdentityOutputs`` (components/outputs.py)."""
        return {
            "permission_set_arns": self.permission_set_arns,
            "permissions_boundary_arn": self.permissions_boundary.arn,
        }


# ---------------------------------------------------------------------------------------------------------
# OIDC sign-in for web UIs behind the AWS Load Balancer Controller


def oidc_ingress_annotations(oidc: OidcConfig, secret_name: str) -> dict[str, str]:
    """ALB Ingress annotations that make the load balancer authenticate users with OIDC before forwarding.

    ``secret_name`` is a Secret in the Ingress's namespace holding ``clientID`` and ``clientSecret``.
    """
    return {
        "alb.ingress.kubernetes.io/auth-type": "oidc",
        "alb.ingress.kubernetes.io/auth-idp-oidc": json.dumps(
            {
                "issuer": oidc.issuer,
                "authorizationEndpoint": oidc.authorization_endpoint,
                "tokenEndpoint": oidc.token_endpoint,
                "userInfoEndpoint": oidc.user_info_endpoint,
                "secretName": secret_name,
            },
            separators=(",", ":"),
        ),
        "alb.ingress.kubernetes.io/auth-scope": oidc.scope,
        "alb.ingress.kubernetes.io/auth-session-timeout": str(oidc.session_timeout_seconds),
        "alb.ingress.kubernetes.io/auth-session-cookie": "AWSELBAuthSessionCookie",
        "alb.ingress.kubernetes.io/auth-on-unauthenticated-request": "authenticate",
    }


def oidc_client_secret(file: str | Path | None) -> pulumi.Output[str]:
    """The OIDC client secret from ``mlops:oidc-client-secret``, as a Pulumi secret; a clear error if unset."""
    secret = pulumi.Config(CONFIG_NAMESPACE).get_secret(OIDC_SECRET_KEY.split(":", 1)[1])
    if secret is None:
        raise ConfigError(
            file, OIDC_SECRET_KEY,
            f"missing; identity.oidc needs the client secret (pulumi config set --secret {OIDC_SECRET_KEY} ...)",
        )
    return secret


@dataclass(frozen=True)
class OidcSignInArgs:
    namespace: pulumi.Input[str]
    oidc: OidcConfig
    client_secret: pulumi.Input[str]
    secret_name: str = "oidc-client"
    labels: Mapping[str, str] = field(default_factory=dict)


class OidcSignIn(pulumi.ComponentResource):
    """The Kubernetes Secret with the OIDC client credentials, and the Ingress annotations that use it.

    Pass the cluster's Kubernetes provider in ``opts``. ``annotations`` go on the web UI's Ingress (merged with
    its own ALB annotations); the client secret stays a Pulumi secret end to end.
    """

    def __init__(self, name: str, args: OidcSignInArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:identity:OidcSignIn", name, None, opts)
        self.secret = k8s.core.v1.Secret(
            f"{name}-client",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.secret_name,
                namespace=args.namespace,
                labels={"app.kubernetes.io/managed-by": "pulumi", **args.labels},
            ),
            type="Opaque",
            string_data={
                "clientID": args.oidc.client_id,
                "clientSecret": pulumi.Output.secret(args.client_secret),
            },
            opts=child_opts(self),
        )
        self.annotations = oidc_ingress_annotations(args.oidc, args.secret_name)
        self.register_outputs({"secretName": args.secret_name, "annotations": self.annotations})
