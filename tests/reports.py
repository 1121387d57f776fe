"""Saved `mlops check --format json` reports, and how fresh reports differ from them.

The reports under ``tests/data/reports/`` are the verdicts of the policy pack on every saved preview
(``tests/data/previews/*.json.gz``, checked with ``mlops check --from``) and on every shipped stack
(``mlops check --all``). ``tests/mlops/test_report_identity.py`` runs the same commands again and compares the
normalised reports byte for byte, so a change to how the pack is run cannot change a verdict unnoticed.

Only public command-line flags are used (``--from``, ``--all``, ``--format json``), so the script runs against
any revision of the command line.

Normalisation (``normalise``): the temporary folder holding the decompressed previews is replaced by
``<previews>`` (it differs per run), keys whose name says they are timings (``seconds``, ``elapsed``,
``duration``, ``*_seconds``) are dropped (none is in the report today), and the document is written with sorted
keys. Nothing else is changed: stack order, violation order and messages are compared as they are.

    .venv/bin/python -m tests.reports --write     # save the reports of every case (only for an intended change)
    .venv/bin/python -m tests.reports             # compare, printing the cases that differ
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PREVIEWS = REPO / "tests" / "data" / "previews"
REPORTS = REPO / "tests" / "data" / "reports"
ALL = "all"
TEMP_PLACEHOLDER = "<previews>"


def cases() -> list[str]:
    """Every saved preview's name, and ``all`` for `mlops check --all`."""
    return [path.name.removesuffix(".json.gz") for path in sorted(PREVIEWS.glob("*.json.gz"))] + [ALL]


def _mlops(python: str) -> list[str]:
    return [python, "-m", "mlops"]


def _timing(key: str) -> bool:
    return key in {"seconds", "elapsed", "duration"} or key.endswith("_seconds")


def _strip(value: Any, temp: str) -> Any:
    if isinstance(value, dict):
        return {key: _strip(item, temp) for key, item in value.items() if not _timing(key)}
    if isinstance(value, list):
        return [_strip(item, temp) for item in value]
    if isinstance(value, str) and temp:
        return value.replace(temp, TEMP_PLACEHOLDER)
    return value


def normalise(stdout: str, temp: str = "") -> str:
    return json.dumps(_strip(json.loads(stdout), temp), indent=1, sort_keys=True) + "\n"


def report(case: str, python: str = sys.executable, cwd: Path = REPO) -> tuple[int, str]:
    """(exit code, normalised report) of one case, run by ``python`` in ``cwd`` (a checkout of any revision)."""
    with tempfile.TemporaryDirectory(prefix="mlops-reports-") as temp:
        if case == ALL:
            command = [*_mlops(python), "check", "--all", "--format", "json"]
        else:
            document = Path(temp) / f"{case}.json"
            document.write_bytes(gzip.decompress((PREVIEWS / f"{case}.json.gz").read_bytes()))
            command = [*_mlops(python), "check", "--from", str(document), "--format", "json"]
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900)
        if result.returncode not in (0, 1) or not result.stdout.strip():
            raise RuntimeError(f"{case}: exit {result.returncode}: {result.stderr}")
        return result.returncode, normalise(result.stdout, temp)


def saved_path(case: str) -> Path:
    return REPORTS / f"{case}.json"


def saved(case: str) -> tuple[int, str]:
    """(exit code, report) as saved: the exit code is the file's first line."""
    head, _, body = saved_path(case).read_text().partition("\n")
    return int(head.removeprefix("exit ")), body


def write(case: str, code: int, text: str) -> None:
    REPORTS.mkdir(parents=True, exist_ok=True)
    saved_path(case).write_text(f"exit {code}\n{text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", help="save the reports of every case (or the named ones)"
    )
    parser.add_argument("--python", default=sys.executable, help="the interpreter running `-m mlops`")
    parser.add_argument("--cwd", type=Path, default=REPO, help="the checkout to run (default: this one)")
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    args = parser.parse_args(argv)
    status = 0
    for case in [case for case in cases() if not args.cases or case in args.cases]:
        code, text = report(case, args.python, args.cwd)
        if args.write:
            write(case, code, text)
            print(f"{case}: exit {code}, saved to {saved_path(case).relative_to(REPO)}")
        else:
            same = saved(case) == (code, text)
            print(f"{case}: {'same' if same else 'DIFFERENT'}")
            status |= not same
    return status


if __name__ == "__main__":
    sys.exit(main())
