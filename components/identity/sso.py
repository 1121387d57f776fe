"""IAM Identity Center: the three permission sets with their policies and group assignments, the permissions
boundary, and the EKS access entries that map the provisioned SSO roles into every cluster."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks import PlatformContext
from components.identity.config import AccessRole, IdentityConfig
from components.identity.policies import (
    DESCRIPTIONS,
    EKS_ACCESS_POLICIES,
    ROLE_KEYS,
    BoundaryScope,
    access_policy_arn,
    boundary_name,
    boundary_policy,
    inline_policy,
    managed_policy_arns,
    permission_set_name,
    role_principal_arn,
)


@dataclass(frozen=True)
class ClusterAccessTarget:
    """A cluster the SSO roles are mapped into, with the provider of its region."""

    region: str
    cluster_name: pulumi.Input[str]
    provider: pulumi.ProviderResource


@dataclass(frozen=True)
class PlatformIdentityArgs:
    context: PlatformContext  # the platform's environment, partition, account and tags
    regions: Sequence[str]
    identity: IdentityConfig
    # The provider of Identity Center's home region (ssoadmin calls go there).
    sso_provider: pulumi.ProviderResource
    clusters: Sequence[ClusterAccessTarget] = field(default_factory=tuple)
    # Protect the boundary policy (prod): deleting it would fail anyway while delegated roles use it
    # (DeleteConflict), and a replacement would leave those roles pointing at a policy that is gone.
    protect: bool = False
    # The platform's resources its own roles (which carry the boundary) reach beyond the boundary's services.
    boundary_scope: BoundaryScope = field(default_factory=BoundaryScope)

    @property
    def sso_region(self) -> str:
        return self.identity.sso_region or self.regions[0]

    @property
    def prefix(self) -> str:
        return self.identity.resource_prefix or self.context.prefix


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
    (roles without a known SSO role ARN yet, hence without access entries), ``permissions_boundary``.

    A platform stack builds this first: every role the platform creates carries the boundary, so the policy
    must exist before them; the clusters come later, through ``grant_cluster_access``.
    """

    def __init__(self, name: str, args: PlatformIdentityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:identity:PlatformIdentity", name, None, opts)
        ctx = args.context
        self.permission_sets: dict[str, aws.ssoadmin.PermissionSet] = {}
        self.inline_policies: dict[str, aws.ssoadmin.PermissionSetInlinePolicy] = {}
        self.managed_attachments: dict[str, list[aws.ssoadmin.ManagedPolicyAttachment]] = {}
        self.assignments: dict[str, aws.ssoadmin.AccountAssignment] = {}
        self.principal_arns: dict[str, str] = {}
        self.pending_roles: list[str] = []
        # The boundary of every role the platform creates, and of every role a platform admin creates (see
        # admin_iam_statements).
        self.permissions_boundary = aws.iam.Policy(
            f"{name}-permissions-boundary",
            aws.iam.PolicyArgs(
                name=boundary_name(args.prefix),
                description="Permissions boundary of every role the platform or a platform admin creates",
                policy=json.dumps(
                    boundary_policy(
                        partition=ctx.partition,
                        account_id=ctx.account_id,
                        regions=list(args.regions),
                        scope=args.boundary_scope,
                    )
                ),
                tags=ctx.tagged(Name=boundary_name(args.prefix), **{"mlops:purpose": "permissions-boundary"}),
            ),
            opts=child_opts(self, provider=args.sso_provider, protect=args.protect),
        )

        for role in ROLE_KEYS:
            self._permission_set(name, args, role)

        self._name, self._args = name, args
        self.access_entries: dict[tuple[str, str], aws.eks.AccessEntry] = {}
        self.access_associations: dict[tuple[str, str], aws.eks.AccessPolicyAssociation] = {}
        self.grant_cluster_access(args.clusters)

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

    def grant_cluster_access(self, clusters: Sequence[ClusterAccessTarget]) -> None:
        """Access entries (and their access policies) of the known SSO roles in each of ``clusters``."""
        for target in clusters:
            entries, associations = cluster_access(
                self, self._name, self._args, target, self.principal_arns, self.assignments
            )
            self.access_entries.update(entries)
            self.access_associations.update(associations)

    def contract_values(self) -> dict[str, Any]:
        """The values of ``IdentityOutputs`` (components/outputs.py)."""
        return {
            "permission_set_arns": self.permission_set_arns,
            "permissions_boundary_arn": self.permissions_boundary.arn,
        }

    def _permission_set(self, name: str, args: PlatformIdentityArgs, role: str) -> None:
        """One role's permission set, its managed and inline policies, its group assignment and, when the SSO
        role's ARN is known, its principal (else the role is pending)."""
        identity = args.identity
        sso = child_opts(self, provider=args.sso_provider)
        settings = _role_config(identity, role)
        ctx = args.context
        ps_name = permission_set_name(ctx.environment, role)
        permission_set = aws.ssoadmin.PermissionSet(
            f"{name}-{role}",
            aws.ssoadmin.PermissionSetArgs(
                name=ps_name,
                description=DESCRIPTIONS[role],
                instance_arn=identity.sso_instance_arn,
                session_duration=settings.session_duration,
                tags=ctx.tagged(Name=ps_name),
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
            for arn in managed_policy_arns(ctx.partition, role)
        ]
        self.managed_attachments[role] = attachments
        policy = aws.ssoadmin.PermissionSetInlinePolicy(
            f"{name}-{role}-inline",
            aws.ssoadmin.PermissionSetInlinePolicyArgs(
                instance_arn=identity.sso_instance_arn,
                permission_set_arn=permission_set.arn,
                inline_policy=json.dumps(
                    inline_policy(
                        role,
                        partition=ctx.partition,
                        account_id=ctx.account_id,
                        regions=list(args.regions),
                        prefix=args.prefix,
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
                target_id=ctx.account_id,
            ),
            opts=child_opts(
                self, provider=args.sso_provider, depends_on=[policy, *attachments, self.permissions_boundary]
            ),
        )
        principal = role_principal_arn(
            settings,
            partition=ctx.partition,
            account_id=ctx.account_id,
            sso_region=args.sso_region,
            permission_set=ps_name,
        )
        if principal is None:
            self.pending_roles.append(role)
        else:
            self.principal_arns[role] = principal


def cluster_access(
    parent: pulumi.Resource,
    name: str,
    args: PlatformIdentityArgs,
    target: ClusterAccessTarget,
    principal_arns: Mapping[str, str],
    assignments: Mapping[str, aws.ssoadmin.AccountAssignment],
) -> tuple[
    dict[tuple[str, str], aws.eks.AccessEntry], dict[tuple[str, str], aws.eks.AccessPolicyAssociation]
]:
    """An access entry and its access policy in one cluster for each role whose SSO role ARN is known, keyed
    ``(region, role)``; an entry waits for its role's assignment (which makes Identity Center create the role)."""
    entries: dict[tuple[str, str], aws.eks.AccessEntry] = {}
    associations: dict[tuple[str, str], aws.eks.AccessPolicyAssociation] = {}
    regional = child_opts(parent, provider=target.provider)
    for role, principal in principal_arns.items():
        key = f"{name}-{target.region}-{role}"
        entry = aws.eks.AccessEntry(
            key,
            aws.eks.AccessEntryArgs(
                cluster_name=target.cluster_name,
                principal_arn=principal,
                type="STANDARD",
                tags=args.context.tagged(Name=key),
            ),
            opts=child_opts(parent, provider=target.provider, depends_on=[assignments[role]]),
        )
        scope = (
            aws.eks.AccessPolicyAssociationAccessScopeArgs(
                type="namespace", namespaces=list(args.identity.ml_engineer_namespaces)
            )
            if role == "ml-engineer"
            else aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster")
        )
        entries[(target.region, role)] = entry
        associations[(target.region, role)] = aws.eks.AccessPolicyAssociation(
            f"{key}-policy",
            aws.eks.AccessPolicyAssociationArgs(
                cluster_name=entry.cluster_name,
                principal_arn=entry.principal_arn,
                policy_arn=access_policy_arn(args.context.partition, EKS_ACCESS_POLICIES[role]),
                access_scope=scope,
            ),
            opts=regional,
        )
    return entries, associations
