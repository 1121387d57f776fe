"""Several stacks synthesised in one fork pool, and Ctrl-C in every phase of a command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mlops import forked
from tests.conftest import REPO, STACKS

SCRIPT = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "from mlops.forked import synthesize_many\n"
    "json.dump(dict(synthesize_many(sys.argv[2:], Path(sys.argv[1]))), sys.stdout)\n"
)


def run_script(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -c script args...`` in the repository, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **(env or {})},
    )


def test_a_worker_gives_every_stack_it_synthesises_the_document_of_a_fresh_interpreter(synth, tmp_path):
    """Two workers, four jobs (dev's outputs, then dev, staging and the team waiting for dev's outputs): a
    worker synthesises several stacks one after another, and each document equals that of a fresh interpreter
    per stack; the outputs computed for the team are stored in the cache."""
    result = run_script(
        SCRIPT, str(STACKS), "team-fraud-dev", "dev", "staging", env={"MLOPS_CACHE_DIR": str(tmp_path / "c")}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    documents = json.loads(result.stdout)
    assert sorted(documents) == ["dev", "staging", "team-fraud-dev"]
    for stack, document in documents.items():
        assert document == synth(stack), stack
    assert list((tmp_path / "c").glob("outputs-dev-*.json"))


def test_the_pool_is_two_forked_workers_that_import_the_sdks_once():
    """Two workers, forked (not spawned) from the command, each with the SDKs imported by its initializer."""
    with forked.fork_pool() as pool:
        answers = [pool.submit(_worker, forked.PRELOAD) for _ in range(8)]
        answers = [answer.result() for answer in answers]
    assert forked.WORKERS == 2 and 1 <= len({pid for pid, _, _ in answers}) <= 2
    assert {parent for _, parent, _ in answers} == {os.getpid()}
    assert {tuple(modules) for _, _, modules in answers} == {forked.PRELOAD}


def _worker(names: tuple[str, ...]) -> tuple[int, int, list[str]]:
    return os.getpid(), os.getppid(), [name for name in names if name in sys.modules]


DIES = (
    "import os, sys\n"
    "from pathlib import Path\n"
    "import mlops.synth\n"
    "mlops.synth.synthesize = lambda *args, **kwargs: os._exit(3)\n"
    "from mlops.forked import synthesize_many\n"
    "from mlops.base import ProgramError\n"
    "try:\n"
    "    list(synthesize_many(['dev'], Path(sys.argv[1])))\n"
    "except ProgramError as exc:\n"
    "    print(exc)\n"
)


def test_a_worker_that_dies_is_an_error_naming_the_stack_not_a_hang():
    """A worker killed before it answers (out of memory, a signal, os._exit) fails the command."""
    result = run_script(DIES, str(STACKS))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("synthesising stack 'dev': its process ended without a result")


def _group(pgid: int) -> list[int]:
    """The processes of a process group, from /proc (field 5 of /proc/PID/stat is the group)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found


# Spread over the first three seconds: the command line's imports, the stack files read, the pack's process and
# the pool's workers starting, the workers' SDK imports, the first syntheses.
DELAYS = [round(3.0 * index / 19, 2) for index in range(20)]


def _started(command: subprocess.Popen, seen: list[bytes]) -> threading.Event:
    """Set once the interpreter's own start-up is over and it imports the command (``-X importtime`` lists each
    import on stderr as it completes; the ``mlops`` package comes right before mlops/__main__.py runs). A Ctrl-C
    during CPython's own initialisation (its ``site`` import) is a fatal error of CPython's, before any line of
    the command runs. The stderr is read to its end on a thread, kept in ``seen``."""
    started = threading.Event()

    def read() -> None:
        for line in command.stderr:
            seen.append(line)
            if line.rstrip().endswith(b"| mlops"):
                started.set()
        started.set()

    threading.Thread(target=read, daemon=True).start()
    return started


@pytest.mark.parametrize("delay", DELAYS)
def test_ctrl_c_stops_the_command_with_130_and_leaves_no_process(delay):
    """Ctrl-C (SIGINT to the command's process group, as a terminal sends it) ``delay`` seconds after the
    command starts, in a check that runs far longer (every stack, no cache): exit code 130, and no process of
    the group left (the pack's process and the pool's workers stopped and waited for). -SIGINT is accepted too
    (a shell shows it as 130 as well): the interpreter dies of the signal if it comes in the instant between
    the ``mlops`` package's import and mlops/__main__.py's ``try``."""
    command = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "mlops", "check", "--all", "--no-cache"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        # As a shell starts a command on a terminal: SIGINT's default disposition, whatever this one inherited.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    group = command.pid
    seen: list[bytes] = []
    try:
        assert _started(command, seen).wait(120)
        time.sleep(delay)
        os.killpg(group, signal.SIGINT)
        command.wait(timeout=120)
        errors = b"".join(line for line in seen if not line.startswith(b"import time:"))
        assert command.returncode in (130, -signal.SIGINT), (command.returncode, errors[-2000:])
        left = {pid: Path(f"/proc/{pid}/stat").read_text()[:80] for pid in _group(group)}
        assert not left, f"left behind: {left}"
    finally:
        for pid in _group(group):
            os.kill(pid, signal.SIGKILL)


def _signal_the_running_check(signum: int, after: float) -> int:
    """Start `check --all --no-cache` in its own process group, send ``signum`` to the command alone ``after``
    seconds past the interpreter's start-up, and return its exit code once it and every process of its group are
    gone (15 s at most for the children after the command); the group is killed whatever happens."""
    command = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "mlops", "check", "--all", "--no-cache"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    group = command.pid
    seen: list[bytes] = []
    try:
        assert _started(command, seen).wait(120)
        time.sleep(after)
        assert len(_group(group)) >= 3  # the command, the pack, the workers
        os.kill(command.pid, signum)
        command.wait(timeout=120)
        deadline = time.monotonic() + 15
        while _group(group) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _group(group) == []
        return command.returncode
    finally:
        for pid in _group(group):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_or_sighup_to_the_command_alone_stops_it_and_leaves_no_process(signum, code):
    """`timeout`, a CI step's cancel or systemd send SIGTERM to the command alone, a closed terminal SIGHUP: the
    command ends as on Ctrl-C, with 128 + the signal's number, and stops the pack's process and the workers."""
    assert _signal_the_running_check(signum, after=3) == code


def test_a_killed_command_leaves_no_process():
    """SIGKILL cannot be handled: the pack's process and the workers end with the command all the same, since each
    asked the kernel for SIGTERM at its parent's death (prctl PR_SET_PDEATHSIG,
    https://man7.org/linux/man-pages/man2/prctl.2.html)."""
    assert _signal_the_running_check(signal.SIGKILL, after=3) == -signal.SIGKILL


def test_an_interrupt_during_a_deferred_start_is_raised_after_it_even_with_other_threads():
    """A process-directed SIGINT goes to any thread that does not block it, and CPython runs the Python handler in
    the main thread (https://docs.python.org/3/library/signal.html#signals-and-threads): with another thread
    running, blocking SIGINT in the main thread alone would not hold it back. interrupts_deferred raises it after
    the block, not inside it."""
    from mlops.base import interrupts_deferred

    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    reached_the_end = False
    try:
        with pytest.raises(KeyboardInterrupt), interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)  # the handler has run by now, if it runs inside the block
            reached_the_end = True
        assert reached_the_end
    finally:
        stop.set()
