"""The identity, observability and DNS sections of `mlops:platform`: parsing, defaults and one-line errors."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from components.config import load_platform, parse_platform
from components.identity.config import session_seconds
from components.loader import ConfigError
from components.stackfile import read_config_file
from tests.conftest import FIXTURES, run_mlops

FIXTURE = FIXTURES / "Pulumi.observe-prod.yaml"


def fixture_document() -> dict:
    return yaml.safe_load(FIXTURE.read_text())


def platform() -> dict:
    return copy.deepcopy(fixture_document()["config"]["mlops:platform"])


def error_of(raw: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "stacks/Pulumi.x.yaml")
    return str(caught.value)


def test_fixture_sections_parse_with_values():
    cfg = load_platform(FIXTURES, "observe-prod")
    assert cfg.identity.roles.platform_admin.session_duration == "PT4H"
    assert cfg.identity.roles.ml_engineer.role_suffix == "2a8ee22843209d11"
    assert cfg.identity.sso_region is None
    assert cfg.identity.oidc.scope == "openid email profile"
    assert cfg.observability.thresholds.node_cpu_percent == 75
    assert cfg.observability.thresholds.rds_free_storage_gib == 20
    assert cfg.observability.trail.retention_days == 2557
    assert cfg.dns.routing == "failover"
    assert cfg.dns.zone == "models.example.com" and cfg.dns.certificate_arns == {}


def test_sections_are_optional():
    raw = platform()
    for section in ("identity", "observability", "dns"):
        del raw[section]
    cfg = parse_platform(raw, "f.yaml")
    assert (cfg.identity, cfg.observability, cfg.dns) == (None, None, None)


def test_threshold_defaults():
    raw = platform()
    raw["observability"] = {}
    thresholds = parse_platform(raw, "f.yaml").observability.thresholds
    assert thresholds.model_dump(by_alias=True) == {
        "load-balancer-5xx-percent": 5.0,
        "p99-latency-seconds": 2.0,
        "node-cpu-percent": 80.0,
        "node-memory-percent": 85.0,
        "rds-cpu-percent": 80.0,
        "rds-free-storage-gib": 10.0,
        "rds-connections": 200,
        "interruption-queue-age-seconds": 300,
        "period-seconds": 60,
        "evaluation-periods": 5,
        "datapoints-to-alarm": 3,
    }


@pytest.mark.parametrize(
    ("duration", "seconds"), [("PT4H", 14400), ("PT1H30M", 5400), ("PT12H", 43200), ("PT45M", 2700)]
)
def test_session_seconds(duration, seconds):
    assert session_seconds(duration) == seconds


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda raw: raw["observability"]["thresholds"].__setitem__("node-cpu-percent", "high"),
            "stacks/Pulumi.x.yaml: mlops:platform.observability.thresholds.node-cpu-percent: "
            "must be a number, got 'high'",
        ),
        (
            lambda raw: raw["observability"]["thresholds"].__setitem__("rds-connections", 1.5),
            "stacks/Pulumi.x.yaml: mlops:platform.observability.thresholds.rds-connections: "
            "must be a whole number, got 1.5",
        ),
        (
            lambda raw: raw["observability"]["thresholds"].__setitem__("node-cpu-percent", 120),
            "stacks/Pulumi.x.yaml: mlops:platform.observability.thresholds.node-cpu-percent: "
            "must be less than or equal to 100, got 120",
        ),
        (
            lambda raw: raw["observability"]["thresholds"].__setitem__("cpu-percent", 80),
            "stacks/Pulumi.x.yaml: mlops:platform.observability.thresholds.cpu-percent: unknown key; allowed: "
            "load-balancer-5xx-percent, p99-latency-seconds, node-cpu-percent, node-memory-percent, "
            "rds-cpu-percent, rds-free-storage-gib, rds-connections, interruption-queue-age-seconds, "
            "period-seconds, evaluation-periods, datapoints-to-alarm",
        ),
        (
            lambda raw: raw["observability"]["thresholds"].__setitem__("datapoints-to-alarm", 9),
            "stacks/Pulumi.x.yaml: mlops:platform.observability.thresholds.datapoints-to-alarm: "
            "9 exceeds evaluation-periods (5); allowed: 1 to 5",
        ),
        (
            lambda raw: raw["observability"]["subscriptions"][0].__setitem__("endpoint", "oncall"),
            "stacks/Pulumi.x.yaml: mlops:platform.observability.subscriptions[0].endpoint: "
            "'oncall' is not an e-mail address",
        ),
        (
            # The serving ALB is read back by the platform (components/serving/ingress.py): no key names it.
            lambda raw: raw["observability"].__setitem__(
                "load-balancers", {"us-east-1": "app/x/0123456789abcdef"}
            ),
            "stacks/Pulumi.x.yaml: mlops:platform.observability.load-balancers: unknown key; allowed: "
            "subscriptions, thresholds, trail, grafana, container-insights, prometheus-encryption, guardduty",
        ),
        (
            lambda raw: raw["identity"]["roles"]["read-only"].__setitem__("session-duration", "PT13H"),
            "stacks/Pulumi.x.yaml: mlops:platform.identity.roles.read-only.session-duration: "
            "'PT13H' is outside Identity Center's range; allowed: PT1H to PT12H",
        ),
        (
            lambda raw: raw["identity"]["roles"]["read-only"].__setitem__("session-duration", "8 hours"),
            "stacks/Pulumi.x.yaml: mlops:platform.identity.roles.read-only.session-duration: "
            "'8 hours' is not an ISO 8601 duration in hours/minutes (allowed: e.g. PT4H, PT1H30M)",
        ),
        (
            lambda raw: raw["identity"]["ml-engineer-namespaces"].append("kube-system"),
            "stacks/Pulumi.x.yaml: mlops:platform.identity.ml-engineer-namespaces[2]: "
            "'kube-system' is reserved or listed twice; allowed: distinct team namespaces",
        ),
        (
            lambda raw: raw["identity"]["oidc"].__setitem__("issuer", "http://idp.example.com"),
            "stacks/Pulumi.x.yaml: mlops:platform.identity.oidc.issuer: "
            "'http://idp.example.com' is not an https:// URL (allowed: https://host/path)",
        ),
        (
            lambda raw: raw["dns"].__setitem__(
                "certificate-arns", {"eu-west-1": "arn:aws:acm:eu-west-1:333333333333:certificate/x"}
            ),
            "stacks/Pulumi.x.yaml: mlops:platform.dns.certificate-arns.eu-west-1: "
            "not a region of this stack; allowed: us-east-1, us-west-2",
        ),
        (
            lambda raw: raw["dns"].__setitem__(
                "certificate-arns", {"us-west-2": "arn:aws:acm:us-east-1:333333333333:certificate/x"}
            ),
            "stacks/Pulumi.x.yaml: mlops:platform.dns.certificate-arns.us-west-2: "
            "'arn:aws:acm:us-east-1:333333333333:certificate/x' is in another region; allowed: a certificate in "
            "us-west-2 (a load balancer can only use certificates of its own region)",
        ),
        (
            lambda raw: raw["dns"].__setitem__("endpoints", [{"name": "ranker"}]),
            "stacks/Pulumi.x.yaml: mlops:platform.dns.endpoints: unknown key; allowed: zone, routing, certificate-arns, dnssec, query-logging",
        ),
        (
            lambda raw: raw["dns"].__setitem__("routing", "geo"),
            "stacks/Pulumi.x.yaml: mlops:platform.dns.routing: 'geo' is not allowed; allowed: failover, latency",
        ),
    ],
)
def test_bad_sections_name_the_key(mutate, expected):
    raw = platform()
    mutate(raw)
    assert error_of(raw) == expected


def test_failover_needs_two_regions():
    raw = platform()
    raw["regions"] = raw["regions"][:1]
    assert error_of(raw) == (
        "stacks/Pulumi.x.yaml: mlops:platform.dns.routing: 'failover' needs exactly two regions (a primary and a "
        "secondary), this stack has 1; allowed: latency, or two regions"
    )
    raw["dns"]["routing"] = "latency"
    assert parse_platform(raw, "f.yaml").dns.routing == "latency"


def test_oidc_secret_must_be_a_secret(tmp_path):
    document = fixture_document()
    document["config"]["mlops:oidc-client-secret"] = "plaintext"
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError) as caught:
        read_config_file(path)
    assert str(caught.value) == (
        f"{path}: mlops:oidc-client-secret: must be a secret "
        "(a `secure:` value: pulumi config set --secret mlops:oidc-client-secret ...)"
    )


def write_stack(folder: Path, name: str, document: dict) -> None:
    (folder / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda raw: raw["observability"].__setitem__("alarms", True), "mlops:platform.observability.alarms"),
        (
            lambda raw: raw["observability"]["thresholds"].__setitem__("p99-latency-seconds", "fast"),
            "mlops:platform.observability.thresholds.p99-latency-seconds",
        ),
        (lambda raw: raw.__setitem__("regions", raw["regions"][:1]), "mlops:platform.dns.routing"),
    ],
)
def test_cli_rejects_bad_sections_with_one_line_and_exit_2(tmp_path, mutate, key):
    document = fixture_document()
    mutate(document["config"]["mlops:platform"])
    write_stack(tmp_path, "bad", document)
    result = run_mlops("preview", "bad", "--stacks-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"error: {tmp_path / 'Pulumi.bad.yaml'}: {key}: ")


def test_cli_rejects_failover_with_one_region(tmp_path):
    document = fixture_document()
    raw = document["config"]["mlops:platform"]
    raw["regions"] = raw["regions"][:1]
    write_stack(tmp_path, "one-region", document)
    result = run_mlops("preview", "one-region", "--stacks-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {tmp_path / 'Pulumi.one-region.yaml'}: mlops:platform.dns.routing: 'failover' needs exactly two "
        "regions (a primary and a secondary), this stack has 1; allowed: latency, or two regions\n"
    )


def test_cli_rejects_unknown_top_level_mlops_key(tmp_path):
    document = fixture_document()
    document["config"]["mlops:oidc-secret"] = {"secure": "x"}
    write_stack(tmp_path, "typo", document)
    result = run_mlops("preview", "typo", "--stacks-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {tmp_path / 'Pulumi.typo.yaml'}: mlops:oidc-secret: unknown key; "
        "allowed: mlops:platform, mlops:team, mlops:oidc-client-secret, mlops:custom-ca-bundle\n"
    )


def test_schema_describes_the_sections_and_the_secret_key():
    import json

    import jsonschema

    schema = json.loads(run_mlops("schema").stdout)
    platform_schema = schema["$defs"]["PlatformConfig"]["properties"]
    assert {"identity", "observability", "dns"} <= set(platform_schema)
    assert set(schema["$defs"]["AlarmThresholds"]["properties"]) >= {
        "node-cpu-percent",
        "rds-free-storage-gib",
    }
    jsonschema.validate(fixture_document(), schema)
    plaintext = fixture_document()
    plaintext["config"]["mlops:oidc-client-secret"] = "plaintext"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(plaintext, schema)


def test_prometheus_encryption_defaults_to_aws_owned_keys_and_allows_a_customer_key():
    from components.observability.config import ObservabilityConfig

    assert ObservabilityConfig.model_validate({}).prometheus_encryption == "aws-owned"
    assert ObservabilityConfig.model_validate(
        {"prometheus-encryption": "customer-key"}
    ).prometheus_encryption == ("customer-key")
    with pytest.raises(ValueError, match="aws-owned"):
        ObservabilityConfig.model_validate({"prometheus-encryption": "kms"})
