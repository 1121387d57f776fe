"""Shared fixtures: offline synthesis of stacks, once per test session.

Synthesis is the expensive step and the Pulumi runtime keeps global state, so each stack is synthesised in a
subprocess (`mlops preview --json`) once per session; pytest-xdist workers share the result through a
locked cache file under the session's base temp folder.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
STACKS = REPO / "stacks"
FIXTURES = REPO / "tests" / "fixtures" / "stacks"


_FORK_SERVER: list[Any] = []


def run_python(
    *argv: str, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float | None = 600
) -> subprocess.CompletedProcess:
    """``python ARGV`` (``-m MODULE ...`` or ``-c CODE ...``) in a process of its own, its output captured.

    The process is forked from this worker's fork server (tests/forkserver.py), which has imported the SDKs
    once. It is the suite's one fork helper: about 150 commands and syntheses run this way, and a new
    interpreter for each would import the SDKs again every time (seconds each, minutes for the suite); the
    session fixtures (``synth``) already share each synthesis, so what is left is these separate commands.
    Tests of Ctrl-C and of the interpreter's start-up run a real interpreter (``subprocess``) instead.
    ``timeout`` only detects a hang.
    """
    environment = {**os.environ, **(env or {})}
    if not _FORK_SERVER:
        import atexit
        import tempfile

        from tests.forkserver import ForkServer

        _FORK_SERVER.append(ForkServer(Path(tempfile.mkdtemp(prefix="mlops-forks-"))))
        atexit.register(_FORK_SERVER[0].close)
    return _FORK_SERVER[0].run(list(argv), Path(cwd), environment, timeout)


def run_mlops(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run the real command line in a process of its own, as a user would (``timeout`` only detects a hang)."""
    return run_python("-m", "mlops", *args, cwd=cwd, env=env, timeout=timeout)


@pytest.fixture(scope="session", autouse=True)
def session_platform_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The platform-output cache of this test session (mlops/cache.py), shared by the xdist workers: tests neither
    read a developer's `.mlops-cache/` nor leave entries in it. Set before any process is forked or spawned, so
    every `mlops` command the tests run inherits it; a test that needs its own sets MLOPS_CACHE_DIR itself."""
    root = tmp_path_factory.getbasetemp()
    folder = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "platform-cache"
    folder.mkdir(exist_ok=True)
    os.environ["MLOPS_CACHE_DIR"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., dict[str, Any]]:
    """``synth(stack, stacks_dir=STACKS, program=None, deployed=False)``: the preview document of a stack,
    synthesised once per session (``program``: another Pulumi program than stacks/__main__.py, e.g. a fixture
    program; ``deployed``: the stack as deployed, its lookups answered, as team stacks read their platform)."""
    root = tmp_path_factory.getbasetemp()
    shared = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    cache = shared / "synth-cache"
    cache.mkdir(exist_ok=True)

    def get(
        stack: str, stacks_dir: Path = STACKS, program: Path | None = None, deployed: bool = False
    ) -> dict[str, Any]:
        key = hashlib.sha256(
            f"{Path(stacks_dir).resolve()}|{stack}|{program}|{deployed}".encode()
        ).hexdigest()[:16]
        target = cache / f"{stack}-{key}.json"
        with open(cache / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not target.exists():
                if program is None and not deployed:
                    result = run_mlops("preview", stack, "--json", "--stacks-dir", str(stacks_dir))
                else:
                    result = run_python(
                        "-m",
                        "mlops.synth",
                        *(["--deployed"] if deployed else []),
                        stack,
                        str(stacks_dir),
                        *([str(program)] if program else []),
                    )
                assert result.returncode == 0, result.stderr
                target.write_text(result.stdout)
        return json.loads(target.read_text())

    return get


def states(document: dict[str, Any], type_: str | None = None) -> list[dict[str, Any]]:
    """The newState of every step, optionally only those of one type."""
    found = [step["newState"] for step in document["steps"]]
    return [state for state in found if type_ is None or state["type"] == type_]


def by_name(document: dict[str, Any], name: str) -> dict[str, Any]:
    matches = [state for state in states(document) if state["urn"].rsplit("::", 1)[-1] == name]
    assert len(matches) == 1, f"{name}: {len(matches)} resources"
    return matches[0]


FIXTURE_PROGRAMS = REPO / "tests" / "fixtures"
_SYNTH_PROGRAM = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "from mlops.synth import synthesize\n"
    "json.dump(synthesize(sys.argv[1], Path(sys.argv[2]), program=Path(sys.argv[3])), sys.stdout)\n"
)


@pytest.fixture(scope="session")
def synth_program(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., dict[str, Any]]:
    """``synth_program(stack, program, stacks_dir=FIXTURES)``: a fixture program's preview, once per session.

    Like ``synth`` but for a test program (``tests/fixtures/<name>/__main__.py``) that composes only some
    components, run through ``mlops.synth.synthesize`` in a subprocess.
    """
    root = tmp_path_factory.getbasetemp()
    shared = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    cache = shared / "synth-cache"
    cache.mkdir(exist_ok=True)

    def get(stack: str, program: str | Path, stacks_dir: Path = FIXTURES) -> dict[str, Any]:
        program_path = (
            Path(program) if Path(program).is_absolute() else FIXTURE_PROGRAMS / program / "__main__.py"
        )
        key = hashlib.sha256(f"{Path(stacks_dir).resolve()}|{stack}|{program_path}".encode()).hexdigest()[:16]
        target = cache / f"{stack}-{key}.json"
        with open(cache / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not target.exists():
                result = run_python("-c", _SYNTH_PROGRAM, stack, str(stacks_dir), str(program_path))
                assert result.returncode == 0, result.stderr
                target.write_text(result.stdout)
        return json.loads(target.read_text())

    return get


def pytest_addoption(parser: pytest.Parser) -> None:
    # The live smoke suite's options (tests/smoke). They are registered here, at the root of the test tree,
    # because pytest only reads command-line options from conftest files it loads before parsing arguments,
    # and it does not load tests/smoke/conftest.py that early when the whole suite runs from the repository root.
    group = parser.getgroup("smoke", "live smoke tests of a deployed serving cluster (-m smoke)")
    group.addoption(
        "--kube-context",
        metavar="CONTEXT",
        default=None,
        help="kubectl context of the serving cluster; without it the live smoke tests are skipped",
    )
    group.addoption(
        "--team-stack",
        metavar="STACK",
        default=None,
        help="team stack whose model pods are checked, e.g. team-fraud-prod (stacks/Pulumi.<STACK>.yaml)",
    )


def edit_stack_file(stacks_dir: Path, stack: str, edit: Callable[[dict[str, Any]], Any]) -> None:
    """Apply ``edit`` to the config mapping of ``stacks_dir/Pulumi.<stack>.yaml`` and write it back."""
    import yaml

    path = Path(stacks_dir) / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text())
    edit(document["config"])
    path.write_text(yaml.safe_dump(document))


def to_byo_cluster(platform: dict[str, Any]) -> None:
    """Turn a platform config's `eks` cluster into a `byo` one (what mode byo allows: kubeconfig, KEDA, metrics)."""
    charts = platform["cluster"]["charts"]
    platform["cluster"] = {
        "mode": "byo",
        "kubeconfig": "~/.kube/x",
        "kubeconfig-context": "x",
        "charts": {"keda": charts["keda"], "metrics-server": charts["metrics-server"]},
    }
    platform.pop("deployer", None)
    platform.pop("github", None)  # a platform environment's role assumes the deployer
    platform.pop("pipelines", None)  # Argo Workflows needs an eks cluster
    platform.pop("training", None)  # training pools are Karpenter NodePools: eks only
