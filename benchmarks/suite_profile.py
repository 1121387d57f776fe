"""Where the test suite's time goes, in CPU seconds: a pytest plugin and its report.

Wall-clock durations on a shared machine measure the other users' load as much as the tests; the CPU time a
test spends (its worker process plus every subprocess it waited for: synthesis, CLI runs, oracle builds) does
not. Each xdist worker appends one JSON line per test phase to ``$SUITE_PROFILE``; the report adds them up.

    SUITE_PROFILE=/tmp/profile.jsonl uv run --frozen pytest -n 2 -p benchmarks.suite_profile
    .venv/bin/python benchmarks/suite_profile.py /tmp/profile.jsonl --top 20

A session fixture's cost lands on the first test that asks for it (as in ``--durations``), so a synthesis shows up
on the test that triggered it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PROFILE_ENV = "SUITE_PROFILE"


def _cpu() -> float:
    """CPU seconds of this process, of its waited-for children and of the children of the tests' fork server
    (tests/forkserver.py: they are the server's children, not this process's) so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    forked = sys.modules.get("tests.conftest")
    servers = getattr(forked, "_FORK_SERVER", [])
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime + sum(s.cpu for s in servers)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    target = os.environ.get(PROFILE_ENV)
    cpu, wall = _cpu(), time.monotonic()
    yield
    if target:
        record = {
            "test": item.nodeid,
            "cpu": round(_cpu() - cpu, 3),
            "wall": round(time.monotonic() - wall, 3),
            "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
            "load": os.getloadavg()[0],
        }
        # One short line per write: the workers' appends do not interleave.
        with open(target, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(record) + "\n")


def summary(records: list[dict[str, Any]], top: int) -> str:
    """Markdown: totals, the ``top`` tests by CPU seconds, and per-file totals."""
    files: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    workers: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for record in records:
        entry = files[record["test"].split("::", 1)[0]]
        entry[0] += record["cpu"]
        entry[1] += record["wall"]
        entry[2] += 1
        workers[record["worker"]][0] += record["cpu"]
        workers[record["worker"]][1] += record["wall"]
    loads = [record["load"] for record in records]
    lines = [
        f"{len(records)} tests, {sum(r['cpu'] for r in records):.0f} CPU s, "
        f"load average {min(loads):.1f}-{max(loads):.1f}",
        "",
        "| worker | CPU s | wall s |",
        "| --- | ---: | ---: |",
        *(f"| {name} | {cpu:.0f} | {wall:.0f} |" for name, (cpu, wall) in sorted(workers.items())),
        "",
        "| test | CPU s | wall s |",
        "| --- | ---: | ---: |",
    ]
    for record in sorted(records, key=lambda r: -r["cpu"])[:top]:
        lines.append(f"| `{record['test']}` | {record['cpu']:.1f} | {record['wall']:.1f} |")
    lines += ["", "| file | tests | CPU s | wall s |", "| --- | ---: | ---: | ---: |"]
    for name, (cpu, wall, count) in sorted(files.items(), key=lambda item: -item[1][0])[:top]:
        lines.append(f"| `{name}` | {count} | {cpu:.1f} | {wall:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, help="the JSON lines file the plugin wrote")
    parser.add_argument("--top", type=int, default=20, help="how many tests and files to list")
    args = parser.parse_args(argv)
    records = [json.loads(line) for line in args.profile.read_text().splitlines() if line.strip()]
    print(summary(records, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
