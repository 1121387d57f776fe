"""Which stacks a change affects (`mlops check --changed-since REF`) and how stacks split into shards (`--shard I/N`).

Both are pure functions over a small inventory of the stacks folder (each stack's kind, its platform and its
region count, read from the stack files without the Pulumi SDK), so they are tested apart from git and Pulumi;
the git plumbing that lists the changed paths is a thin layer on top.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from components.loader import ConfigError, list_stacks
from components.stackfile import PLATFORM_KEY, TEAM_KEY, read_stack_config

OPTION = "--changed-since"
# A change under these (relative to the repository root) can change every stack's preview: the programs, the
# components, the policy pack, the command that runs them, the project file and the locked dependency versions.
EVERYTHING = ("components/", "policies/", "mlops/", "Pulumi.yaml", "pyproject.toml", "uv.lock")
# These never reach a preview or the policy pack: documentation, tests, benchmarks, CI definitions and the
# container images (a stack names an image by digest in its stack file, so a new image is a stack-file change).
NO_EFFECT = ("docs/", "tests/", "benchmarks/", ".github/", ".ci/", "images/", ".gitignore")
_STACK_FILE = re.compile(r"^Pulumi\.(?P<stack>[^/]+)\.yaml$")


@dataclass(frozen=True)
class Stack:
    """One stack of the folder: ``platform`` is the platform stack a team stack builds on (None: a platform)."""

    name: str
    platform: str | None = None
    regions: int = 1


@dataclass(frozen=True)
class Selection:
    """The stacks to check, each with the reason it was selected; ``ignored`` are changed paths with no effect."""

    stacks: tuple[str, ...]
    reasons: dict[str, str] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()


def inventory(stacks_dir: Path) -> list[Stack]:
    """Every stack of ``stacks_dir`` with its kind, platform and region count, read from the raw stack files
    (a team's ``platform-stack`` may be fully qualified, ``org/project/prod``: its last part names the stack)."""
    stacks = []
    for name in list_stacks(stacks_dir):
        _, raw = read_stack_config(stacks_dir, name)
        team = raw.get(TEAM_KEY)
        if isinstance(team, dict):
            platform = str(team.get("platform-stack") or team.get("environment") or "").rsplit("/", 1)[-1]
            stacks.append(Stack(name, platform, _count(team.get("regions"))))
        else:
            platform_config = raw.get(PLATFORM_KEY)
            regions = platform_config.get("regions") if isinstance(platform_config, dict) else None
            stacks.append(Stack(name, None, _count(regions)))
    return stacks


def _count(regions: object) -> int:
    return len(regions) if isinstance(regions, list) and regions else 1


def affected_stacks(paths: Iterable[str], stacks: list[Stack], stacks_prefix: str = "stacks") -> Selection:
    """The stacks a change of ``paths`` (relative to the repository root, '/'-separated) affects.

    A team's stack file selects that team; a platform's stack file selects the platform and every team stack
    built on it; anything the programs, components, policies or locked dependencies are made of selects every
    stack; documentation, tests, benchmarks and CI definitions select nothing. A path of no known kind selects
    every stack: a check too many costs minutes, a check too few lets a violation through.
    """
    by_name = {stack.name: stack for stack in stacks}
    reasons: dict[str, str] = {}
    ignored: list[str] = []
    for path in sorted(set(paths)):
        kind, stack = classify(path, stacks_prefix)
        if kind == "none":
            ignored.append(path)
        elif kind == "all":
            for each in stacks:
                reasons.setdefault(each.name, f"{path} changed (every stack)")
        else:
            if stack in by_name:
                reasons.setdefault(stack, f"{path} changed")
            # A platform's teams, also when the platform's file was removed (their checks then say so).
            for team in stacks:
                if team.platform == stack and team.name != stack:
                    reasons.setdefault(team.name, f"{path} changed (its platform stack)")
    return Selection(tuple(sorted(reasons)), reasons, tuple(ignored))


def classify(path: str, stacks_prefix: str) -> tuple[str, str | None]:
    """('stack', name) for a stack file, 'all' for a path every stack depends on, 'none' for one no stack does."""
    posix = PurePosixPath(path)
    prefix = PurePosixPath(stacks_prefix) if stacks_prefix not in ("", ".") else PurePosixPath()
    if posix.parent == prefix and (match := _STACK_FILE.match(posix.name)):
        return "stack", match["stack"]
    if prefix != PurePosixPath() and posix.is_relative_to(prefix):
        return "all", None  # the programs (stacks/*.py) and anything they may read
    if any(path == entry or (entry.endswith("/") and path.startswith(entry)) for entry in EVERYTHING):
        return "all", None
    if any(path == entry or (entry.endswith("/") and path.startswith(entry)) for entry in NO_EFFECT):
        return "none", None
    if len(posix.parts) == 1 and posix.suffix.lower() == ".md":
        return "none", None  # README.md and other top-level documents
    return "all", None


# ---------------------------------------------------------------------------------------------------------
# git


def changed_paths(ref: str, stacks_dir: Path) -> tuple[list[str], str]:
    """The paths changed since ``ref`` in the repository holding ``stacks_dir``, and the stacks folder's path
    relative to that repository's root.

    Changed means what a pull request from HEAD onto ``ref`` would change (``git diff REF...HEAD``: from the
    merge base, so commits that landed on ``ref`` meanwhile are not counted), plus what is not committed yet
    (staged, unstaged and untracked files, so a developer can check a change before committing it; a CI
    checkout has none). Renames count as a removal and an addition, so both stacks are seen.
    """
    if not ref or ref.startswith("-"):
        raise ConfigError(
            None, OPTION, f"{ref!r} is not a git revision (a branch, tag or commit, e.g. origin/main)"
        )
    if not Path(stacks_dir).is_dir() or not _git_ok(Path(stacks_dir), "rev-parse", "--show-toplevel"):
        raise ConfigError(None, OPTION, f"the stacks folder {stacks_dir} is not in a git repository")
    top = Path(_git(Path(stacks_dir), "rev-parse", "--show-toplevel").strip())
    if not _git_ok(top, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"):
        raise ConfigError(
            None,
            OPTION,
            f"{ref!r} is not a commit in {top} (fetch the base branch first; in GitHub Actions, "
            "actions/checkout with fetch-depth: 0)",
        )
    if not _git_ok(top, "merge-base", "--end-of-options", ref, "HEAD"):
        raise ConfigError(
            None,
            OPTION,
            f"{ref!r} and HEAD share no history in {top} (a shallow clone: fetch with fetch-depth: 0)",
        )
    listings = (
        _git(top, "diff", "--name-only", "--no-renames", "-z", f"{ref}...HEAD", "--"),
        _git(top, "diff", "--name-only", "--no-renames", "-z", "HEAD", "--"),
        _git(top, "ls-files", "--others", "--exclude-standard", "-z"),
    )
    paths = sorted({path for listing in listings for path in listing.split("\0") if path})
    try:
        prefix = Path(stacks_dir).resolve().relative_to(top.resolve()).as_posix()
    except ValueError:
        prefix = "."
    return paths, prefix


def _git(cwd: Path, *args: str) -> str:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ConfigError(None, OPTION, "git is not installed; it lists the changed files") from None
    if result.returncode != 0:
        first = (result.stderr.strip().splitlines() or ["failed"])[0]
        raise ConfigError(None, OPTION, f"git {args[0]} in {cwd}: {first}")
    return result.stdout


def _git_ok(cwd: Path, *args: str) -> bool:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False).returncode == 0


# ---------------------------------------------------------------------------------------------------------
# Shards

# Expected synthesis cost in units of one team region, by resource count: a platform region (VPC, cluster,
# registry, monitoring) is about four team regions (dev 223 resources, team-fraud-dev 57; prod 474,
# team-fraud-prod 106); both scale with their regions.
PLATFORM_REGION_COST = 4
TEAM_REGION_COST = 1
# A GitHub Actions matrix produces at most 256 jobs per workflow run.
MAX_SHARDS = 256
_SHARD = re.compile(r"^(?P<index>[0-9]+)/(?P<count>[0-9]+)$")


def parse_shard(text: str) -> tuple[int, int]:
    """``I/N`` (1-based) as (I, N); anything else is a user error naming the option and the allowed form."""
    match = _SHARD.match(text.strip())
    allowed = f"write I/N with 1 <= I <= N <= {MAX_SHARDS}, e.g. 1/4"
    if match is None:
        raise ConfigError(None, "--shard", f"{text!r} is not a shard; {allowed}")
    index, count = int(match["index"]), int(match["count"])
    if not 1 <= index <= count <= MAX_SHARDS:
        raise ConfigError(None, "--shard", f"{text!r} is not a shard; {allowed}")
    return index, count


def cost(stack: Stack) -> int:
    return (TEAM_REGION_COST if stack.platform else PLATFORM_REGION_COST) * stack.regions


def assign_shards(stacks: list[Stack], count: int, known: Iterable[Stack] = ()) -> list[list[str]]:
    """Split ``stacks`` over ``count`` shards, balanced by expected cost; the same input gives the same split.

    Greedy longest-first: platforms, then teams, each heaviest first (ties by name), go to the shard whose load
    grows least (ties: the lowest shard). A team needs its platform's outputs: a shard that does not check that
    platform computes them once, so a team costs its platform's cost more on such a shard, which keeps teams
    beside their platform until that shard is the heavier choice. ``known`` (the whole folder) prices platforms
    that are not among ``stacks``.
    """
    loads = [0] * count
    shards: list[list[str]] = [[] for _ in range(count)]
    has_outputs: list[set[str]] = [set() for _ in range(count)]
    platform_cost = {stack.name: cost(stack) for stack in [*known, *stacks] if stack.platform is None}
    order = sorted(stacks, key=lambda stack: (stack.platform is not None, -cost(stack), stack.name))
    for stack in order:
        added = [_added_cost(stack, has_outputs[shard], platform_cost) for shard in range(count)]
        best = min(range(count), key=lambda shard: (loads[shard] + added[shard], shard))
        loads[best] += added[best]
        shards[best].append(stack.name)
        has_outputs[best].add(stack.platform or stack.name)
    return [sorted(names) for names in shards]


def _added_cost(stack: Stack, has_outputs: set[str], platform_cost: dict[str, int]) -> int:
    """What checking ``stack`` adds to a shard that already has the platform outputs ``has_outputs``."""
    if stack.platform is None or stack.platform in has_outputs:
        return cost(stack)
    return cost(stack) + platform_cost.get(stack.platform, PLATFORM_REGION_COST * stack.regions)


def shard_stacks(names: list[str], stacks: list[Stack], index: int, count: int) -> list[str]:
    """The stacks of shard ``index`` of ``count`` among the selected ``names`` (``stacks``: the whole folder)."""
    by_name = {stack.name: stack for stack in stacks}
    selected = [by_name.get(name, Stack(name)) for name in names]
    return assign_shards(selected, count, stacks)[index - 1]


# ---------------------------------------------------------------------------------------------------------
# `mlops check` selection


def select(
    stacks_dir: Path, names: list[str], everything: bool, changed_since: str | None, shard: str | None
) -> tuple[list[str], tuple[int, int], list[str]]:
    """The stacks `mlops check` runs on when ``changed_since`` or ``shard`` is given, the shard (I, N), and
    lines for stderr saying why: the stacks the change affects (or none), then this shard's part of them."""
    position = parse_shard(shard) if shard is not None else (1, 1)
    stacks = inventory(stacks_dir)
    notes: list[str] = []
    if changed_since is not None:
        if names or everything:
            raise ConfigError(None, OPTION, "selects the stacks itself; leave out the STACK names and --all")
        paths, prefix = changed_paths(changed_since, stacks_dir)
        selection = affected_stacks(paths, stacks, prefix)
        names = list(selection.stacks)
        if not names:
            notes.append(
                f"no stack is affected by the {len(paths)} path(s) changed since {changed_since} "
                "(documentation, tests, benchmarks or CI only): nothing to check"
            )
        notes += [f"{name}: {selection.reasons[name]}" for name in names]
    elif everything:
        names = [stack.name for stack in stacks]
    elif not names:
        raise ConfigError(
            None, "STACK", "name at least one stack, or pass --all, --changed-since REF or --from FILE"
        )
    if shard is not None:
        chosen = shard_stacks(names, stacks, *position)
        notes.append(
            f"shard {position[0]}/{position[1]}: {', '.join(chosen) or 'no stack'} ({len(chosen)} of {len(names)})"
        )
        names = chosen
    return names, position, notes
