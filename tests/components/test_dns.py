"""The public zone of the model names, and how each region's record of a name is routed."""

from __future__ import annotations

import pytest

from components.dns.records import HEALTH_STATISTIC, RecordRouting, record_routing
from tests.conftest import by_name, states


def test_failover_marks_the_first_region_primary():
    regions = ["eu-west-1", "eu-central-1"]
    assert [record_routing("failover", regions, r) for r in regions] == [
        RecordRouting(set_identifier="eu-west-1", failover="PRIMARY"),
        RecordRouting(set_identifier="eu-central-1", failover="SECONDARY"),
    ]


def test_latency_routes_by_region():
    regions = ["eu-west-1", "eu-central-1", "us-east-1"]
    assert [record_routing("latency", regions, r) for r in regions] == [
        RecordRouting(set_identifier=r, latency_region=r) for r in regions
    ]


def test_a_name_served_in_one_region_is_a_plain_record():
    assert record_routing("failover", ["us-east-1"], "us-east-1") == RecordRouting()
    assert record_routing("latency", ["us-east-1"], "us-east-1") == RecordRouting()


def test_failover_refuses_three_regions():
    with pytest.raises(ValueError, match="exactly two regions"):
        record_routing("failover", ["a-b-1", "a-b-2", "a-b-3"], "a-b-1")


def test_health_alarms_use_a_statistic_route53_accepts():
    """Route 53 health checks on CloudWatch alarms support Average, Minimum, Maximum, Sum and SampleCount;
    extended statistics (percentiles) are not supported (Route 53 API Reference, AlarmIdentifier)."""
    assert HEALTH_STATISTIC in {"Average", "Minimum", "Maximum", "Sum", "SampleCount"}


def test_zone_and_contract(observe):
    zone = by_name(observe, "dns-zone")
    assert zone["inputs"]["name"] == "models.example.com"
    assert zone["protect"] is True
    dns = observe["outputs"]["dns"]
    assert dns["hostedZoneId"] == zone["id"] and len(dns["nameServers"]) == 4
    assert (dns["zoneName"], dns["routing"]) == ("models.example.com", "failover")
    # No HTTPS health checks of internal load balancers: Route 53's checkers probe from the internet.
    assert states(observe, "aws:route53/healthCheck:HealthCheck") == []
