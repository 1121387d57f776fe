"""`mlops graph` and `mlops schema`."""

from __future__ import annotations

import json

from mlops.graph import component_graph, render_graph
from tests.conftest import run_mlops

STACK = "urn:pulumi:t::p::pulumi:pulumi:Stack::p-t"


def state(kind: str, name: str, parent: str, custom: bool, deps=(), prop_deps=None) -> dict:
    return {
        "newState": {
            "type": kind,
            "urn": f"urn:pulumi:t::p::{kind}::{name}",
            "custom": custom,
            "parent": parent,
            "provider": "",
            "inputs": {},
            "dependencies": list(deps),
            "propertyDependencies": prop_deps or {},
        }
    }


def sample() -> dict:
    stack = {"newState": {**state("pulumi:pulumi:Stack", "p-t", "", False)["newState"], "urn": STACK}}
    keys = state("mlops:encryption:KeyRing", "keys", STACK, False)
    key = state("aws:kms/key:Key", "keys-logs", keys["newState"]["urn"], True)
    net = state("mlops:network:RegionalNetwork", "net", STACK, False)
    vpc = state("aws:ec2/vpc:Vpc", "net-vpc", net["newState"]["urn"], True)
    group = state(
        "aws:cloudwatch/logGroup:LogGroup",
        "net-flow",
        net["newState"]["urn"],
        True,
        prop_deps={"kmsKeyId": [key["newState"]["urn"]]},
    )
    log = state(
        "aws:ec2/flowLog:FlowLog",
        "net-fl",
        net["newState"]["urn"],
        True,
        deps=[key["newState"]["urn"], vpc["newState"]["urn"]],
    )
    return {"project": "p", "stack": "t", "steps": [stack, keys, key, net, vpc, group, log]}


def test_component_graph_counts_resources_and_cross_links():
    graph = component_graph(sample())
    net = "urn:pulumi:t::p::mlops:network:RegionalNetwork::net"
    keys = "urn:pulumi:t::p::mlops:encryption:KeyRing::keys"
    assert graph.nodes[net] == "net\nmlops:network:RegionalNetwork\n3 resources"
    assert graph.nodes[keys] == "keys\nmlops:encryption:KeyRing\n1 resource"
    assert sorted(graph.tree) == sorted([(STACK, net), (STACK, keys)])
    # The log group and the flow log both reach into the key ring; the VPC link stays inside `net`.
    assert graph.links == {(net, keys): 2}


def test_mermaid_and_dot_render_the_same_graph():
    mermaid = render_graph(sample(), "mermaid").splitlines()
    assert mermaid[0] == "flowchart LR"
    assert '  n2["net<br/>mlops:network:RegionalNetwork<br/>3 resources"]' in mermaid
    assert '  n2 -. "2" .-> n1' in mermaid
    dot = render_graph(sample(), "dot")
    assert dot.startswith('digraph "p/t" {')
    assert '  n2 -> n1 [style=dashed, label="2"];' in dot
    assert dot.rstrip().endswith("}")


def test_graph_command_on_prod(synth, tmp_path):
    saved = tmp_path / "prod.json"
    saved.write_text(json.dumps(synth("prod")))
    result = run_mlops("graph", "prod", "--from", str(saved))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("flowchart LR\n")
    assert '["net-us-west-2<br/>mlops:network:RegionalNetwork<br/>' in result.stdout


def test_graph_rejects_unknown_format():
    result = run_mlops("graph", "prod", "--format", "svg")
    assert result.returncode == 2
    assert result.stderr == "error: --format: 'svg' is not a format; allowed: mermaid, dot\n"


def test_graph_from_unreadable_document(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{")
    result = run_mlops("graph", "prod", "--from", str(bad))
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {bad}: line 1: not valid JSON: Expecting property name enclosed in double quotes at column 2 "
        "(the file ends early: truncated?)\n"
    )


def test_schema_writes_the_model_schema(tmp_path):
    target = tmp_path / "schema.json"
    result = run_mlops("schema", "--output", str(target))
    assert result.returncode == 0, result.stderr
    schema = json.loads(target.read_text())
    platform = schema["$defs"]["PlatformConfig"]
    assert schema["properties"]["config"]["properties"]["mlops:platform"] == {
        "$ref": "#/$defs/PlatformConfig"
    }
    assert platform["additionalProperties"] is False
    assert platform["properties"]["nat"]["enum"] == ["none", "single", "one-per-az"]
    region = schema["$defs"]["RegionConfig"]
    assert set(region["properties"]) == {"name", "availability-zones", "vpc-cidr"}


def test_schema_accepts_shipped_stacks_and_rejects_typos():
    import jsonschema

    from components.loader import load_yaml
    from tests.conftest import STACKS

    result = run_mlops("schema")
    schema = json.loads(result.stdout)
    for path in STACKS.glob("Pulumi.*.yaml"):
        jsonschema.validate(load_yaml(path), schema)
    broken = load_yaml(STACKS / "Pulumi.dev.yaml")
    broken["config"]["mlops:platform"]["natt"] = "single"
    try:
        jsonschema.validate(broken, schema)
    except jsonschema.ValidationError as exc:
        assert "natt" in exc.message
    else:
        raise AssertionError("a misspelt key passed the schema")
