"""What every command shares, kept light (no Pulumi, no component model): the repository's paths and the
error a failing program raises."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STACKS_DIR = REPO_ROOT / "stacks"


class CostError(ValueError):
    """A user error of `mlops cost` (a bad --compare file, an unreadable price table): one line."""


class ProgramError(Exception):
    """The Pulumi program failed while building a resource; the message names that resource."""


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Ctrl-C held back while a child process is started: a SIGINT arriving meanwhile is raised when the block
    ends, once the child is known (so it is stopped and waited for) rather than in the middle of its start, where
    it would leave the child unknown, or be lost.

    The hold is a handler that only records the signal: blocking it alone would not do, since the kernel delivers a
    process-directed signal to any thread that does not block it (the progress board's), and CPython then runs the
    Python handler in the main thread, inside the block. SIGINT is blocked as well, so the child starts with it
    blocked and unblocks it itself once it has set its own handling (``unblock_interrupts``)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    recorded: list[int] = []
    handler = signal.signal(signal.SIGINT, lambda signum, frame: recorded.append(signum))
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # one still pending reaches the recording handler
        signal.signal(signal.SIGINT, handler)
        if recorded:
            signal.raise_signal(signal.SIGINT)  # the command's own handling, now that the child is known


def unblock_interrupts() -> None:
    """In a child started under ``interrupts_deferred``: receive SIGINT again (a pending one now)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


PR_SET_PDEATHSIG = 1  # prctl(2)


def end_with_parent(parent: int) -> None:
    """In a child of the command: SIGTERM when the command ends, however it ends (SIGKILL included), so no pack
    or worker outlives it (Linux ``prctl(PR_SET_PDEATHSIG)``, https://man7.org/linux/man-pages/man2/prctl.2.html:
    the signal comes when the thread that forked the child ends; the command forks from its main thread). A parent
    gone before the call ends the child at once."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)
