"""Pydantic's errors in the project's one-line form, for any model: the stack models grow keys over time, and
every one of them goes through components.validation.validate_model."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import Field

from components.configbase import Model
from components.loader import ConfigError
from components.validation import validate_model


class Later(Model):
    """A model as a later change might add one: every common field type and constraint."""

    name: Annotated[str, Field(min_length=2, pattern=r"^[a-z]+$")]
    count: Annotated[int, Field(ge=1, le=10)] = 1
    ratio: float = 0.5
    enabled: bool = False
    mode: Literal["fast", "safe"] = "safe"
    items: Annotated[list[str], Field(min_length=1, default_factory=lambda: ["a"])]
    limits: Annotated[dict[str, int], Field(default_factory=dict)]
    either: int | list[int] = 0


def error(**changes) -> str:
    with pytest.raises(ConfigError) as caught:
        validate_model(Later, {"name": "ok", **changes}, "stacks/Pulumi.x.yaml", "mlops:platform.later")
    return str(caught.value).removeprefix("stacks/Pulumi.x.yaml: mlops:platform.later.")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"name": None}, "name: must be a string, got no value"),
        ({"name": 12}, "name: must be a string, got 12; quote it to make it a string"),
        ({"name": "x"}, "name: must have at least 2 characters, got 'x'"),
        ({"name": "ABC"}, "name: 'ABC' does not match the allowed pattern ^[a-z]+$"),
        ({"count": "many"}, "count: must be a whole number, got 'many'"),
        ({"count": 1.5}, "count: must be a whole number, got 1.5"),
        ({"count": 0}, "count: must be greater than or equal to 1, got 0"),
        ({"count": 11}, "count: must be less than or equal to 10, got 11"),
        ({"ratio": "half"}, "ratio: must be a number, got 'half'"),
        ({"enabled": "maybe"}, "enabled: must be true or false, got 'maybe'"),
        ({"mode": "slow"}, "mode: 'slow' is not allowed; allowed: fast, safe"),
        ({"items": "a"}, "items: must be a list, got 'a'"),
        ({"items": []}, "items: must have at least 1 item, got a list of 0 items"),
        ({"limits": {"a": "b"}}, "limits.a: must be a whole number, got 'b'"),
        ({"limits": [1]}, "limits: must be a mapping, got a list of 1 item"),
        ({"either": "x"}, "either: must be a whole number, got 'x'"),
        (
            {"extra": 1},
            "extra: unknown key; allowed: name, count, ratio, enabled, mode, items, limits, either",
        ),
    ],
)
def test_every_error_kind_reads_as_one_project_line(changes, expected):
    """No "Input should be", no "None: ...", no union-member tags such as `list[int]` in the key path."""
    assert error(**changes) == expected


def test_missing_key():
    with pytest.raises(ConfigError) as caught:
        validate_model(Later, {}, "stacks/Pulumi.x.yaml", "mlops:platform.later")
    assert (
        str(caught.value) == "stacks/Pulumi.x.yaml: mlops:platform.later.name: missing; this key is required"
    )
