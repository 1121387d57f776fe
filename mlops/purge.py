"""The ECR repositories a platform stack leaves behind on destroy, because ECR created them, not Pulumi.

Two kinds of repository come into being without a Pulumi resource: those a pull-through cache rule creates on
the first pull of an image (`ecr-public/...`, `k8s/...`, `ghcr/...`, in every region of an internet-free stack),
and the copies ECR's registry replication makes of the teams' `models/...` repositories in every region but the
primary. `pulumi destroy` deletes the rules, templates and replication configuration, but not these repositories,
which stay encrypted with an images key that destroy schedules for deletion. `mlops purge-repositories STACK`
lists them and, with `--delete`, deletes them with their images (DeleteRepository with force).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from components.config import PlatformConfig
from components.configbase import PULL_THROUGH_UPSTREAMS

Clients = Callable[[str, str], Any]


@dataclass(frozen=True)
class Unmanaged:
    """Repositories under ``prefix`` in ``region`` that ECR, not the stack, created, and why."""

    region: str
    prefix: str
    created_by: str


def unmanaged_prefixes(cfg: PlatformConfig) -> list[Unmanaged]:
    """Where ECR creates repositories for this stack: pull-through prefixes (internet-free stacks) in every
    region, `models/` replicas in the secondary regions (stacks with a registry and more than one region)."""
    regions = [region.name for region in cfg.regions]
    found = []
    if cfg.internet_free and cfg.cluster is not None:
        found += [
            Unmanaged(r, f"{prefix}/", f"pull-through cache from {PULL_THROUGH_UPSTREAMS[prefix]}")
            for r in regions
            for prefix in sorted(PULL_THROUGH_UPSTREAMS)
        ]
    if cfg.registry is not None:
        found += [
            Unmanaged(r, "models/", "registry replication from the primary region") for r in regions[1:]
        ]
    return found


def repositories(clients: Clients, account_id: str, place: Unmanaged) -> Iterator[str]:
    """The names of the account's repositories under the prefix, in the region."""
    pages = (
        clients("ecr", place.region).get_paginator("describe_repositories").paginate(registryId=account_id)
    )
    for page in pages:
        for repository in page["repositories"]:
            if repository["repositoryName"].startswith(place.prefix):
                yield repository["repositoryName"]


def purge(clients: Clients, cfg: PlatformConfig, delete: bool) -> list[str]:
    """One line per repository found: deleted (with ``delete``) or that would be deleted."""
    lines = []
    for place in unmanaged_prefixes(cfg):
        for name in sorted(repositories(clients, cfg.account_id, place)):
            if delete:
                clients("ecr", place.region).delete_repository(
                    registryId=cfg.account_id, repositoryName=name, force=True
                )
            lines.append(
                f"{'deleted' if delete else 'would delete'} {place.region} {name} ({place.created_by})"
            )
    return lines
