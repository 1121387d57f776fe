"""The `data` section of `mlops:platform` and the team-side checks of `data-access` against it.

The platform declares the shared data locations (prefixes of its artifact bucket) and the widest access a team
may ask for on each; a team's own prefix ``teams/<team>/`` is never declared: it follows from the team's
namespace (components.data.policies.own_prefix_policy). A team's ``data-access`` entry is either its own prefix
or lies within a declared location; anything else is refused before any resource exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from components.configbase import KeyedValueError, Model
from components.loader import ConfigError
from components.stackfile import TEAM_KEY

PREFIX_PATTERN = r"^[a-z0-9][a-z0-9_.\-/]*/$"
TEAMS_ROOT = "teams/"
ACCESS_LEVELS = ("read", "read-write")
ROLE_ARN_PATTERN = r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/.+$"
LF_PERMISSIONS = ("SELECT", "DESCRIBE")


def own_prefix(team: str) -> str:
    """The prefix a team owns: ``teams/<team>/``, reached in its namespace ``team-<team>`` only."""
    return f"{TEAMS_ROOT}{team}/"


class DataLocation(Model):
    """A shared prefix of the artifact bucket teams may be granted, and the widest access they may ask for."""

    prefix: Annotated[str, Field(pattern=PREFIX_PATTERN, max_length=200)]
    access: Literal["read", "read-write"] = "read"


class LakeFormation(Model):
    """Lake Formation for tabular data: the data lake administrators (IAM role ARNs)."""

    admins: Annotated[
        list[Annotated[str, Field(pattern=ROLE_ARN_PATTERN)]], Field(min_length=1, max_length=10)
    ]


class DataConfig(Model):
    """`mlops:platform.data`: the declared shared locations and, optionally, Lake Formation."""

    locations: Annotated[list[DataLocation], Field(max_length=50)] = []
    lake_formation: Annotated[LakeFormation | None, Field(alias="lake-formation")] = None

    @model_validator(mode="after")
    def _locations(self) -> DataConfig:
        prefixes = [location.prefix for location in self.locations]
        for index, prefix in enumerate(prefixes):
            if prefix.startswith(TEAMS_ROOT) or prefix == TEAMS_ROOT:
                raise KeyedValueError(
                    ("locations", index, "prefix"),
                    f"{prefix!r} is under {TEAMS_ROOT} (teams' own prefixes, reached by namespace); "
                    "allowed: a shared prefix outside teams/",
                )
            for other_index, other in enumerate(prefixes[:index]):
                if prefix.startswith(other) or other.startswith(prefix):
                    raise KeyedValueError(
                        ("locations", index, "prefix"),
                        f"{prefix!r} overlaps {other!r} (locations[{other_index}]); allowed: disjoint prefixes",
                    )
        return self


class LakeFormationGrant(Model):
    """A team's Lake Formation grant: a database, or tables of it, with read permissions."""

    database: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,255}$")]
    tables: Annotated[list[Annotated[str, Field(pattern=r"^[a-z0-9_]{1,255}$")]], Field(max_length=50)] = []
    permissions: Annotated[list[Literal["SELECT", "DESCRIBE"]], Field(min_length=1, max_length=2)] = [
        "SELECT",
        "DESCRIBE",
    ]


def allowed_locations(team: str, locations: dict[str, str]) -> str:
    """What a team may list in `data-access`, as one phrase for error messages."""
    shared = [f"{prefix} ({access})" for prefix, access in locations.items()]
    return ", ".join([f"{own_prefix(team)} (read-write, the team's own)", *shared])


def declared(data: DataConfig) -> dict[str, str]:
    """The declared locations: prefix -> the widest access teams may ask for."""
    return {location.prefix: location.access for location in data.locations}


def check_data_access(
    team_name: str,
    entries: list[tuple[str, str]],
    lake_formation: list[LakeFormationGrant],
    file: str | Path | None,
    locations: dict[str, str] | None,
    platform_lake_formation: bool,
    platform_stack: str,
) -> None:
    """Each `data-access` entry (prefix, access) is the team's own prefix or within a location the platform
    declares (``locations``: prefix -> access; None: the platform has no `data` section), at no wider access;
    Lake Formation grants need the platform's Lake Formation. One ConfigError naming the entry."""
    if locations is None:
        return  # a platform without a `data` section keeps per-prefix team policies
    for index, (prefix, access) in enumerate(entries):
        if prefix == own_prefix(team_name):
            continue
        location = next((loc for loc in locations if prefix.startswith(loc)), None)
        if location is None:
            raise ConfigError(
                file,
                f"{TEAM_KEY}.data-access[{index}].prefix",
                f"{prefix!r} is outside platform stack {platform_stack!r}'s declared data locations; "
                f"allowed: {allowed_locations(team_name, locations)}",
            )
        if access == "read-write" and locations[location] == "read":
            raise ConfigError(
                file,
                f"{TEAM_KEY}.data-access[{index}].access",
                f"'read-write' on {prefix!r} exceeds location {location} of platform stack "
                f"{platform_stack!r}; allowed: read",
            )
    if lake_formation and not platform_lake_formation:
        raise ConfigError(
            file,
            f"{TEAM_KEY}.lake-formation",
            f"platform stack {platform_stack!r} has no Lake Formation (its data.lake-formation); allowed: no "
            "lake-formation grants",
        )


def own_access(team_name: str, entries: list[tuple[str, str]]) -> str | None:
    """The access the team asks for on its own prefix (the widest of its entries there), or None."""
    levels = [access for prefix, access in entries if prefix == own_prefix(team_name)]
    if not levels:
        return None
    return "read-write" if "read-write" in levels else "read"
