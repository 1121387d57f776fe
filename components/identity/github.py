"""GitHub Actions deploy access: the account's OIDC identity provider for GitHub, one deploy role per GitHub
environment and a read-only role for pull-request previews.

A workflow job gets AWS credentials by exchanging its GitHub OIDC token (aws-actions/configure-aws-credentials
with ``role-to-assume``); no long-lived key is stored in GitHub. Each role's trust names the provider, the
audience ``sts.amazonaws.com`` and the exact subject of the jobs allowed to assume it: a deploy role only a job
running in its environment of the configured repository (``repo:OWNER/REPO:environment:NAME``; the environment's
required reviewers approve the job first), the preview role only pull-request jobs of that repository
(``repo:OWNER/REPO:pull_request``). Every role carries the platform's permissions boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks import PlatformContext, ServiceRole
from components.identity.github_config import GithubConfig

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
AUDIENCE = "sts.amazonaws.com"
# The preview role reads what `pulumi preview` refreshes (an AWS managed policy, capped by the boundary). A deploy
# role is granted the boundary policy itself, so it may do exactly what the boundary allows: no AWS managed
# admin policy (the pack refuses those) and nothing a role carrying the boundary could not do anyway.
PREVIEW_POLICY = "ReadOnlyAccess"
BOUNDARY = "boundary"
MAX_SESSION_SECONDS = 3600


def environment_subject(repository: str, environment: str) -> str:
    """The `sub` claim of a job that runs in a GitHub environment (GitHub Docs, "OpenID Connect reference",
    example subject claims: ``repo:ORG-NAME/REPO-NAME:environment:ENVIRONMENT-NAME``)."""
    return f"repo:{repository}:environment:{environment}"


def pull_request_subject(repository: str) -> str:
    """The `sub` claim of a job triggered by a pull request (``repo:ORG-NAME/REPO-NAME:pull_request``)."""
    return f"repo:{repository}:pull_request"


def github_trust(provider_arn: str, subject: str) -> dict[str, Any]:
    """A role trust for GitHub's OIDC provider limited to one subject and the audience of the official action."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GithubActionsOidc",
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": subject,
                    }
                },
            }
        ],
    }


def deploy_role_name(ctx: PlatformContext, environment: str) -> str:
    return f"{ctx.prefix}-deploy-{environment}"


def preview_role_name(ctx: PlatformContext) -> str:
    return f"{ctx.prefix}-pr-preview"


@dataclass(frozen=True)
class GithubDeployArgs:
    context: PlatformContext
    github: GithubConfig


class GithubDeploy(pulumi.ComponentResource):
    """The GitHub OIDC provider, a deploy role per environment and the pull-request preview role."""

    provider: aws.iam.OpenIdConnectProvider
    deploy_roles: dict[str, aws.iam.Role]
    preview_role: aws.iam.Role | None

    def __init__(self, name: str, args: GithubDeployArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:identity:GithubDeploy", name, None, opts)
        ctx, github = args.context, args.github
        provider_arn = ctx.arn.of("iam", f"oidc-provider/{GITHUB_OIDC_HOST}")
        self.provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc-provider",
            aws.iam.OpenIdConnectProviderArgs(
                url=GITHUB_OIDC_URL,
                client_id_lists=[AUDIENCE],
                tags=ctx.tagged(Name=f"{ctx.prefix}-github-actions"),
            ),
            opts=child_opts(self),
        )
        self.deploy_roles = {
            environment: self._role(
                f"{name}-deploy-{environment}",
                deploy_role_name(ctx, environment),
                github_trust(provider_arn, environment_subject(github.repository, environment)),
                BOUNDARY,
                f"GitHub Actions deploys in environment {environment} of {github.repository}",
                ctx,
            )
            for environment in github.environments
        }
        self.preview_role = (
            self._role(
                f"{name}-pr-preview",
                preview_role_name(ctx),
                github_trust(provider_arn, pull_request_subject(github.repository)),
                PREVIEW_POLICY,
                f"GitHub Actions pull-request previews of {github.repository} (read-only)",
                ctx,
            )
            if github.preview_role
            else None
        )
        self.register_outputs(
            {
                "providerArn": self.provider.arn,
                "deployRoleArns": {env: role.arn for env, role in self.deploy_roles.items()},
                "previewRoleArn": self.preview_role.arn if self.preview_role is not None else None,
            }
        )

    def contract_values(self) -> dict[str, Any]:
        """The platform's `github` output (components.outputs.GithubOutputs), by field name."""
        return {
            "provider_arn": self.provider.arn,
            "deploy_role_arns": {env: role.arn for env, role in self.deploy_roles.items()},
            "preview_role_arn": self.preview_role.arn if self.preview_role is not None else None,
        }

    def _role(
        self, name: str, role_name: str, trust: dict, policy: str, description: str, ctx: PlatformContext
    ) -> aws.iam.Role:
        # The trust names the provider by its ARN (known from the account and host); the role waits for it.
        role = ServiceRole(
            name,
            ctx,
            parent=self,
            trust=trust,
            managed_policy_arns=[] if policy == BOUNDARY else [policy],
            role_name=role_name,
            description=description,
            max_session_duration=MAX_SESSION_SECONDS,
            tags=ctx.tagged(Name=role_name),
            opts=pulumi.ResourceOptions(depends_on=[self.provider]),
        ).role
        if policy == BOUNDARY:
            aws.iam.RolePolicyAttachment(
                f"{name}-role-permissions-boundary",
                aws.iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=ctx.permissions_boundary),
                opts=child_opts(self),
            )
        return role
