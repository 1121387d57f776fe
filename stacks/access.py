"""A team's owners role against the principals that already have an EKS access entry: its platform's (deployer,
cluster admins, SSO roles) and the other teams' on that platform, read from the stack files beside it (EKS allows
one access entry per IAM principal). Used by the team program and by ``mlops team``."""

from __future__ import annotations

from pathlib import Path

from components.config import parse_platform, parse_team
from components.loader import ConfigError, list_stacks, stack_file
from components.serving.config import (
    OwnedPrincipal,
    TeamConfig,
    check_owner_principal,
    platform_principals,
    team_principals,
)
from components.stackfile import PLATFORM_KEY, TEAM_KEY, read_config_file


def check_owner_access(team: TeamConfig, file: str | Path | None, stacks_dir: Path) -> None:
    """The owners role against the platform stack file the team names and the other team stacks on it, in
    ``stacks_dir``; a platform stack whose file is not there (another project) is checked by its teams only."""
    platform_stack = team.platform_stack.rsplit("/", 1)[-1]
    owned: list[OwnedPrincipal] = []
    path = stack_file(stacks_dir, platform_stack)
    if path.is_file():
        raw = read_config_file(path)
        if PLATFORM_KEY in raw:
            owned += platform_principals(platform_stack, parse_platform(raw[PLATFORM_KEY], path))
    here = Path(file).resolve() if file is not None else None
    others = []
    for stack in list_stacks(stacks_dir):
        other_path = stack_file(stacks_dir, stack)
        if here is not None and other_path.resolve() == here:
            continue
        try:
            raw = read_config_file(other_path)
            other = parse_team(raw[TEAM_KEY], other_path) if TEAM_KEY in raw else None
        except ConfigError:
            continue  # another team's broken file is that team's error
        if (
            other is not None
            and other.name != team.name
            and other.platform_stack.rsplit("/", 1)[-1] == platform_stack
        ):
            others.append((stack, other))
    check_owner_principal(team, file, owned + team_principals(others))
