"""Policies over linked resources: the AWS rules they encode, the boundary from pack config, team configs."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format

from mlops.analyzer import PolicyPackProcess
from policies.base import REGISTRY
from policies.links import MONITORING_INTERVALS
from policies.pack import (
    BOUNDARY_PLACEHOLDER,
    BOUNDARY_POLICY,
    CONFIG_DIR,
    all_policies,
    environment_config,
    with_permissions_boundary,
)
from policies.team_config import LICENSES_PLACEHOLDER, LICENSES_POLICY
from tests.policies.cases import (
    BOUNDARY_ARN,
    EAST,
    KSK,
    MONITORED_DB,
    MONITORING_ATTACHMENT,
    MONITORING_ROLE,
    PUBLIC_ZONE,
    QUERY_LOG,
    SIGNING_KEY,
    ZONE_SIGNING,
    Res,
    document,
    role,
)
from tests.policies.validate import analyze_in_process

all_policies()


def findings(resources, config, policy):
    found = analyze_in_process(document(resources), config)
    return [(v.urn.rsplit("::", 1)[-1], v.message.split("\n", 1)[1]) for v in found if v.policy == policy]


@pytest.mark.parametrize("interval", [0, 1, 2, 5, 10, 15, 20, 30, 45, 60, 120])
def test_enhanced_monitoring_interval_is_one_aws_accepts(interval):
    """RDS CreateDBInstance MonitoringInterval, "Valid Values: 0 | 1 | 5 | 10 | 15 | 30 | 60" (0 turns it off):
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html"""
    db = Res(
        MONITORED_DB.type,
        "db",
        {**MONITORED_DB.inputs, "monitoringInterval": interval},
        prop_deps=MONITORED_DB.prop_deps,
    )
    found = findings(
        [MONITORING_ROLE, MONITORING_ATTACHMENT, db],
        environment_config("prod"),
        "rds-enhanced-monitoring-prod",
    )
    if interval in (1, 5, 10, 15, 30, 60):
        assert found == []
    elif interval == 0:
        assert found == [("db", "db: enhanced monitoring is off (monitoringInterval unset or 0)")]
    else:
        assert found == [("db", f"db: monitoringInterval {interval} is not one of 1, 5, 10, 15, 30, 60")]
    assert MONITORING_INTERVALS == (1, 5, 10, 15, 30, 60)


def test_enhanced_monitoring_role_trusts_the_monitoring_service():
    """ "Setting up and enabling Enhanced Monitoring" (Amazon RDS User Guide): the role is assumed by
    monitoring.rds.amazonaws.com and carries AmazonRDSEnhancedMonitoringRole."""
    wrong = Res(
        MONITORING_ROLE.type, "monitoring", {"assumeRolePolicy": role("x").inputs["assumeRolePolicy"]}
    )
    found = findings(
        [wrong, MONITORING_ATTACHMENT, MONITORED_DB],
        environment_config("prod"),
        "rds-enhanced-monitoring-prod",
    )
    assert found == [("db", "db: monitoring role monitoring does not trust monitoring.rds.amazonaws.com")]


def test_dnssec_key_is_ecc_nist_p256_sign_verify():
    """ "Working with customer managed keys for DNSSEC" (Route 53 Developer Guide): the key is in US East
    (N. Virginia) and is an asymmetric ECC_NIST_P256 key used for signing and verification."""
    symmetric = Res(
        SIGNING_KEY.type,
        "dnssec-key",
        {**SIGNING_KEY.inputs, "customerMasterKeySpec": "SYMMETRIC_DEFAULT", "keyUsage": "ENCRYPT_DECRYPT"},
        provider="aws-us-east-1",
    )
    found = findings(
        [EAST, symmetric, PUBLIC_ZONE, KSK, ZONE_SIGNING, QUERY_LOG],
        environment_config("prod"),
        "route53-public-zone-signed-and-logged",
    )
    assert found == [
        (
            "zone",
            "public zone zone: signing key dnssec-key is 'SYMMETRIC_DEFAULT'/'ENCRYPT_DECRYPT'; Route 53 needs "
            "ECC_NIST_P256/SIGN_VERIFY",
        )
    ]


def test_dnssec_and_query_logging_are_advisory_outside_prod():
    for environment in ("dev", "staging"):
        level = environment_config(environment)["route53-public-zone-signed-and-logged"]["enforcementLevel"]
        assert level == "advisory"
    assert (
        environment_config("prod")["route53-public-zone-signed-and-logged"]["enforcementLevel"] == "mandatory"
    )


def boundary_config(arn):
    config = environment_config("team-prod")
    return with_permissions_boundary(config, arn)


def test_team_roles_must_carry_the_configured_boundary():
    config = boundary_config(BOUNDARY_ARN)
    assert config[BOUNDARY_POLICY] == {
        "enforcementLevel": "mandatory",
        "permissionsBoundaryArn": BOUNDARY_ARN,
    }
    roles = [
        role("carries", BOUNDARY_ARN),
        role("other", "arn:aws:iam::333333333333:policy/other"),
        role("none"),
    ]
    assert sorted(findings(roles, config, BOUNDARY_POLICY)) == [
        ("none", f"role none has permissionsBoundary None; expected {BOUNDARY_ARN}"),
        (
            "other",
            f"role other has permissionsBoundary 'arn:aws:iam::333333333333:policy/other'; expected {BOUNDARY_ARN}",
        ),
    ]


def test_an_unfilled_placeholder_is_a_violation_not_a_pass():
    config = environment_config("team-prod")
    assert config[BOUNDARY_POLICY]["permissionsBoundaryArn"] == BOUNDARY_PLACEHOLDER
    found = analyze_in_process(document([role("none")]), config)
    assert [(v.policy, v.urn, v.message.split("\n", 1)[1]) for v in found if v.policy == BOUNDARY_POLICY] == [
        (
            BOUNDARY_POLICY,
            "",
            f"pack config permissionsBoundaryArn {BOUNDARY_PLACEHOLDER!r} is not an IAM policy ARN; fill it from "
            "the platform stack's identity.permissionsBoundaryArn",
        )
    ]


def test_a_platform_without_identity_drops_the_boundary_property():
    assert boundary_config(None)[BOUNDARY_POLICY] == {"enforcementLevel": "mandatory"}
    assert findings([role("none")], boundary_config(None), BOUNDARY_POLICY) == []


def test_the_boundary_property_reaches_the_pack_over_grpc():
    config = boundary_config(BOUNDARY_ARN)
    doc = document([role("carries", BOUNDARY_ARN), role("none")])
    with PolicyPackProcess() as pack:
        schema = {p.name: p.configSchema for p in pack.info().policies}[BOUNDARY_POLICY]
        assert json_format.MessageToDict(schema.properties)["permissionsBoundaryArn"]["type"] == "string"
        pack.configure(config)
        assert pack.analyze(doc) == analyze_in_process(doc, config)
    assert [
        v.urn.rsplit("::", 1)[-1] for v in analyze_in_process(doc, config) if v.policy == BOUNDARY_POLICY
    ] == ["none"]


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_team_config_is_the_environments_plus_the_boundary_licences_and_base(environment):
    platform = json.loads((CONFIG_DIR / f"{environment}.json").read_text())
    team = json.loads((CONFIG_DIR / f"team-{environment}.json").read_text())
    assert team.pop(BOUNDARY_POLICY) == {
        "enforcementLevel": "mandatory",
        "permissionsBoundaryArn": BOUNDARY_PLACEHOLDER,
    }
    # and the platform's allowed model licences (policies/team_config.py)
    assert team.pop(LICENSES_POLICY) == {
        "enforcementLevel": "mandatory",
        "allowedLicenses": LICENSES_PLACEHOLDER,
    }
    # and the stack's traffic at the base revision (`mlops pack-config --base REF`)
    assert team.pop("model-canary-first-step") == {
        "enforcementLevel": "mandatory",
        "baseTraffic": "BASE_REVISION_TRAFFIC",
    }
    assert team == platform


@pytest.mark.parametrize("name", ["dev", "staging", "prod", "team-dev", "team-staging", "team-prod"])
def test_each_config_file_names_the_environment_of_every_environment_aware_policy(name):
    """The engine reads the file as it is: an environment-aware policy the file does not name would run with
    its schema default (prod), not the environment mlops check gives it."""
    raw = json.loads((CONFIG_DIR / f"{name}.json").read_text())
    for policy, meta in REGISTRY.items():
        if meta.environment_aware:
            assert raw[policy]["environment"] == name.removeprefix("team-"), (name, policy)
