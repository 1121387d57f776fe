"""Targets of the live smoke tests: the running pods of every model of ``--team-stack`` in ``--kube-context``.

The options themselves are registered in tests/conftest.py. Without ``--kube-context`` every live test is
collected once and skipped, so the default test run never reaches for a cluster.
"""

from __future__ import annotations

import pytest

from components.loader import ConfigError
from tests.conftest import STACKS
from tests.smoke.checks import ModelPod, SmokeSetupError, load_team, model_pods

_TARGETS = pytest.StashKey[list]()


def _targets(config: pytest.Config) -> list:
    """The ``model_pod`` parameters, discovered once per session (kubectl is asked once per model)."""
    if _TARGETS in config.stash:
        return config.stash[_TARGETS]
    context = config.getoption("kube_context")
    team_stack = config.getoption("team_stack")
    if context is None:
        reason = "live smoke test: pass --kube-context <ctx> --team-stack team-<team>-<env> to run it against a cluster"
        targets = [pytest.param(None, id="no-cluster", marks=pytest.mark.skip(reason=reason))]
    elif team_stack is None:
        targets = [pytest.param("--kube-context needs --team-stack team-<team>-<env>", id="setup-error")]
    else:
        try:
            pods = model_pods(load_team(team_stack, STACKS), context)
        except (ConfigError, SmokeSetupError) as error:
            targets = [pytest.param(str(error), id="setup-error")]
        else:
            targets = []
            for model, found in pods.items():
                if not found:
                    reason = f"model {model}: no running pods (scaled to zero?)"
                    targets.append(
                        pytest.param(None, id=f"{model}/none", marks=pytest.mark.skip(reason=reason))
                    )
                targets += [pytest.param(pod, id=f"{model}/{pod.pod}") for pod in found]
    config.stash[_TARGETS] = targets
    return targets


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "model_pod" in metafunc.fixturenames:
        metafunc.parametrize("model_pod", _targets(metafunc.config), indirect=True)


@pytest.fixture
def model_pod(request: pytest.FixtureRequest) -> ModelPod:
    target = request.param
    if isinstance(target, str):
        pytest.fail(target, pytrace=False)
    return target
