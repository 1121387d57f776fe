"""The `github` section of `mlops:platform`: the GitHub repository whose workflows deploy the stacks, and its
environments (one per prod stack, each with required reviewers), each given a deploy role through GitHub's OIDC
provider. Built by components/identity/github.py.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from components.configbase import Model

# GitHub: an owner is letters, digits and hyphens; a repository name letters, digits, '-', '_' and '.'.
REPOSITORY_RE = r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9_.-]{1,100}$"
# An environment name as the deploy workflow uses it: the stack's name (a role name's part, so IAM's characters).
ENVIRONMENT_RE = r"^[a-z0-9][a-z0-9-]{0,39}$"


class GithubConfig(Model):
    """`github`: ``repository`` (owner/name) and ``environments`` (one per stack the deploy workflow applies,
    named like the stack); ``preview-role`` adds the pull-request job's read-only role."""

    repository: Annotated[str, Field(pattern=REPOSITORY_RE)]
    environments: Annotated[
        list[Annotated[str, Field(pattern=ENVIRONMENT_RE)]], Field(min_length=1, max_length=20)
    ]
    preview_role: Annotated[bool, Field(alias="preview-role")] = True

    @field_validator("environments")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        for index, name in enumerate(value):
            if name in value[:index]:
                raise ValueError(f"{name!r} is listed twice; allowed: distinct environment names")
        return value
