"""Saved previews of every shipped stack and fixture, and how a new preview differs from them.

The golden documents under ``tests/data/previews/`` are ``mlops preview --json`` documents (gzip-compressed) of the
cases below, saved before a refactoring. ``tests/test_preview_identity.py`` synthesises each case again and
fails on any difference that ``tests/data/previews/intended.yaml`` does not list with its reason.

    .venv/bin/python -m tests.previews --write            # save every case (only when a difference is intended)
    .venv/bin/python -m tests.previews --diff prod        # print the differences of one case
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
STACKS = REPO / "stacks"
FIXTURES = REPO / "tests" / "fixtures" / "stacks"
PROGRAMS = REPO / "tests" / "fixtures"
GOLDEN = REPO / "tests" / "data" / "previews"
INTENDED = GOLDEN / "intended.yaml"


@dataclass(frozen=True)
class Case:
    """One preview: a stack of a stacks folder, run by a program (None: stacks/__main__.py), maybe as deployed."""

    stack: str
    stacks_dir: Path = STACKS
    program: Path | None = None
    deployed: bool = False

    @property
    def name(self) -> str:
        parts = [self.stack]
        if self.program is not None:
            parts.append(self.program.parent.name)
        if self.deployed:
            parts.append("deployed")
        return "--".join(parts)


def _program(name: str) -> Path:
    return PROGRAMS / name / "__main__.py"


CASES = [
    *(
        Case(stack)
        for stack in ("dev", "staging", "prod", "team-fraud-dev", "team-fraud-prod", "team-recsys-prod")
    ),
    Case("prod", deployed=True),
    *(
        Case(stack, FIXTURES)
        for stack in (
            "airgapped",
            "airgapped-cluster",
            "cluster-dev",
            "cluster-prod",
            "observe-prod",
            "observe-latency",
            "platform-byo",
            "private-network",
            "team-ledger-prod",
        )
    ),
    *(
        Case(stack, FIXTURES, _program("cluster_program"))
        for stack in ("cluster-dev", "cluster-prod", "cluster-byo")
    ),
    *(Case(stack, FIXTURES, _program("observe_program")) for stack in ("observe-prod", "observe-latency")),
    Case("insecure", FIXTURES, _program("insecure")),
    Case("team-fraud-prod", STACKS, _program("team_program")),
]


def synthesize(case: Case) -> dict[str, Any]:
    """The preview document of a case, from a fresh process (the Pulumi runtime keeps global state)."""
    command = [
        sys.executable,
        "-m",
        "mlops.synth",
        *(["--deployed"] if case.deployed else []),
        case.stack,
        str(case.stacks_dir),
        *([str(case.program)] if case.program else []),
    ]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"{case.name}: {result.stderr}")
    return json.loads(result.stdout)


def golden_path(case: Case) -> Path:
    return GOLDEN / f"{case.name}.json.gz"


def read_golden(case: Case) -> dict[str, Any]:
    return json.loads(gzip.decompress(golden_path(case).read_bytes()))


def write_golden(case: Case, document: dict[str, Any]) -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    golden_path(case).write_bytes(gzip.compress(data, compresslevel=9, mtime=0))


def _comparable(document: dict[str, Any]) -> dict[str, Any]:
    """What a preview declares, keyed so that order does not count: resources by URN, invokes by content."""
    return {
        "resources": {step["urn"]: step["newState"] for step in document["steps"]},
        "outputs": document["outputs"],
        "invokes": sorted(json.dumps(invoke, sort_keys=True) for invoke in document.get("invokes", [])),
    }


def _walk(path: str, old: Any, new: Any, found: list[tuple[str, str]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            child = f"{path}.{key}" if path else str(key)
            if key not in old:
                found.append((child, "added"))
            elif key not in new:
                found.append((child, "removed"))
            else:
                _walk(child, old[key], new[key], found)
    elif old != new:
        found.append((path, f"{json.dumps(old)[:200]} -> {json.dumps(new)[:200]}"))


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(resource URN or section, property path, what changed) for every difference between two previews."""
    before, after = _comparable(old), _comparable(new)
    found: list[tuple[str, str, str]] = []
    for urn in sorted(set(before["resources"]) | set(after["resources"])):
        if urn not in before["resources"]:
            found.append((urn, "", "added"))
        elif urn not in after["resources"]:
            found.append((urn, "", "removed"))
        else:
            changes: list[tuple[str, str]] = []
            _walk("", before["resources"][urn], after["resources"][urn], changes)
            found.extend((urn, path, what) for path, what in changes)
    for section in ("outputs", "invokes"):
        changes = []
        _walk("", before[section], after[section], changes)
        found.extend((section, path, what) for path, what in changes)
    return found


def intended() -> list[dict[str, str]]:
    """The listed differences: each has `case`, `urn` (or `outputs`/`invokes`), `path` (a prefix; empty for the
    whole resource) and `reason`."""
    if not INTENDED.exists():
        return []
    return yaml.safe_load(INTENDED.read_text()) or []


def unexplained(case: Case, found: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    listed = [entry for entry in intended() if entry["case"] == case.name]

    def covered(urn: str, path: str) -> bool:
        return any(
            entry["urn"] == urn
            and (path == entry["path"] or path.startswith(entry["path"] + ".") or not entry["path"])
            for entry in listed
        )

    return [item for item in found if not covered(item[0], item[1])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", help="save the previews of every case (or of the named ones)"
    )
    parser.add_argument("--diff", action="store_true", help="print the differences from the saved previews")
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    args = parser.parse_args(argv)
    chosen = [case for case in CASES if not args.cases or case.name in args.cases]
    status = 0
    for case in chosen:
        document = synthesize(case)
        if args.write:
            write_golden(case, document)
            print(
                f"{case.name}: {len(document['steps'])} resources saved to {golden_path(case).relative_to(REPO)}"
            )
        else:
            found = differences(read_golden(case), document)
            left = unexplained(case, found)
            print(f"{case.name}: {len(found)} differences, {len(left)} not listed as intended")
            for urn, path, what in left if not args.diff else found:
                print(f"  {urn} {path}: {what}")
            status |= bool(left)
    return status


if __name__ == "__main__":
    sys.exit(main())
