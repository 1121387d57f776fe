"""The ways of serving the policy pack give the same verdicts; a forked pack's failures are clear errors."""

from __future__ import annotations

import os
import signal

import pytest

from mlops.analyzer import ForkedPack, PackInProcess, PolicyPackProcess
from policies.pack import environment_config
from tests.policies.cases import CASES, document


def _documents() -> list[dict]:
    return [document(resources, "prod") for case in CASES for resources in (case.good, case.bad)]


def test_the_pack_in_process_forked_and_over_grpc_gives_the_same_verdicts():
    config = environment_config("prod")
    documents = _documents()
    with PackInProcess() as here, ForkedPack() as forked, PolicyPackProcess() as grpc:
        assert here.info().name == forked.info().name == grpc.info().name == "mlops-platform-security"
        assert [p.name for p in here.info().policies] == [p.name for p in grpc.info().policies]
        for pack in (here, forked, grpc):
            pack.configure(config)
        found = 0
        for doc in documents:
            verdicts = here.analyze(doc)
            assert forked.analyze(doc) == verdicts == grpc.analyze(doc)
            found += len(verdicts)
    assert found >= len(CASES)  # every bad case flags at least its own policy


def test_a_forked_pack_reports_progress_through_its_pipe():
    seen: list[tuple[int, int]] = []
    doc = document(CASES[0].bad, "prod")
    with ForkedPack() as pack:
        pack.configure(environment_config("prod"))
        pack.analyze(doc, progress=lambda done, total: seen.append((done, total)))
    custom = sum(1 for step in doc["steps"] if step["newState"]["custom"])
    assert seen[-1] == (custom + 1, custom + 1)


def test_a_failure_in_the_forked_pack_is_an_error_with_its_cause():
    with (
        ForkedPack() as pack,
        pytest.raises(RuntimeError, match=r"(?s)^the policy pack failed: .*KeyError: .custom.\n$"),
    ):
        pack.analyze({"steps": [{"newState": {"urn": "u"}}]})


def test_a_forked_pack_that_dies_is_an_error_not_a_hang():
    with ForkedPack() as pack:
        os.kill(pack.process.pid, signal.SIGKILL)
        pack.process.join(timeout=10)
        with pytest.raises(
            RuntimeError, match=r"^the policy pack's process ended without an answer \(exit code -9\)$"
        ):
            pack.configure(environment_config("dev"))


ORPHAN = (
    "import os, sys\n"
    "from mlops.analyzer import ForkedPack\n"
    "pack = ForkedPack().start()\n"
    "print(pack.process.pid, flush=True)\n"
    "os.kill(os.getpid(), 9)\n"  # the parent killed: no atexit, no close
)


def test_a_forked_pack_ends_with_its_parent_and_holds_none_of_its_pipes():
    """The child closes its copy of the parent's end of the pipe (the parent's death is then an EOF) and its
    inherited stdout/stderr, so whatever reads the command's output sees the end at once."""
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    result = subprocess.run(
        [sys.executable, "-c", ORPHAN], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == -9
    child = int(result.stdout.split()[0])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the forked pack outlived its parent")
