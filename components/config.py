"""Typed stack configuration: the one place a stack file is read and validated.

A stack file ``stacks/Pulumi.<stack>.yaml`` holds namespaced config. Platform stacks carry one structured
value under ``mlops:platform``. The models here are frozen and forbid unknown keys, so a typo, a wrong type
or a missing key fails before any resource exists, with the file, the key path and what is allowed.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CONFIG_NAMESPACE = "mlops"
PLATFORM_KEY = "mlops:platform"
KNOWN_KEYS = (PLATFORM_KEY,)

ENVIRONMENTS = ("dev", "staging", "prod")
PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
NAT_STRATEGIES = ("none", "single", "one-per-az")
DATA_CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")

_REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_AZ_SUFFIX_RE = re.compile(r"^[a-z]$")
_KEBAB_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class ConfigError(Exception):
    """A user error in a stack file: one line naming the file, the key path and what is allowed."""

    def __init__(self, file: str | Path | None, key: str, message: str):
        self.file = str(file) if file is not None else None
        self.key = key
        self.message = message
        where = f"{self.file}: " if self.file else ""
        super().__init__(f"{where}{key}: {message}")


class Model(BaseModel):
    """Base of every config model: frozen, unknown keys rejected, YAML-friendly aliases (kebab-case)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=False)


class BaseTags(Model):
    """Ownership tags every taggable resource of the stack carries (merged by ``tags_for``)."""

    team: Annotated[str, Field(min_length=1, max_length=128)]
    cost_center: Annotated[str, Field(alias="cost-center", min_length=1, max_length=128)]
    data_classification: Annotated[
        Literal["public", "internal", "confidential", "restricted"], Field(alias="data-classification")
    ]


class RegionConfig(Model):
    """One AWS region of the platform: its availability zones and the VPC CIDR planned into them."""

    name: str
    availability_zones: Annotated[list[str], Field(alias="availability-zones", min_length=1, max_length=6)]
    vpc_cidr: Annotated[str, Field(alias="vpc-cidr")]

    @field_validator("name")
    @classmethod
    def _region_name(cls, value: str) -> str:
        if not _REGION_RE.match(value):
            raise ValueError(f"{value!r} is not an AWS region name (allowed: names like us-east-1, eu-west-2)")
        return value

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(
                f"{value!r} is not an IPv4 network in CIDR notation ({exc}); allowed: e.g. 10.10.0.0/16"
            ) from None
        if not 16 <= network.prefixlen <= 24:
            raise ValueError(f"{value!r} has prefix /{network.prefixlen}; allowed: /16 to /24")
        return str(network)

    @model_validator(mode="after")
    def _zones_in_region(self) -> RegionConfig:
        for index, zone in enumerate(self.availability_zones):
            suffix = zone[len(self.name):] if zone.startswith(self.name) else None
            if suffix is None or not _AZ_SUFFIX_RE.match(suffix):
                raise _KeyedValueError(
                    ("availability-zones", index),
                    f"{zone!r} is not an availability zone of {self.name} "
                    f"(allowed: {self.name} followed by one letter, e.g. {self.name}a)",
                )
        if len(set(self.availability_zones)) != len(self.availability_zones):
            raise _KeyedValueError(("availability-zones",), "availability zones must be distinct")
        from components.cidr import SubnetPlanError, plan_subnets

        try:
            plan_subnets(self.vpc_cidr, self.availability_zones)
        except SubnetPlanError as exc:
            raise _KeyedValueError(("vpc-cidr",), str(exc)) from None
        return self

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.vpc_cidr)


class PlatformConfig(Model):
    """The configuration of one platform stack (`mlops:platform`)."""

    environment: Literal["dev", "staging", "prod"]
    account_id: Annotated[str, Field(alias="account-id", pattern=r"^\d{12}$")]
    partition: Literal["aws", "aws-cn", "aws-us-gov"] = "aws"
    regions: Annotated[list[RegionConfig], Field(min_length=1, max_length=4)]
    tags: BaseTags
    nat: Literal["none", "single", "one-per-az"] = "single"
    internet_free: Annotated[bool, Field(alias="internet-free")] = False
    log_retention_days: Annotated[
        Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653],
        Field(alias="log-retention-days"),
    ] = 30

    @model_validator(mode="after")
    def _cross_checks(self) -> PlatformConfig:
        names = [region.name for region in self.regions]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise _KeyedValueError(("regions", index, "name"), f"region {name!r} is listed twice")
        for index, region in enumerate(self.regions):
            for other_index, other in enumerate(self.regions[:index]):
                if region.network.overlaps(other.network):
                    raise _KeyedValueError(
                        ("regions", index, "vpc-cidr"),
                        f"{region.vpc_cidr} overlaps {other.vpc_cidr} of region {other.name} "
                        f"(regions[{other_index}]); allowed: non-overlapping CIDRs across regions",
                    )
        if self.internet_free and self.nat != "none":
            raise _KeyedValueError(
                ("nat",), f"{self.nat!r} contradicts internet-free: true; allowed with internet-free: 'none'"
            )
        if self.environment == "prod" and self.log_retention_days < 365:
            raise _KeyedValueError(
                ("log-retention-days",),
                f"{self.log_retention_days} is below the prod floor; allowed in prod: 365 or more",
            )
        return self

    @property
    def primary_region(self) -> RegionConfig:
        return self.regions[0]

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"


class _KeyedValueError(ValueError):
    """A validator error that points at a nested key below the model that raised it."""

    def __init__(self, loc: tuple[str | int, ...], message: str):
        self.loc = loc
        super().__init__(message)


MANAGED_BY = "pulumi-mlops-platform"


def tags_for(base: BaseTags, environment: str, **extra: str) -> dict[str, str]:
    """The explicit tags of a taggable AWS resource: ownership, environment and `managed-by`, plus extras."""
    tags = {
        "team": base.team,
        "environment": environment,
        "cost-center": base.cost_center,
        "data-classification": base.data_classification,
        "managed-by": MANAGED_BY,
    }
    tags.update(extra)
    return tags


# ---------------------------------------------------------------------------------------------------------
# Loading stack files


def stack_file(stacks_dir: Path, stack: str) -> Path:
    return Path(stacks_dir) / f"Pulumi.{stack}.yaml"


def list_stacks(stacks_dir: Path) -> list[str]:
    """Stack names with a stack file in ``stacks_dir``, sorted."""
    prefix, suffix = "Pulumi.", ".yaml"
    return sorted(
        path.name[len(prefix):-len(suffix)]
        for path in Path(stacks_dir).glob("Pulumi.*.yaml")
        if path.is_file()
    )


class UnknownStackError(Exception):
    def __init__(self, stack: str, stacks_dir: Path, known: list[str]):
        self.stack = stack
        listing = ", ".join(known) if known else "none"
        super().__init__(f"unknown stack {stack!r}: no {stack_file(stacks_dir, stack)}; stacks: {listing}")


def read_stack_config(stacks_dir: Path, stack: str) -> tuple[Path, dict[str, Any]]:
    """Read the raw ``config:`` mapping of a stack file; unknown stacks list the stacks that exist."""
    path = stack_file(stacks_dir, stack)
    if not path.is_file():
        raise UnknownStackError(stack, Path(stacks_dir), list_stacks(stacks_dir))
    return path, read_config_file(path)


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "document"
        raise ConfigError(path, where, f"not valid YAML ({getattr(exc, 'problem', exc)})") from None
    except OSError as exc:
        raise ConfigError(path, "file", f"cannot be read ({exc.strerror})") from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(path, "(top level)", "must be a mapping with a 'config' key")
    unknown_top = sorted(set(document) - {"config", "secretsprovider", "encryptedkey", "encryptionsalt"})
    if unknown_top:
        raise ConfigError(
            path, unknown_top[0], "unknown top-level key; allowed: config, secretsprovider, encryptedkey, encryptionsalt"
        )
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError(path, "config", "must be a mapping of namespaced keys (e.g. mlops:platform)")
    for key in config:
        if str(key).startswith(f"{CONFIG_NAMESPACE}:") and key not in KNOWN_KEYS:
            raise ConfigError(path, str(key), f"unknown key; allowed: {', '.join(KNOWN_KEYS)}")
    return config


def parse_platform(raw: Any, file: str | Path | None) -> PlatformConfig:
    """Validate a raw ``mlops:platform`` value; errors become one ConfigError line."""
    if raw is None:
        raise ConfigError(file, PLATFORM_KEY, "missing; a platform stack needs this key")
    if isinstance(raw, str):
        # Pulumi hands structured config to programs as JSON text.
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigError(file, PLATFORM_KEY, "must be a mapping, got a string") from None
    return validate_model(PlatformConfig, raw, file, PLATFORM_KEY)


def load_platform(stacks_dir: Path, stack: str) -> PlatformConfig:
    path, config = read_stack_config(stacks_dir, stack)
    return parse_platform(config.get(PLATFORM_KEY), path)


def validate_model(model: type[BaseModel], raw: Any, file: str | Path | None, root: str) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise _first_error(model, exc, file, root) from None


def _first_error(model: type[BaseModel], exc: ValidationError, file: str | Path | None, root: str) -> ConfigError:
    error = exc.errors(include_url=False)[0]
    loc: tuple[Any, ...] = tuple(error["loc"])
    context_error = (error.get("ctx") or {}).get("error")
    if isinstance(context_error, _KeyedValueError):
        loc = loc + context_error.loc
        message = str(context_error)
    elif error["type"] == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        message = f"unknown key; allowed: {', '.join(allowed)}" if allowed else "unknown key"
    elif error["type"] == "missing":
        message = "missing; this key is required"
    else:
        message = error["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        if error["type"] not in ("value_error", "assertion_error") and "input" in error:
            message = f"{_short(error['input'])}: {message}"
    return ConfigError(file, _key_path(root, loc), message)


def _key_path(root: str, loc: tuple[Any, ...]) -> str:
    path = root
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys a nested model accepts, found by walking the model along the error's location."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = next(
            (f for name, f in current.model_fields.items() if (f.alias or name) == part), None
        )
        if field is None:
            return []
        current = _model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None
