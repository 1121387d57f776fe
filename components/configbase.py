"""The base of every config model, shared by the concerns' config modules and ``components.config``.

Nothing here imports Pulumi: config models are parsed by the command line before any program runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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


# -- Image registries: shared by the mirror's, the registry's and the cluster's config and components --------

# Repository prefix -> upstream registry of the internet-free mirror's ECR pull-through cache rules (ECR's
# supported upstreams: https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache.html).
PULL_THROUGH_UPSTREAMS = {"ecr-public": "public.ecr.aws", "k8s": "registry.k8s.io", "ghcr": "ghcr.io"}
_ECR_HOST_RE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?$")


def image_registry(image: str) -> str:
    """The registry host of an image reference ("docker.io" when the reference names none)."""
    first = image.split("/", 1)[0]
    return first if "/" in image and ("." in first or ":" in first or first == "localhost") else "docker.io"


def reachable_without_internet(
    image: str, account_id: str, regions: Sequence[str], through_mirror: bool = True
) -> bool:
    """In the account's ECR in one of the stack's regions, or (through_mirror) on an upstream the mirror pulls
    through."""
    match = _ECR_HOST_RE.match(image_registry(image))
    if match:
        return match.group("account") == account_id and match.group("region") in regions
    return through_mirror and image_registry(image) in PULL_THROUGH_UPSTREAMS.values()


def account_registry(account_id: str, region: str, partition: str) -> str:
    """The host of the account's private ECR registry in a region."""
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"{account_id}.dkr.ecr.{region}.{suffix}"
