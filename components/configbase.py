"""The base of every config model, shared by the concerns' config modules and ``components.config``.

Nothing here imports Pulumi: config models are parsed by the command line before any program runs.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

KEBAB_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")


def https_url(value: str) -> str:
    """``value`` if it is an https:// URL, else a ValueError saying what is allowed (for field validators)."""
    if not re.match(r"^https://[^\s/]+(/\S*)?$", value):
        raise ValueError(f"{value!r} is not an https:// URL (allowed: https://host/path)")
    return value


class Model(BaseModel):
    """Base of every config model: frozen, unknown keys rejected, YAML-friendly aliases (kebab-case)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=False)


class BaseTags(Model):
    """Ownership tags every taggable resource of the stack carries (merged by ``tags_for``)."""

    team: Annotated[str, Field(min_length=1, max_length=128)]
    cost_center: Annotated[str, Field(alias="cost-center", min_length=1, max_length=128)]
    data_classification: Annotated[
        Literal["public", "internal", "confidential", "restricted"], Field(alias="data-classification")
    ]


class KeyedValueError(ValueError):
    """A validator error that points at a nested key below the model that raised it."""

    def __init__(self, loc: tuple[str | int, ...], message: str):
        self.loc = loc
        super().__init__(message)


MANAGED_BY = "pulumi-mlops-platform"


def tags_for(base: BaseTags, environment: str, **extra: str) -> dict[str, str]:
    """The explicit tags of a taggable AWS resource: ownership, environment and `managed-by`, plus extras."""
    tags = {
        "team": base.team,
        "environment": environment,
        "cost-center": base.cost_center,
        "data-classification": base.data_classification,
        "managed-by": MANAGED_BY,
    }
    tags.update(extra)
    return tags
