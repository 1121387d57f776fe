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
        with get_context("fork").Pool(workers, maxtasksperchild=1) as pool:
            pending_outputs = {p: pool.apply_async(_outputs_job, (p, str(stacks_dir))) for p in needed}
            results = {
                name: pool.apply_async(_synth_job, (name, str(stacks_dir), {}))
                for name in names
                if sources[name].kind != "team"
            }
            outputs: dict[str, dict[str, Any]] = {}
            for platform, result in pending_outputs.items():
                outputs[platform] = result.get()
                cache.remember(platform, stack_file(stacks_dir, platform), outputs[platform])
            for name in names:
                if sources[name].kind == "team":
                    wanted = {p: v for p, v in outputs.items() if p == sources[name].platform_stack}
                    results[name] = pool.apply_async(_synth_job, (name, str(stacks_dir), wanted))
            return [results[name].get() for name in names]
    finally:
        _reporter = None
