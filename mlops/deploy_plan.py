"""`mlops deploy-plan`: which stacks a merged change deploys, in the order the deploy workflow applies them.

The selection is `mlops check --changed-since`'s (mlops/changes.py): a team's stack file selects that team, a
platform's file its platform and the teams on it, shared code every stack. Platform stacks are applied before
team stacks (a team stack reads its platform's outputs). Each entry carries the pack config the live job uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from components.stackfile import PLATFORM_KEY, TEAM_KEY, read_stack_config
from mlops.changes import affected_stacks, changed_paths, inventory


def stack_environment(stacks_dir: Path, stack: str) -> str:
    """A stack's environment as its file names it (the strictest, prod, when unsure)."""
    _, raw = read_stack_config(stacks_dir, stack)
    value = raw.get(TEAM_KEY) or raw.get(PLATFORM_KEY) or {}
    environment = value.get("environment") if isinstance(value, dict) else None
    return environment if environment in ("dev", "staging", "prod") else "prod"  # the strictest when unsure


def deploy_plan(stacks_dir: Path, ref: str) -> dict[str, list[dict[str, Any]]]:
    """``{"platforms": [...], "teams": [...]}``: the stacks the changes since ``ref`` affect, each with its
    ``policy-config`` (policies/config/<name>.json) and, for a team, its ``platform-stack``."""
    paths, prefix = changed_paths(ref, stacks_dir)
    stacks = inventory(stacks_dir)
    selected = set(affected_stacks(paths, stacks, prefix).stacks)
    platforms, teams = [], []
    for stack in stacks:
        if stack.name not in selected:
            continue
        environment = stack_environment(stacks_dir, stack.name)
        if stack.platform is None:
            platforms.append({"stack": stack.name, "policy-config": environment})
        else:
            teams.append(
                {
                    "stack": stack.name,
                    "policy-config": f"team-{environment}",
                    "platform-stack": stack.platform,
                }
            )
    return {"platforms": platforms, "teams": teams}
