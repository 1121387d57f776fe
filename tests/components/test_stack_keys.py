"""Config keys and structured values of stack files read as Pulumi reads them, and team regions listed once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.config import parse_platform, parse_team
from components.loader import ConfigError, load_yaml
from components.stackfile import TEAM_KEY, read_config_file
from tests.conftest import STACKS


def config_error(path: Path, text: str) -> str:
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        read_config_file(path)
    return str(caught.value)


def test_config_keys_are_read_like_pulumi_parsekey(tmp_path):
    """Pulumi's config.ParseKey (sdk/go/common/resource/config/key.go) takes `<namespace>:<name>` and the old
    `<namespace>:config:<name>` for the same key, and fails every `pulumi` command on any other key."""
    path = tmp_path / "Pulumi.x.yaml"
    assert config_error(path, "config:\n  aws:config:region: eu-west-1\n") == (
        f"{path}: aws:config:region: the old form of a config key; write aws:region"
    )
    for key in ("region", "a:b:c", ":region", "aws:"):
        assert config_error(path, f"config:\n  '{key}': 1\n") == (
            f"{path}: {key}: is not a Pulumi config key; allowed: <namespace>:<name> (e.g. mlops:platform)"
        )
    assert config_error(path, 'config:\n  "a\\nerror b": 1\n') == (
        f'{path}: "a\\nerror b": is not a Pulumi config key; allowed: <namespace>:<name> (e.g. mlops:platform)'
    )
    path.write_text("config:\n  aws:region: eu-west-1\n")
    assert read_config_file(path) == {"aws:region": "eu-west-1"}


def team_raw() -> dict:
    return load_yaml(STACKS / "Pulumi.team-fraud-prod.yaml")["config"][TEAM_KEY]


def test_team_regions_are_distinct():
    raw = team_raw()
    assert raw["regions"] == ["us-east-1", "us-west-2"]
    raw["regions"].append("us-east-1")
    with pytest.raises(ConfigError) as caught:
        parse_team(raw, "stacks/Pulumi.team-fraud-prod.yaml")
    assert str(caught.value) == (
        "stacks/Pulumi.team-fraud-prod.yaml: mlops:team.regions[2]: 'us-east-1' is listed twice; allowed: distinct regions"
    )


def test_structured_values_in_json_strings_use_the_strict_json_reader():
    """Pulumi hands a structured config value to the program as JSON text; a value written as a JSON string
    is read with the same reader as every document: a repeated key or NaN is refused, not resolved."""
    raw = team_raw()
    assert parse_team(json.dumps(raw), "f").name == "fraud"
    duplicated = json.dumps(raw)[:-1] + ', "name": "other"}'
    with pytest.raises(ConfigError) as caught:
        parse_team(duplicated, "f")
    assert (
        str(caught.value)
        == "f: mlops:team: must be a mapping, or a JSON object in a string (key 'name' appears twice in one object)"
    )
    with pytest.raises(ConfigError) as caught:
        parse_platform('{"environment": NaN}', "f")
    assert (
        str(caught.value)
        == "f: mlops:platform: must be a mapping, or a JSON object in a string (NaN is not a JSON number)"
    )
