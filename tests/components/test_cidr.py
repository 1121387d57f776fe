"""CIDR planning: subnets never overlap and always fit the VPC."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.cidr import SubnetPlanError, plan_subnets


def test_plan_of_a_slash_16_in_three_zones():
    plan = plan_subnets("10.30.0.0/16", ["a", "b", "c"])
    assert plan == {
        "public": [("a", "10.30.192.0/22"), ("b", "10.30.196.0/22"), ("c", "10.30.200.0/22")],
        "private": [("a", "10.30.0.0/19"), ("b", "10.30.32.0/19"), ("c", "10.30.64.0/19")],
        "isolated": [("a", "10.30.224.0/22"), ("b", "10.30.228.0/22"), ("c", "10.30.232.0/22")],
        "lb": [("a", "10.30.216.0/23"), ("b", "10.30.218.0/23"), ("c", "10.30.220.0/23")],
    }


def test_the_fifth_and_sixth_zones_load_balancer_subnets_come_from_the_isolated_eighth():
    plan = plan_subnets("10.30.0.0/16", ["a", "b", "c", "d", "e", "f"])
    assert plan["lb"] == [
        ("a", "10.30.216.0/23"),
        ("b", "10.30.218.0/23"),
        ("c", "10.30.220.0/23"),
        ("d", "10.30.222.0/23"),
        ("e", "10.30.248.0/23"),
        ("f", "10.30.250.0/23"),
    ]


def test_too_small_vpc_is_refused():
    with pytest.raises(
        SubnetPlanError,
        match=r"^10.0.0.0/23 is too small for 4 tiers of subnets in 2 zones \(load balancers need a /27 or "
        r"larger per zone\); allowed: /20 or larger$",
    ):
        plan_subnets("10.0.0.0/23", ["a", "b"])


def test_a_slash_21_is_refused_a_slash_20_gets_slash_27_load_balancer_subnets():
    with pytest.raises(SubnetPlanError, match=r"^10.0.0.0/21 is too small for 4 tiers"):
        plan_subnets("10.0.0.0/21", ["a", "b"])
    assert {cidr for _, cidr in plan_subnets("10.0.0.0/20", ["a", "b"])["lb"]} == {
        "10.0.13.128/27",
        "10.0.13.160/27",
    }


def previous_plan(vpc: ipaddress.IPv4Network, zones: int) -> dict[str, list[str]]:
    """The three tiers as they were planned before the lb tier: their subnets must never move (a changed CIDR
    replaces the subnet, and everything in it)."""
    eighths = list(vpc.subnets(new_prefix=vpc.prefixlen + 3))
    public = list(eighths[6].subnets(new_prefix=vpc.prefixlen + 6))
    isolated = list(eighths[7].subnets(new_prefix=vpc.prefixlen + 6))
    return {
        "public": [str(public[i]) for i in range(zones)],
        "private": [str(eighths[i]) for i in range(zones)],
        "isolated": [str(isolated[i]) for i in range(zones)],
    }


@given(
    prefix=st.integers(min_value=16, max_value=20),
    base=st.integers(min_value=0, max_value=2**32 - 1),
    zones=st.integers(min_value=1, max_value=6),
)
def test_subnets_never_overlap_and_fit(prefix, base, zones):
    vpc = ipaddress.IPv4Network((base, prefix), strict=False)
    plan = plan_subnets(str(vpc), [f"z{i}" for i in range(zones)])
    assert [zone for zone, _ in plan["lb"]] == [f"z{i}" for i in range(zones)]
    subnets = [ipaddress.IPv4Network(cidr) for tier in plan.values() for _, cidr in tier]
    assert len(subnets) == 4 * zones
    for index, subnet in enumerate(subnets):
        assert subnet.subnet_of(vpc)
        assert subnet.prefixlen <= 28
        for other in subnets[index + 1 :]:
            assert not subnet.overlaps(other)
    # Load balancers' subnets: /27 or larger (ELB: "at least a /27 bitmask", see components/cidr.py).
    assert all(ipaddress.IPv4Network(cidr).prefixlen <= 27 for _, cidr in plan["lb"])
    # The other tiers are where they always were.
    assert {tier: [cidr for _, cidr in plan[tier]] for tier in ("public", "private", "isolated")} == (
        previous_plan(vpc, zones)
    )


@given(
    prefix=st.integers(min_value=21, max_value=24),
    base=st.integers(min_value=0, max_value=2**32 - 1),
    zones=st.integers(min_value=1, max_value=6),
)
def test_vpcs_without_room_for_slash_27_load_balancer_subnets_are_refused(prefix, base, zones):
    vpc = ipaddress.IPv4Network((base, prefix), strict=False)
    with pytest.raises(SubnetPlanError, match=r"allowed: /20 or larger$"):
        plan_subnets(str(vpc), [f"z{i}" for i in range(zones)])
