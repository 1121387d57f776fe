"""Model-team self-service: write, validate and list team stack files (`mlops team ...`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.config import (
    PLATFORM_KEY,
    TEAM_KEY,
    ConfigError,
    PlatformConfig,
    TeamConfig,
    check_team_on_platform,
    list_stacks,
    parse_platform,
    parse_team,
    platform_serving,
    read_config_file,
    read_stack_config,
    stack_file,
    team_stack_name,
)


@dataclass(frozen=True)
class NewTeam:
    """What `mlops team new` was asked for (flags, or an input file for the whole team value)."""

    team: str
    environment: str
    platform_stack: str | None = None
    owner_group: str | None = None
    owner_role_arn: str | None = None
    cost_center: str | None = None
    data_classification: str = "internal"
    cpu: str = "8"
    memory: str = "32Gi"
    gpus: int = 0
    pods: int = 50
    models: tuple[str, ...] = ()  # NAME=IMAGE
    regions: tuple[str, ...] = ()
    from_file: Path | None = None


def team_value(request: NewTeam, stacks_dir: Path, target: Path) -> dict[str, Any]:
    """The `mlops:team` mapping for a new team stack, before validation."""
    platform_stack = request.platform_stack or request.environment
    if request.from_file is not None:
        try:
            loaded = yaml.safe_load(request.from_file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(request.from_file, "(document)", f"not a readable YAML file ({exc})") from None
        value = loaded.get(TEAM_KEY, loaded) if isinstance(loaded, dict) else loaded
        if not isinstance(value, dict):
            raise ConfigError(request.from_file, TEAM_KEY, "must be a mapping (the team spec)")
        return {**value, "name": request.team, "environment": request.environment}
    regions = list(request.regions) or [
        region.name for region in platform_config(platform_stack, target, stacks_dir).regions
    ]
    models = []
    for spec in request.models:
        name, separator, image = spec.partition("=")
        if not separator or not name or not image:
            raise ConfigError(None, "--model", f"{spec!r} is not NAME=IMAGE (e.g. scorer=registry/scorer:1.0.0)")
        models.append(
            {
                "name": name,
                "port": 8080,
                "resources": {"cpu": "500m", "memory": "1Gi"},
                "autoscaling": {
                    "min-replicas": 2 if request.environment == "prod" else 1,
                    "max-replicas": 4,
                    "cpu-target": 70,
                },
                "versions": [{"name": "v1", "image": image, "weight": 100}],
            }
        )
    return {
        "name": request.team,
        "environment": request.environment,
        "platform-stack": platform_stack,
        "regions": regions,
        "owners": {"sso-group": request.owner_group, "role-arn": request.owner_role_arn},
        "cost-center": request.cost_center,
        "data-classification": request.data_classification,
        "quotas": {"cpu": request.cpu, "memory": request.memory, "gpus": request.gpus, "pods": request.pods},
        "data-access": [{"prefix": f"teams/{request.team}/", "access": "read-write"}],
        "models": models,
    }


def platform_config(reference: str, file: Path, stacks_dir: Path) -> PlatformConfig:
    """The platform stack a team stack names, or one error naming the team file's `platform-stack` key."""
    platform_stack = reference.rsplit("/", 1)[-1]
    path = stack_file(stacks_dir, platform_stack)
    if not path.is_file():
        platforms = [s for s in list_stacks(stacks_dir) if PLATFORM_KEY in read_config_file(stack_file(stacks_dir, s))]
        raise ConfigError(
            file, f"{TEAM_KEY}.platform-stack",
            f"{reference!r} has no stack file {path.name}; platform stacks: {', '.join(platforms) or 'none'}",
        )
    raw = read_config_file(path)
    if PLATFORM_KEY not in raw:
        raise ConfigError(file, f"{TEAM_KEY}.platform-stack", f"{platform_stack!r} is not a platform stack")
    return parse_platform(raw[PLATFORM_KEY], path)


def check_platform(team: TeamConfig, file: Path, stacks_dir: Path) -> None:
    """The platform stack a team builds on exists, has the same environment, serves the team's regions and
    gives its models host names, certificates and (for requests-per-second scaling) a managed Prometheus."""
    platform_stack = team.platform_stack.rsplit("/", 1)[-1]
    platform = platform_config(team.platform_stack, file, stacks_dir)
    if platform.environment != team.environment:
        raise ConfigError(
            file, f"{TEAM_KEY}.environment",
            f"{team.environment!r} differs from platform stack {platform_stack!r} ({platform.environment!r})",
        )
    served = [region.name for region in platform.regions]
    for index, region in enumerate(team.regions):
        if region not in served:
            raise ConfigError(
                file, f"{TEAM_KEY}.regions[{index}]", f"{region!r} is not a region of {platform_stack!r}; allowed: {', '.join(served)}"
            )
    check_team_on_platform(team, file, platform_serving(platform_stack, platform))


def render_stack_file(team: TeamConfig) -> str:
    body = {"config": {TEAM_KEY: team.model_dump(by_alias=True, exclude_none=True, mode="json")}}
    header = (
        f"# Model-team stack for {team.name} in {team.environment}, built on platform stack {team.platform_stack}.\n"
        "# Written by `mlops team new`; check it with `mlops team validate` and `mlops preview`.\n"
    )
    return header + yaml.safe_dump(body, sort_keys=False, default_flow_style=False)


def create(request: NewTeam, stacks_dir: Path) -> Path:
    """Validate, then write the stack file; an existing file is never touched."""
    target = stack_file(stacks_dir, team_stack_name(request.team, request.environment))
    if target.exists():
        raise ConfigError(target, "(file)", "already exists; refusing to overwrite (edit it, or remove it first)")
    team = parse_team(team_value(request, stacks_dir, target), target)
    check_platform(team, target, stacks_dir)
    text = render_stack_file(team)
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        with open(temporary, "x", encoding="utf-8") as handle:
            handle.write(text)
        # A hard link fails if the target appeared meanwhile, so a concurrent writer is never overwritten.
        target.hardlink_to(temporary)
    except FileExistsError:
        raise ConfigError(target, "(file)", "already exists; refusing to overwrite") from None
    finally:
        temporary.unlink(missing_ok=True)
    return target


def validate(stack_or_file: str, stacks_dir: Path) -> TeamConfig:
    """A team stack by name (`team-fraud-prod`) or a path to a stack file."""
    candidate = Path(stack_or_file)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        path = candidate
        if not path.is_file():
            raise ConfigError(path, "(file)", "does not exist")
        raw = read_config_file(path)
    else:
        path, raw = read_stack_config(stacks_dir, stack_or_file)
    if TEAM_KEY not in raw:
        raise ConfigError(path, TEAM_KEY, "missing; this is not a team stack file")
    team = parse_team(raw[TEAM_KEY], path)
    check_platform(team, path, stacks_dir)
    return team


def list_teams(stacks_dir: Path) -> list[tuple[str, TeamConfig]]:
    teams = []
    for stack in list_stacks(stacks_dir):
        path = stack_file(stacks_dir, stack)
        raw = read_config_file(path)
        if TEAM_KEY in raw:
            teams.append((stack, parse_team(raw[TEAM_KEY], path)))
    return teams
