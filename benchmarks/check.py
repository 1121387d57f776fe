"""Policy time of `mlops check`: the prod stack and a synthetic 2,000-resource stack, over the gRPC path.

Policy time is the time spent in Analyze/AnalyzeStack calls (synthesis excluded). Target: at most 2 s per
1,000 resources. Usage: .venv/bin/python benchmarks/check.py [--write]   (--write updates benchmarks/RESULTS.md)
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from results import write_section  # noqa: E402  (benchmarks/results.py, beside this script)

from mlops.analyzer import PolicyPackProcess  # noqa: E402
from policies.pack import environment_config  # noqa: E402

SECTION = "## mlops check"


def prod_document() -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "mlops", "preview", "prod", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def synthetic(base: dict, count: int) -> dict:
    """`count` resources cycled from the prod document's custom resources, renamed so every URN is unique."""
    custom = [step for step in base["steps"] if step["newState"]["custom"]]
    steps = []
    for index in range(count):
        step = copy.deepcopy(custom[index % len(custom)])
        urn = f"{step['urn']}-{index}"
        step["urn"] = step["newState"]["urn"] = urn
        steps.append(step)
    return {**base, "steps": steps, "changeSummary": {"create": count}}


def policy_seconds(document: dict, repeat: int) -> float:
    best = float("inf")
    with PolicyPackProcess() as pack:
        pack.configure(environment_config("prod"))
        for _ in range(repeat):
            started = time.perf_counter()
            pack.analyze(document)
            best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    options = parser.parse_args()
    prod = prod_document()
    rows = []
    big = synthetic(prod, 2000)
    runs = (("prod", prod), ("synthetic", big))
    for label, document in runs:
        resources = sum(1 for step in document["steps"] if step["newState"]["custom"])
        seconds = policy_seconds(document, options.repeat)
        rows.append((label, resources, seconds, seconds / resources * 1000))
        print(f"{label}: {resources} resources, {seconds:.2f} s policy time, {rows[-1][3]:.2f} s per 1,000")
    text = (
        "\n".join(
            [
                SECTION,
                "",
                f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores (load average "
                f"{os.getloadavg()[0]:.1f} at the end: other work shared the machine), Python "
                f"{platform.python_version()}; best of {options.repeat} runs through the Analyzer gRPC protocol "
                "(Analyze per resource + AnalyzeStack), prod enforcement config.",
                f"Command: `.venv/bin/python benchmarks/check.py --repeat {options.repeat} --write`. "
                "Target: at most 2 s of policy time per 1,000 resources.",
                "The pack serves with the policy SDK's own servicer (policies/__main__.py is `PolicyPack(...)` alone). "
                "The synthetic stack cycles the prod stack's custom resources under unique URNs.",
                "",
                "| stack | resources | policy time s | s per 1,000 resources |",
                "| --- | ---: | ---: | ---: |",
                *[
                    f"| {label} | {count} | {seconds:.2f} | {per:.2f} |"
                    for label, count, seconds, per in rows
                ],
            ]
        )
        + "\n"
    )
    print(text)
    if options.write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
