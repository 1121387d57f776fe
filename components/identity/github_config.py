"""The `github` section of `mlops:platform`: the GitHub repository whose workflows deploy the stacks, the GitHub
environments (one per stack, named like it, each with required reviewers) whose jobs get a deploy role through
GitHub's OIDC provider, and the runners that reach the clusters. Built by components/identity/github.py.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from components.configbase import KeyedValueError, Model

# GitHub: an owner is letters, digits and hyphens; a repository name letters, digits, '-', '_' and '.'.
REPOSITORY_RE = r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9_.-]{1,100}$"
# An environment name as the deploy workflow uses it: the stack's name (a role name's part, so IAM's characters).
ENVIRONMENT_RE = r"^[a-z0-9][a-z0-9-]{0,39}$"
# A team's name as team stacks spell it (components/serving/config.py TeamSpec.name: a DNS label, 2-30).
TEAM_RE = r"^[a-z0-9]([a-z0-9-]{0,28}[a-z0-9])$"
# A runner label (GitHub: "Using labels with self-hosted runners"); `self-hosted` marks a runner of your own.
RUNNER_LABEL_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
SELF_HOSTED = "self-hosted"

Environment = Annotated[str, Field(pattern=ENVIRONMENT_RE)]


class GithubConfig(Model):
    """`github`: ``repository`` (owner/name); ``platform-environments`` (the GitHub environments that deploy this
    platform stack: their role assumes ``deployer.role-arn``); ``team-environments`` (environment -> team: the
    environment that deploys that team's stack on this platform, whose role may change only that team's
    resources); ``runner-labels`` (the `runs-on` labels of the deploy jobs: with a private cluster API endpoint,
    self-hosted runners in ``deployer.networks``); ``preview-role`` adds the pull-request job's read-only role."""

    repository: Annotated[str, Field(pattern=REPOSITORY_RE)]
    platform_environments: Annotated[
        list[Environment], Field(alias="platform-environments", max_length=5, default_factory=list)
    ]
    team_environments: Annotated[
        dict[Environment, Annotated[str, Field(pattern=TEAM_RE)]],
        Field(alias="team-environments", max_length=50, default_factory=dict),
    ]
    runner_labels: Annotated[
        list[Annotated[str, Field(pattern=RUNNER_LABEL_RE)]],
        Field(alias="runner-labels", min_length=1, max_length=10, default_factory=lambda: ["ubuntu-latest"]),
    ]
    preview_role: Annotated[bool, Field(alias="preview-role")] = True

    @model_validator(mode="after")
    def _environments(self) -> GithubConfig:
        if not self.platform_environments and not self.team_environments:
            raise KeyedValueError(
                ("platform-environments",),
                "no environment; allowed: at least one platform or team environment (named like its stack)",
            )
        for index, name in enumerate(self.platform_environments):
            if name in self.platform_environments[:index]:
                raise KeyedValueError(
                    ("platform-environments", index), f"{name!r} is listed twice; allowed: distinct names"
                )
            if name in self.team_environments:
                raise KeyedValueError(
                    ("platform-environments", index),
                    f"{name!r} is also a team environment; allowed: one role per environment",
                )
        teams = list(self.team_environments.values())
        for environment, team in self.team_environments.items():
            if teams.count(team) > 1:
                raise KeyedValueError(
                    ("team-environments", environment),
                    f"team {team!r} has two environments on this platform; allowed: one (its stack's)",
                )
        return self

    @property
    def environments(self) -> list[str]:
        """Every environment, platform ones first."""
        return [*self.platform_environments, *self.team_environments]

    @property
    def self_hosted(self) -> bool:
        return SELF_HOSTED in self.runner_labels
