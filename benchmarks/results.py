"""benchmarks/RESULTS.md: each script owns one `## ` section, which it replaces (or appends) with --write."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(section: str, text: str, path: Path = RESULTS) -> None:
    """Replace the section headed ``section`` (up to the next ``## ``) with ``text``, or append it."""
    current = path.read_text() if path.exists() else "# Benchmark results\n"
    if section in current:
        head, rest = current.split(section, 1)
        following = rest.find("\n## ")
        current = head + text + ("\n" + rest[following + 1 :] if following != -1 else "")
    else:
        current = current.rstrip("\n") + "\n\n" + text
    path.write_text(current)
