"""Python processes for the tests with the SDK imports paid once: a server that forks one child per command.

A synthesis or a command-line run needs a process of its own (the Pulumi runtime keeps global state), and a new
interpreter spends most of its time importing pulumi, pulumi_aws and pulumi_kubernetes (seconds each time).
``python -m tests.forkserver`` imports them (and the project's modules) once, never runs a program itself, and
for each request forks a child: the child is a process of its own, with the runtime as fresh as a new
interpreter's, its own working directory, environment, stdout and stderr files and exit code, and it runs
``python -m MODULE ARGS`` or ``python -c CODE ARGS`` the way the interpreter would (``runpy`` with
``alter_sys``). What a test sees is what a subprocess gives: exit code, stdout, stderr.

What a child cannot show is the interpreter's own start-up (which modules a command imports, how long it takes):
tests of that run a real interpreter (``subprocess``), as ``benchmarks/`` does.

Protocol (JSON lines): the server prints ``{"ready": true}``; each request ``{"argv", "cwd", "env", "out",
"err"}`` is answered with ``{"pid"}`` at once and ``{"status"}`` when the child has ended.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
import resource
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PRELOAD = (
    "pulumi",
    "pulumi.runtime.mocks",
    "pulumi_aws",
    "pulumi_kubernetes",
    "pulumi_random",
    "typer",
    "mlops.cli",
    "mlops.synth",
    "mlops.mocks",
    "mlops.check",
    "mlops.team",
    "stacks.builders",
    "stacks.team",
)
# The provider SDKs load their submodules, and each resource class's module, on first attribute use (aws.s3.Bucket,
# k8s.apps.v1.Deployment): importing the packages alone would leave most of the start-up to every child.
_ATTRIBUTE = re.compile(r"\b(aws|k8s)((?:\.[a-z][a-z0-9_]*){1,2}\.[A-Z][A-Za-z0-9]*)")
_PACKAGES = {"aws": "pulumi_aws", "k8s": "pulumi_kubernetes"}


def sdk_attributes() -> list[str]:
    """The provider SDK classes and functions the programs (the stacks' and the test fixtures') name."""
    found: set[str] = set()
    for folder in ("components", "stacks", "tests/fixtures"):
        for path in (REPO / folder).rglob("*.py"):
            for alias, rest in _ATTRIBUTE.findall(path.read_text(encoding="utf-8")):
                found.add(_PACKAGES[alias] + rest)
    return sorted(found)


def preload() -> None:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    for name in PRELOAD:
        importlib.import_module(name)
    for dotted in sdk_attributes():
        value: Any = sys.modules[dotted.split(".", 1)[0]]
        for part in dotted.split(".")[1:]:
            value = getattr(value, part, None)  # a name the pattern caught that is no attribute: skipped
            if value is None:
                break


def _exit_code(exc: SystemExit) -> int:
    """The interpreter's rule for SystemExit: None is 0, an int is itself, anything else is printed, exit 1."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def _child(request: dict[str, Any], protocol: list[int]) -> None:
    """Become the requested process (never returns)."""
    code = 1
    try:
        for fd in protocol:
            os.close(fd)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        stdin = os.open(os.devnull, os.O_RDONLY)
        out = os.open(request["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        err = os.open(request["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        for source, target in ((stdin, 0), (out, 1), (err, 2)):
            os.dup2(source, target)
            os.close(source)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        flag, target, *rest = request["argv"]
        try:
            if flag == "-m":
                import runpy
                import warnings

                # The server imported the module already; a fresh interpreter would not have: no warning of it.
                warnings.filterwarnings(
                    "ignore", "'.*' found in sys.modules after import of package", RuntimeWarning
                )
                sys.argv = [target, *rest]
                sys.path[0] = os.getcwd()  # as `python -m` puts the working directory first
                runpy.run_module(target, run_name="__main__", alter_sys=True)
            elif flag == "-c":
                sys.argv = ["-c", *rest]
                sys.path[0] = ""  # as `python -c` does
                exec(
                    compile(target, "<string>", "exec"),
                    {"__name__": "__main__", "__builtins__": __builtins__},
                )
            else:
                raise ValueError(f"unsupported interpreter arguments: {request['argv']}")
            code = 0
        except SystemExit as exc:
            code = _exit_code(exc)
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed stream must not change the exit code
                stream.flush()
        os._exit(code)


def _cpu(usage: Any) -> float:
    """CPU seconds of a process and of the processes it waited for (a child's synthesis of its platform)."""
    return usage.ru_utime + usage.ru_stime


def serve() -> None:
    preload()
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    requests = sys.stdin
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # a stray print of an import must not break the protocol
    answers.write(json.dumps({"ready": True, "cpu": _cpu(resource.getrusage(resource.RUSAGE_SELF))}) + "\n")
    for line in requests:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(request, [answers.fileno(), requests.fileno()])
        answers.write(json.dumps({"pid": pid}) + "\n")
        _, status, usage = os.wait4(pid, 0)
        answers.write(json.dumps({"status": os.waitstatus_to_exitcode(status), "cpu": _cpu(usage)}) + "\n")


class ForkServer:
    """The client: one server process, one request at a time (a pytest-xdist worker runs one test at a time)."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.count = 0
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.forkserver"],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._buffer = b""
        ready = self._answer(None)
        assert ready["ready"], ready
        # CPU seconds of the server and its children so far (benchmarks/suite_profile.py adds them up).
        self.cpu = ready["cpu"]

    def _answer(self, timeout: float | None) -> dict[str, Any]:
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                raise TimeoutError
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError("the fork server ended")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def run(
        self, argv: list[str], cwd: Path, env: dict[str, str], timeout: float | None
    ) -> subprocess.CompletedProcess:
        """``python ARGV`` in a forked child: its exit code, stdout and stderr (``timeout`` kills it)."""
        self.count += 1
        out, err = self.scratch / f"{self.count}.out", self.scratch / f"{self.count}.err"
        request = {"argv": argv, "cwd": str(cwd), "env": env, "out": str(out), "err": str(err)}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        pid = self._answer(None)["pid"]
        try:
            answer = self._answer(timeout)
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            self.cpu += self._answer(None)["cpu"]
            raise subprocess.TimeoutExpired([sys.executable, *argv], timeout) from None
        self.cpu += answer["cpu"]
        result = subprocess.CompletedProcess(
            [sys.executable, *argv], answer["status"], out.read_text(), err.read_text()
        )
        out.unlink()
        err.unlink()
        return result

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


if __name__ == "__main__":
    serve()
