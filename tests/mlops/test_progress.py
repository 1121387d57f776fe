"""The progress display: on a terminal only, never beside a document on stdout."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys

import pytest
from rich.console import Console

from mlops.progress import Board, wanted
from tests.conftest import REPO

# A real interpreter (not the test fork server): these tests are about the terminal the process sees.
MLOPS = [sys.executable, "-m", "mlops"]


class Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("tty", "document", "expected"), [(True, False, True), (True, True, False), (False, False, False)]
)
def test_progress_is_wanted_on_a_terminal_without_a_document_on_stdout(tty, document, expected):
    assert wanted(document, Stream(tty)) is expected


def terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=160, color_system=None), out


def test_the_board_shows_stack_phase_resources_and_analysis():
    console, out = terminal()
    with Board(console) as board:
        registered = board.registrations("team-fraud-prod")
        for count in range(1, 58):
            registered(count)
        analysed = board.analysed("team-fraud-prod")
        analysed(30, 58)
    text = out.getvalue()
    assert "team-fraud-prod" in text
    assert "checking" in text
    assert "57 resources registered" in text
    assert "30/58 analysed by the policies" in text


def test_a_disabled_board_writes_nothing_and_gives_no_callbacks():
    board = Board(enabled=False)
    with board:
        assert board.registrations("prod") is None
        assert board.analysed("prod") is None
        board.update("prod", "synthesising", 3)


def test_forked_children_report_through_the_queue():
    console, out = terminal()
    with Board(console) as board, board.child_reporter() as report:
        child = os.fork()
        if child == 0:
            report("dev", "synthesising", 20)
            report("dev", "synthesising", 21)  # between two reports: not sent
            report("staging", "synthesised", 23, True)  # a final count: always sent
            report("staging", "checking", 22, True)  # the checking phase counts resources analysed
            os._exit(0)
        os.waitpid(child, 0)
    assert "20 resources registered" in out.getvalue()
    assert "21 resources registered" not in out.getvalue()
    assert "23 resources registered" in out.getvalue()
    assert "22 analysed by the policies" in out.getvalue()


def run_on_a_pty(*args: str) -> tuple[int, str, str]:
    """Run mlops with stderr on a pseudo-terminal (stdout a pipe); return exit code, stdout, stderr."""
    leader, follower = pty.openpty()
    child = subprocess.Popen(
        [*MLOPS, *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=follower,
        env={**os.environ, "COLUMNS": "160"},
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    stdout = child.stdout.read().decode()
    child.wait(timeout=300)
    os.close(leader)
    return child.returncode, stdout, b"".join(chunks).decode(errors="replace")


@pytest.fixture(scope="module")
def saved_dev(synth, tmp_path_factory):
    path = tmp_path_factory.mktemp("progress") / "dev.json"
    path.write_text(json.dumps(synth("dev")))
    return path


def test_check_shows_progress_on_a_terminal(saved_dev):
    code, stdout, stderr = run_on_a_pty("check", "--from", str(saved_dev))
    assert code == 0, stderr
    assert stdout.startswith("dev (dev, ")
    assert "checked: 0 mandatory" in stderr and "analysed by the policies" in stderr


def test_check_shows_no_progress_beside_a_document_on_stdout(saved_dev):
    code, stdout, stderr = run_on_a_pty("check", "--from", str(saved_dev), "--format", "json")
    assert code == 0
    assert json.loads(stdout)["mandatory"] == 0
    assert stderr == ""


def test_check_shows_no_progress_when_stderr_is_not_a_terminal(saved_dev):
    result = subprocess.run(
        [*MLOPS, "check", "--from", str(saved_dev)], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0
    assert result.stderr == ""


def test_a_synthesised_check_shows_each_stacks_phases_from_its_children():
    """The pool's workers report through the queue the command made before forking them (mlops/forked.py):
    registrations while synthesising; then the command's resources analysed by the pack, then the verdict."""
    code, stdout, stderr = run_on_a_pty("check", "team-fraud-dev")
    assert code == 0, stderr
    assert stdout.startswith("team-fraud-dev (dev, 70 resources): 0 mandatory")
    assert "team-fraud-dev" in stderr and "checked: 0 mandatory" in stderr
    assert "resources registered" in stderr and "analysed by the policies" in stderr
