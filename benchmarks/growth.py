"""Growth: what a pull request that changes one team's stack file costs as the number of teams grows.

For each N, a temporary git repository holds a copy of the shipped stack files plus N generated team stacks
(one model, one version each, spread over the dev, staging and prod platforms so no serving ALB exceeds its
rule quota); a branch changes one team's quota. Measured, each as a whole `mlops` process:

- pull request: `mlops check --changed-since main` on that branch (target: within 1.2x of the next, any N);
- team alone: `mlops check <that team>`;
- full: `mlops check --all` (with --full), reported also per added team against the shipped stacks alone.

Usage: .venv/bin/python benchmarks/growth.py [--sizes 5 20 50] [--repeat 3] [--full] [--write]
(--write adds the table to benchmarks/RESULTS.md). Timings on a shared machine vary: compare the columns of
one run, measured side by side, and read the load average beside them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import write_section

REPO = Path(__file__).resolve().parent.parent
STACKS = REPO / "stacks"
RESULTS = REPO / "benchmarks" / "RESULTS.md"
SECTION = "## Growth: a pull request as teams are added"
MLOPS = [sys.executable, "-m", "mlops"]
# (platform stack, template file, lines of it that hold the team's first model with its first version)
PLATFORMS = (
    ("dev", "Pulumi.team-fraud-dev.yaml", 38, {}),
    ("staging", "Pulumi.team-fraud-dev.yaml", 38, {"111111111111": "222222222222", ": dev": ": staging"}),
    ("prod", "Pulumi.team-fraud-prod.yaml", 39, {}),
)
CHANGED = "team-g00-dev"


def generate(folder: Path, count: int) -> None:
    """The shipped stack files and ``count`` teams g00, g01... in ``folder``/stacks, committed on main, and a
    branch `change` that raises the pod quota of team g00."""
    stacks = folder / "stacks"
    stacks.mkdir(parents=True)
    for path in STACKS.glob("Pulumi.*.yaml"):
        shutil.copy(path, stacks / path.name)
    for number in range(count):
        environment, template, lines, replace = PLATFORMS[number % len(PLATFORMS)]
        text = "".join((STACKS / template).read_text().splitlines(keepends=True)[:lines])
        for old, new in {"fraud": f"g{number:02d}", **replace}.items():
            text = text.replace(old, new)
        (stacks / f"Pulumi.team-g{number:02d}-{environment}.yaml").write_text(text)
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "stacks")
    git(folder, "checkout", "-q", "-b", "change")
    if count:
        team = stacks / f"Pulumi.{CHANGED}.yaml"
        team.write_text(team.read_text().replace("pods: 40", "pods: 41"))
        git(folder, "commit", "-q", "-am", "more pods for team g00")


def git(folder: Path, *args: str) -> None:
    identity = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run(["git", *identity, *args], cwd=folder, check=True, capture_output=True)


def run(args: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run([*MLOPS, *args], cwd=REPO, capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1):
        raise SystemExit(f"mlops {' '.join(args)} failed: {result.stderr.strip()[-2000:]}")
    return time.perf_counter() - started


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def timed(commands: list[list[str]], repeat: int) -> tuple[list[float], str]:
    """Median seconds of each command over ``repeat`` rounds, the commands taking turns within a round (so a
    change of machine load falls on all of them), and the load average after the last round."""
    seconds: list[list[float]] = [[] for _ in commands]
    for _ in range(repeat):
        for index, args in enumerate(commands):
            seconds[index].append(run(args))
    return [statistics.median(each) for each in seconds], load()


def measure(count: int, repeat: int, full: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="mlops-growth-") as temporary:
        folder = Path(temporary)
        generate(folder, count)
        stacks = ["--stacks-dir", str(folder / "stacks")]
        row: dict = {"teams": count}
        if count:
            pair = [["check", "--changed-since", "main", *stacks], ["check", CHANGED, *stacks]]
            (row["pr"], row["alone"]), row["pr_load"] = timed(pair, repeat)
        if full:
            (row["full"],), row["full_load"] = timed([["check", "--all", *stacks]], repeat)
    return row


def table(rows: list[dict]) -> list[str]:
    base = next((row["full"] for row in rows if row["teams"] == 0 and "full" in row), None)
    lines = [
        "| added teams | PR (--changed-since) s | team alone s | ratio | load | check --all s | per added team s | load |",
        "| ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |",
    ]
    for row in rows:
        ratio = f"{row['pr'] / row['alone']:.2f}" if "pr" in row else "-"
        per_team = "-"
        if "full" in row and base is not None and row["teams"]:
            per_team = f"{(row['full'] - base) / row['teams']:.1f}"
        cells = [
            str(row["teams"]),
            *(f"{row[key]:.1f}" if key in row else "-" for key in ("pr", "alone")),
            ratio,
            row.get("pr_load", "-"),
            f"{row['full']:.1f}" if "full" in row else "-",
            per_team,
            row.get("full_load", "-"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write(lines: list[str], command: str) -> None:
    head = (
        f"{SECTION}\n\nMeasured {dt.date.today()} on {platform.machine()}, {os.cpu_count()} cores shared with other "
        f"work, Python {platform.python_version()}; every time a whole `mlops` process.\nCommand: `{command}`. Target: "
        "the pull request within 1.2x of checking the changed team alone, whatever the number of teams.\n"
    )
    write_section(SECTION, "\n".join([head, *lines]) + "\n", RESULTS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 20, 50])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--full", action="store_true", help="also time `mlops check --all` (slow: every stack)"
    )
    parser.add_argument("--write", action="store_true", help="add the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    sizes = ([0] if args.full else []) + args.sizes
    rows = []
    for count in sizes:
        rows.append(measure(count, args.repeat, args.full))
        print(table(rows)[-1], flush=True)
    lines = table(rows)
    print("\n".join(lines))
    if args.write:
        write(lines, "python benchmarks/growth.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
