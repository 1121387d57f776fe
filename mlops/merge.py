"""`mlops merge-reports`: the JSON reports of a sharded `mlops check` run, read back into one list of reports.

Each shard of a run writes `mlops check --shard I/N --format json`; the merge refuses reports of different runs
(another shard count), a shard given twice, a stack checked twice and, above all, a missing shard: a merge
without one would report its stacks' findings as absent, a pass nobody checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from components.loader import ConfigError, load_json
from components.validation import validate_model
from mlops.analyzer import Violation
from mlops.check import StackReport


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Violation(_Closed):
    policy: Annotated[str, Field(min_length=1)]
    enforcement: Annotated[str, Field(min_length=1)]
    urn: str
    message: str
    severity: str = "unspecified"


class _Stack(_Closed):
    stack: Annotated[str, Field(min_length=1)]
    environment: str
    resources: Annotated[int, Field(ge=0)]
    source: str = ""
    violations: list[_Violation]


class _Shard(_Closed):
    index: Annotated[int, Field(ge=1)]
    count: Annotated[int, Field(ge=1)]


class _Report(_Closed):
    """What `mlops check --format json` writes."""

    shard: _Shard
    stacks: list[_Stack]
    mandatory: Annotated[int, Field(ge=0)]


def read_report(path: Path) -> tuple[tuple[int, int], list[StackReport]]:
    """One shard's report: its (index, count) and its stacks' reports."""
    report = validate_model(_Report, load_json(path), path, "")
    if report.shard.index > report.shard.count:
        raise ConfigError(
            path, "shard.index", f"{report.shard.index} is past the shard count {report.shard.count}"
        )
    stacks = [
        StackReport(
            entry.stack,
            entry.environment,
            entry.resources,
            [Violation(**violation.model_dump()) for violation in entry.violations],
            entry.source,
        )
        for entry in report.stacks
    ]
    return (report.shard.index, report.shard.count), stacks


def merge_reports(paths: list[Path]) -> list[StackReport]:
    """The reports of every shard of one run, in shard order; any gap, overlap or mix of runs is refused."""
    if not paths:
        raise ConfigError(None, "FILES", "name the reports `mlops check --format json` wrote, one per shard")
    shards: dict[int, tuple[Path, list[StackReport]]] = {}
    count, first = 0, paths[0]
    checked: dict[str, Path] = {}
    for path in paths:
        (index, total), reports = read_report(path)
        if count and total != count:
            raise ConfigError(
                path, "shard.count", f"{total}, but {first} is one of {count} shards; merge one run's reports"
            )
        count = total
        if index in shards:
            raise ConfigError(
                path, "shard.index", f"shard {index} of {count} again (also {shards[index][0]})"
            )
        for report in reports:
            if report.stack in checked:
                raise ConfigError(path, "stacks", f"{report.stack!r} is also in {checked[report.stack]}")
            checked[report.stack] = path
        shards[index] = (path, reports)
    missing = [str(index) for index in range(1, count + 1) if index not in shards]
    if missing:
        raise ConfigError(
            None,
            "FILES",
            f"shard {', '.join(missing)} of {count} missing: without it its stacks would look clean; "
            "give every shard's report",
        )
    return [report for index in sorted(shards) for report in shards[index][1]]
