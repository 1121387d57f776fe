"""Fixtures of the component tests: the observe fixture program synthesised once per session."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import FIXTURES, REPO

OBSERVE_PROGRAM = REPO / "tests" / "fixtures" / "observe_program" / "__main__.py"


@pytest.fixture
def observe(synth) -> dict[str, Any]:
    """Identity, observability and DNS for a two-region prod stack, built from literal inputs."""
    return synth("observe-prod", FIXTURES, OBSERVE_PROGRAM)


@pytest.fixture
def observe_latency(synth) -> dict[str, Any]:
    """One region, latency routing, SSO role suffixes not yet known, no load balancer named, no Grafana."""
    return synth("observe-latency", FIXTURES, OBSERVE_PROGRAM)
