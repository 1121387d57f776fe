"""What a long command is doing, on stderr: which stack, which phase, resources registered, resources analysed.

Shown only on a terminal, and never when the command prints a document (``--json``, ``--format json``...) on
stdout, so pipes, CI logs and saved reports stay exactly as they were. Updates may come from forked children
(``Board.child_reporter``): they travel through a queue the parent drains on a thread.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

REPORT_EVERY = 10  # registrations between two updates sent by a child
CHECKING = "checking"  # the phase whose counts are resources analysed, not registered


def wanted(document_on_stdout: bool, stream: Any = None) -> bool:
    """Progress is for a person watching a terminal: stderr is one, and stdout carries no document."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return not document_on_stdout and bool(isatty and isatty())


class Board:
    """One line per stack: ``<stack>  <phase>  <resources registered>  <resources analysed>``; a no-op when
    disabled (no rich import either)."""

    def __init__(self, console: Any = None, enabled: bool = True):
        self.enabled = enabled
        self._tasks: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._progress = None
        if enabled:
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]{task.fields[stack]}[/bold]"),
                TextColumn("{task.fields[phase]}"),
                TextColumn("{task.fields[resources]} resources registered"),
                TextColumn("{task.fields[analysed]}"),
                TimeElapsedColumn(),
                console=console or Console(stderr=True),
                transient=False,
            )

    def __enter__(self) -> Board:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(
        self, stack: str, phase: str | None = None, resources: int | None = None, analysed: str | None = None
    ) -> None:
        """Set what is known of ``stack`` (a new line the first time it is named)."""
        if self._progress is None:
            return
        fields = {
            key: value
            for key, value in (("phase", phase), ("resources", resources), ("analysed", analysed))
            if value is not None
        }
        with self._lock:
            if stack not in self._tasks:
                defaults = {"phase": "waiting", "resources": 0, "analysed": ""}
                self._tasks[stack] = self._progress.add_task(stack, total=None, stack=stack, **defaults)
            self._progress.update(self._tasks[stack], **fields)

    def registrations(self, stack: str, phase: str = "synthesising") -> Callable[[int], None] | None:
        """A callback for ``synthesize(on_register=...)`` in this process."""
        if self._progress is None:
            return None
        self.update(stack, phase, 0)
        return lambda count: self.update(stack, resources=count)

    def analysed(self, stack: str) -> Callable[[int, int], None] | None:
        """A callback for ``PolicyPackProcess.analyze(progress=...)``: resources analysed out of all."""
        if self._progress is None:
            return None
        self.update(stack, CHECKING)
        return lambda done, total: self.update(stack, analysed=f"{done}/{total} analysed by the policies")

    def done(self, stack: str, summary: str) -> None:
        self.update(stack, summary)

    @contextmanager
    def child_reporter(self) -> Iterator[Callable[..., None] | None]:
        """A reporter forked workers can call, ``(stack, phase, count, final=False)``, through a queue made here
        (before the workers are forked); ``count`` is the resources registered. Every ``REPORT_EVERY``-th count
        is sent, and a final one always (the board then ends on the true count)."""
        if self._progress is None:
            yield None
            return
        from multiprocessing import get_context

        queue = get_context("fork").SimpleQueue()
        stop = threading.Event()

        def drain() -> None:
            # Stopped by an event, not by a last item put in the queue: putting takes the queue's write lock,
            # which a child killed in the middle of its own put would hold for ever.
            while True:
                if queue.empty():
                    if stop.is_set():
                        return
                    stop.wait(0.05)
                    continue
                stack, phase, count = queue.get()
                if phase == CHECKING:
                    self.update(stack, phase, analysed=f"{count} analysed by the policies")
                else:
                    self.update(stack, phase, count)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        try:
            yield queue_reporter(queue)
        finally:
            stop.set()
            reader.join(timeout=5)


def queue_reporter(queue: Any) -> Callable[..., None]:
    """``report(stack, phase, count, final=False)`` into ``queue``, every REPORT_EVERY-th count and the final."""

    def report(stack: str, phase: str, count: int, final: bool = False) -> None:
        if final or count % REPORT_EVERY == 0:
            queue.put((stack, phase, count))

    return report
