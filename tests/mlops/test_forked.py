"""Multi-stack synthesis in forked children: the same documents as a fresh interpreter per stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mlops import forked
from tests.conftest import REPO, STACKS

SCRIPT = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "from mlops.forked import synthesize_many\n"
    "json.dump(synthesize_many(sys.argv[2:], Path(sys.argv[1])), sys.stdout)\n"
)


def run_script(script: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -c script args...`` in the repository, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-c", script, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def test_forked_children_give_each_stack_the_document_of_a_fresh_interpreter(synth, tmp_path):
    """A platform and a team stack synthesised in forked children (the team's platform outputs computed in a
    forked child too, the cache being empty) equal those of one spawned interpreter per stack: no runtime
    state leaks from the parent, which imported the SDKs, nor from one child to the next."""
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(STACKS), "team-fraud-dev", "dev"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "MLOPS_CACHE_DIR": str(tmp_path / "cache")},
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    team, platform = json.loads(result.stdout)
    assert platform == synth("dev")
    assert team == synth("team-fraud-dev")
    assert list((tmp_path / "cache").glob("outputs-dev-*.json"))


def test_the_sdk_modules_preloaded_are_those_the_program_uses():
    modules = forked.sdk_modules()
    assert {
        "pulumi_aws.s3",
        "pulumi_aws.eks",
        "pulumi_kubernetes.apps.v1",
        "pulumi_kubernetes.core.v1",
    } <= set(modules)
    assert all(name.startswith(("pulumi_aws.", "pulumi_kubernetes.")) for name in modules)


def _die() -> None:
    import os

    os._exit(3)


def test_a_child_that_dies_is_an_error_naming_the_stack_not_a_hang():
    """A forked child killed before it answers (out of memory, a signal, os._exit) must fail the command."""
    from mlops.synth import ProgramError

    with pytest.raises(ProgramError, match=r"^synthesising stack 'dev': its process ended without a result"):
        forked.run_forked([("dev", _die, (), "synthesising stack 'dev'")], workers=2)


def test_forked_jobs_return_their_results_by_key_each_in_its_own_process():
    results = forked.run_forked([(str(n), os.getpid, (), f"job {n}") for n in range(3)], workers=2)
    assert set(results) == {"0", "1", "2"}
    assert len(set(results.values())) == 3 and os.getpid() not in results.values()


def _sleep() -> None:
    import time

    time.sleep(60)


def test_a_failure_stops_the_siblings_still_running():
    """One stack failing must end the command now, not when its slowest (or hung) sibling ends."""
    import time

    from mlops.synth import ProgramError

    started = time.perf_counter()
    with pytest.raises(ProgramError):
        forked.run_forked([("slow", _sleep, (), "stack 'slow'"), ("dev", _die, (), "stack 'dev'")], workers=2)
    assert time.perf_counter() - started < 30


def _stamp(label: str, *earlier: str) -> tuple[str, float, float, tuple[str, ...]]:
    import time

    started = time.monotonic()
    time.sleep(0.2)
    return label, started, time.monotonic(), earlier


def test_a_job_waits_for_the_jobs_it_needs_and_is_built_from_their_results():
    """A team's job starts only once its platform's outputs exist, and its arguments carry them; the other jobs
    do not wait (one scheduler, no phases)."""
    jobs = [
        forked.Job("team", _stamp, lambda results: ("team", results["outputs"][0]), "team", ("outputs",)),
        forked.Job("outputs", _stamp, ("outputs",), "outputs"),
        forked.Job("platform", _stamp, ("platform",), "platform"),
    ]
    results = forked.run_forked(jobs, workers=2)
    assert results["team"][3] == ("outputs",)  # built from the outputs job's result
    assert results["team"][1] >= results["outputs"][2]  # started after that job ended
    assert results["platform"][1] < results["outputs"][2]  # the unrelated job ran beside it


def test_ready_jobs_start_in_the_given_order():
    """With one worker the jobs run one by one: in the given (costliest-first) order, a waiting job skipped
    until what it needs is done."""
    jobs = [
        forked.Job("a", _stamp, ("a",), "a"),
        forked.Job("b", _stamp, ("b",), "b", ("c",)),
        forked.Job("c", _stamp, ("c",), "c"),
    ]
    results = forked.run_forked(jobs, workers=1)
    assert sorted(results, key=lambda key: results[key][1]) == ["a", "c", "b"]


def test_a_job_needing_what_no_job_computes_is_refused():
    with pytest.raises(ValueError, match=r"^team needs \['outputs of nowhere'\], which no job computes$"):
        forked.run_forked([forked.Job("team", _stamp, ("x",), "team", ("outputs of nowhere",))], workers=2)


def test_results_are_handed_over_as_they_arrive():
    seen: list[str] = []
    jobs = [forked.Job(key, _stamp, (key,), key) for key in ("a", "b", "c")]
    results = forked.run_forked(jobs, workers=2, on_result=lambda key, value: seen.append(key))
    assert sorted(seen) == ["a", "b", "c"] and set(results) == set(seen)


PRELOAD = (
    "import sys, types\n"
    "from mlops import forked\n"
    "forked.preload()\n"
    "print(type(sys.modules['pulumi_aws.ec2']).__name__, 'pulumi_aws.ec2.vpc' in sys.modules,\n"
    "      'pulumi_kubernetes.admissionregistration.v1.ValidatingAdmissionPolicy' in sys.modules)\n"
)


def test_preload_loads_the_modules_the_sdks_register_lazily():
    """pulumi._utils.lazy_import puts a placeholder module in sys.modules that loads on first attribute use:
    importing it alone would leave the loading (seconds) to every child."""
    result = run_script(PRELOAD, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["module", "True", "True"]


def test_a_module_named_alone_at_the_end_of_a_line_is_found():
    """components/serving/ingress.py binds `admission = k8s.admissionregistration.v1` and uses it later."""
    assert "pulumi_kubernetes.admissionregistration.v1" in forked.sdk_modules()


SCHEDULER_DIES = (
    "import os, sys\n"
    "from pathlib import Path\n"
    "from mlops import forked\n"
    "from mlops.synth import ProgramError\n"
    "forked._schedule = lambda run, on_result: os._exit(3)\n"
    "try:\n"
    "    forked.synthesize_many(['dev'], Path(sys.argv[1]))\n"
    "except ProgramError as exc:\n"
    "    print(exc)\n"
)


def test_a_scheduler_that_dies_is_an_error_naming_the_stacks_not_a_hang():
    """The process that imports the SDKs and forks the stacks' children ends without a word (killed, out of
    memory): the command fails at once, naming the stacks."""
    result = run_script(SCHEDULER_DIES, str(STACKS))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == (
        "synthesising dev: the process scheduling them ended without a result (exit code 3)"
    )


UNTAKEN = (
    "from mlops import forked\n"
    "forked.start_early()\n"
    "scheduler = forked._early[0]\n"
    "process = scheduler.process\n"
    "scheduler.close()\n"
    "print(process.exitcode, forked.take_early())\n"
)


def test_a_scheduler_started_early_and_not_taken_is_stopped_not_waited_for():
    """`mlops check` forks its scheduler first; a command that ends before using it (a user error, nothing to
    check) stops it at once instead of waiting for its imports to finish."""
    result = run_script(UNTAKEN)
    assert result.returncode == 0, result.stderr[-2000:]
    code, taken = result.stdout.split()
    assert taken == "None"
    assert code in ("-15", "143")  # SIGTERM: before its handler was installed, or through it


def _group(pgid: int) -> list[int]:
    """The live (not zombie) processes of a process group, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stream:
                fields = stream.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry))
    return found


def _wait_for(condition, seconds: float = 120) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("how", ["ctrl-c", "sigkill"])
def test_stopping_the_command_stops_its_scheduler_and_every_stacks_child(how):
    """Ctrl-C (SIGINT to the whole process group: the command handles it, the scheduler and the children ignore
    it) or a SIGKILL of the command alone (the scheduler notices its parent gone) leaves no process behind."""
    import signal

    command = subprocess.Popen(
        [sys.executable, "-m", "mlops", "check", "dev", "staging", "--no-cache"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    group = command.pid
    try:
        # The command, its scheduler and the two stacks' children (each a one-worker executor's process).
        assert _wait_for(lambda: len(_group(group)) >= 4), _group(group)
        if how == "ctrl-c":
            os.killpg(group, signal.SIGINT)
        else:
            os.kill(command.pid, signal.SIGKILL)
        _, stderr = command.communicate(timeout=120)
        assert _wait_for(lambda: not _group(group), 60), f"left behind: {_group(group)}"
        assert b"Process mlops-scheduler" not in stderr and b"BrokenPipeError" not in stderr
        assert command.returncode != 0
    finally:
        for pid in _group(group):
            os.kill(pid, signal.SIGKILL)


EARLY_IMPORT_FAILS = (
    "import sys\n"
    "from pathlib import Path\n"
    "from mlops import forked\n"
    "def preload(check=False, eager=True):\n"
    "    raise ImportError('stacks/builders.py: boom')\n"
    "forked.preload = preload\n"
    "forked.start_early()\n"
    "try:\n"
    "    forked.synthesize_many(['dev'], Path(sys.argv[1]), check=True)\n"
    "except ImportError as exc:\n"
    "    print(type(exc).__name__, exc, '|', type(exc.__cause__).__name__)\n"
)


def test_an_import_failing_in_the_early_scheduler_reaches_the_command_as_itself():
    """A change that breaks an import (the pack, the components) fails the check with that error, whatever the
    timing, not with a broken pipe or a traceback from the scheduling process."""
    result = subprocess.run(
        [sys.executable, "-c", EARLY_IMPORT_FAILS, str(STACKS)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ImportError stacks/builders.py: boom | RemoteTraceback"
    assert "Process mlops-scheduler" not in result.stderr


def test_no_cache_reaches_the_scheduler_started_before_the_command_line_read_it(tmp_path):
    """`mlops check` forks its scheduler before parsing its options; `--no-cache` (set by the command line as
    MLOPS_NO_CACHE) travels with the request, so nothing is read from or written to the cache folder (a
    platform's check would otherwise write its pack config there)."""
    folder = tmp_path / "cache"
    result = subprocess.run(
        [sys.executable, "-m", "mlops", "check", "dev", "--no-cache", "--format", "json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "MLOPS_CACHE_DIR": str(folder)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["stacks"][0]["stack"] == "dev"
    assert not folder.exists() or not list(folder.iterdir())
