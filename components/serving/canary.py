"""Canary steps and release links of a team's model versions: the pure rules `mlops promote` and the team spec
share (no Pulumi import).

A team walks a new version through its canary steps (``canary-steps``, default 10, 50, 100 percent of the
model's traffic). A version other than the model's first listed one may hold more than the first step only if
the file records how it got there: ``stepped-from`` (the weight it had before `mlops promote` raised it) or
``canary-override`` (why it starts higher). A version may name its MLflow registered model and version
(``mlflow``); once it holds all the traffic, the team stack sets that model's ``production`` alias.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Annotated

from pydantic import Field

from components.configbase import Model

DEFAULT_CANARY_STEPS = (10, 50, 100)
PRODUCTION_ALIAS = "production"


class MlflowLink(Model):
    """The MLflow registered model and version a model version serves."""

    # MLflow refuses names with '/', ':', '.', '%', '"' or "'" (mlflow/utils/validation.py _validate_model_name);
    # the team spec allows the characters safe in a URL path and a Kubernetes annotation.
    model: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]*$", max_length=256)]
    version: Annotated[int, Field(ge=1)]


def canary_steps_error(steps: Sequence[int]) -> str | None:
    """Why ``steps`` is not a canary ladder: strictly increasing percentages from 1 up to exactly 100."""
    shown = ", ".join(str(step) for step in steps)
    if not steps:
        return "is empty; allowed: increasing percentages ending at 100, e.g. [10, 50, 100]"
    if any(step < 1 or step > 100 for step in steps):
        return f"[{shown}] has a step outside 1..100; allowed: increasing percentages ending at 100"
    if any(later <= earlier for earlier, later in itertools.pairwise(steps)):
        return f"[{shown}] is not strictly increasing; allowed: increasing percentages ending at 100"
    if steps[-1] != 100:
        return f"[{shown}] ends at {steps[-1]}; allowed: increasing percentages ending at 100"
    return None


def next_step(steps: Sequence[int], weight: int) -> int | None:
    """The first configured step above ``weight`` (None at 100)."""
    return next((step for step in steps if step > weight), None)


def needs_record(weight: int, first_step: int, *, first_listed: bool) -> bool:
    """Whether a version at ``weight`` must record how it got there (stepped-from or canary-override)."""
    return not first_listed and weight > first_step


def rebalance(weights: dict[str, int], target: str, weight: int) -> dict[str, int]:
    """The weights after ``target`` gets ``weight``: the difference is taken from (or given to) the other
    version holding the most traffic (the first listed of equals); every other version keeps its weight.
    ValueError (one line) when that version would go below 0."""
    others = [name for name in weights if name != target]
    if not others:
        if weight != 100:
            raise ValueError(f"{target} is the model's only version; allowed: weight 100")
        return {target: 100}
    absorber = max(others, key=lambda name: (weights[name], -others.index(name)))
    result = dict(weights)
    result[target] = weight
    rest = sum(value for name, value in result.items() if name != absorber)
    if rest > 100:
        kept = ", ".join(
            f"{name} {value}" for name, value in result.items() if name not in (target, absorber)
        )
        raise ValueError(
            f"weight {weight} for {target} leaves {absorber} {100 - rest}; lower the other versions first ({kept})"
        )
    result[absorber] = 100 - rest
    return result
