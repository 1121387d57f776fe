"""RDS Enhanced Monitoring of the registry database: the monitoring role, its managed policy, the interval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from components.config import parse_platform
from components.loader import ConfigError
from components.registry.config import RegistryConfig
from tests.conftest import STACKS, by_name, run_mlops, states

ROLE = "registry-db-monitoring-role"
ATTACHMENT = "registry-db-monitoring-role-service-role/amazonrdsenhancedmonitoringrole"


def urn_of(document, name):
    return by_name(document, name)["urn"]


def test_prod_database_sends_os_metrics_every_60_seconds_through_its_role(synth):
    prod = synth("prod")
    db = by_name(prod, "registry-db")
    role = by_name(prod, ROLE)
    assert db["inputs"]["monitoringInterval"] == 60
    # The ARN comes from the role (the link a policy follows), in the stack's account.
    assert db["propertyDependencies"]["monitoringRoleArn"] == [role["urn"]]
    assert db["inputs"]["monitoringRoleArn"].startswith(
        "arn:aws:iam::333333333333:role/registry-db-monitoring"
    )
    assert role["parent"] == db["parent"] == by_name(prod, "registry")["urn"]
    assert role["inputs"]["tags"]["environment"] == "prod"
    attachment = by_name(prod, ATTACHMENT)
    assert attachment["inputs"]["policyArn"] == (
        "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
    )
    assert attachment["propertyDependencies"]["role"] == [role["urn"]]


def test_monitoring_role_and_its_policy_exist_before_the_instance(synth):
    """RDS checks the monitoring role when it creates or modifies the instance ("If MonitoringInterval is set to
    a value other than 0, supply a MonitoringRoleArn value", RDS API reference, CreateDBInstance): the role and
    its managed-policy attachment are explicit dependencies, not only the ARN's implicit one."""
    prod = synth("prod")
    dependencies = by_name(prod, "registry-db")["dependencies"]
    assert urn_of(prod, ROLE) in dependencies
    assert urn_of(prod, ATTACHMENT) in dependencies


def test_monitoring_role_trust_is_the_rds_confused_deputy_protection(synth):
    """RDS User Guide, "Setting up and enabling Enhanced Monitoring" (Protecting against the confused deputy
    problem): the trust names monitoring.rds.amazonaws.com, aws:SourceAccount the account and aws:SourceArn
    arn:aws:rds:<region>:<account>:db:<db instance identifier>."""
    prod = synth("prod")
    trust = json.loads(by_name(prod, ROLE)["inputs"]["assumeRolePolicy"])
    identifier = by_name(prod, "registry-db")["inputs"]["identifier"]
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "monitoring.rds.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": "333333333333"},
                "ArnLike": {"aws:SourceArn": f"arn:aws:rds:us-east-1:333333333333:db:{identifier}"},
            },
        }
    ]
    assert identifier == "mlops-prod-mlflow"


def test_dev_database_has_no_enhanced_monitoring_by_default(synth):
    dev = synth("dev")
    assert by_name(dev, "registry-db")["inputs"].get("monitoringInterval", 0) == 0
    assert "monitoringRoleArn" not in by_name(dev, "registry-db")["inputs"]
    assert not [s for s in states(dev, "aws:iam/role:Role") if s["urn"].endswith("::" + ROLE)]


@pytest.mark.parametrize("interval", [0, 1, 5, 10, 15, 30, 60])
def test_monitoring_interval_accepts_the_values_rds_accepts(interval):
    """RDS User Guide, "Setting up and enabling Enhanced Monitoring": valid MonitoringInterval values are 0, 1,
    5, 10, 15, 30 and 60 (seconds)."""
    config = RegistryConfig.model_validate({"mlflow-image": "x/mlflow:1", "db-monitoring-interval": interval})
    assert config.monitoring_interval(is_prod=False) == interval


@pytest.mark.parametrize("interval", [2, 120, -1, True, "60"])
def test_monitoring_interval_refuses_other_values(interval):
    raw = {"mlflow-image": "x/mlflow:1", "db-monitoring-interval": interval}
    with pytest.raises(ValueError, match="db-monitoring-interval"):
        RegistryConfig.model_validate(raw)


def test_monitoring_interval_defaults_to_60_in_prod_only():
    config = RegistryConfig.model_validate({"mlflow-image": "x/mlflow:1"})
    assert (config.monitoring_interval(is_prod=True), config.monitoring_interval(is_prod=False)) == (60, 0)


def prod_config() -> dict:
    return yaml.safe_load((STACKS / "Pulumi.prod.yaml").read_text())["config"]["mlops:platform"]


def test_prod_refuses_enhanced_monitoring_off():
    raw = prod_config()
    raw["registry"]["db-monitoring-interval"] = 0
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "stacks/Pulumi.prod.yaml")
    assert str(caught.value) == (
        "stacks/Pulumi.prod.yaml: mlops:platform.registry.db-monitoring-interval: 0 turns Enhanced Monitoring "
        "off, which prod does not allow; allowed in prod: 1, 5, 10, 15, 30, 60 (seconds; unset: 60)"
    )


def test_cli_rejects_a_bad_interval_with_one_line_and_exit_2(tmp_path: Path):
    document = yaml.safe_load((STACKS / "Pulumi.dev.yaml").read_text())
    document["config"]["mlops:platform"]["registry"]["db-monitoring-interval"] = 45
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump(document))
    result = run_mlops("preview", "bad", "--stacks-dir", str(tmp_path))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0] == (
        f"error: {tmp_path / 'Pulumi.bad.yaml'}: mlops:platform.registry.db-monitoring-interval: 45 is not "
        "allowed; allowed: 0, 1, 5, 10, 15, 30, 60"
    )
