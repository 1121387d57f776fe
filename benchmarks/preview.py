"""Wall time and peak memory of `mlops preview` per shipped stack, against the bare SDK floor.

For each stack in stacks/ this runs, each in a fresh process and REPEAT times (median reported):
  - preview: `python -m mlops preview STACK --json` (what a user runs);
  - floor:   the same synthesis machinery (set_mocks + the capturing monitor) running benchmarks/floor_program.py,
             which imports the same provider SDK modules and registers the same custom resources flat as plain
             pulumi.CustomResource objects (no config, no components, no typed Args);
  - import:  `python -c "import pulumi, <the same SDK modules>"`, the start-up share of both.
Peak memory is the child's max RSS (os.wait4). The ratio preview/floor is the overhead of the platform's own
logic; the target is at most 1.3.

Usage: .venv/bin/python benchmarks/preview.py [--repeat N] [--write]   (--write updates benchmarks/RESULTS.md)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from results import write_section  # noqa: E402  (benchmarks/results.py, beside this script)

from components.loader import list_stacks  # noqa: E402

STACKS = REPO / "stacks"
SECTION = "## mlops preview"

SPEC_SCRIPT = """
import json, sys
from pathlib import Path
from mlops.synth import synthesize
document = synthesize(sys.argv[1], Path(sys.argv[2]))
modules = sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi_aws', 'pulumi_kubernetes') and m.count('.') <= 2)
resources = [
    {"type": s["newState"]["type"], "name": s["urn"].rsplit("::", 1)[-1], "inputs": s["newState"]["inputs"]}
    for s in document["steps"] if s["newState"]["custom"] and not s["newState"]["type"].startswith("pulumi:providers:")
]
json.dump({"modules": modules, "resources": resources, "steps": len(document["steps"])}, sys.stdout)
"""

FLOOR_SCRIPT = """
import sys
from pathlib import Path
from mlops.synth import synthesize
synthesize(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
"""


def measure(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {child.stderr.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def median_run(command: list[str], repeat: int, env: dict[str, str] | None = None) -> tuple[float, float]:
    runs = [measure(command, env) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def bench_stack(stack: str, repeat: int, workdir: Path) -> dict:
    spec_json = subprocess.run(
        [sys.executable, "-c", SPEC_SCRIPT, stack, str(STACKS)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    spec = json.loads(spec_json)
    spec_file = workdir / f"{stack}.json"
    spec_file.write_text(spec_json)
    env = {"FLOOR_PROGRAM_SPEC": str(spec_file)}
    preview = median_run([sys.executable, "-m", "mlops", "preview", stack, "--json"], repeat)
    floor = median_run(
        [
            sys.executable,
            "-c",
            FLOOR_SCRIPT,
            stack,
            str(STACKS),
            str(REPO / "benchmarks" / "floor_program.py"),
        ],
        repeat,
        env,
    )
    imports = median_run(
        [sys.executable, "-c", "import pulumi, " + ", ".join(["importlib"] + spec["modules"])], repeat
    )
    return {
        "stack": stack,
        "steps": spec["steps"],
        "custom": len(spec["resources"]),
        "preview_s": preview[0],
        "preview_mib": preview[1],
        "floor_s": floor[0],
        "floor_mib": floor[1],
        "import_s": imports[0],
        "ratio": preview[0] / floor[0],
    }


def table(rows: list[dict], repeat: int) -> str:
    lines = [
        SECTION,
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; median of {repeat} runs each, every run a fresh process.",
        "Command: `.venv/bin/python benchmarks/preview.py --repeat "
        f"{repeat} --write`. Target: preview at most 1.3x the bare SDK floor.",
        "",
        "| stack | resources (steps) | custom | preview s | floor s | ratio | SDK import s | preview peak MiB | floor peak MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['stack']} | {row['steps']} | {row['custom']} | {row['preview_s']:.2f} | {row['floor_s']:.2f} | "
            f"{row['ratio']:.2f} | {row['import_s']:.2f} | {row['preview_mib']:.0f} | {row['floor_mib']:.0f} |"
        )
    lines += [
        "",
        "preview: `python -m mlops preview STACK --json`. floor: the same mock monitor running",
        "`benchmarks/floor_program.py`, which imports the same provider SDK modules and registers the same custom",
        "resources flat as plain `pulumi.CustomResource` (no config, components, typed Args or outputs).",
        "SDK import: `python -c 'import pulumi, <those modules>'`, the start-up share of both.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument("stacks", nargs="*")
    options = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for stack in options.stacks or list_stacks(STACKS):
            rows.append(bench_stack(stack, options.repeat, Path(workdir)))
            print(json.dumps(rows[-1]), flush=True)
    text = table(rows, options.repeat)
    print(text)
    if options.write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
