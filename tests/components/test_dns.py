"""Public DNS for model endpoints: health checks per region with failover or latency records."""

from __future__ import annotations

import pytest

from components.config import DnsConfig
from components.dns import routing_plan
from tests.conftest import by_name, states


def config(routing: str) -> DnsConfig:
    return DnsConfig.model_validate(
        {
            "zone": "models.example.com",
            "routing": routing,
            "endpoints": [{"name": "scorer", "regional-hosts": {"eu-west-1": "scorer-eu.example.net"}}],
        }
    )


def test_failover_plan_marks_the_first_region_primary():
    plan = routing_plan(config("failover"), ["eu-west-1", "eu-central-1"])
    assert [(r.region, r.fqdn, r.target, r.failover, r.latency_region) for r in plan] == [
        ("eu-west-1", "scorer.models.example.com", "scorer-eu.example.net", "PRIMARY", None),
        ("eu-central-1", "scorer.models.example.com", "scorer.eu-central-1.models.example.com", "SECONDARY", None),
    ]


def test_latency_plan_routes_by_region():
    plan = routing_plan(config("latency"), ["eu-west-1", "eu-central-1", "us-east-1"])
    assert [(r.set_identifier, r.failover, r.latency_region) for r in plan] == [
        ("scorer-eu-west-1", None, "eu-west-1"),
        ("scorer-eu-central-1", None, "eu-central-1"),
        ("scorer-us-east-1", None, "us-east-1"),
    ]


def test_failover_plan_refuses_a_single_region():
    with pytest.raises(ValueError, match="exactly two regions"):
        routing_plan(config("failover"), ["eu-west-1"])


def test_zone_health_checks_and_failover_records(observe):
    zone = by_name(observe, "dns-zone")
    assert zone["inputs"]["name"] == "models.example.com"
    assert zone["protect"] is True
    assert observe["outputs"]["dns"]["hostedZoneId"] == zone["id"]
    assert len(observe["outputs"]["dns"]["nameServers"]) == 4
    checks = states(observe, "aws:route53/healthCheck:HealthCheck")
    records = states(observe, "aws:route53/record:Record")
    assert len(checks) == 4 and len(records) == 4
    expected = {
        ("fraud-detector", "us-east-1"): ("fraud-detector.us-east-1.models.example.com", "/v2/health/ready", "PRIMARY"),
        ("fraud-detector", "us-west-2"): ("fraud-detector.us-west-2.models.example.com", "/v2/health/ready", "SECONDARY"),
        ("ranker", "us-east-1"): ("ranker.us-east-1.models.example.com", "/healthz", "PRIMARY"),
        ("ranker", "us-west-2"): ("ranker-west.serving.example.com", "/healthz", "SECONDARY"),
    }
    for (endpoint, region), (target, path, failover) in expected.items():
        check = by_name(observe, f"dns-{endpoint}-{region}-health")
        assert check["inputs"] == {
            "type": "HTTPS",
            "fqdn": target,
            "port": 443,
            "resourcePath": path,
            "enableSni": True,
            "requestInterval": 30,
            "failureThreshold": 3,
            "measureLatency": True,
            "tags": {**check["inputs"]["tags"], "Name": f"{endpoint}-{region}"},
        }
        assert check["inputs"]["tags"]["managed-by"] == "pulumi-mlops-platform"
        record = by_name(observe, f"dns-{endpoint}-{region}")
        assert record["inputs"] == {
            "zoneId": zone["id"],
            "name": f"{endpoint}.models.example.com",
            "type": "CNAME",
            "ttl": 60,
            "records": [target],
            "setIdentifier": f"{endpoint}-{region}",
            "healthCheckId": check["id"],
            "failoverRoutingPolicies": [{"type": failover}],
        }
        assert record["parent"] == by_name(observe, "dns")["urn"]
