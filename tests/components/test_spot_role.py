"""The account's Spot service-linked role, which Karpenter's spot pools need before their first launch."""

from __future__ import annotations

import copy

import pytest

from components.config import parse_platform
from tests.components.test_cluster_config import byo, error_of, prod_fixture
from tests.conftest import states

SPOT_ROLE = "aws:iam/serviceLinkedRole:ServiceLinkedRole"


def spot_pools(document: dict) -> list[dict]:
    return [
        pool
        for pool in states(document, "kubernetes:karpenter.sh/v1:NodePool")
        if {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]}
        in pool["inputs"]["spec"]["template"]["spec"]["requirements"]
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_spot_pool_launches_only_once_the_account_has_the_spot_service_linked_role(synth, stack):
    """Amazon EC2 User Guide, "Service-linked role for Spot Instance requests": EC2 launches Spot Instances with
    AWSServiceRoleForEC2Spot, and a caller of the API (Karpenter's CreateFleet) must first make sure it exists;
    without it every launch fails with AuthFailure.ServiceLinkedRoleCreationNotPermitted. One role per account
    (every region's spot pools wait for it), kept on destroy."""
    document = synth(stack)
    (role,) = states(document, SPOT_ROLE)
    assert role["inputs"]["awsServiceName"] == "spot.amazonaws.com"
    assert role["retainOnDelete"] is True
    assert role["inputs"]["tags"]["environment"] == stack
    assert role["inputs"]["tags"]["Name"] == "AWSServiceRoleForEC2Spot"
    pools = spot_pools(document)
    assert len(pools) == (3 if stack == "prod" else 1)  # prod: cpu-spot in each region, training's gpu-spot
    for pool in pools:
        assert role["urn"] in pool["dependencies"], pool["urn"]
    # On-demand pools do not wait for it.
    others = [p for p in states(document, "kubernetes:karpenter.sh/v1:NodePool") if p not in pools]
    assert others and not [p for p in others if role["urn"] in p["dependencies"]]


def test_the_spot_role_is_created_only_with_a_spot_pool_and_unless_it_exists():
    cluster = parse_platform(prod_fixture(), "f.yaml").cluster
    assert cluster.spot_service_linked_role == "create" and cluster.creates_spot_service_linked_role
    raw = copy.deepcopy(prod_fixture())
    raw["cluster"]["spot-service-linked-role"] = "exists"
    assert not parse_platform(raw, "f.yaml").cluster.creates_spot_service_linked_role
    raw = copy.deepcopy(prod_fixture())
    raw["cluster"]["node-pools"] = [p for p in raw["cluster"]["node-pools"] if p["capacity-type"] != "spot"]
    assert not parse_platform(raw, "f.yaml").cluster.creates_spot_service_linked_role


def test_the_spot_role_setting_is_refused_for_byo_clusters_and_checked():
    assert "spot-service-linked-role" in error_of(byo(**{"spot-service-linked-role": "create"}))
    raw = copy.deepcopy(prod_fixture())
    raw["cluster"]["spot-service-linked-role"] = "maybe"
    message = error_of(raw)
    assert message.endswith(
        "cluster.spot-service-linked-role: 'maybe' is not allowed; allowed: create, exists"
    )
