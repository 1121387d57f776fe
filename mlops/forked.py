"""Synthesise several stacks on both cores: one fork pool whose workers import the SDKs once.

The pool is a ``concurrent.futures.ProcessPoolExecutor`` of ``WORKERS`` processes forked from the command (the
``fork`` start method); each worker's initializer imports the SDKs and the programs' modules, then the worker
synthesises the stacks it is given one after another. ``mlops.synth.synthesize`` sets the Pulumi runtime up
from scratch for each stack (``set_mocks`` replaces the runtime's settings, ``set_all_config`` its config), so
a worker's second document is the one a fresh interpreter gives (tests/mlops/test_forked.py checks that).

A team stack needs its platform's outputs as deployed: from the platform-output cache (mlops/cache.py), else
from a job of the pool whose future, once resolved, submits the team's job. Jobs go costliest first.
Ctrl-C (SIGINT to the process group, as a terminal sends it) ends each worker at once (SIGINT's default action
there); the command kills whatever worker is left, waits for them and exits 130.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from mlops.base import REPO_ROOT, ProgramError, end_with_parent, interrupts_deferred, unblock_interrupts

WORKERS = 2  # the machine's cores; more workers only compete for them
PRELOAD = ("pulumi", "pulumi_aws", "pulumi_kubernetes", "stacks.builders", "stacks.team", "mlops.synth")

_reporter: Callable[..., None] | None = None  # set by each worker's initializer (None: no progress shown)


def _start_worker(reporter: Callable[..., None] | None, parent: int) -> None:
    """A worker's initializer: SIGINT, SIGTERM and SIGHUP end it (the command, which gets the same Ctrl-C, reports
    it), so does the command's end, and the SDKs are imported once for every stack it will synthesise."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    end_with_parent(parent)
    unblock_interrupts()  # forked under interrupts_deferred: a Ctrl-C that came meanwhile ends it now
    global _reporter
    _reporter = reporter
    if str(REPO_ROOT) not in sys.path:  # the programs' package, as synthesize() finds it
        sys.path.insert(0, str(REPO_ROOT))
    for name in PRELOAD:
        importlib.import_module(name)


@contextlib.contextmanager
def fork_pool(reporter: Callable[..., None] | None = None) -> Iterator[ProcessPoolExecutor]:
    """The pool; on any exception (a stack's failure, Ctrl-C) its workers are killed and waited for, not left
    to finish what they were doing."""
    pool = ProcessPoolExecutor(
        WORKERS,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_start_worker,
        initargs=(reporter, os.getpid()),
    )
    try:
        yield pool
    except BaseException:
        for worker in multiprocessing.active_children():
            worker.kill()
            worker.join()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _report(stack: str, phase: str) -> Callable[[int], None] | None:
    if _reporter is None:
        return None
    report = _reporter
    report(stack, phase, 0)
    return lambda count: report(stack, phase, count)


def _synth_job(stack: str, stacks_dir: str, outputs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A worker's job: the stack's preview document (``outputs``: its platform's, computed by another job)."""
    from mlops import cache
    from mlops.synth import stack_file, synthesize

    for platform, values in outputs.items():
        cache.remember(platform, stack_file(Path(stacks_dir), platform), values, write=False)
    document = synthesize(stack, Path(stacks_dir), on_register=_report(stack, "synthesising"))
    if _reporter is not None:
        _reporter(stack, "synthesised", len(document["steps"]), True)
    return document


def _outputs_job(stack: str, stacks_dir: str) -> dict[str, Any]:
    """A worker's job: a platform stack's outputs as deployed."""
    from mlops.synth import synthesize

    document = synthesize(
        stack, Path(stacks_dir), deployed=True, on_register=_report(stack, "platform outputs")
    )
    return document["outputs"]


def _result(future: Future, what: str) -> Any:
    """A job's result; a worker that died without one is a ProgramError naming the job."""
    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise ProgramError(f"{what}: its process ended without a result ({exc})") from exc


def synthesize_many(
    names: list[str], stacks_dir: Path, reporter: Callable[..., None] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(stack, preview document)`` of each stack in ``names`` as each is ready, synthesised in the pool.
    The stack files are read here first (a config error before any process starts). ``reporter(stack, phase,
    count, final=False)`` is called in the workers (it must be safe there, e.g. a queue's put)."""
    from mlops import cache
    from mlops.changes import Stack, cost
    from mlops.synth import load_source, stack_file

    sources = {name: load_source(name, stacks_dir) for name in names}
    platforms = sorted({s.platform_stack for s in sources.values() if s.platform_stack is not None})
    missing = set(cache.missing([(p, stack_file(stacks_dir, p)) for p in platforms]))
    costs = {
        name: cost(Stack(name, source.platform_stack, source.regions)) for name, source in sources.items()
    }
    waiting: dict[str, list[str]] = {platform: [] for platform in missing}
    with fork_pool(reporter) as pool:
        jobs: dict[Future, tuple[str, str]] = {}

        def submit(function: Callable[..., Any], *args: Any) -> Future:
            with interrupts_deferred():  # a submit may fork the workers
                return pool.submit(function, *args)

        def submit_stack(name: str) -> None:
            platform = sources[name].platform_stack
            outputs = {}
            if platform is not None:
                outputs = {platform: cache.cached_outputs(platform, stack_file(stacks_dir, platform), dict)}
            future = submit(_synth_job, name, str(stacks_dir), outputs)
            jobs[future] = ("stack", name)

        for platform in sorted(missing):  # the outputs first: their teams wait for them
            jobs[submit(_outputs_job, platform, str(stacks_dir))] = ("outputs", platform)
        for name in sorted(names, key=lambda name: -costs[name]):
            if sources[name].platform_stack in waiting:
                waiting[sources[name].platform_stack].append(name)
            else:
                submit_stack(name)
        while jobs:
            done, _ = wait(jobs, return_when=FIRST_COMPLETED)
            for future in done:
                kind, name = jobs.pop(future)
                if kind == "outputs":
                    outputs = _result(future, f"synthesising platform stack {name!r} for its outputs")
                    cache.remember(name, stack_file(stacks_dir, name), outputs)
                    for team in waiting.pop(name):
                        submit_stack(team)
                else:
                    yield name, _result(future, f"synthesising stack {name!r}")
