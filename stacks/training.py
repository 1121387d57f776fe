"""The training side across stack files: a team's training quota against its platform's pools and the other
teams' quotas on them (the overcommit check), and the teams whose notebook profiles the platform's hub offers.

Read from the stack files beside the one being built, like the owners-access check (stacks/access.py).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from components.config import parse_platform, parse_team
from components.loader import ConfigError, list_stacks, stack_file
from components.quantity import cpu_millis, memory_bytes
from components.serving.config import TeamConfig, gpu_demand
from components.stackfile import PLATFORM_KEY, TEAM_KEY, read_config_file
from components.training.config import TrainingConfig
from components.training.quotas import RESOURCES, amount, check_overcommit, check_team_pools


def platform_training(stacks_dir: Path, platform_stack: str) -> TrainingConfig | None:
    """The training section of the platform stack file in ``stacks_dir`` (None: no file there, or no section)."""
    path = stack_file(stacks_dir, platform_stack.rsplit("/", 1)[-1])
    if not path.is_file():
        return None
    raw = read_config_file(path)
    return parse_platform(raw[PLATFORM_KEY], path).training if PLATFORM_KEY in raw else None


def teams_on_platform(
    stacks_dir: Path, platform_stack: str, skip: str | Path | None = None
) -> list[tuple[str, TeamConfig]]:
    """``(stack, team)`` of every valid team stack file on ``platform_stack`` in ``stacks_dir`` except ``skip``,
    in stack order (another team's broken file is that team's error)."""
    platform_stack = platform_stack.rsplit("/", 1)[-1]
    here = Path(skip).resolve() if skip is not None else None
    found = []
    for stack in list_stacks(stacks_dir):
        path = stack_file(stacks_dir, stack)
        if here is not None and path.resolve() == here:
            continue
        try:
            raw = read_config_file(path)
            team = parse_team(raw[TEAM_KEY], path) if TEAM_KEY in raw else None
        except ConfigError:
            continue
        if team is not None and team.platform_stack.rsplit("/", 1)[-1] == platform_stack:
            found.append((stack, team))
    return found


def check_namespace_quota(team: TeamConfig, file: str | Path | None) -> None:
    """The namespace's ResourceQuota caps everything the team runs there, Kueue-admitted jobs and notebooks too:
    it must hold the models at max replicas plus the training quotas, or admitted work would be refused pods."""
    if team.training is None:
        return
    models = {
        "cpu": sum(
            Decimal(cpu_millis(m.resources.cpu)) / 1000 * m.autoscaling.max_replicas * len(m.versions)
            for m in team.models
        ),
        "memory": sum(
            Decimal(memory_bytes(m.resources.memory)) / 2**30 * m.autoscaling.max_replicas * len(m.versions)
            for m in team.models
        ),
        "gpus": Decimal(gpu_demand(team.models)),
    }
    quota = {
        "cpu": Decimal(cpu_millis(team.quotas.cpu)) / 1000,
        "memory": Decimal(memory_bytes(team.quotas.memory)) / 2**30,
        "gpus": Decimal(team.quotas.gpus),
    }
    for resource in RESOURCES:
        training = sum((amount(pool, resource) for pool in team.training.pools), Decimal(0))
        if models[resource] + training > quota[resource]:
            unit = {"cpu": " cores", "memory": " GiB", "gpus": " GPUs"}[resource]
            raise ConfigError(
                file,
                f"{TEAM_KEY}.quotas.{resource}",
                f"{quota[resource].normalize():f}{unit} is below the models' {models[resource].normalize():f} at "
                f"max-replicas plus the training quotas' {training.normalize():f}; allowed: at least "
                f"{(models[resource] + training).normalize():f}",
            )


def check_team_training(team: TeamConfig, file: str | Path | None, stacks_dir: Path) -> list[str]:
    """The namespace quota holds the training quotas, the team's training pools exist on its platform, and the
    teams' quotas together fit each pool's limits within the platform's overcommit factor; returns the quota
    arithmetic of the team's pools."""
    if team.training is None:
        return []
    check_namespace_quota(team, file)
    platform = team.platform_stack.rsplit("/", 1)[-1]
    training = platform_training(stacks_dir, platform)
    if training is None:
        return []  # checked against the platform's outputs when the stack runs
    check_team_pools(team.training, training, file, platform)
    others = [
        (other.name, other.training)
        for _, other in teams_on_platform(stacks_dir, platform, skip=file)
        if other.training is not None and other.name != team.name
    ]
    return check_overcommit(team.name, team.training, training, others, file, platform)


def hub_teams(stacks_dir: Path, platform_stack: str) -> list[tuple[str, str, object]]:
    """``(team, owners sso group, training)`` of the teams on the platform with notebook profiles."""
    return [
        (team.name, team.owners.sso_group, team.training)
        for _, team in teams_on_platform(stacks_dir, platform_stack)
        if team.training is not None and team.training.notebook_profiles
    ]
