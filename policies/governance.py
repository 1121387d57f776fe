"""Ownership tags and protection of stateful resources."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from pulumi_policy import ResourceValidationArgs, Severity

from policies.base import environment, mapping, resource_policy

REQUIRED_TAGS = ("team", "environment", "cost-center", "data-classification", "managed-by")
MANAGED_BY = "pulumi-mlops-platform"
STATEFUL = (
    "aws:s3/bucket:Bucket",
    "aws:kms/key:Key",
    "aws:kms/replicaKey:ReplicaKey",
    "aws:rds/instance:Instance",
    "aws:rds/cluster:Cluster",
)


@cache
def taggable_types() -> frozenset[str]:
    """Types whose constructor takes `tags` (policies/data/taggable-aws-types.json, from policies/gen_taggable.py)."""
    data = json.loads(
        (Path(__file__).parent / "data" / "taggable-aws-types.json").read_text(encoding="utf-8")
    )
    return frozenset(data["types"])


def _taggable(resource_type: str) -> bool:
    return resource_type in taggable_types()


def _missing_tags(props, _args):
    tags = mapping(props.get("tags"))
    missing = [tag for tag in REQUIRED_TAGS if not isinstance(tags.get(tag), str) or not tags.get(tag)]
    return f"missing tags: {', '.join(missing)}" if missing else None


def _add_missing_tags(args: ResourceValidationArgs):
    """Fill what can be known: environment from the pack's config, managed-by; the rest as 'unassigned'."""
    tags = dict(mapping(args.props.get("tags")))
    known = {"environment": environment(args), "managed-by": MANAGED_BY}
    for tag in REQUIRED_TAGS:
        if not tags.get(tag):
            tags[tag] = known.get(tag, "unassigned")
    return {**args.props, "tags": tags}


def _protected(_props, args):
    if environment(args) != "prod":
        return None
    return (
        None
        if getattr(args.opts, "protect", False)
        else "a stateful prod resource is not protected (protect: true)"
    )


POLICIES = [
    resource_policy(
        "aws-required-tags",
        area="tagging",
        severity=Severity.MEDIUM,
        description=f"Taggable AWS resources carry the tags {', '.join(REQUIRED_TAGS)}.",
        types=_taggable,
        check=_missing_tags,
        remediate=_add_missing_tags,
        environment_aware=True,
        remediation="Merge the stack's tags from components.configbase.tags_for into the resource's tags.",
    ),
    resource_policy(
        "stateful-protected-in-prod",
        area="governance",
        severity=Severity.HIGH,
        description="Buckets, KMS keys and databases are protected from deletion in prod.",
        types=STATEFUL,
        check=_protected,
        environment_aware=True,
        remediation="Pass opts=ResourceOptions(protect=True) in prod.",
    ),
]
