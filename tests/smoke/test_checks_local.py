"""The smoke checks run for real through testinfra's local backend, against processes these tests start.

Not marked ``smoke``: this is what CI proves about the code the live suite runs inside model pods.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import testinfra

from tests.smoke.checks import (
    MIN_UID,
    http_get_answers,
    listening_sockets,
    port_listens,
    process_uids,
    root_fs_read_only,
    runs_as_non_root,
)

NON_ROOT_UID = 12345


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_listening(port: int, process: subprocess.Popen) -> None:
    """Readiness wait for the started server (not an assertion on time)."""
    while process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            continue
    raise RuntimeError(f"http.server exited with {process.returncode}")


@dataclass(frozen=True)
class Server:
    pid: int
    port: int


@pytest.fixture
def local_host():
    return testinfra.get_host("local://")


@pytest.fixture
def http_server(tmp_path) -> Iterator[Server]:
    """``python -m http.server`` on 127.0.0.1 and a free port, stopped after the test."""
    (tmp_path / "index.html").write_text("ok\n")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_listening(port, process)
        yield Server(process.pid, port)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def non_root_process() -> Iterator[int]:
    """A process running as uid/gid 12345 (starting it as another user needs root)."""
    if os.geteuid() != 0:
        pytest.skip("starting a process as another user needs root")
    process = subprocess.Popen([shutil.which("sleep"), "600"], user=NON_ROOT_UID, group=NON_ROOT_UID, cwd="/")
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait(timeout=30)


# --- ports ----------------------------------------------------------------------------------------------------

PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10001        0 41 1 0 100 0 0 10 0
   1: 00000000:2710 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10001        0 42 1 0 100 0 0 10 0
   2: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000 10001        0 43 1 0 20 4 30 10 -1
"""
PROC_NET_TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue
   0: 00000000000000000000000000000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000
   1: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 0A 00000000:00000000
   2: 00000000000000000000000001000000:0050 00000000000000000000000001000000:9C40 01 00000000:00000000
"""


def test_listening_sockets_decodes_proc_net_tcp_and_skips_other_states():
    assert listening_sockets(PROC_NET_TCP) == {("127.0.0.1", 8080), ("0.0.0.0", 10000)}
    assert listening_sockets(PROC_NET_TCP6) == {("::", 8081), ("::1", 53)}


def test_port_listens_for_the_started_server(local_host, http_server):
    check = port_listens(local_host, http_server.port)
    assert check
    assert check.message == f"TCP port {http_server.port} listens on 127.0.0.1"


def test_port_listens_fails_for_a_closed_port(local_host, http_server):
    closed = free_port()
    check = port_listens(local_host, closed)
    assert not check
    assert check.message.startswith(f"nothing listens on TCP port {closed}; listening ports: ")
    assert str(http_server.port) in check.message.split(": ", 1)[1].split(", ")


# --- the process user -----------------------------------------------------------------------------------------


def test_process_uids_are_those_of_the_started_process(local_host, http_server):
    uid = os.getuid()
    assert process_uids(local_host, http_server.pid) == (uid, os.geteuid(), os.geteuid(), os.geteuid())
    assert process_uids(local_host, http_server.pid)[1] == os.stat(f"/proc/{http_server.pid}").st_uid


def test_runs_as_non_root_fails_for_the_test_user(local_host, http_server):
    uid = os.geteuid()
    min_uid = max(MIN_UID, uid + 1)
    check = runs_as_non_root(local_host, min_uid, pid=http_server.pid)
    assert not check
    who = "uid 0 (root)" if uid == 0 else f"uid {uid}"
    assert check.message == (
        f"pid {http_server.pid} runs as {who}; real/effective/saved/fs uids {uid}/{uid}/{uid}/{uid}, want all >= {min_uid}"
    )


def test_runs_as_non_root_passes_for_a_high_uid_process(local_host, non_root_process):
    assert process_uids(local_host, non_root_process) == (NON_ROOT_UID,) * 4
    check = runs_as_non_root(local_host, MIN_UID, pid=non_root_process)
    assert check
    assert check.message == (
        f"pid {non_root_process} runs as uid {NON_ROOT_UID}; real/effective/saved/fs uids "
        f"{NON_ROOT_UID}/{NON_ROOT_UID}/{NON_ROOT_UID}/{NON_ROOT_UID} are all >= {MIN_UID}"
    )
    assert not runs_as_non_root(local_host, NON_ROOT_UID + 1, pid=non_root_process)


# --- the root file system -------------------------------------------------------------------------------------


def test_root_fs_read_only_fails_on_this_writable_root(local_host):
    check = root_fs_read_only(local_host)
    assert not check
    if os.geteuid() == 0:
        assert re.fullmatch(
            r"/ is writable \(created and removed /\.mlops-smoke-[0-9a-f]{12}\)", check.message
        )
    else:
        assert check.message.startswith("writing to / failed, but not because it is read-only: ")
    assert glob.glob("/.mlops-smoke-*") == [] and glob.glob("/tmp/.mlops-smoke-*") == []


@dataclass
class Result:
    rc: int
    stderr: str = ""
    stdout: str = ""


class ScriptedHost:
    """Answers the shell redirections the read-only check sends, as a container with these mounts would."""

    def __init__(self, answers: dict[str, Result]):
        self.answers = answers

    def run(self, command: str, *args: str) -> Result:
        if command.startswith("rm "):
            return Result(0)
        directory = args[0].rsplit("/", 1)[0] or "/"
        return self.answers[directory]


EROFS = Result(1, "/bin/sh: 1: cannot create /.mlops-smoke-x: Read-only file system")
EACCES = Result(1, "/bin/sh: 1: cannot create /.mlops-smoke-x: Permission denied")


@pytest.mark.parametrize(
    ("root", "tmp", "ok", "message"),
    [
        (EROFS, Result(0), True, "/ is read-only (EROFS) and /tmp is writable"),
        (
            EACCES,
            Result(0),
            False,
            "writing to / failed, but not because it is read-only: /bin/sh: 1: cannot create /.mlops-smoke-x: Permission denied",
        ),
        (
            EROFS,
            EROFS,
            False,
            "/tmp is not writable: /bin/sh: 1: cannot create /.mlops-smoke-x: Read-only file system",
        ),
    ],
    ids=["read-only-root", "root-only-unwritable", "tmp-read-only"],
)
def test_root_fs_read_only_needs_erofs_on_root_and_a_writable_tmp(root, tmp, ok, message):
    check = root_fs_read_only(ScriptedHost({"/": root, "/tmp": tmp}))
    assert (bool(check), check.message) == (ok, message)


# --- HTTP from inside ---------------------------------------------------------------------------------------


def test_http_get_answers_200_from_the_started_server(local_host, http_server):
    url = f"http://127.0.0.1:{http_server.port}/"
    check = http_get_answers(local_host, url)
    assert (bool(check), check.message, check.skipped) == (True, f"GET {url}: HTTP 200", False)


def test_http_get_fails_on_a_404(local_host, http_server):
    url = f"http://127.0.0.1:{http_server.port}/health"
    check = http_get_answers(local_host, url)
    assert (bool(check), check.message) == (False, f"GET {url}: HTTP 404, want 200")


def test_http_get_fails_when_nothing_answers(local_host):
    url = f"http://127.0.0.1:{free_port()}/health"
    check = http_get_answers(local_host, url)
    assert not check and not check.skipped
    assert check.message.startswith(f"GET {url} failed: <urlopen error [Errno 111] Connection refused>")


def test_http_get_is_skipped_without_python(local_host):
    check = http_get_answers(local_host, "http://127.0.0.1:1/", pythons=("no-such-python-3",))
    assert (bool(check), check.skipped) == (False, True)
    assert check.message == "GET http://127.0.0.1:1/: no no-such-python-3 in the container to send it"
