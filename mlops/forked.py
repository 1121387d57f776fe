"""Synthesise several stacks with the start-up paid once: the SDKs imported once, each stack in a forked child.

The Pulumi runtime keeps its state in module globals (``pulumi.runtime.settings``: the monitor, the root
resource, config, the stack and project names; ``pulumi.runtime.config``: the config values), so a process can
synthesise one stack only. Spawning a fresh interpreter per stack pays the SDK imports (seconds) every time.
Instead one *scheduling process*, forked by the command (at its start for `mlops check`: `EarlyScheduler`),
imports the SDKs and the program's modules, never runs a program itself, and forks one child per stack
(``multiprocessing``'s fork context, a new child for every task): each child starts with the imports done and the
runtime as fresh as a new interpreter's, synthesises one stack and sends its result back. Team stacks need their
platform's deployed outputs: those missing from the platform-output cache are computed in forked children too,
and a team's child starts as soon as its platform's outputs exist (one scheduler for every job, the costliest
first, so that no core waits for a phase to end). For `mlops check`, the child that synthesised a stack also runs
the policy pack over it (the pack imported by the scheduler too, its analyzer served in the child:
mlops/analyzer.py `PackInProcess`), so the two cores share the analyses as they share the syntheses.

The command's own process keeps only the command line: it reads the stack files, sends the request and receives
each result through a pipe. It drives the ending: Ctrl-C reaches only it (the scheduler and the children ignore
SIGINT), and it stops the scheduler with SIGTERM, whose handler kills the stacks' children and exits at once; a
scheduler whose command died (SIGKILL) notices and does the same.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import re
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any, NamedTuple

from mlops.base import REPO_ROOT
from mlops.cache import CACHE_DIR_ENV, NO_CACHE_ENV

WORKERS = 2  # the machine's cores; more children only compete for them
# A child's collector thresholds (CPython's defaults: 700, 10, 10). A synthesis allocates hundreds of thousands
# of short-lived objects; with the defaults the youngest generation is collected thousands of times, a tenth to a
# quarter of a platform's synthesis. Only that threshold is raised; the older generations keep their ratios.
# Measured on prod (synthesis and check in a forked child): 2.72 s and 212 MiB peak with the defaults, 2.40 s and
# 216 MiB with these.
CHILD_GC_THRESHOLDS = (50_000, 10, 10)
SDK_PACKAGES = {"aws": "pulumi_aws", "k8s": "pulumi_kubernetes"}
# `aws.s3.BucketV2`, `k8s.apps.v1.Deployment`, and a module itself (`admission = k8s.admissionregistration.v1`).
_SUBMODULE = re.compile(r"\b(aws|k8s)\.([a-z][a-z0-9_]*)(?:\.([a-z][a-z0-9_]*))?\b")

# Set in the scheduling process before it forks the stacks' children; each child reports its progress through it.
_reporter: Callable[..., None] | None = None


def sdk_modules(root: Path = REPO_ROOT) -> list[str]:
    """The provider SDK modules the program's code uses (``aws.s3.X`` -> pulumi_aws.s3,
    ``k8s.apps.v1.X`` -> pulumi_kubernetes.apps.v1): both SDKs load their submodules on first attribute use,
    so importing the package alone leaves most of the start-up to every child."""
    found: set[str] = set()
    for folder in ("components", "stacks"):
        for path in (root / folder).rglob("*.py"):
            for alias, first, second in _SUBMODULE.findall(path.read_text(encoding="utf-8")):
                found.add(f"{SDK_PACKAGES[alias]}.{first}")
                if second and alias == "k8s":
                    found.add(f"{SDK_PACKAGES[alias]}.{first}.{second}")
    return sorted(found)


def preload(check: bool = False, eager: bool = True) -> None:
    """Import the SDKs and the program's modules once, in the scheduling process, so every forked child has
    them (and, for a check, the policy SDK and the pack). ``eager`` also loads every SDK submodule the program
    names (seconds): worth it for several children, each of which would load them again; a single child
    loads only those its stack uses."""
    if str(REPO_ROOT) not in sys.path:  # the programs' package, as synthesize() finds it
        sys.path.insert(0, str(REPO_ROOT))
    collecting = gc.isenabled()
    gc.disable()  # imports create objects that live as long as the process: nothing to collect among them
    try:
        _import_all(check, eager)
    finally:
        if collecting:
            gc.enable()


def _import_all(check: bool, eager: bool) -> None:
    for name in (
        "pulumi",
        "pulumi_aws",
        "pulumi_kubernetes",
        "stacks.builders",
        "stacks.team",
        "mlops.mocks",
        *(("policies.pack", "policies.speedups", "mlops.check") if check else ()),
    ):
        importlib.import_module(name)
    for name in sdk_modules() if eager else ():
        try:
            module = importlib.import_module(name)
        except ImportError:  # a name the pattern caught that is no module (an attribute)
            continue
        # The SDKs register their submodules lazily (pulumi._utils.lazy_import): importing one returns a
        # placeholder that loads on the first attribute read other than __name__, __file__ and the like. Read
        # one, or every child would load the module again.
        hasattr(module, "__all__")


def checked(violations: list[Any]) -> str:
    """The board's last phase for a checked stack."""
    return f"checked: {sum(violation.mandatory for violation in violations)} mandatory"


# The environment the command line may change after the early scheduler was forked (``--no-cache``).
CACHE_ENVIRONMENT = (NO_CACHE_ENV, CACHE_DIR_ENV)


@contextlib.contextmanager
def _no_interrupt() -> Iterator[None]:
    """Ctrl-C ignored while a scheduler is forked: it inherits that until it installs its own handlers, so an
    early Ctrl-C reaches only the command (no traceback from the scheduler). Outside the main thread, as is."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _child_signals() -> None:
    """A stack's child dies on SIGTERM (its scheduler's handler is not for it), leaves Ctrl-C to the command,
    which stops everything, and ends when its scheduler is gone (killed before it could stop it)."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent(lambda: os._exit(143))


def _exit_with_parent(stop: Callable[[], None]) -> None:
    """Call ``stop`` on a thread as soon as this process's multiprocessing parent ends: its sentinel, a pipe the
    parent holds open, then reads as closed."""
    import multiprocessing
    import threading
    from multiprocessing.connection import wait as wait_for

    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait_for([parent.sentinel])
        stop()

    threading.Thread(target=watch, daemon=True, name="mlops-parent-watch").start()


def _stop_children_and_exit(*_: object) -> None:
    """The scheduler's SIGTERM handler (and what it does when its command is gone): kill the stacks' children
    and end now, without unwinding (Pulumi's runtime would catch a SystemExit and wait for its calls)."""
    import multiprocessing

    for child in multiprocessing.active_children():
        child.kill()
    os._exit(143)


def _scheduler_signals() -> None:
    """SIGTERM stops the scheduler and its children at once; Ctrl-C is the command's to handle; and a command
    that dies without a word (SIGKILL, out of memory) is noticed: the scheduler then stops too."""
    import signal

    signal.signal(signal.SIGTERM, _stop_children_and_exit)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent(_stop_children_and_exit)


def _child_gc() -> None:
    gc.set_threshold(*CHILD_GC_THRESHOLDS)


def _synth_job(
    stack: str, stacks_dir: str, outputs: dict[str, dict[str, Any]], check: bool = False
) -> dict[str, Any]:
    """The stack's document; for a check, the report's ``{"environment", "resources", "violations",
    "seconds"}`` (the pack run here)."""
    _child_gc()
    from mlops import cache
    from mlops.synth import stack_file, synthesize

    for platform, values in outputs.items():
        cache.remember(platform, stack_file(Path(stacks_dir), platform), values, write=False)
    document = synthesize(stack, Path(stacks_dir), on_register=_child_reporter(stack, "synthesising"))
    _final_report(stack, "synthesised", len(document["steps"]))
    if not check:
        return document
    from mlops.analysis import analyze_document, document_environment
    from mlops.progress import CHECKING

    violations, seconds = analyze_document(
        stack, document, Path(stacks_dir), progress=_child_reporter(stack, CHECKING)
    )
    # Through the same queue as the counts before it, so the board shows them in order.
    _final_report(stack, checked(violations), len(document["steps"]))
    # What the report needs, not the document (megabytes to pickle for a platform).
    return {
        "environment": document_environment(document),
        "resources": len(document["steps"]),
        "violations": violations,
        "seconds": seconds,
    }


def _outputs_job(stack: str, stacks_dir: str) -> dict[str, Any]:
    from mlops.synth import synthesize

    _child_gc()
    reporter = _child_reporter(stack, "platform outputs")
    document = synthesize(stack, Path(stacks_dir), deployed=True, on_register=reporter)
    _final_report(stack, "platform outputs", len(document["steps"]))
    return document["outputs"]


def _child_reporter(stack: str, phase: str) -> Callable[..., None] | None:
    """``(count)`` callbacks for a child's synthesis, ``(done, total)`` for its analysis (whose last call,
    ``done == total``, is always sent)."""
    if _reporter is None:
        return None
    report = _reporter
    report(stack, phase, 0)
    return lambda count, *total: report(stack, phase, count, bool(total) and count == total[0])


def _final_report(stack: str, phase: str, count: int) -> None:
    if _reporter is not None:
        _reporter(stack, phase, count, True)


def _result(future: Future, what: str) -> Any:
    """A child's result; a child that died without one is a ProgramError naming the stack."""
    from mlops.synth import ProgramError

    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise ProgramError(f"{what}: its process ended without a result ({exc})") from exc


class Job(NamedTuple):
    """``function(*args)`` in a forked child; ``args`` may be a callable building them from the results of the
    jobs named in ``needs``, which run first. ``what`` names the job in errors."""

    key: str
    function: Callable[..., Any]
    args: tuple[Any, ...] | Callable[[dict[str, Any]], tuple[Any, ...]]
    what: str
    needs: tuple[str, ...] = ()


def run_forked(
    jobs: list[Job] | list[tuple[Any, ...]],
    workers: int,
    on_result: Callable[[str, Any], None] | None = None,
) -> dict[str, Any]:
    """Run each job in a child forked for it alone, at most ``workers`` at a time, in the given order except
    that a job waits until the jobs it needs have their results; the results by key (``on_result(key, result)``
    is called as each arrives, after the freed slots are refilled). One single-worker executor per job: a child
    never serves a second job (the Pulumi runtime is per process), and a child that dies breaks its executor,
    so .result() raises instead of waiting for ever (a multiprocessing Pool would wait; ProcessPoolExecutor's
    max_tasks_per_child refuses the fork method)."""
    results: dict[str, Any] = {}
    pending = [job if isinstance(job, Job) else Job(*job) for job in jobs]
    keys = {job.key for job in pending}
    for job in pending:
        unknown = [need for need in job.needs if need not in keys]
        if unknown:
            raise ValueError(f"{job.what} needs {unknown}, which no job computes")
    running: dict[Future, tuple[str, ProcessPoolExecutor, str]] = {}

    def fill() -> None:
        while len(running) < workers:
            ready = next((job for job in pending if all(need in results for need in job.needs)), None)
            if ready is None:
                return
            pending.remove(ready)
            args = ready.args(results) if callable(ready.args) else ready.args
            executor = ProcessPoolExecutor(1, mp_context=get_context("fork"), initializer=_child_signals)
            running[executor.submit(ready.function, *args)] = (ready.key, executor, ready.what)

    try:
        while pending or running:
            fill()
            if not running:
                raise ValueError(f"jobs wait for each other: {[job.key for job in pending]}")
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            arrived = []
            for future in done:
                key, executor, what = running.pop(future)
                executor.shutdown(wait=True)
                results[key] = _result(future, what)
                arrived.append(key)
            fill()  # the freed slots refilled before the results are handed over: the cores stay busy meanwhile
            if on_result is not None:
                for key in arrived:
                    on_result(key, results[key])
    finally:
        # After a failure (or an interrupt) the siblings still running are stopped, not waited for: interpreter
        # exit would otherwise wait for their executors, and a hung sibling would hang the command.
        for _key, executor, _what in running.values():
            for process in list(getattr(executor, "_processes", {}).values()):
                process.terminate()
            executor.shutdown(wait=True, cancel_futures=True)
    return results


def synthesize_many(
    names: list[str],
    stacks_dir: Path,
    reporter: Callable[..., None] | None = None,
    workers: int = WORKERS,
    check: bool = False,
) -> list[Any]:
    """The preview document of each stack in ``names`` (in that order), each synthesised in a forked child;
    with ``check``, each child also runs the policy pack over it and returns ``{"environment", "resources",
    "violations", "seconds"}`` instead.

    The stack files are read here (a config error before any process starts); then one forked process imports
    the SDKs and the pack and forks the stacks' children (`_schedule`), sending each result back as it arrives.
    That process ends as multiprocessing's children do, without the interpreter's teardown of everything it
    imported (over a second for the SDKs' hundreds of thousands of objects); this one keeps only the command
    line. ``reporter(stack, phase, count, final=False)`` is called in the stacks' children (it must be safe to
    call from another process, e.g. a queue's put)."""
    from mlops.synth import ProgramError, load_source

    sources = {name: load_source(name, stacks_dir) for name in names}
    run = _Run(names, Path(stacks_dir), sources, reporter, workers, check)
    early = take_early() if check else None
    if early is not None:
        reader, scheduler = early.results, early.process
    else:
        context = get_context("fork")
        reader, writer = context.Pipe(duplex=False)
        scheduler = context.Process(target=_scheduler, args=(writer, reader, run), name="mlops-scheduler")
        with _no_interrupt():
            scheduler.start()
        writer.close()
    results: dict[str, Any] = {}
    finished = False
    try:
        if early is not None:
            # Started at the command's start, already importing: sent the request with the cache settings the
            # command line made since (``--no-cache``), and whether to report progress (its reporter is made
            # there, on the queue it shares with this process's board: ``reporter`` must be that queue's).
            settings = {name: os.environ.get(name) for name in CACHE_ENVIRONMENT}
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # then recv says it ended
                early.request_writer.send((run._replace(reporter=None), reporter is not None, settings))
        while not finished:
            try:
                kind, key, value = reader.recv()
            except (EOFError, BrokenPipeError, ConnectionResetError):
                scheduler.join(timeout=10)
                raise ProgramError(
                    f"synthesising {', '.join(names)}: the process scheduling them ended without a result "
                    f"(exit code {scheduler.exitcode})"
                ) from None
            if kind == "result":
                results[key] = value
            elif kind == "error":
                error, text = value
                raise error from RemoteTraceback(text)
            else:
                finished = True
    finally:
        if not finished and scheduler.is_alive():
            scheduler.terminate()  # its handler kills the stacks' children, then ends it
            scheduler.join(timeout=10)
            if scheduler.is_alive():
                scheduler.kill()
        scheduler.join(timeout=30)
        reader.close()
    return [results[name] for name in names]


class _Run(NamedTuple):
    """What `synthesize_many` hands its scheduling process."""

    names: list[str]
    stacks_dir: Path
    sources: dict[str, Any]
    reporter: Callable[..., None] | None
    workers: int
    check: bool


def _scheduler(writer: Any, reader: Any, run: _Run) -> None:
    """The forked process of `synthesize_many`: results, then ``done`` (or one ``error``) through ``writer``."""
    reader.close()
    _scheduler_signals()
    _serve(writer, run)


def _serve(writer: Any, run: _Run) -> None:
    """Schedule ``run``, sending each result, then ``done`` or one ``error`` (with its traceback's text); a
    command gone meanwhile (a broken pipe) ends this quietly."""
    import pickle
    import traceback

    from mlops.synth import ProgramError

    try:
        try:
            _schedule(run, lambda key, value: writer.send(("result", key, value)))
            writer.send(("done", None, None))
        except (BrokenPipeError, ConnectionResetError):
            _stop_children_and_exit()
        except Exception as exc:
            text = traceback.format_exc()
            try:
                pickle.loads(pickle.dumps(exc))  # it must arrive as itself, or as its text
            except Exception:
                exc = ProgramError(f"{type(exc).__name__}: {exc}")
            writer.send(("error", None, (exc, text)))
    except (BrokenPipeError, ConnectionResetError):
        _stop_children_and_exit()
    finally:
        writer.close()


class InProcessUnsupported(Exception):
    """The installed policy SDK's servicer cannot be built in-process: `mlops check` serves the pack over gRPC."""


class RemoteTraceback(Exception):
    """Where an error raised in the scheduling process came from (its traceback as text), as its cause."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _schedule(run: _Run, on_result: Callable[[str, Any], None]) -> None:
    """Import the SDKs (and the pack), then synthesise each stack in a forked child. Jobs run costliest first
    (mlops/changes.py's estimate: a platform region weighs four team regions); a team's job waits only for its
    platform's outputs, when the cache lacks them."""
    global _reporter
    from mlops import cache
    from mlops.changes import Stack, cost
    from mlops.synth import stack_file

    names, stacks_dir, sources, reporter, workers, check = run
    platforms = sorted({s.platform_stack for s in sources.values() if s.platform_stack is not None})
    needed = cache.missing([(p, stack_file(stacks_dir, p)) for p in platforms])
    preload(check, eager=len(needed) + len(names) > 1)
    if check:
        from mlops.analyzer import in_process_supported

        if not in_process_supported():
            raise InProcessUnsupported("this policy SDK's analyzer servicer cannot be built in-process")
    _reporter = reporter

    def outputs_of(platform: str | None) -> Callable[[dict[str, Any]], dict[str, Any]]:
        return lambda results: {platform: results[f"outputs of {platform}"]} if platform in needed else {}

    def remembered(key: str, value: Any) -> None:
        if key.startswith("outputs of "):
            platform = key.removeprefix("outputs of ")
            cache.remember(platform, stack_file(stacks_dir, platform), value)
        else:
            on_result(key, value)

    # What this process holds now is shared by every child: frozen, the children's collector never walks it
    # (nor copies its pages by touching their reference counts). https://docs.python.org/3/library/gc.html#gc.freeze
    gc.freeze()
    try:
        jobs = [
            Job(
                f"outputs of {p}",
                _outputs_job,
                (p, str(stacks_dir)),
                f"synthesising platform stack {p!r} (for its outputs)",
            )
            for p in needed
        ]
        for name in names:
            platform = sources[name].platform_stack
            needs = (f"outputs of {platform}",) if platform in needed else ()
            build = outputs_of(platform)
            jobs.append(
                Job(
                    name,
                    _synth_job,
                    lambda results, name=name, build=build: (name, str(stacks_dir), build(results), check),
                    f"{'synthesising and checking' if check else 'synthesising'} stack {name!r}",
                    needs,
                )
            )
        # Priced from the stack files already read (never the whole folder: another team's broken file must not
        # stop this check); a platform read only for its outputs by the regions its teams' files saw.
        known = {
            source.platform_stack: cost(Stack(source.platform_stack, None, source.platform_regions))
            for source in sources.values()
            if source.platform_stack is not None
        }
        known.update(
            {
                name: cost(Stack(name, source.platform_stack, source.regions))
                for name, source in sources.items()
            }
        )
        costs = {job.key: known[job.key.removeprefix("outputs of ")] for job in jobs}
        # The costliest first; outputs before the stacks that wait for them; then the given order.
        order = {job.key: index for index, job in enumerate(jobs)}
        jobs.sort(key=lambda job: (-costs[job.key], bool(job.needs), order[job.key]))
        run_forked(jobs, workers, on_result=remembered)
    finally:
        _reporter = None
        gc.unfreeze()


class EarlyScheduler:
    """The scheduling process of `synthesize_many`, forked when a multi-stack command starts
    (mlops/__main__.py), before the command line's own imports: it imports the SDKs and the pack while this
    process imports the command line and reads the stack files, then takes one request (`_Run`) through a pipe.
    Progress comes back through ``progress``, a queue made before the fork (a queue cannot travel in a pipe)."""

    def __init__(self, check: bool = True, eager: bool = True):
        context = get_context("fork")
        self.progress = context.SimpleQueue()
        self.requests, requests_end = context.Pipe(duplex=False)  # (reader, writer): the scheduler reads
        self.results, results_end = context.Pipe(duplex=False)
        requests_reader, self.request_writer = self.requests, requests_end
        self.process = context.Process(
            target=_early_scheduler,
            args=(
                requests_reader,
                self.request_writer,
                self.results,
                results_end,
                self.progress,
                check,
                eager,
            ),
            name="mlops-scheduler",
        )
        with _no_interrupt():
            self.process.start()
        requests_reader.close()
        results_end.close()
        self.taken = False

    def close(self) -> None:
        """At exit: stop the scheduler if it still runs (nobody took it: the command failed or had nothing to
        synthesise; or the command ended before its answer), at once."""
        if self.process is None:
            return
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)
            if self.process.is_alive():
                self.process.kill()
        self.process.join(timeout=30)
        for connection in (self.request_writer, self.results):
            connection.close()
        self.process = None


_early: list[EarlyScheduler] = []


def start_early(check: bool = True, eager: bool = True) -> None:
    """Fork the scheduling process now (``mlops check`` of stacks to synthesise); `take_early` hands it over."""
    import atexit

    if not _early:
        _early.append(EarlyScheduler(check, eager))
        atexit.register(lambda: [scheduler.close() for scheduler in _early])


def early_progress() -> Any:
    """The progress queue of the scheduler `take_early` would hand over, if any."""
    scheduler = next((s for s in _early if not s.taken and s.process is not None), None)
    return scheduler.progress if scheduler is not None else None


def take_early() -> EarlyScheduler | None:
    for scheduler in _early:
        if not scheduler.taken and scheduler.process is not None:
            scheduler.taken = True
            return scheduler
    return None


def _early_scheduler(
    requests: Any,
    request_writer: Any,
    results_reader: Any,
    writer: Any,
    progress: Any,
    check: bool,
    eager: bool,
) -> None:
    """The forked process of `EarlyScheduler`: preload, then one request (or none: the command ended first)."""
    from mlops.progress import queue_reporter

    request_writer.close()
    results_reader.close()
    _scheduler_signals()
    with contextlib.suppress(
        Exception
    ):  # a module that fails to import: `_schedule` imports it again, sends it
        preload(check, eager)
    try:
        run, report, settings = requests.recv()
    except EOFError:  # the command ended without a request
        return
    for name, value in settings.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _serve(writer, run._replace(reporter=queue_reporter(progress) if report else None))
