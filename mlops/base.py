"""What every command shares, kept light (no Pulumi, no component model): the repository's paths and the
error a failing program raises."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STACKS_DIR = REPO_ROOT / "stacks"


class ProgramError(Exception):
    """The Pulumi program failed while building a resource; the message names that resource."""


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Ctrl-C held back (blocked, not ignored) while a child process is started: a SIGINT arriving meanwhile
    is delivered when the block ends, once the child is known (so it is stopped and waited for) rather than
    in the middle of its start, where it would leave the child unknown, or be lost. The child starts with
    SIGINT blocked too: it unblocks it itself (``unblock_interrupts``)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def unblock_interrupts() -> None:
    """In a child started under ``interrupts_deferred``: receive SIGINT again (a pending one now)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
