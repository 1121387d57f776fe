"""Every policy of the pack, and the enforcement level of each per environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pulumi_policy import Policy

from policies import aws_audit, aws_compute, aws_iam, aws_network, aws_storage, governance, kubernetes, stack
from policies.base import REGISTRY

MODULES = (aws_storage, aws_compute, aws_network, aws_audit, aws_iam, kubernetes, governance, stack)
CONFIG_DIR = Path(__file__).parent / "config"
LEVELS = ("advisory", "mandatory", "remediate", "disabled")


def all_policies() -> list[Policy]:
    return [policy for module in MODULES for policy in module.POLICIES]


def environment_config(environment: str) -> dict[str, dict[str, Any]]:
    """Per-policy config for an environment, from policies/config/<env>.json (the `--policy-pack-config` file).

    The file may set "all" (a level for every policy), then per policy a level or {"enforcementLevel": ...}.
    Environment-aware policies get the environment as their `environment` property.
    """
    raw = json.loads((CONFIG_DIR / f"{environment}.json").read_text(encoding="utf-8"))
    default = raw.get("all", "mandatory")
    config: dict[str, dict[str, Any]] = {}
    for name in REGISTRY:
        value = raw.get(name, default)
        entry = dict(value) if isinstance(value, dict) else {"enforcementLevel": value}
        entry.setdefault("enforcementLevel", default if isinstance(default, str) else "mandatory")
        if entry["enforcementLevel"] not in LEVELS:
            raise ValueError(
                f"{CONFIG_DIR / (environment + '.json')}: {name}: level {entry['enforcementLevel']!r}"
            )
        if REGISTRY[name].environment_aware:
            entry["environment"] = environment
        config[name] = entry
    return config
