"""Every policy of the pack, and the enforcement level of each per environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pulumi_policy import EnforcementLevel, Policy

from policies import (
    aws_audit,
    aws_compute,
    aws_iam,
    aws_network,
    aws_storage,
    governance,
    kubernetes,
    links,
    pipelines,
    provenance,
    release,
    stack,
    training,
    ui_auth,
)
from policies.base import REGISTRY
from policies.team_config import (  # noqa: F401  (re-exported: the pack's config API)
    BOUNDARY_PLACEHOLDER,
    BOUNDARY_POLICY,
    BOUNDARY_PROPERTY,
    with_permissions_boundary,
)

MODULES = (
    aws_storage,
    aws_compute,
    aws_network,
    aws_audit,
    aws_iam,
    kubernetes,
    governance,
    stack,
    links,
    ui_auth,
    provenance,
    pipelines,
    release,
    training,
)
CONFIG_DIR = Path(__file__).parent / "config"
LEVELS = ("advisory", "mandatory", "remediate", "disabled")
TEAM_PREFIX = "team-"


def all_policies() -> list[Policy]:
    return [policy for module in MODULES for policy in module.POLICIES]


def pack_arguments() -> dict[str, Any]:
    """The pack as policies/__main__.py declares it: `PolicyPack(**pack_arguments())`."""
    return {
        "name": "mlops-platform-security",
        "description": "The mlops-platform security baseline: encryption, private networking, least privilege, "
        "hardened workloads, tagging and protection of stateful resources.",
        "enforcement_level": EnforcementLevel.MANDATORY,
        "policies": all_policies(),
    }


def environment_of(config_name: str) -> str:
    """`team-prod` -> `prod`: a team stack's pack config is its environment's with the team's additions."""
    return config_name.removeprefix(TEAM_PREFIX)


def environment_config(config_name: str) -> dict[str, dict[str, Any]]:
    """Per-policy config from policies/config/<config_name>.json (the `--policy-pack-config` file): a platform
    stack's environment (dev, staging, prod) or a team stack's (team-dev, team-staging, team-prod).

    The file may set "all" (a level for every policy), then per policy a level or {"enforcementLevel": ...}.
    Environment-aware policies get the environment as their `environment` property.
    """
    path = CONFIG_DIR / f"{config_name}.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    environment = environment_of(config_name)
    default = raw.get("all", "mandatory")
    config: dict[str, dict[str, Any]] = {}
    for name in REGISTRY:
        value = raw.get(name, default)
        entry = dict(value) if isinstance(value, dict) else {"enforcementLevel": value}
        entry.setdefault("enforcementLevel", default if isinstance(default, str) else "mandatory")
        if entry["enforcementLevel"] not in LEVELS:
            raise ValueError(f"{path}: {name}: level {entry['enforcementLevel']!r}")
        if REGISTRY[name].environment_aware:
            entry["environment"] = environment
        config[name] = entry
    return config
