"""Fast feedback: three ratios of whole `mlops` processes, each pair measured side by side in one run.

1. team preview / platform preview: `mlops preview team-fraud-prod --json` with the platform-output cache warm,
   against `mlops preview prod --json` (target at most 0.6). The team preview without the cache (`--no-cache`,
   the way it ran before the cache) is measured beside them.
2. `mlops check --all` (the pack in its own process over gRPC, as the engine runs it; the stacks synthesised
   by a pool of two forked workers; cache cold, then warm) against the previous revision's default
   `mlops check --all` in its own checkout (`--old-tree`, cache warm); target new (warm)/old at most 1.35.
3. `mlops check --from` a saved prod preview (the pack's config cached; the pack's process started as the
   engine starts it) against the bare `python -c "import pulumi_policy"` (target at most 5).

Before measuring, both trees' own modules are compiled to bytecode (`python -m compileall`), as Python does on
first import wherever PYTHONDONTWRITEBYTECODE is not set (this machine sets it, which would otherwise make
every process compile the project's modules again).

Runs alternate between the two sides of a pair (A, B, A, B...) so that the machine's load weighs on both alike;
the median of each side is reported, with the load average before and after.
Usage: .venv/bin/python benchmarks/feedback.py [--repeat N] [--repeat-all N] [--old-tree DIR] [--write]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import write_section

REPO = Path(__file__).resolve().parent.parent
SECTION = "## Fast feedback"
MLOPS = [sys.executable, "-m", "mlops"]


def seconds(command: list[str], env: dict[str, str], cwd: Path = REPO) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **env}
    )
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):  # 1: a check with findings is still a measurement
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr.decode()[-2000:]}")
    return elapsed


def side_by_side(sides: dict[str, tuple], repeat: int, before=None) -> dict:
    """Median seconds of each side, (command, env[, cwd]), the sides run in turn ``repeat`` times;
    ``before(name)`` runs (untimed) ahead of each timed run of that side."""
    runs: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeat):
        for name, (command, env, *cwd) in sides.items():
            if before is not None:
                before(name)
            runs[name].append(seconds(command, env, *cwd))
    return {name: statistics.median(values) for name, values in runs.items()}


def load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def old_revision(tree: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True, check=True
    ).stdout.strip()


def old_way(old_tree: Path, env: dict[str, str]) -> tuple:
    """The previous revision's default `check --all`, in its checkout with its own venv."""
    return ([str(old_tree / ".venv" / "bin" / "python"), "-m", "mlops", "check", "--all"], env, old_tree)


SOURCES = ("components", "mlops", "policies", "stacks")


def compile_sources(tree: Path, python: str) -> None:
    """The tree's own modules compiled to bytecode (site-packages is, by `uv sync --compile-bytecode`)."""
    folders = [folder for folder in SOURCES if (tree / folder).is_dir()]
    subprocess.run(
        [python, "-m", "compileall", "-q", *folders], cwd=tree, check=True, stdout=subprocess.DEVNULL
    )


def measure(
    repeat: int, repeat_all: int, old_tree: Path | None = None
) -> list[tuple[str, str, float, float, float, str, str, str]]:
    rows = []
    compile_sources(REPO, sys.executable)
    if old_tree is not None:
        compile_sources(old_tree, str(old_tree / ".venv" / "bin" / "python"))
    with tempfile.TemporaryDirectory() as scratch:
        warm = {"MLOPS_CACHE_DIR": f"{scratch}/warm"}
        cold_dir = Path(scratch) / "cold"
        cold = {"MLOPS_CACHE_DIR": str(cold_dir)}
        seconds([*MLOPS, "preview", "team-fraud-prod", "--json"], warm)  # fills the warm cache
        seconds([*MLOPS, "check", "--all"], warm)

        started = load()
        medians = side_by_side(
            {
                "team": ([*MLOPS, "preview", "team-fraud-prod", "--json"], warm),
                "platform": ([*MLOPS, "preview", "prod", "--json"], warm),
                "team-no-cache": ([*MLOPS, "preview", "team-fraud-prod", "--json", "--no-cache"], warm),
            },
            repeat,
        )
        rows.append(
            (
                "team preview (cache warm) / platform preview",
                "`mlops preview team-fraud-prod --json` / `mlops preview prod --json`",
                medians["team"],
                medians["platform"],
                0.6,
                f"without the cache (`--no-cache`): {medians['team-no-cache']:.1f} s",
                started,
                load(),
            )
        )

        def empty_cold(name: str) -> None:
            if name == "new-cold":
                subprocess.run(["rm", "-rf", str(cold_dir)], check=True)

        sides = {
            "new-cold": ([*MLOPS, "check", "--all"], cold),
            "new-warm": ([*MLOPS, "check", "--all"], warm),
        }
        if old_tree is not None:
            old_warm = {"MLOPS_CACHE_DIR": f"{scratch}/old-warm"}
            seconds(*old_way(old_tree, old_warm))  # fills the old side's cache
            sides["old"] = old_way(old_tree, old_warm)
        started = load()
        medians = side_by_side(sides, repeat_all, empty_cold)
        for label, name in (("cache cold", "new-cold"), ("cache warm", "new-warm")):
            rows.append(
                (
                    f"`check --all` new ({label}) / old (cache warm)",
                    "`mlops check --all` / "
                    + (
                        f"`mlops check --all` of revision {old_revision(old_tree)}"
                        if old_tree
                        else "(no --old-tree)"
                    ),
                    medians[name],
                    medians.get("old", float("nan")),
                    1.35,
                    "five stacks: dev, staging, prod, team-fraud-dev, team-fraud-prod",
                    started,
                    load(),
                )
            )

        saved = Path(scratch) / "prod.json"
        with saved.open("w") as stream:
            subprocess.run([*MLOPS, "preview", "prod", "--json"], cwd=REPO, stdout=stream, check=True)
        seconds([*MLOPS, "check", "--from", str(saved)], warm)  # caches the pack's config
        started = load()
        medians = side_by_side(
            {
                "from": ([*MLOPS, "check", "--from", str(saved)], warm),
                "import": ([sys.executable, "-c", "import pulumi_policy"], {}),
            },
            repeat,
        )
        rows.append(
            (
                "`check --from` / bare policy SDK import",
                '`mlops check --from prod.json` / `python -c "import pulumi_policy"`',
                medians["from"],
                medians["import"],
                5.0,
                "whole processes; the pack's config cached; the pack's own process over gRPC",
                started,
                load(),
            )
        )
    return rows


def table(rows, repeat: int, repeat_all: int, old_tree: Path | None = None) -> str:
    old = f" --old-tree {old_tree}" if old_tree is not None else ""
    lines = [
        SECTION,
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {platform.machine()}, {os.cpu_count()} cores shared with "
        f"other work, Python {platform.python_version()}, bytecode compiled (site-packages and both trees' modules); whole processes, the sides of each "
        f"pair run in turn, median of {repeat} (check --all: {repeat_all}) runs each.",
        f"Command: `.venv/bin/python benchmarks/feedback.py --repeat {repeat} --repeat-all {repeat_all}{old} --write`.",
        "",
        "| pair | commands | A s | B s | A/B | target | met | note | load before | load after |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- | --- |",
    ]
    for label, commands, a, b, target, note, before, after in rows:
        ratio = a / b
        lines.append(
            f"| {label} | {commands} | {a:.1f} | {b:.1f} | {ratio:.2f} | {target} | "
            f"{'yes' if ratio <= target else 'no'} | {note} | {before} | {after} |"
        )
    lines += [
        "",
        "A: the first command of the pair, B: the second. The old side of `check --all` is the previous revision's",
        "checkout with `--old-tree` (its own venv, bytecode compiled, its own warm cache).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--repeat-all", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument(
        "--old-tree",
        type=Path,
        help="a checkout of the previous revision with its own .venv (`git worktree add DIR REV && cd DIR && "
        "uv sync --frozen --compile-bytecode`): the old side of the check --all pair",
    )
    options = parser.parse_args()
    rows = measure(options.repeat, options.repeat_all, options.old_tree)
    text = table(rows, options.repeat, options.repeat_all, options.old_tree)
    print(text)
    if options.write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
