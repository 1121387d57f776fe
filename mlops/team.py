"""Model-team self-service: write, validate and list team stack files (`mlops team ...`)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.config import ENVIRONMENTS, PlatformConfig, parse_platform, parse_team
from components.data.config import check_data_access, declared
from components.loader import ConfigError, dump_yaml, list_stacks, load_yaml, stack_file
from components.serving.config import TeamConfig, check_team_on_platform, platform_serving, team_stack_name
from components.stackfile import PLATFORM_KEY, TEAM_KEY, read_config_file, read_stack_config
from components.validation import describe_value
from stacks.access import check_owner_access
from stacks.training import check_team_training


@dataclass(frozen=True)
class NewTeam:
    """What `mlops team new` was asked for: flags, and optionally a file with (part of) the team value.

    ``None`` means the flag was not given: the file's value, else the default, is used.
    """

    team: str
    environment: str
    platform_stack: str | None = None
    owner_group: str | None = None
    owner_role_arn: str | None = None
    cost_center: str | None = None
    data_classification: str | None = None
    cpu: str | None = None
    memory: str | None = None
    gpus: int | None = None
    pods: int | None = None
    models: tuple[str, ...] = ()  # NAME=IMAGE
    regions: tuple[str, ...] = ()
    from_file: Path | None = None
    # The provenance of a --model's version v1 (components.serving.provenance), each NAME=VALUE.
    sources: tuple[str, ...] = ()  # NAME=REPOSITORY@COMMIT
    licenses: tuple[str, ...] = ()  # NAME=SPDX identifier
    runs: tuple[str, ...] = ()  # NAME=MLflow model URI
    notes: tuple[str, ...] = ()  # NAME=TEXT
    alerts: tuple[str, ...] = ()  # PROTOCOL:ENDPOINT, the owners' alert subscriptions


# Each key of `mlops:team` a flag sets, with the flag as the user types it.
FLAGS = {
    "name": "TEAM",
    "environment": "--env",
    "platform-stack": "--platform-stack",
    "regions": "--region",
    "owners.sso-group": "--owner-group",
    "owners.role-arn": "--owner-role-arn",
    "owners.alerts": "--alert",
    "cost-center": "--cost-center",
    "data-classification": "--data-classification",
    "quotas.cpu": "--cpu",
    "quotas.memory": "--memory",
    "quotas.gpus": "--gpus",
    "quotas.pods": "--pods",
    "models": "--model",
}
REQUIRED = ("owners.sso-group", "owners.role-arn", "cost-center", "models")
DEFAULTS: dict[str, Any] = {
    "data-classification": "internal",
    "quotas.cpu": "8",
    "quotas.memory": "32Gi",
    "quotas.gpus": 0,
    "quotas.pods": 50,
}


@dataclass
class Origin:
    """Where each part of a new team value came from, so an error names what the user typed: the flag, or the
    key in the `--from` file (never the stack file, which is not written when anything is wrong)."""

    flags: dict[str, str]
    from_file: Path | None = None
    root: str = ""

    def explain(self, exc: ConfigError) -> ConfigError:
        if exc.file is not None or not (exc.key == TEAM_KEY or exc.key.startswith(f"{TEAM_KEY}.")):
            return exc  # an error in another file (the platform stack): it names that file already
        rest = exc.key[len(TEAM_KEY) + 1 :]
        provenance = re.match(r"^models\[\d+\]\.versions\[\d+\]\.(source|license|run|notes)\b", rest)
        if provenance and "models" in self.flags:  # a --model's version: its provenance flag
            return ConfigError(None, PROVENANCE_FLAGS[provenance.group(1)], exc.message)
        for key, flag in self.flags.items():
            if rest == key or rest.startswith((f"{key}.", f"{key}[")):
                return ConfigError(None, flag, exc.message)
        if self.from_file is not None:
            joined = f"{self.root}.{rest}" if self.root and rest else self.root or rest or "(top level)"
            return ConfigError(self.from_file, joined, exc.message)
        return exc


def _slot(value: dict[str, Any], key: str) -> tuple[dict[str, Any] | None, str]:
    """The mapping that holds dotted ``key`` (made when absent) and the last part; None when the file has a
    non-mapping in the way (the model then reports that key of the file)."""
    *parents, last = key.split(".")
    for part in parents:
        child = value.setdefault(part, {})
        if not isinstance(child, dict):
            return None, last
        value = child
    return value, last


def read_from_file(path: Path) -> tuple[dict[str, Any], str]:
    """The team value in a `--from` file (bare, under `mlops:team`, or a whole stack file) and its key root."""
    loaded = load_yaml(path)
    if isinstance(loaded, dict) and isinstance(loaded.get("config"), dict) and TEAM_KEY in loaded["config"]:
        loaded, root = loaded["config"][TEAM_KEY], f"config.{TEAM_KEY}"
    elif isinstance(loaded, dict) and TEAM_KEY in loaded:
        loaded, root = loaded[TEAM_KEY], TEAM_KEY
    else:
        root = ""
    if not isinstance(loaded, dict):
        raise ConfigError(
            path, root or "(top level)", f"must be a mapping (the team spec), got {describe_value(loaded)}"
        )
    return loaded, root


PROVENANCE_FLAGS = {"source": "--source", "license": "--license", "run": "--run", "notes": "--notes"}


def provenance_value(key: str, text: str) -> Any:
    """A provenance flag's text as a model version's mapping holds it (``key`` one of PROVENANCE_FLAGS):
    ``--source REPOSITORY@COMMIT`` becomes ``{repository, commit}``, the others stay text. The team spec checks
    the values themselves (components.serving.provenance)."""
    if key != "source":
        return text
    repository, at, commit = text.rpartition("@")
    if not at or not repository or not commit:
        raise ConfigError(
            None,
            PROVENANCE_FLAGS[key],
            f"{text!r} is not REPOSITORY@COMMIT (e.g. https://git.example/scorer@<40 hex>)",
        )
    return {"repository": repository, "commit": commit}


def _provenance_values(request: NewTeam, names: list[str]) -> dict[str, dict[str, Any]]:
    """The provenance flags by model name: each NAME=VALUE, NAME one of the --model names."""
    found: dict[str, dict[str, Any]] = {name: {} for name in names}
    for key, specs in (
        ("source", request.sources),
        ("license", request.licenses),
        ("run", request.runs),
        ("notes", request.notes),
    ):
        flag = PROVENANCE_FLAGS[key]
        for spec in specs:
            name, separator, text = spec.partition("=")
            if not separator or not text:
                raise ConfigError(None, flag, f"{spec!r} is not NAME=VALUE (NAME a --model)")
            if name not in found:
                allowed = ", ".join(names) or "none (give --model NAME=IMAGE first)"
                raise ConfigError(None, flag, f"{name!r} names no --model; allowed: {allowed}")
            if key in found[name]:
                raise ConfigError(None, flag, f"model {name!r} is given twice")
            found[name][key] = provenance_value(key, text)
    return found


ALERT_PROTOCOLS = ("email", "https")


def _alert_values(request: NewTeam) -> list[dict[str, str]]:
    """The --alert flags as `owners.alerts` subscriptions: each PROTOCOL:ENDPOINT."""
    alerts = []
    for spec in request.alerts:
        protocol, separator, endpoint = spec.partition(":")
        if not separator or protocol not in ALERT_PROTOCOLS or not endpoint:
            raise ConfigError(
                None,
                "--alert",
                f"{spec!r} is not PROTOCOL:ENDPOINT; allowed: email:ADDRESS or https:URL "
                "(e.g. email:oncall@example.com)",
            )
        alerts.append({"protocol": protocol, "endpoint": endpoint})
    return alerts


def _model_values(request: NewTeam) -> list[dict[str, Any]]:
    models = []
    for spec in request.models:
        name, separator, image = spec.partition("=")
        if not separator or not name or not image:
            raise ConfigError(
                None, "--model", f"{spec!r} is not NAME=IMAGE (e.g. scorer=registry/scorer:1.0.0)"
            )
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
    provenance = _provenance_values(request, [model["name"] for model in models])
    for model in models:
        model["versions"][0].update(provenance[model["name"]])
    return models


def team_value(request: NewTeam, stacks_dir: Path) -> tuple[dict[str, Any], Origin]:
    """The `mlops:team` mapping for a new team stack, before validation, and where each part came from.

    Flags fill what the `--from` file leaves out; a flag that contradicts the file is refused, not dropped.
    """
    if request.environment not in ENVIRONMENTS:
        raise ConfigError(
            None, "--env", f"{request.environment!r} is not allowed; allowed: {', '.join(ENVIRONMENTS)}"
        )
    value, root = read_from_file(request.from_file) if request.from_file is not None else ({}, "")
    value = copy.deepcopy(value)
    origin = Origin({}, request.from_file, root)
    given = {
        "name": request.team,
        "environment": request.environment,
        "platform-stack": request.platform_stack,
        "regions": list(request.regions) or None,
        "owners.sso-group": request.owner_group,
        "owners.role-arn": request.owner_role_arn,
        "owners.alerts": _alert_values(request) or None,
        "cost-center": request.cost_center,
        "data-classification": request.data_classification,
        "quotas.cpu": request.cpu,
        "quotas.memory": request.memory,
        "quotas.gpus": request.gpus,
        "quotas.pods": request.pods,
        "models": _model_values(request) or None,
    }
    for key, flag in FLAGS.items():
        holder, last = _slot(value, key)
        in_file = holder.get(last) if holder is not None else value.get(key.split(".")[0])
        if given[key] is None:
            continue
        if holder is None or (in_file is not None and in_file != given[key]):
            shown = "lists models" if key == "models" else f"gives {describe_value(in_file)}"
            raise ConfigError(
                request.from_file,
                f"{root}.{key}" if root else key,
                f"the file {shown} and {flag} gives {'more' if key == 'models' else repr(given[key])}; "
                "give it in one place",
            )
        holder[last] = given[key]
        origin.flags[key] = flag
    for key in REQUIRED:
        holder, last = _slot(value, key)
        if holder is not None and holder.get(last) is None:
            flag = FLAGS[key] + (" NAME=IMAGE" if key == "models" else "")
            raise ConfigError(None, "", f"{flag} is required unless --from gives {key}")
    for key, default in DEFAULTS.items():
        holder, last = _slot(value, key)
        if holder is not None and holder.get(last) is None:
            holder[last] = default
            origin.flags[key] = FLAGS[key]
    if value.get("platform-stack") is None:
        value["platform-stack"] = request.environment
        origin.flags["platform-stack"] = "--env"  # the default platform stack is the environment's
    if value.get("regions") is None:
        try:
            platform = platform_config(str(value["platform-stack"]), None, stacks_dir)
        except ConfigError as exc:
            raise origin.explain(exc) from None
        value["regions"] = [region.name for region in platform.regions]
        origin.flags["regions"] = "--region"
    value.setdefault("data-access", [{"prefix": f"teams/{request.team}/", "access": "read-write"}])
    return value, origin


def platform_config(reference: str, file: Path | None, stacks_dir: Path) -> PlatformConfig:
    """The platform stack a team stack names, or one error naming the team file's `platform-stack` key."""
    platform_stack = reference.rsplit("/", 1)[-1]
    path = stack_file(stacks_dir, platform_stack)
    if not path.is_file():
        platforms = [
            s for s in list_stacks(stacks_dir) if PLATFORM_KEY in read_config_file(stack_file(stacks_dir, s))
        ]
        raise ConfigError(
            file,
            f"{TEAM_KEY}.platform-stack",
            f"{reference!r} has no stack file {path.name}; platform stacks: {', '.join(platforms) or 'none'}",
        )
    raw = read_config_file(path)
    if PLATFORM_KEY not in raw:
        raise ConfigError(file, f"{TEAM_KEY}.platform-stack", f"{platform_stack!r} is not a platform stack")
    return parse_platform(raw[PLATFORM_KEY], path)


def check_platform(team: TeamConfig, file: Path | None, stacks_dir: Path) -> None:
    """The platform stack a team builds on exists, has the same environment, serves the team's regions and
    gives its models host names, certificates and (for requests-per-second scaling) a managed Prometheus."""
    platform_stack = team.platform_stack.rsplit("/", 1)[-1]
    platform = platform_config(team.platform_stack, file, stacks_dir)
    if platform.environment != team.environment:
        raise ConfigError(
            file,
            f"{TEAM_KEY}.environment",
            f"{team.environment!r} differs from platform stack {platform_stack!r} ({platform.environment!r})",
        )
    served = [region.name for region in platform.regions]
    for index, region in enumerate(team.regions):
        if region not in served:
            raise ConfigError(
                file,
                f"{TEAM_KEY}.regions[{index}]",
                f"{region!r} is not a region of {platform_stack!r}; allowed: {', '.join(served)}",
            )
    check_team_on_platform(team, file, platform_serving(platform_stack, platform))
    check_data_access(
        team.name,
        [(access.prefix, access.access) for access in team.data_access],
        list(team.lake_formation),
        file,
        declared(platform.data) if platform.data is not None else None,
        platform.data is not None and platform.data.lake_formation is not None,
        platform_stack,
    )


def check_shared_load_balancer(team: TeamConfig, file: Path | None, stacks_dir: Path) -> None:
    """The team's models and those of every other team stack on the same platform stack (in ``stacks_dir``)
    must fit one serving ALB per region: a config error names the region, the quotas and the teams."""
    from components.serving.quotas import quota_excess, serving_alb_usage

    platform_stack = team.platform_stack.rsplit("/", 1)[-1]
    platform = platform_config(team.platform_stack, file, stacks_dir)
    teams = [team]
    for stack, other in _readable_teams(stacks_dir):
        same_file = file is not None and Path(file).resolve() == stack_file(stacks_dir, stack).resolve()
        if (
            other.platform_stack.rsplit("/", 1)[-1] == platform_stack
            and not same_file
            and other.name != team.name
        ):
            teams.append(other)
    for other in teams[1:]:
        longer, shorter = (
            (team.name, other.name) if len(team.name) > len(other.name) else (other.name, team.name)
        )
        if longer.endswith(f"-{shorter}"):
            raise ConfigError(
                file,
                f"{TEAM_KEY}.name",
                f"{team.name!r} and team {other.name!r} of platform stack {platform_stack!r} share the ending "
                f"-{shorter}: host <model>-{longer}.<zone> of team {longer!r} is also the host of a model "
                f"'<model>-{longer[: -len(shorter) - 1]}' of team {shorter!r}, so the admission policy could not keep "
                "them apart; allowed: a team name that is not another team's name with a prefix",
            )
    certificates = dict(platform.dns.certificate_arns) if platform.dns is not None else {}
    for region in team.regions:
        served = [t for t in teams if region in t.regions]
        models = [
            (
                len(m.versions),
                m.autoscaling.max_replicas,
                t.ingress.certificate_arns[region] if t.ingress is not None else certificates.get(region, ""),
            )
            for t in served
            for m in t.models
        ]
        excess = quota_excess(serving_alb_usage(models, certificates.get(region)))
        if excess:
            raise ConfigError(
                file,
                f"{TEAM_KEY}.models",
                f"the serving ALB of platform stack {platform_stack!r} in {region} would need {'; '.join(excess)} "
                f"with the models of teams {', '.join(sorted(t.name for t in served))}; allowed: fewer versions, "
                "replicas or certificates (or a raised quota where adjustable)",
            )


def _readable_teams(stacks_dir: Path) -> list[tuple[str, TeamConfig]]:
    """Every team stack in ``stacks_dir`` that parses (another team's broken file is that team's error)."""
    found = []
    for stack in list_stacks(stacks_dir):
        path = stack_file(stacks_dir, stack)
        try:
            raw = read_config_file(path)
            if TEAM_KEY in raw:
                found.append((stack, parse_team(raw[TEAM_KEY], path)))
        except ConfigError:
            continue
    return found


def render_stack_file(team: TeamConfig) -> str:
    body = {"config": {TEAM_KEY: team.model_dump(by_alias=True, exclude_none=True, mode="json")}}
    header = (
        f"# Model-team stack for {team.name} in {team.environment}, built on platform stack {team.platform_stack}.\n"
        "# Written by `mlops team new`; check it with `mlops team validate` and `mlops preview`.\n"
    )
    return header + dump_yaml(body)


def create(request: NewTeam, stacks_dir: Path) -> Path:
    """Validate, then write the stack file; an existing file is never touched."""
    target = stack_file(stacks_dir, team_stack_name(request.team, request.environment))
    if target.exists():
        raise ConfigError(
            target, "(file)", "already exists; refusing to overwrite (edit it, or remove it first)"
        )
    value, origin = team_value(request, stacks_dir)
    try:
        team = parse_team(value, None)
        check_platform(team, None, stacks_dir)
        check_owner_access(team, None, stacks_dir)
        check_shared_load_balancer(team, None, stacks_dir)
        check_team_training(team, None, stacks_dir)
    except ConfigError as exc:
        raise origin.explain(exc) from None
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
    check_owner_access(team, path, stacks_dir)
    check_shared_load_balancer(team, path, stacks_dir)
    check_team_training(team, path, stacks_dir)
    return team


def list_teams(stacks_dir: Path) -> list[tuple[str, TeamConfig]]:
    teams = []
    for stack in list_stacks(stacks_dir):
        path = stack_file(stacks_dir, stack)
        raw = read_config_file(path)
        if TEAM_KEY in raw:
            teams.append((stack, parse_team(raw[TEAM_KEY], path)))
    return teams


def dependents(platform_stack: str, stacks_dir: Path) -> list[tuple[str, TeamConfig]]:
    """The team stacks in ``stacks_dir`` built on ``platform_stack`` (a platform stack file must exist)."""
    path, raw = read_stack_config(stacks_dir, platform_stack)
    if PLATFORM_KEY not in raw:
        raise ConfigError(path, PLATFORM_KEY, f"missing; {platform_stack!r} is not a platform stack")
    return [
        (stack, team)
        for stack, team in list_teams(stacks_dir)
        if team.platform_stack.rsplit("/", 1)[-1] == platform_stack
    ]
