"""`mlops deploy-plan`: which stacks a merged change deploys, in the order the deploy workflow applies them, and
how each deploys.

The selection is `mlops check --changed-since`'s (mlops/changes.py): a team's stack file selects that team, a
platform's file its platform and the teams on it, shared code every stack. Platform stacks are applied before
team stacks (a team stack reads its platform's outputs). A stack deploys only where its platform's `github`
section names a GitHub environment for it (components/identity/github_config.py); the others are listed as
skipped, with the reason. Each entry carries the pack config the live job uses, the deploy role the job assumes
(``<prefix>-deploy-<stack>``, components/identity/deploy_policies.py) in its GitHub environment, for a platform the
deployer it then assumes, and the runner labels of its platform. A team change its team's role cannot apply
(``deployer_changes``: a new stack, region, role, data grant, queue, budget), one selected by anything but its own
file (shared code, its platform's file: any of its resources may change), or one with nothing deployed to compare
with, deploys in the platform's environment as the deployer instead, its reasons listed (``needs-deployer``), so
the platform's reviewers approve it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from components.blocks.context import PlatformContext
from components.config import PlatformConfig, parse_platform, parse_team
from components.identity.deploy_policies import deploy_role_name
from components.loader import ConfigError, UnknownStackError
from components.serving.config import TeamConfig
from components.stackfile import PLATFORM_KEY, TEAM_KEY, read_stack_config
from mlops.changes import Stack, affected_stacks, changed_paths, classify, inventory
from mlops.history import team_in


def stack_environment(stacks_dir: Path, stack: str) -> str:
    """A stack's environment as its file names it (the strictest, prod, when unsure)."""
    _, raw = read_stack_config(stacks_dir, stack)
    value = raw.get(TEAM_KEY) or raw.get(PLATFORM_KEY) or {}
    environment = value.get("environment") if isinstance(value, dict) else None
    return environment if environment in ("dev", "staging", "prod") else "prod"  # the strictest when unsure


def _platform(stacks_dir: Path, name: str, cache: dict[str, PlatformConfig | None]) -> PlatformConfig | None:
    """A platform stack's validated config (None: no such platform stack in ``stacks_dir``)."""
    if name not in cache:
        try:
            path, raw = read_stack_config(stacks_dir, name)
        except UnknownStackError:
            cache[name] = None
        else:
            cache[name] = parse_platform(raw.get(PLATFORM_KEY), path) if PLATFORM_KEY in raw else None
    return cache[name]


def deployer_changes(before: TeamConfig | None, after: TeamConfig) -> list[str]:
    """What of a team stack's change its team deploy role cannot apply (IAM cannot bound it, or it is
    cluster-scoped; components/identity/deploy_policies.py), so the platform's deployer applies it."""
    if before is None:
        return ["a new team stack (its first deployment)"]
    reasons = []
    added_regions = sorted(set(after.regions) - set(before.regions))
    if added_regions:
        reasons.append(f"new regions {', '.join(added_regions)} (the team's namespace there)")
    removed_regions = sorted(set(before.regions) - set(after.regions))
    if removed_regions:
        reasons.append(f"regions removed {', '.join(removed_regions)} (the team's namespace there)")
    if before.owners.role_arn != after.owners.role_arn:
        reasons.append("owners.role-arn changed (a new access entry)")
    if before.pipelines is None and after.pipelines is not None:
        reasons.append("pipelines added (a new role: the workflow role)")
    old_access = [entry.model_dump() for entry in before.data_access]
    if any(entry.model_dump() not in old_access for entry in after.data_access):
        reasons.append("new data-access entries (new access grants)")
    if [g.model_dump() for g in before.lake_formation] != [g.model_dump() for g in after.lake_formation]:
        reasons.append("lake-formation grants changed")
    if (before.training and before.training.model_dump()) != (after.training and after.training.model_dump()):
        reasons.append("training changed (the team's ClusterQueue)")
    if before.budget is None and after.budget is not None:
        reasons.append("a new budget")
    if (before.ingress and before.ingress.domain) != (after.ingress and after.ingress.domain):
        reasons.append("ingress domain changed (the namespace's annotation)")
    return reasons


def _deployment(stack: Stack, platform: PlatformConfig | None) -> dict[str, Any] | str:
    """How ``stack`` deploys (its role, runners, deployer), or why it does not."""
    where = stack.platform or stack.name
    if platform is None:
        return f"its platform stack {where!r} is not in this folder"
    github = platform.github
    if github is None or stack.name not in github.environments:
        return f"platform {where!r} names no GitHub environment {stack.name!r} (github section)"
    if stack.platform is not None and stack.name not in github.team_environments:
        return f"{stack.name!r} is a platform environment of {where!r}, not a team environment"
    if stack.platform is None and stack.name not in github.platform_environments:
        return f"{stack.name!r} is a team environment of {where!r}, not a platform environment"
    deployment: dict[str, Any] = {
        "environment": stack.name,
        "role-arn": _deploy_role_arn(platform, stack.name),
        "runs-on": list(github.runner_labels),
        "region": platform.regions[0].name,
    }
    if stack.platform is None:
        assert platform.deployer is not None  # the config requires it with platform environments
        deployment["deployer-arn"] = platform.deployer.role_arn
    return deployment


def _deploy_role_arn(platform: PlatformConfig, environment: str) -> str:
    """The platform's deploy role of a GitHub environment (components/identity/github.py)."""
    ctx = PlatformContext(
        platform.environment, platform.partition, platform.account_id, platform.regions[0].name
    )
    return ctx.arn.role(deploy_role_name(ctx.prefix, environment))


UNREADABLE = "the deployed file does not read under the current spec"


def _deployer_reasons(stacks_dir: Path, stack: Stack, ref: str | None, others: list[str]) -> list[str]:
    """Why a team stack's deployment needs the deployer: no deployed revision to compare with, a change besides its
    own file (shared code, its platform's file: any resource may change), a deployed file the current spec refuses,
    or what ``deployer_changes`` finds in its own file."""
    if ref is None:
        return ["no successful deploy run to compare with (every stack deploys)"]
    reasons = [f"{path} changed (any of the team's resources may change)" for path in others[:3]]
    if len(others) > 3:
        reasons.append(f"and {len(others) - 3} more shared paths")
    path, raw = read_stack_config(stacks_dir, stack.name)
    try:
        before = team_in(stacks_dir, stack.name, ref, "--since")
    except ConfigError as error:
        return [*reasons, f"{UNREADABLE} ({error})"]
    return reasons + deployer_changes(before, parse_team(raw.get(TEAM_KEY), path))


def _by_deployer(
    deployment: dict[str, Any], platform: PlatformConfig, where: str, reasons: list[str]
) -> dict | str:
    """A team stack's deployment through its platform's environment and deployer (``reasons``: why)."""
    github = platform.github
    if github is None or not github.platform_environments or platform.deployer is None:
        return (
            f"needs the deployer ({'; '.join(reasons)}) and platform {where!r} names no platform environment"
        )
    environment = where if where in github.platform_environments else github.platform_environments[0]
    return {
        **deployment,
        "environment": environment,
        "role-arn": _deploy_role_arn(platform, environment),
        "deployer-arn": platform.deployer.role_arn,
        "needs-deployer": reasons,
    }


def deploy_plan(stacks_dir: Path, ref: str | None) -> dict[str, Any]:
    """``{"base", "platforms": [...], "teams": [...], "skipped": [...]}``: the stacks the changes since ``ref``
    affect (every stack when ``ref`` is None: nothing deployed yet), each with its ``policy-config``
    (policies/config/<name>.json), its deployment and, for a team, its ``platform-stack``."""
    stacks = inventory(stacks_dir)
    # Per team stack, the changed paths that select it besides its own file (shared code, its platform's file).
    others: dict[str, list[str]] = {}
    if ref is None:
        selected = {stack.name for stack in stacks}
    else:
        paths, prefix = changed_paths(ref, stacks_dir)
        selected = set(affected_stacks(paths, stacks, prefix).stacks)
        for path in paths:
            kind, name = classify(path, prefix)
            for stack in stacks:
                # Shared code selects every stack; a platform's file its teams (mlops/changes.py).
                if kind == "all" or (kind == "stack" and stack.platform == name and stack.name != name):
                    others.setdefault(stack.name, []).append(path)
    platforms, teams, skipped = [], [], []
    cache: dict[str, PlatformConfig | None] = {}
    for stack in stacks:
        if stack.name not in selected:
            continue
        environment = stack_environment(stacks_dir, stack.name)
        platform = _platform(stacks_dir, stack.platform or stack.name, cache)
        deployment = _deployment(stack, platform)
        if not isinstance(deployment, str) and stack.platform is not None:
            reasons = _deployer_reasons(stacks_dir, stack, ref, others.get(stack.name, []))
            # The revision whose traffic the canary policy compares with (mlops pack-config --base): the last
            # deployed one, unless it does not read under the current spec; empty: the commit deployed itself.
            deployment["base"] = (
                ref if ref is not None and not any(r.startswith(UNREADABLE) for r in reasons) else ""
            )
            if reasons and platform is not None:
                deployment = _by_deployer(deployment, platform, stack.platform, reasons)
        if isinstance(deployment, str):
            skipped.append({"stack": stack.name, "reason": deployment})
        elif stack.platform is None:
            platforms.append({"stack": stack.name, "policy-config": environment, **deployment})
        else:
            teams.append(
                {
                    "stack": stack.name,
                    "policy-config": f"team-{environment}",
                    "platform-stack": stack.platform,
                    **deployment,
                }
            )
    return {"base": ref, "platforms": platforms, "teams": teams, "skipped": skipped}
