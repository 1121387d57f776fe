"""Synthesise several stacks with the start-up paid once: SDKs imported here, each stack in a forked child.

The Pulumi runtime keeps its state in module globals (``pulumi.runtime.settings``: the monitor, the root
resource, config, the stack and project names; ``pulumi.runtime.config``: the config values), so a process can
synthesise one stack only. Spawning a fresh interpreter per stack pays the SDK imports (seconds) every time.
Instead this process imports the SDKs and the program's modules, never runs a program itself, and forks one
child per stack (``multiprocessing``'s fork context, a new child for every task): each child starts with the
imports done and the runtime as fresh as a new interpreter's, synthesises one stack and sends the document back
through the pool's pipe. Team stacks need their platform's deployed outputs: those missing from the
platform-output cache are computed first, in forked children too, and handed to the team children.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from mlops.synth import REPO_ROOT

WORKERS = 2  # the machine's cores; more children only compete for them
SDK_PACKAGES = {"aws": "pulumi_aws", "k8s": "pulumi_kubernetes"}
_SUBMODULE = re.compile(r"\b(aws|k8s)\.([a-z][a-z0-9_]*)(?:\.([a-z][a-z0-9_]*))?\.[A-Za-z]")

# Set in the parent before the pool forks; each child reports its progress through it.
_reporter: Callable[[str, str, int], None] | None = None


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


def preload() -> None:
    """Import the SDKs and the program's modules once, in the parent, so every forked child has them."""
    if str(REPO_ROOT) not in sys.path:  # the programs' package, as synthesize() finds it
        sys.path.insert(0, str(REPO_ROOT))
    for name in (
        "pulumi",
        "pulumi_aws",
        "pulumi_kubernetes",
        "stacks.builders",
        "stacks.team",
        "mlops.mocks",
    ):
        importlib.import_module(name)
    for name in sdk_modules():
        try:
            importlib.import_module(name)
        except ImportError:  # a name the pattern caught that is no module (an attribute)
            continue


def _synth_job(stack: str, stacks_dir: str, outputs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from mlops import cache
    from mlops.synth import stack_file, synthesize

    for platform, values in outputs.items():
        cache.remember(platform, stack_file(Path(stacks_dir), platform), values, write=False)
    return synthesize(stack, Path(stacks_dir), on_register=_child_reporter(stack, "synthesising"))


def _outputs_job(stack: str, stacks_dir: str) -> dict[str, Any]:
    from mlops.synth import synthesize

    reporter = _child_reporter(stack, "platform outputs")
    return synthesize(stack, Path(stacks_dir), deployed=True, on_register=reporter)["outputs"]


def _child_reporter(stack: str, phase: str) -> Callable[[int], None] | None:
    if _reporter is None:
        return None
    report = _reporter
    report(stack, phase, 0)
    return lambda count: report(stack, phase, count)


def _result(future: Future, what: str) -> Any:
    """A child's result; a child that died without one is a ProgramError naming the stack."""
    from mlops.synth import ProgramError

    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise ProgramError(f"synthesising {what}: its process ended without a result ({exc})") from exc


def _wanted(outputs: dict[str, Any], platform: str | None) -> dict[str, Any]:
    return {p: v for p, v in outputs.items() if p == platform}


def run_forked(
    jobs: list[tuple[str, Callable[..., Any], tuple[Any, ...], str]], workers: int
) -> dict[str, Any]:
    """Run each (key, function, args, what) in a child forked for it alone, at most ``workers`` at a time; the
    results by key. One single-worker executor per job: a child never serves a second job (the Pulumi runtime is
    per process), and a child that dies breaks its executor, so .result() raises instead of waiting for ever
    (a multiprocessing Pool would wait; ProcessPoolExecutor's max_tasks_per_child refuses the fork method)."""
    results: dict[str, Any] = {}
    pending = list(jobs)
    running: dict[Future, tuple[str, ProcessPoolExecutor, str]] = {}
    try:
        while pending or running:
            while pending and len(running) < workers:
                key, function, args, what = pending.pop(0)
                executor = ProcessPoolExecutor(1, mp_context=get_context("fork"))
                running[executor.submit(function, *args)] = (key, executor, what)
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                key, executor, what = running.pop(future)
                executor.shutdown(wait=True)
                results[key] = _result(future, what)
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
    reporter: Callable[[str, str, int], None] | None = None,
    workers: int = WORKERS,
) -> list[dict[str, Any]]:
    """The preview document of each stack in ``names`` (in that order), each synthesised in a forked child.

    ``reporter(stack, phase, resources registered so far)`` is called in the children (it must be safe to call
    from another process, e.g. a queue's put)."""
    global _reporter
    from mlops import cache
    from mlops.synth import load_source, stack_file

    preload()
    sources = {name: load_source(name, stacks_dir) for name in names}  # config errors before any child
    platforms = sorted({s.platform_stack for s in sources.values() if s.platform_stack is not None})
    needed = cache.missing([(p, stack_file(stacks_dir, p)) for p in platforms])
    _reporter = reporter
    try:
        platform_jobs = [
            (f"outputs of {p}", _outputs_job, (p, str(stacks_dir)), f"platform stack {p!r} (for its outputs)")
            for p in needed
        ]
        stack_jobs = [
            (name, _synth_job, (name, str(stacks_dir), {}), f"stack {name!r}")
            for name in names
            if sources[name].kind != "team"
        ]
        first = run_forked([*platform_jobs, *stack_jobs], workers)
        outputs = {p: first[f"outputs of {p}"] for p in needed}
        for platform, value in outputs.items():
            cache.remember(platform, stack_file(stacks_dir, platform), value)
        team_jobs = [
            (
                name,
                _synth_job,
                (name, str(stacks_dir), _wanted(outputs, sources[name].platform_stack)),
                f"stack {name!r}",
            )
            for name in names
            if sources[name].kind == "team"
        ]
        documents = {**{name: first[name] for name, *_ in stack_jobs}, **run_forked(team_jobs, workers)}
        return [documents[name] for name in names]
    finally:
        _reporter = None
