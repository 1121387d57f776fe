"""What every command shares, kept light (no Pulumi, no component model): the repository's paths and the
error a failing program raises."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STACKS_DIR = REPO_ROOT / "stacks"


class ProgramError(Exception):
    """The Pulumi program failed while building a resource; the message names that resource."""
