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
    }


def test_too_small_vpc_is_refused():
    with pytest.raises(
        SubnetPlanError,
        match=r"10.0.0.0/23 is too small for 3 tiers of subnets in 2 zones; allowed: /22 or larger",
    ):
        plan_subnets("10.0.0.0/23", ["a", "b"])


@given(
    prefix=st.integers(min_value=16, max_value=22),
    base=st.integers(min_value=0, max_value=2**32 - 1),
    zones=st.integers(min_value=1, max_value=6),
)
def test_subnets_never_overlap_and_fit(prefix, base, zones):
    vpc = ipaddress.IPv4Network((base, prefix), strict=False)
    plan = plan_subnets(str(vpc), [f"z{i}" for i in range(zones)])
    subnets = [ipaddress.IPv4Network(cidr) for tier in plan.values() for _, cidr in tier]
    assert len(subnets) == 3 * zones
    for index, subnet in enumerate(subnets):
        assert subnet.subnet_of(vpc)
        assert subnet.prefixlen <= 28
        for other in subnets[index + 1 :]:
            assert not subnet.overlaps(other)
