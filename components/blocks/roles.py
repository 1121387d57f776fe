"""Roles: a service role (trust, inline policy, managed-policy attachments) and a Pod Identity role (the same,
plus one EKS Pod Identity association per cluster and service account).

Builders, not components: resources are created under ``parent`` with the names given (``<name>-role``,
``<name>-policy`` unless overridden), so a component that switches to them keeps its URNs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import pulumi
import pulumi_aws as aws

from components.blocks.context import PlatformContext
from components.blocks.iam import pod_identity_trust, service_trust, to_json

Document = Mapping[str, Any]


def _as_json(value: Document | pulumi.Input[str]) -> pulumi.Input[str]:
    """A document as a string input: dicts are serialised here, strings and Outputs passed on as they are."""
    return to_json(value) if isinstance(value, Mapping) else value


def attachment_name(role_resource: str, policy: str) -> str:
    """The resource name of a managed-policy attachment: the role's name and the policy's, kebab-cased
    (``service-role/AmazonEBSCSIDriverPolicy`` -> ``<role>-service-role/amazonebscsidriverpolicy``)."""
    return f"{role_resource}-{policy.lower().replace('_', '-')}"


class ServiceRole:
    """An IAM role an AWS service (or any trust) assumes, its inline policy and its managed-policy attachments.

    ``service`` is a service name (``"s3"``) trusted from this account only; ``trust`` any trust document
    instead. ``managed_policy_arns`` are AWS managed policy names (``"AmazonEKSWorkerNodePolicy"``, resolved
    in the context's partition) or full ARNs. ``policy_by`` says how the inline policy names its role
    (``"id"`` or ``"name"``: the same value for IAM, kept as each component always wrote it).
    ``permissions_boundary`` defaults to the context's: every role the platform builds carries the stack's
    boundary when it has one.
    """

    role: aws.iam.Role
    policy: aws.iam.RolePolicy | None
    attachments: list[aws.iam.RolePolicyAttachment]

    def __init__(
        self,
        name: str,
        ctx: PlatformContext,
        *,
        parent: pulumi.Resource,
        service: str | None = None,
        trust: Document | pulumi.Input[str] | None = None,
        policy: Document | pulumi.Input[str] | None = None,
        managed_policy_arns: Sequence[str] = (),
        path: str | None = None,
        permissions_boundary: pulumi.Input[str] | None = None,
        role_name: str | None = None,
        description: str | None = None,
        max_session_duration: int | None = None,
        tags: Mapping[str, str] | None = None,
        provider: pulumi.ProviderResource | None = None,
        role_resource: str | None = None,
        policy_resource: str | None = None,
        policy_by: str = "id",
        attachment_resource: Callable[[str, str], str] = attachment_name,
        opts: pulumi.ResourceOptions | None = None,
    ):
        if (service is None) == (trust is None):
            raise ValueError(f"{name}: give exactly one of service or trust")
        if trust is None:
            trust = service_trust(ctx.service_principal(service or ""), account_id=ctx.account_id)
        base = pulumi.ResourceOptions(parent=parent, provider=provider)
        self._opts = pulumi.ResourceOptions.merge(base, opts) if opts is not None else base
        role_resource = role_resource or f"{name}-role"
        self.role = aws.iam.Role(
            role_resource,
            aws.iam.RoleArgs(
                name=role_name,
                path=path,
                description=description,
                assume_role_policy=_as_json(trust),
                max_session_duration=max_session_duration,
                permissions_boundary=permissions_boundary
                if permissions_boundary is not None
                else ctx.permissions_boundary,
                tags=dict(ctx.tags if tags is None else tags),
            ),
            opts=self._opts,
        )
        reference = self.role.name if policy_by == "name" else self.role.id
        self.policy = None
        if policy is not None:
            self.policy = aws.iam.RolePolicy(
                policy_resource or f"{name}-policy",
                aws.iam.RolePolicyArgs(role=reference, policy=_as_json(policy)),
                opts=self._opts,
            )
        self.attachments = [
            aws.iam.RolePolicyAttachment(
                attachment_resource(role_resource, managed),
                aws.iam.RolePolicyAttachmentArgs(
                    role=self.role.name,
                    policy_arn=managed if managed.startswith("arn:") else ctx.arn.managed_policy(managed),
                ),
                opts=self._opts,
            )
            for managed in managed_policy_arns
        ]

    @property
    def arn(self) -> pulumi.Output[str]:
        return self.role.arn


class Association(NamedTuple):
    """One Pod Identity association: which service account of which cluster gets the role.

    ``opts`` are merged into the association's options (its provider, what it waits for); ``resource_name``
    defaults to ``<name>-identity`` (``<name>-identity-<n>`` from the second on).
    """

    cluster_name: pulumi.Input[str]
    namespace: str
    service_account: str
    opts: pulumi.ResourceOptions | None = None
    resource_name: str | None = None


class PodIdentityRole(ServiceRole):
    """A role EKS Pod Identity gives to service accounts, with its policy and one association per cluster.

    The trust defaults to ``pods.eks.amazonaws.com`` from this account; pass ``trust`` to pin it to one
    cluster (``pod_identity_trust(account_id=..., cluster_arn=ctx.arn.cluster(name))``).
    """

    associations: list[aws.eks.PodIdentityAssociation]

    def __init__(
        self,
        name: str,
        ctx: PlatformContext,
        *,
        policy: Document | pulumi.Input[str] | None,
        associations: Sequence[Association | tuple],
        parent: pulumi.Resource,
        trust: Document | pulumi.Input[str] | None = None,
        **role: Any,
    ):
        super().__init__(
            name,
            ctx,
            parent=parent,
            trust=trust if trust is not None else pod_identity_trust(account_id=ctx.account_id),
            policy=policy,
            **role,
        )
        tags = dict(ctx.tags if role.get("tags") is None else role["tags"])
        self.associations = []
        for index, entry in enumerate(associations):
            item = Association(*entry)
            default = f"{name}-identity" if index == 0 else f"{name}-identity-{index + 1}"
            opts = (
                pulumi.ResourceOptions.merge(self._opts, item.opts) if item.opts is not None else self._opts
            )
            self.associations.append(
                aws.eks.PodIdentityAssociation(
                    item.resource_name or default,
                    aws.eks.PodIdentityAssociationArgs(
                        cluster_name=item.cluster_name,
                        namespace=item.namespace,
                        service_account=item.service_account,
                        role_arn=self.role.arn,
                        tags=tags,
                    ),
                    opts=opts,
                )
            )
