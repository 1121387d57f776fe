"""Fast feedback: three ratios of whole `mlops` processes, each pair measured side by side in one run.

1. team preview / platform preview: `mlops preview team-fraud-prod --json` with the platform-output cache warm,
   against `mlops preview prod --json` (target at most 0.6). The team preview without the cache (`--no-cache`,
   the way it ran before the cache) is measured beside them.
2. `mlops check --all`, the new way (SDKs imported once, a forked child per stack; cache cold, then warm)
   against the old way (`MLOPS_CHECK_SPAWN=1 MLOPS_NO_CACHE=1`: a spawned interpreter per stack, each team's
   platform synthesised again in another process); target new/old at most 0.5.
3. `mlops check --from` a saved prod preview (the pack's config cached) against the bare
   `python -c "import pulumi_policy"` (target at most 2).

Runs alternate between the two sides of a pair (A, B, A, B...) so that the machine's load weighs on both alike;
the median of each side is reported, with the load average before and after.
Usage: .venv/bin/python benchmarks/feedback.py [--repeat N] [--repeat-all N] [--write]
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


def seconds(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **env}
    )
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):  # 1: a check with findings is still a measurement
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr.decode()[-2000:]}")
    return elapsed


def side_by_side(sides: dict[str, tuple[list[str], dict[str, str]]], repeat: int, before=None) -> dict:
    """Median seconds of each side, the sides run in turn ``repeat`` times; ``before(name)`` runs (untimed)
    ahead of each timed run of that side."""
    runs: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeat):
        for name, (command, env) in sides.items():
            if before is not None:
                before(name)
            runs[name].append(seconds(command, env))
    return {name: statistics.median(values) for name, values in runs.items()}


def load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def measure(repeat: int, repeat_all: int) -> list[tuple[str, str, float, float, float, str, str, str]]:
    rows = []
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

        started = load()
        medians = side_by_side(
            {
                "new-cold": ([*MLOPS, "check", "--all"], cold),
                "new-warm": ([*MLOPS, "check", "--all"], warm),
                "old": ([*MLOPS, "check", "--all"], {"MLOPS_CHECK_SPAWN": "1", "MLOPS_NO_CACHE": "1"}),
            },
            repeat_all,
            empty_cold,
        )
        for label, name in (("cache cold", "new-cold"), ("cache warm", "new-warm")):
            rows.append(
                (
                    f"`check --all` new ({label}) / old",
                    "`mlops check --all` / `MLOPS_CHECK_SPAWN=1 MLOPS_NO_CACHE=1 mlops check --all`",
                    medians[name],
                    medians["old"],
                    0.5,
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
                2.0,
                "whole processes; the pack's config cached",
                started,
                load(),
            )
        )
    return rows


def table(rows, repeat: int, repeat_all: int) -> str:
    lines = [
        SECTION,
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {platform.machine()}, {os.cpu_count()} cores shared with "
        f"other work, Python {platform.python_version()}, bytecode compiled; whole processes, the sides of each "
        f"pair run in turn, median of {repeat} (check --all: {repeat_all}) runs each.",
        f"Command: `.venv/bin/python benchmarks/feedback.py --repeat {repeat} --repeat-all {repeat_all} --write`.",
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
        "A: the first command of the pair, B: the second. The old way of `check --all` stays reachable for this pair:",
        "`MLOPS_CHECK_SPAWN=1` synthesises each stack in a freshly spawned interpreter (mlops/check.py",
        "`synthesize_spawned`), and `MLOPS_NO_CACHE=1` makes each team stack synthesise its platform again.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--repeat-all", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    options = parser.parse_args()
    text = table(measure(options.repeat, options.repeat_all), options.repeat, options.repeat_all)
    print(text)
    if options.write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
