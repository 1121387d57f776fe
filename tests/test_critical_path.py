"""The critical-path benchmark's scheduling model (benchmarks/critical_path.py), on small hand-made graphs.

Pulumi creates a resource once its dependencies exist; a child registers once its parent has; a component
registers once its own dependencies exist, so `depends_on` on a component delays every child.
"""

from __future__ import annotations

import importlib.util
import sys

from tests.conftest import REPO

spec = importlib.util.spec_from_file_location("critical_path", REPO / "benchmarks" / "critical_path.py")
critical_path = importlib.util.module_from_spec(spec)
sys.modules["critical_path"] = critical_path
spec.loader.exec_module(critical_path)


def step(urn, type_="aws:x/y:Y", custom=True, parent="", deps=(), provider=""):
    return {
        "newState": {
            "urn": urn,
            "type": type_,
            "custom": custom,
            "parent": parent,
            "dependencies": list(deps),
            "provider": provider,
            "inputs": {},
        }
    }


def minutes(table):
    return lambda state: table.get(state["urn"], 0.0)


def test_a_chain_of_dependencies_adds_up():
    doc = {"steps": [step("a"), step("b", deps=["a"]), step("c", deps=["b"]), step("d", deps=["a"])]}
    timings = critical_path.schedule(doc, minutes({"a": 1, "b": 2, "c": 3, "d": 10}))
    assert (timings["c"].start, timings["c"].finish) == (3, 6)
    assert [t.urn for t in critical_path.critical_path(timings)] == ["a", "d"]


def test_depends_on_a_component_delays_its_children():
    doc = {
        "steps": [
            step("net", deps=[]),
            step("comp", type_="mlops:x:C", custom=False, deps=["net"]),
            step("child", parent="comp"),
        ]
    }
    timings = critical_path.schedule(doc, minutes({"net": 5, "child": 1}))
    assert timings["comp"].start == 5 and timings["child"].start == 5 and timings["child"].finish == 6


def test_resources_wait_for_their_provider():
    doc = {
        "steps": [
            step("cluster"),
            step("k8s", type_="pulumi:providers:kubernetes", deps=["cluster"]),
            step("ns", provider="k8s::id"),
        ]
    }
    timings = critical_path.schedule(doc, minutes({"cluster": 15, "ns": 0.1}))
    assert timings["ns"].start == 15


def test_create_minutes_distinguish_single_az_databases_and_gateway_endpoints():
    rds = {"type": "aws:rds/instance:Instance", "custom": True, "inputs": {"multiAz": True}}
    assert critical_path.create_minutes(rds) == critical_path.CREATE_MINUTES["aws:rds/instance:Instance"][0]
    assert critical_path.create_minutes({**rds, "inputs": {}}) == critical_path.SINGLE_AZ_DATABASE_MINUTES
    gateway = {
        "type": "aws:ec2/vpcEndpoint:VpcEndpoint",
        "custom": True,
        "inputs": {"vpcEndpointType": "Gateway"},
    }
    assert critical_path.create_minutes(gateway) == critical_path.GATEWAY_ENDPOINT_MINUTES
    assert critical_path.create_minutes({"type": "mlops:x:C", "custom": False}) == 0.0


def test_unavoidable_chain_only_for_stacks_with_a_cluster():
    assert critical_path.unavoidable_minutes({"steps": [step("v", type_="aws:ec2/vpc:Vpc")]}) is None
    doc = {
        "steps": [step("e", type_="aws:eks/cluster:Cluster"), step("n", type_="aws:eks/nodeGroup:NodeGroup")]
    }
    table = critical_path.CREATE_MINUTES
    assert (
        critical_path.unavoidable_minutes(doc)
        == table["aws:eks/cluster:Cluster"][0] + table["aws:eks/nodeGroup:NodeGroup"][0]
    )
