"""How the live suite finds its pods and reaches them, exercised with a stand-in ``kubectl`` on PATH.

The stand-in records its arguments and runs ``exec``'s command locally, so testinfra's kubectl backend, the
hostspec the suite builds and the checks' shell quoting all run for real.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import testinfra

from components.loader import ConfigError
from tests.conftest import REPO, STACKS
from tests.smoke.checks import (
    ModelPod,
    SmokeSetupError,
    http_get_answers,
    load_team,
    model_pods,
    port_listens,
    runs_as_non_root,
)

CONTEXT = "arn:aws:eks:us-east-1:111111111111:cluster/serving-prod"


def pod(name: str, phase: str = "Running", deleting: bool = False) -> dict:
    metadata = {"name": name, **({"deletionTimestamp": "2025-01-01T00:00:00Z"} if deleting else {})}
    return {"metadata": metadata, "status": {"phase": phase}}


PODS = {
    "app=scorer": {
        "items": [
            pod("scorer-v3-b-2"),
            pod("scorer-v3-a-1"),
            pod("scorer-v3-c-3", "Pending"),
            pod("scorer-v3-d-4", deleting=True),
        ]
    },
    "app=embedder": {"items": []},
}


def fake_kubectl(directory: Path, pods: dict, fail: str | None = None) -> Path:
    """A ``kubectl`` that logs its argv (one JSON line per call), answers ``get pods`` from ``pods`` by label,
    and runs ``exec ... -- <command>`` on this machine."""
    log = directory / "kubectl.log"
    script = directory / "kubectl"
    script.write_text(
        textwrap.dedent(f"""\
        #!{sys.executable}
        import json, subprocess, sys
        args = sys.argv[1:]
        with open({str(log)!r}, "a") as log:
            log.write(json.dumps(args) + "\\n")
        if {fail!r} is not None:
            sys.exit("error: " + {fail!r})
        if "exec" in args:
            sys.exit(subprocess.run(args[args.index("--") + 1:]).returncode)
        print(json.dumps({pods!r}.get(args[args.index("-l") + 1], {{"items": []}})))
        """)
    )
    script.chmod(0o755)
    return log


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.fixture
def kubectl_on_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def test_load_team_reads_the_shipped_team_stack():
    team = load_team("team-fraud-prod", STACKS)
    assert team.namespace == "team-fraud"
    assert [(model.name, model.port) for model in team.models] == [("scorer", 8080), ("embedder", 8080)]


def test_load_team_names_a_missing_stack_file():
    with pytest.raises(SmokeSetupError) as error:
        load_team("team-nobody-prod", STACKS)
    assert (
        str(error.value)
        == f"--team-stack team-nobody-prod: no stack file {STACKS}/Pulumi.team-nobody-prod.yaml"
    )


def test_load_team_reports_config_errors_in_one_line(tmp_path):
    (tmp_path / "Pulumi.team-x-dev.yaml").write_text("config:\n  mlops:team:\n    name: x\n")
    with pytest.raises(ConfigError) as error:
        load_team("team-x-dev", tmp_path)
    assert str(error.value).startswith(f"{tmp_path}/Pulumi.team-x-dev.yaml: mlops:team.")


def test_model_pods_lists_running_pods_of_each_model(kubectl_on_path):
    log = fake_kubectl(kubectl_on_path, PODS)
    found = model_pods(load_team("team-fraud-prod", STACKS), CONTEXT)
    assert found == {
        "scorer": [
            ModelPod("scorer", 8080, "team-fraud", "scorer-v3-a-1", CONTEXT),
            ModelPod("scorer", 8080, "team-fraud", "scorer-v3-b-2", CONTEXT),
        ],
        "embedder": [],
    }
    assert calls(log) == [
        ["get", "pods", "-n", "team-fraud", "-l", f"app={model}", "-o", "json", "--context", CONTEXT]
        for model in ("scorer", "embedder")
    ]


def test_model_pods_reports_kubectl_errors(kubectl_on_path):
    fake_kubectl(kubectl_on_path, PODS, fail='context "nope" does not exist')
    with pytest.raises(SmokeSetupError) as error:
        model_pods(load_team("team-fraud-prod", STACKS), "nope")
    assert str(error.value) == (
        'kubectl get pods -n team-fraud -l app=scorer -o json --context nope: error: context "nope" does not exist'
    )


def test_model_pods_reports_a_missing_kubectl():
    with pytest.raises(SmokeSetupError) as error:
        model_pods(load_team("team-fraud-prod", STACKS), CONTEXT, kubectl="/nonexistent/kubectl")
    assert str(error.value) == "/nonexistent/kubectl not found on PATH; the live smoke tests need kubectl"


def test_checks_run_through_the_kubectl_backend(kubectl_on_path, tmp_path):
    """The hostspec round-trips an ARN context; every check's command survives kubectl's ``/bin/sh -c``."""
    log = fake_kubectl(kubectl_on_path, PODS)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        target = ModelPod("scorer", port, "team-fraud", "scorer-v3-a-1", CONTEXT)
        host = testinfra.get_host(target.hostspec())
        assert port_listens(host, port).message == f"TCP port {port} listens on 127.0.0.1"
        assert not runs_as_non_root(host, os.geteuid() + 1, pid=os.getpid())
        missing = http_get_answers(
            host, f'http://127.0.0.1:{port}/it\'s "quoted"', pythons=("no-such-python",)
        )
        assert missing.skipped
    first = calls(log)[0]
    assert first[:8] == [
        f"--context={CONTEXT}",
        "-n",
        "team-fraud",
        "-c",
        "model",
        "exec",
        "scorer-v3-a-1",
        "--",
    ]
    assert first[8:10] == ["/bin/sh", "-c"]


def run_live_suite(*options: str, path: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "smoke",
            *options,
            "tests/smoke/test_live.py",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PATH": path},
    )


def test_live_suite_is_skipped_without_a_context():
    result = run_live_suite(path=os.environ["PATH"])
    assert result.returncode == 0, result.stdout[-2000:]
    assert (
        "SKIPPED [4] tests/smoke/test_live.py: live smoke test: pass --kube-context <ctx> "
        "--team-stack team-<team>-<env> to run it against a cluster"
    ) in result.stdout
    assert "4 skipped" in result.stdout


def test_live_suite_reports_setup_errors_and_models_without_pods(tmp_path):
    path = f"{tmp_path}{os.pathsep}{os.environ['PATH']}"
    no_stack = run_live_suite("--kube-context", CONTEXT, path=path)
    assert no_stack.returncode == 1
    assert (
        "4 errors" in no_stack.stdout
        and "--kube-context needs --team-stack team-<team>-<env>" in no_stack.stdout
    )

    fake_kubectl(tmp_path, {})
    scaled_to_zero = run_live_suite("--kube-context", CONTEXT, "--team-stack", "team-fraud-prod", path=path)
    assert scaled_to_zero.returncode == 0, scaled_to_zero.stdout[-2000:]
    assert (
        "SKIPPED [4] tests/smoke/test_live.py: model scorer: no running pods (scaled to zero?)"
        in scaled_to_zero.stdout
    )
    assert (
        "SKIPPED [4] tests/smoke/test_live.py: model embedder: no running pods (scaled to zero?)"
        in scaled_to_zero.stdout
    )
