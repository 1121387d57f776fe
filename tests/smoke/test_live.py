"""Live smoke tests of a team's model pods (``-m smoke --kube-context <ctx> --team-stack team-<team>-<env>``).

Each check runs inside the pod's model container through testinfra's kubectl backend (``kubectl exec``).
"""

from __future__ import annotations

import pytest
import testinfra

from tests.smoke.checks import (
    MIN_UID,
    Check,
    ModelPod,
    mlflow_answers,
    port_listens,
    root_fs_read_only,
    runs_as_non_root,
)

pytestmark = pytest.mark.smoke


def pod_host(model_pod: ModelPod):
    return testinfra.get_host(model_pod.hostspec())


def require(check: Check) -> None:
    if check.skipped:
        pytest.skip(check.message)
    assert check.ok, check.message


def test_model_runs_as_non_root(model_pod: ModelPod):
    require(runs_as_non_root(pod_host(model_pod), MIN_UID))


def test_root_filesystem_is_read_only(model_pod: ModelPod):
    require(root_fs_read_only(pod_host(model_pod)))


def test_model_port_listens(model_pod: ModelPod):
    require(port_listens(pod_host(model_pod), model_pod.port))


def test_mlflow_answers_from_the_model_pod(model_pod: ModelPod):
    require(mlflow_answers(pod_host(model_pod)))
