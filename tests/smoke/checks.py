"""Checks of a running model container, written against a testinfra ``host``.

The same functions run live through testinfra's kubectl backend (``kubectl exec`` into a model pod) and in CI
through its local backend against processes the tests start, so CI exercises the code the live suite relies on.
They read the kernel's own views (``/proc/<pid>/status``, ``/proc/net/tcp``) and use shell redirections instead
of tools such as ``ss``, ``id`` or ``touch`` that minimal images lack. ``kubectl exec`` still needs ``/bin/sh``
in the container (testinfra wraps every command in ``/bin/sh -c``).

Each check returns a ``Check``: truthy when it passes, with a message saying what was seen either way.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from components.config import parse_team
from components.serving.config import TeamConfig
from components.stackfile import TEAM_KEY, read_config_file

MIN_UID = 10000
MLFLOW_HEALTH_URL = "http://mlflow.mlflow.svc:5000/health"
MODEL_CONTAINER = "model"
TCP_LISTEN = "0A"  # include/net/tcp_states.h: TCP_LISTEN = 10


@dataclass(frozen=True)
class Check:
    ok: bool
    message: str
    skipped: bool = False

    def __bool__(self) -> bool:
        return self.ok


# --- the process user ---------------------------------------------------------------------------------------


def process_uids(host: Any, pid: int = 1) -> tuple[int, int, int, int]:
    """Real, effective, saved and filesystem uid of a process, from the ``Uid:`` line of /proc/<pid>/status."""
    for line in host.file(f"/proc/{pid}/status").content_string.splitlines():
        if line.startswith("Uid:"):
            real, effective, saved, filesystem = (int(field) for field in line.split()[1:5])
            return real, effective, saved, filesystem
    raise ValueError(f"/proc/{pid}/status has no Uid line")


def runs_as_non_root(host: Any, min_uid: int = MIN_UID, pid: int = 1) -> Check:
    """Every uid of the process (pid 1 is the container's entrypoint) is at least ``min_uid``."""
    uids = process_uids(host, pid)
    effective = uids[1]
    who = f"uid {effective} (root)" if effective == 0 else f"uid {effective}"
    seen = "/".join(str(uid) for uid in uids)
    if all(uid >= min_uid for uid in uids):
        return Check(
            True, f"pid {pid} runs as {who}; real/effective/saved/fs uids {seen} are all >= {min_uid}"
        )
    return Check(
        False, f"pid {pid} runs as {who}; real/effective/saved/fs uids {seen}, want all >= {min_uid}"
    )


# --- the root file system -----------------------------------------------------------------------------------


def _try_write(host: Any, directory: str) -> tuple[bool, str]:
    """Create (and remove) a probe file with a shell redirection: no ``touch`` needed."""
    probe = f"{directory.rstrip('/')}/.mlops-smoke-{uuid.uuid4().hex[:12]}"
    result = host.run(": > %s", probe)
    if result.rc == 0:
        host.run("rm -f -- %s", probe)
        return True, probe
    return False, result.stderr.strip()


def root_fs_read_only(host: Any) -> Check:
    """Writing under / fails because the file system is read-only (not merely for lack of permission), and /tmp
    (the pod's emptyDir) is writable."""
    root_written, root_detail = _try_write(host, "/")
    tmp_written, tmp_detail = _try_write(host, "/tmp")
    problems = []
    if root_written:
        problems.append(f"/ is writable (created and removed {root_detail})")
    elif "read-only file system" not in root_detail.lower():
        problems.append(f"writing to / failed, but not because it is read-only: {root_detail}")
    if not tmp_written:
        problems.append(f"/tmp is not writable: {tmp_detail}")
    if problems:
        return Check(False, "; ".join(problems))
    return Check(True, "/ is read-only (EROFS) and /tmp is writable")


# --- listening ports ----------------------------------------------------------------------------------------


def _address(hex_address: str) -> str:
    """The kernel prints addresses as native-endian 32-bit words (little-endian on x86 and arm64)."""
    raw = bytes.fromhex(hex_address)
    swapped = b"".join(raw[index : index + 4][::-1] for index in range(0, len(raw), 4))
    return str(ipaddress.ip_address(swapped))


def listening_sockets(proc_net_tcp: str) -> set[tuple[str, int]]:
    """(address, port) of every socket in LISTEN state in the text of /proc/net/tcp or /proc/net/tcp6."""
    found = set()
    for line in proc_net_tcp.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != TCP_LISTEN:
            continue
        address, port = fields[1].rsplit(":", 1)
        found.add((_address(address), int(port, 16)))
    return found


def port_listens(host: Any, port: int) -> Check:
    """A TCP socket listens on ``port`` in the host's (the pod's) network namespace, on any address."""
    sockets: set[tuple[str, int]] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if host.file(table).exists:
            sockets |= listening_sockets(host.file(table).content_string)
    addresses = sorted(address for address, listening in sockets if listening == port)
    if addresses:
        return Check(True, f"TCP port {port} listens on {', '.join(addresses)}")
    others = (
        ", ".join(str(listening) for listening in sorted({listening for _, listening in sockets})) or "none"
    )
    return Check(False, f"nothing listens on TCP port {port}; listening ports: {others}")


# --- HTTP from inside the container -------------------------------------------------------------------------

_HTTP_GET = (
    "import sys, urllib.error, urllib.request\n"
    "try:\n"
    "    with urllib.request.urlopen(sys.argv[1], timeout=10) as response:\n"
    "        print(response.status)\n"
    "except urllib.error.HTTPError as error:\n"
    "    print(error.code)\n"
    "except Exception as error:\n"
    "    print('error', error)\n"
)


def http_get_answers(host: Any, url: str, pythons: tuple[str, ...] = ("python3", "python")) -> Check:
    """An HTTP GET of ``url`` from inside the host answers 200, using the host's python (the one HTTP client a
    model image reliably has). Skipped, with the reason, when the host has no python."""
    python = next((candidate for candidate in pythons if host.exists(candidate)), None)
    if python is None:
        return Check(False, f"GET {url}: no {' or '.join(pythons)} in the container to send it", skipped=True)
    result = host.run("%s -c %s %s", python, _HTTP_GET, url)
    answer = result.stdout.strip() or result.stderr.strip()
    if result.rc == 0 and answer == "200":
        return Check(True, f"GET {url}: HTTP 200")
    if answer.isdigit():
        return Check(False, f"GET {url}: HTTP {answer}, want 200")
    return Check(False, f"GET {url} failed: {answer.removeprefix('error ')}")


def mlflow_answers(host: Any, url: str = MLFLOW_HEALTH_URL) -> Check:
    return http_get_answers(host, url)


# --- which pods ---------------------------------------------------------------------------------------------


class SmokeSetupError(Exception):
    """The live suite cannot find its targets (bad stack, kubectl missing or failing)."""


@dataclass(frozen=True)
class ModelPod:
    """One running pod of a team's model, and how testinfra reaches its model container."""

    model: str
    port: int
    namespace: str
    pod: str
    context: str

    def hostspec(self) -> str:
        # EKS context names are ARNs (``arn:aws:eks:<region>:<account>:cluster/<name>``): quote them so the
        # hostspec's query string parses back to the exact name.
        return (
            f"kubectl://{self.pod}?container={MODEL_CONTAINER}&namespace={quote(self.namespace, safe='')}"
            f"&context={quote(self.context, safe='')}"
        )


def load_team(team_stack: str, stacks_dir: Path) -> TeamConfig:
    """The team config of ``stacks/Pulumi.<team_stack>.yaml`` (or of a stack file given by path)."""
    path = Path(team_stack)
    if not path.is_file():
        path = stacks_dir / f"Pulumi.{team_stack}.yaml"
    if not path.is_file():
        raise SmokeSetupError(f"--team-stack {team_stack}: no stack file {path}")
    return parse_team(read_config_file(path).get(TEAM_KEY), path)


def running_pods(pod_list: dict[str, Any]) -> list[str]:
    """Names of the pods of a ``kubectl get pods -o json`` answer that are Running and not being deleted."""
    return sorted(
        item["metadata"]["name"]
        for item in pod_list.get("items", [])
        if item.get("status", {}).get("phase") == "Running" and not item["metadata"].get("deletionTimestamp")
    )


def model_pods(team: TeamConfig, context: str, kubectl: str = "kubectl") -> dict[str, list[ModelPod]]:
    """The running pods of every model of the team (label ``app=<model>`` in ``team-<name>``), by model.

    A model can legitimately have none (scaled to zero); the caller decides what that means.
    """
    found = {}
    for model in team.models:
        command = [
            kubectl,
            "get",
            "pods",
            "-n",
            team.namespace,
            "-l",
            f"app={model.name}",
            "-o",
            "json",
            "--context",
            context,
        ]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        except FileNotFoundError:
            raise SmokeSetupError(f"{kubectl} not found on PATH; the live smoke tests need kubectl") from None
        if result.returncode != 0:
            detail = result.stderr.strip().splitlines()[-1:] or [f"exit {result.returncode}"]
            raise SmokeSetupError(f"{' '.join(command)}: {detail[0]}")
        names = running_pods(json.loads(result.stdout))
        found[model.name] = [
            ModelPod(model.name, model.port, team.namespace, name, context) for name in names
        ]
    return found
