"""The platform config model, validated without Pulumi."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from components.config import PlatformConfig, load_platform, parse_platform
from components.configbase import tags_for
from components.loader import ConfigError, UnknownStackError
from components.stackfile import read_stack_config

STACKS = Path(__file__).resolve().parents[2] / "stacks"


def valid() -> dict:
    return {
        "environment": "dev",
        "account-id": "111111111111",
        "regions": [
            {
                "name": "eu-west-1",
                "availability-zones": ["eu-west-1a", "eu-west-1b"],
                "vpc-cidr": "10.0.0.0/16",
            }
        ],
        "tags": {"team": "platform", "cost-center": "cc-1", "data-classification": "internal"},
    }


def error_of(raw: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "stacks/Pulumi.x.yaml")
    return str(caught.value)


def test_valid_config_parses_with_defaults():
    cfg = parse_platform(valid(), "f.yaml")
    assert cfg.partition == "aws"
    assert cfg.nat == "single"
    assert cfg.internet_free is False
    assert cfg.primary_region.name == "eu-west-1"
    assert cfg.primary_region.availability_zones == ["eu-west-1a", "eu-west-1b"]
    assert cfg.log_retention_days == 30


def test_models_are_frozen():
    cfg = parse_platform(valid(), "f.yaml")
    with pytest.raises(ValidationError, match="frozen"):
        cfg.environment = "prod"  # type: ignore[misc]


def test_structured_config_as_json_text_is_accepted():
    import json

    assert parse_platform(json.dumps(valid()), "f.yaml").account_id == "111111111111"


def test_unknown_nested_key_names_path_and_allowed_keys():
    raw = valid()
    raw["regions"][0]["vpc_cidr"] = "10.0.0.0/16"
    assert error_of(raw) == (
        "stacks/Pulumi.x.yaml: mlops:platform.regions[0].vpc_cidr: unknown key; "
        "allowed: name, availability-zones, vpc-cidr"
    )


def test_unknown_top_level_key_in_platform():
    raw = valid()
    raw["natt"] = "single"
    message = error_of(raw)
    assert message.startswith(
        "stacks/Pulumi.x.yaml: mlops:platform.natt: unknown key; allowed: environment, account-id"
    )


def test_wrong_type_names_value_and_allowed():
    raw = valid()
    raw["internet-free"] = "sometimes"
    assert error_of(raw) == (
        "stacks/Pulumi.x.yaml: mlops:platform.internet-free: must be true or false, got 'sometimes'"
    )


def test_bad_enum_lists_allowed_values():
    raw = valid()
    raw["nat"] = "per-az"
    assert error_of(raw) == (
        "stacks/Pulumi.x.yaml: mlops:platform.nat: 'per-az' is not allowed; allowed: none, single, one-per-az"
    )


def test_az_outside_region():
    raw = valid()
    raw["regions"][0]["availability-zones"] = ["eu-west-1a", "us-east-1b"]
    assert error_of(raw) == (
        "stacks/Pulumi.x.yaml: mlops:platform.regions[0].availability-zones[1]: 'us-east-1b' is not an "
        "availability zone of eu-west-1 (allowed: eu-west-1 followed by one letter, e.g. eu-west-1a)"
    )


@pytest.mark.parametrize("cidr", ["10.0.0.0/33", "10.0.0.1/16", "not-a-cidr", "300.0.0.0/16"])
def test_malformed_cidr(cidr):
    raw = valid()
    raw["regions"][0]["vpc-cidr"] = cidr
    message = error_of(raw)
    assert message.startswith(
        f"stacks/Pulumi.x.yaml: mlops:platform.regions[0].vpc-cidr: {cidr!r} is not an IPv4"
    )
    assert "allowed: e.g. 10.10.0.0/16" in message


def test_cidr_prefix_outside_range():
    raw = valid()
    raw["regions"][0]["vpc-cidr"] = "10.0.0.0/8"
    assert error_of(raw).endswith("vpc-cidr: '10.0.0.0/8' has prefix /8; allowed: /16 to /24")


def test_missing_key():
    raw = valid()
    del raw["account-id"]
    assert error_of(raw) == "stacks/Pulumi.x.yaml: mlops:platform.account-id: missing; this key is required"


def test_overlapping_cidrs_across_regions():
    raw = valid()
    raw["regions"].append(
        {"name": "eu-central-1", "availability-zones": ["eu-central-1a"], "vpc-cidr": "10.0.128.0/17"}
    )
    assert error_of(raw) == (
        "stacks/Pulumi.x.yaml: mlops:platform.regions[1].vpc-cidr: 10.0.128.0/17 overlaps 10.0.0.0/16 of region "
        "eu-west-1 (regions[0]); allowed: non-overlapping CIDRs across regions"
    )


def test_internet_free_with_nat_rejected():
    raw = valid()
    raw["internet-free"] = True
    raw["nat"] = "one-per-az"
    assert error_of(raw) == (
        "stacks/Pulumi.x.yaml: mlops:platform.nat: 'one-per-az' contradicts internet-free: true; "
        "allowed with internet-free: 'none'"
    )


def test_prod_needs_year_of_log_retention():
    raw = valid()
    raw["environment"] = "prod"
    assert error_of(raw).endswith(
        "log-retention-days: 30 is below the prod floor; allowed in prod: 365 or more"
    )


def test_tags_for_merges_base_and_extras():
    cfg = parse_platform(valid(), "f.yaml")
    assert tags_for(cfg.tags, "dev", Name="x") == {
        "team": "platform",
        "environment": "dev",
        "cost-center": "cc-1",
        "data-classification": "internal",
        "managed-by": "pulumi-mlops-platform",
        "Name": "x",
    }


def write_stack(tmp_path: Path, config: dict, name: str = "x") -> Path:
    (tmp_path / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": config}))
    return tmp_path


def test_misspelt_top_level_mlops_key(tmp_path):
    write_stack(tmp_path, {"mlops:platfrom": valid()})
    with pytest.raises(ConfigError) as caught:
        load_platform(tmp_path, "x")
    assert (
        str(caught.value)
        == f"{tmp_path}/Pulumi.x.yaml: mlops:platfrom: unknown key; allowed: mlops:platform, mlops:team, mlops:oidc-client-secret, mlops:custom-ca-bundle"
    )


def test_other_namespaces_are_left_alone(tmp_path):
    write_stack(tmp_path, {"mlops:platform": valid(), "aws:region": "eu-west-1"})
    assert load_platform(tmp_path, "x").environment == "dev"


def test_unknown_stack_lists_existing(tmp_path):
    write_stack(tmp_path, {"mlops:platform": valid()}, "alpha")
    write_stack(tmp_path, {"mlops:platform": valid()}, "beta")
    with pytest.raises(UnknownStackError) as caught:
        read_stack_config(tmp_path, "gamma")
    assert str(caught.value).endswith("stacks: alpha, beta")


def test_invalid_yaml_names_line(tmp_path):
    (tmp_path / "Pulumi.x.yaml").write_text("config:\n  mlops:platform: [unclosed\n")
    with pytest.raises(ConfigError) as caught:
        load_platform(tmp_path, "x")
    assert str(caught.value).startswith(f"{tmp_path}/Pulumi.x.yaml: line ")


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_shipped_stacks_validate(stack):
    cfg = load_platform(STACKS, stack)
    assert cfg.environment == stack


def test_shipped_stack_shapes():
    dev, staging, prod = (load_platform(STACKS, name) for name in ("dev", "staging", "prod"))
    assert [len(r.availability_zones) for r in dev.regions] == [2] and dev.nat == "single"
    assert [len(r.availability_zones) for r in staging.regions] == [3]
    assert [len(r.availability_zones) for r in prod.regions] == [3, 3]
    assert prod.nat == "one-per-az" or prod.internet_free


def test_json_schema_comes_from_the_model():
    schema = PlatformConfig.model_json_schema(by_alias=True)
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"environment", "account-id", "regions", "tags"}
    assert copy.deepcopy(schema["properties"]["nat"]["enum"]) == ["none", "single", "one-per-az"]
