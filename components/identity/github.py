"""GitHub Actions deploy access: the account's OIDC identity provider for GitHub, one deploy role per GitHub
environment and a read-only role for pull-request previews.

A workflow job gets AWS credentials by exchanging its GitHub OIDC token (aws-actions/configure-aws-credentials
with ``role-to-assume``); no long-lived key is stored in GitHub. Each role's trust names the provider, the
audience ``sts.amazonaws.com`` and the exact subject of the jobs allowed to assume it: a deploy role only a job
running in its environment of the configured repository (``repo:OWNER/REPO:environment:NAME``; the environment's
required reviewers approve the job first), the preview role only pull-request jobs of that repository
(``repo:OWNER/REPO:pull_request``). Every role carries the platform's permissions boundary.

What a deploy role may do is its inline policy's (components/identity/deploy_policies.py): a platform
environment's role assumes the deployer; a team environment's changes only that team's resources, and reaches the
clusters through an access entry whose Kubernetes group the team's stack binds in the team's namespace.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.base import child_opts
from components.blocks import PlatformContext, ServiceRole
from components.identity.deploy_policies import (
    deploy_group,
    deploy_role_name,
    platform_deploy_policy,
    team_deploy_policy,
)
from components.identity.github_config import GithubConfig

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
AUDIENCE = "sts.amazonaws.com"
# The preview role reads what `pulumi preview` refreshes (an AWS managed policy, capped by the boundary). A deploy
# role gets its own inline policy (components/identity/deploy_policies.py): a platform environment's assumes the
# deployer, a team environment's changes only that team's resources.
PREVIEW_POLICY = "ReadOnlyAccess"
TEAM_DEPLOYERS_ROLE = "mlops:team-deployers"
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


def preview_role_name(ctx: PlatformContext) -> str:
    return f"{ctx.prefix}-pr-preview"


@dataclass(frozen=True)
class GithubDeployArgs:
    """``deployer_arn``: the platform's deployer (``deployer.role-arn``), which platform environments assume;
    ``clusters``: region -> EKS cluster name; ``zone``: the platform's DNS zone; ``data_policy_arns``: the
    platform's data policies, the only managed policies a team deploy role may attach."""

    context: PlatformContext
    github: GithubConfig
    deployer_arn: str | None = None
    clusters: Mapping[str, str] = field(default_factory=dict)
    zone: str | None = None
    data_policy_arns: Sequence[str] = ()


@dataclass(frozen=True)
class DeployClusterTarget:
    """A cluster the team deploy roles get an access entry in: its region, name, and the region's AWS and the
    cluster's Kubernetes providers."""

    region: str
    cluster_name: pulumi.Input[str]
    aws_provider: pulumi.ProviderResource
    k8s_provider: pulumi.ProviderResource


class GithubDeploy(pulumi.ComponentResource):
    """The GitHub OIDC provider, a deploy role per environment and the pull-request preview role; with
    ``grant_cluster_access``, the team deploy roles' access entries and cluster-wide reads."""

    provider: aws.iam.OpenIdConnectProvider
    deploy_roles: dict[str, aws.iam.Role]
    preview_role: aws.iam.Role | None

    def __init__(self, name: str, args: GithubDeployArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:identity:GithubDeploy", name, None, opts)
        ctx, github = args.context, args.github
        self._name, self._args = name, args
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
        self.deploy_roles = {}
        self.deploy_policies: dict[str, aws.iam.RolePolicy] = {}
        for environment in github.environments:
            team = github.team_environments.get(environment)
            trust = github_trust(provider_arn, environment_subject(github.repository, environment))
            what = f"team {team}'s stack" if team else "the platform stack"
            role = self._role(
                f"{name}-deploy-{environment}",
                deploy_role_name(ctx.prefix, environment),
                trust,
                None,
                f"GitHub Actions deploys {what} in environment {environment} of {github.repository}",
                ctx,
            )
            self.deploy_roles[environment] = role
            self.deploy_policies[environment] = aws.iam.RolePolicy(
                f"{name}-deploy-{environment}-policy",
                aws.iam.RolePolicyArgs(
                    role=role.name,
                    name="deploy",
                    policy=json.dumps(self._deploy_policy(team)),
                ),
                opts=child_opts(self),
            )
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
        self.access_entries: dict[tuple[str, str], aws.eks.AccessEntry] = {}
        self.cluster_reads: dict[str, tuple[k8s.rbac.v1.ClusterRole, k8s.rbac.v1.ClusterRoleBinding]] = {}
        self.register_outputs(
            {
                "providerArn": self.provider.arn,
                "deployRoleArns": {env: role.arn for env, role in self.deploy_roles.items()},
                "previewRoleArn": self.preview_role.arn if self.preview_role is not None else None,
            }
        )

    def _deploy_policy(self, team: str | None) -> dict[str, Any]:
        args, ctx = self._args, self._args.context
        if team is None:
            assert args.deployer_arn is not None  # the config requires deployer with platform environments
            return platform_deploy_policy(args.deployer_arn)
        return team_deploy_policy(
            partition=ctx.partition,
            account_id=ctx.account_id,
            prefix=ctx.prefix,
            team=team,
            regions=list(args.clusters),
            zone=args.zone,
            data_policy_arns=args.data_policy_arns,
        )

    def grant_cluster_access(self, targets: Sequence[DeployClusterTarget]) -> None:
        """In each cluster: an access entry per team deploy role (no access policy: its Kubernetes group
        ``mlops:deploy:<team>``, which the team stack binds in its namespace) and a ClusterRole that lets those
        groups read the cluster-scoped objects team stacks manage (their Namespace and Kueue ClusterQueue), so
        that `pulumi refresh` and `pulumi up` can read them; changing those stays the deployer's."""
        teams = self._args.github.team_environments
        if not teams:
            return
        for target in targets:
            for environment, team in teams.items():
                self.access_entries[(target.region, environment)] = aws.eks.AccessEntry(
                    f"{self._name}-deploy-{environment}-{target.region}-access",
                    aws.eks.AccessEntryArgs(
                        cluster_name=target.cluster_name,
                        principal_arn=self.deploy_roles[environment].arn,
                        type="STANDARD",
                        kubernetes_groups=[deploy_group(team)],
                        # The platform's own `team` tag, not the deployed team's: a team deploy role changes only
                        # access entries tagged for its team, and never its own.
                        tags=self._args.context.tagged(**{"mlops:deploys": team}),
                    ),
                    opts=child_opts(self, provider=target.aws_provider),
                )
            labels = {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "mlops-platform"}
            k8s_opts = child_opts(self, provider=target.k8s_provider)
            role = k8s.rbac.v1.ClusterRole(
                f"{self._name}-team-deployers-{target.region}",
                k8s.rbac.v1.ClusterRoleInitArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=TEAM_DEPLOYERS_ROLE, labels=labels),
                    rules=[
                        k8s.rbac.v1.PolicyRuleArgs(
                            api_groups=[""], resources=["namespaces"], verbs=["get", "list", "watch"]
                        ),
                        k8s.rbac.v1.PolicyRuleArgs(
                            api_groups=["kueue.x-k8s.io"],
                            resources=["clusterqueues", "resourceflavors"],
                            verbs=["get", "list", "watch"],
                        ),
                    ],
                ),
                opts=k8s_opts,
            )
            binding = k8s.rbac.v1.ClusterRoleBinding(
                f"{self._name}-team-deployers-{target.region}-binding",
                k8s.rbac.v1.ClusterRoleBindingInitArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=TEAM_DEPLOYERS_ROLE, labels=labels),
                    role_ref=k8s.rbac.v1.RoleRefArgs(
                        api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=TEAM_DEPLOYERS_ROLE
                    ),
                    subjects=[
                        k8s.rbac.v1.SubjectArgs(
                            api_group="rbac.authorization.k8s.io", kind="Group", name=deploy_group(team)
                        )
                        for team in sorted(set(teams.values()))
                    ],
                ),
                opts=child_opts(self, provider=target.k8s_provider, depends_on=[role]),
            )
            self.cluster_reads[target.region] = (role, binding)

    def contract_values(self) -> dict[str, Any]:
        """The platform's `github` output (components.outputs.GithubOutputs), by field name."""
        return {
            "provider_arn": self.provider.arn,
            "deploy_role_arns": {env: role.arn for env, role in self.deploy_roles.items()},
            "preview_role_arn": self.preview_role.arn if self.preview_role is not None else None,
        }

    def _role(
        self,
        name: str,
        role_name: str,
        trust: dict,
        policy: str | None,
        description: str,
        ctx: PlatformContext,
    ) -> aws.iam.Role:
        # The trust names the provider by its ARN (known from the account and host); the role waits for it.
        return ServiceRole(
            name,
            ctx,
            parent=self,
            trust=trust,
            managed_policy_arns=[policy] if policy else [],
            role_name=role_name,
            description=description,
            max_session_duration=MAX_SESSION_SECONDS,
            tags=ctx.tagged(Name=role_name),
            opts=pulumi.ResourceOptions(depends_on=[self.provider]),
        ).role
