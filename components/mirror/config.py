"""The mirror's section of a platform stack file (`mirror:`) and its checks against the rest of the platform."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from components.configbase import (
    PULL_THROUGH_UPSTREAMS,
    KeyedValueError,
    Model,
    image_registry,
    reachable_without_internet,
)

_KeyedValueError = KeyedValueError  # the name the validators below raise

# Upstreams ECR reaches only with credentials from Secrets Manager (ECR Public and registry.k8s.io need none).
MIRROR_CREDENTIAL_UPSTREAMS = ("ghcr.io",)

_PTC_SECRET_RE = re.compile(
    r"^arn:aws(-cn|-us-gov)?:secretsmanager:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):secret:ecr-pullthroughcache/[\w/+=.@-]+$"
)


class MirrorConfig(Model):
    """The registry mirror of internet-free stacks: sign-in secrets of the upstreams that need one.

    ECR pull-through cache reads an upstream's credentials from a Secrets Manager secret whose name starts with
    `ecr-pullthroughcache/`, in the account and region of the rule: one secret ARN per region and upstream.
    """

    credential_arns: Annotated[dict[Literal["ghcr.io"], list[str]], Field(alias="credential-arns")] = {}

    @field_validator("credential_arns")
    @classmethod
    def _secret_arns(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for upstream, arns in value.items():
            for index, arn in enumerate(arns):
                if not _PTC_SECRET_RE.match(arn):
                    raise _KeyedValueError(
                        (upstream, index),
                        f"{arn!r} is not a pull-through cache secret; allowed: "
                        "arn:aws:secretsmanager:<region>:<account>:secret:ecr-pullthroughcache/<name>",
                    )
        return value

    def credential_arn(self, upstream: str, region: str) -> str | None:
        for arn in self.credential_arns.get(upstream, []):
            match = _PTC_SECRET_RE.match(arn)
            if match and match.group("region") == region:
                return arn
        return None


def check_mirror(cfg: Any) -> None:
    """Internet-free clusters pull through ECR: upstreams that need sign-in need a secret in every region."""
    if cfg.mirror is not None and not cfg.internet_free:
        raise _KeyedValueError(("mirror",), "only allowed with internet-free: true")
    if not cfg.internet_free or cfg.cluster is None or cfg.cluster.mode != "eks":
        return
    # MLflow runs on the primary cluster, whose nodes reach only their own region's ECR endpoints.
    primary = cfg.primary_region.name
    if cfg.registry is not None and not reachable_without_internet(
        cfg.registry.mlflow_image, cfg.account_id, [primary]
    ):
        raise _KeyedValueError(
            ("registry", "mlflow-image"),
            f"{cfg.registry.mlflow_image!r} is on {image_registry(cfg.registry.mlflow_image)}, unreachable without "
            f"internet from the primary region's cluster; allowed: the account's ECR in {primary} "
            f"({cfg.account_id}.dkr.ecr.{primary}.amazonaws.com/...) or "
            + ", ".join(PULL_THROUGH_UPSTREAMS.values())
            + " (pulled through the mirror)",
        )
    mirror = cfg.mirror or MirrorConfig()
    for upstream in MIRROR_CREDENTIAL_UPSTREAMS:
        for region in cfg.regions:
            if mirror.credential_arn(upstream, region.name) is None:
                raise _KeyedValueError(
                    ("mirror", "credential-arns", upstream),
                    f"no secret for {region.name}; the cluster's KEDA images come from {upstream}, which ECR "
                    "pull-through cache reaches only with credentials: allowed: one "
                    "arn:aws:secretsmanager:<region>:<account>:secret:ecr-pullthroughcache/<name> per region",
                )
        for index, arn in enumerate(mirror.credential_arns.get(upstream, [])):
            account = _PTC_SECRET_RE.match(arn).group("account")
            if account != cfg.account_id:
                raise _KeyedValueError(
                    ("mirror", "credential-arns", upstream, index),
                    f"account {account} is not the stack's account {cfg.account_id}; the secret must be in the "
                    "rule's account and region",
                )
