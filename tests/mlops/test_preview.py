"""`mlops preview`: the offline synthesis under the SDK's mock monitor, through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from components.loader import load_yaml
from mlops.synth import UNKNOWN
from tests.conftest import REPO, STACKS, by_name, run_mlops, states

OPTION_FIELDS = {
    "protect",
    "retainOnDelete",
    "dependencies",
    "propertyDependencies",
    "ignoreChanges",
    "deleteBeforeReplace",
    "aliases",
    "additionalSecretOutputs",
    "customTimeouts",
}


def test_dev_json_document_shape(synth):
    document = synth("dev")
    assert document["changeSummary"] == {"create": len(document["steps"])}
    for step in document["steps"]:
        assert step["op"] == "create"
        state = step["newState"]
        assert step["urn"] == state["urn"]
        assert {"type", "urn", "custom", "parent", "provider", "inputs"} | OPTION_FIELDS <= set(state)
    root = [s for s in states(document) if s["parent"] == ""]
    assert [s["type"] for s in root] == ["pulumi:pulumi:Stack"]
    assert root[0]["urn"] == "urn:pulumi:dev::mlops-platform::pulumi:pulumi:Stack::mlops-platform-dev"


def test_every_resource_is_parented_and_follows_its_parent(synth):
    document = synth("prod")
    seen: set[str] = set()
    for state in states(document):
        if state["type"] != "pulumi:pulumi:Stack":
            assert state["parent"] in seen, state["urn"]
        seen.add(state["urn"])


def test_prod_has_two_regions_with_two_providers(synth):
    document = synth("prod")
    providers = states(document, "pulumi:providers:aws")
    assert sorted(p["inputs"]["region"] for p in providers) == ["us-east-1", "us-west-2"]
    assert all(json.loads(p["inputs"]["allowedAccountIds"]) == ["333333333333"] for p in providers)
    vpcs = {state["urn"].rsplit("::", 1)[-1]: state for state in states(document, "aws:ec2/vpc:Vpc")}
    assert vpcs["net-us-east-1-vpc"]["provider"].startswith(
        "urn:pulumi:prod::mlops-platform::pulumi:pulumi:Stack$pulumi:providers:aws::aws-us-east-1::"
    )
    assert vpcs["net-us-west-2-vpc"]["provider"].startswith(
        "urn:pulumi:prod::mlops-platform::pulumi:pulumi:Stack$pulumi:providers:aws::aws-us-west-2::"
    )


def test_vpc_inputs_tags_and_parent(synth):
    document = synth("prod")
    vpc = by_name(document, "net-us-west-2-vpc")
    assert vpc["inputs"]["cidrBlock"] == "10.31.0.0/16"
    assert vpc["inputs"]["enableDnsHostnames"] is True and vpc["inputs"]["enableDnsSupport"] is True
    assert vpc["inputs"]["tags"] == {
        "Name": "net-us-west-2-vpc",
        "team": "platform",
        "environment": "prod",
        "cost-center": "cc-1001",
        "data-classification": "restricted",
        "managed-by": "pulumi-mlops-platform",
    }
    assert vpc["parent"] == by_name(document, "net-us-west-2")["urn"]
    assert by_name(document, "net-us-west-2")["type"] == "mlops:network:RegionalNetwork"


def test_mock_outputs_are_deterministic_and_type_aware(synth):
    document = synth("prod")
    vpc = by_name(document, "net-us-east-1-vpc")
    assert vpc["id"].startswith("vpc-") and len(vpc["id"]) == 21
    region = document["outputs"]["regions"]["us-east-1"]
    assert (region["vpcId"], region["vpcCidr"]) == (vpc["id"], "10.30.0.0/16")
    assert document["outputs"]["accountId"] == "333333333333"
    assert document["outputs"]["primaryRegion"] == "us-east-1"


def test_preview_is_deterministic(synth):
    first = run_mlops("preview", "staging", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == synth("staging")


def test_human_output_shows_tree_and_counts():
    result = run_mlops("preview", "dev")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Previewing (offline) mlops-platform/dev"
    assert any(line.startswith(" +   pulumi:pulumi:Stack") for line in lines)
    assert any("─ aws:ec2/vpc:Vpc" in line and line.rstrip().endswith("net-us-east-1-vpc") for line in lines)
    total = next(line for line in lines if line.strip().endswith("to create"))
    count = int(total.split()[1])
    by_type = lines[lines.index("By type:") + 1 :]
    type_counts = {}
    for line in by_type:
        if not line.strip():
            break
        kind, number = line.split()
        type_counts[kind] = int(number)
    assert sum(type_counts.values()) == count
    assert type_counts["pulumi:pulumi:Stack"] == 1


def bad_stack(tmp_path: Path, mutate) -> Path:
    config = load_yaml(STACKS / "Pulumi.dev.yaml")
    mutate(config["config"])
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda c: c["mlops:platform"]["regions"][0].update({"vpc-cidrs": "10.0.0.0/16"}),
            "mlops:platform.regions[0].vpc-cidrs: unknown key; allowed: name, availability-zones, vpc-cidr",
        ),
        (
            lambda c: c.update({"mlops:platfrom": c.pop("mlops:platform")}),
            "mlops:platfrom: unknown key; allowed: mlops:platform, mlops:team",
        ),
        (
            lambda c: c["mlops:platform"].update({"log-retention-days": "forever"}),
            "mlops:platform.log-retention-days: 'forever' is not allowed; allowed: 1, 3, 5, 7, 14, 30",
        ),
        (
            lambda c: c["mlops:platform"]["regions"][0].update(
                {"availability-zones": ["us-east-1a", "us-west-2b"]}
            ),
            "mlops:platform.regions[0].availability-zones[1]: 'us-west-2b' is not an availability zone of us-east-1",
        ),
        (
            lambda c: c["mlops:platform"]["regions"][0].update({"vpc-cidr": "10.10.0.0/99"}),
            "mlops:platform.regions[0].vpc-cidr: '10.10.0.0/99' is not an IPv4 network in CIDR notation",
        ),
    ],
    ids=["nested-unknown-key", "misspelt-top-level-key", "wrong-type", "az-outside-region", "malformed-cidr"],
)
def test_bad_stack_file_exits_2_with_one_line(tmp_path, mutate, expected):
    stacks_dir = bad_stack(tmp_path, mutate)
    result = run_mlops("preview", "bad", "--stacks-dir", str(stacks_dir))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {stacks_dir}/Pulumi.bad.yaml: {expected}")
    assert "Traceback" not in result.stderr


def test_unknown_stack_lists_stacks():
    result = run_mlops("preview", "qa")
    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        "stacks: dev, prod, staging, team-fraud-dev, team-fraud-prod, team-recsys-prod"
    )
    assert result.stderr.count("\n") == 1


def test_debug_shows_traceback(tmp_path):
    stacks_dir = bad_stack(tmp_path, lambda c: c["mlops:platform"].update({"nat": "lots"}))
    result = run_mlops("--debug", "preview", "bad", "--stacks-dir", str(stacks_dir))
    assert result.returncode == 2
    assert "Traceback" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("error: ")


def test_program_exception_names_the_resource(tmp_path):
    program = tmp_path / "program.py"
    program.write_text(
        textwrap.dedent("""
        import pulumi
        import pulumi_aws as aws

        class Broken(pulumi.ComponentResource):
            def __init__(self, name):
                super().__init__("mlops:test:Broken", name, None, None)
                aws.ec2.Vpc(f"{name}-vpc", cidr_block="10.0.0.0/16", opts=pulumi.ResourceOptions(parent=self))
                raise KeyError("subnet-plan")

        Broken("edge")
    """)
    )
    code = (
        "from pathlib import Path; from mlops.synth import synthesize, ProgramError\n"
        "try:\n"
        f"    synthesize('dev', Path({str(STACKS)!r}), Path({str(program)!r}))\n"
        "except ProgramError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.stdout.strip() == "error while building mlops:test:Broken 'edge': KeyError: 'subnet-plan'"


LOOKUP_PROGRAM = REPO / "tests" / "fixtures" / "lookup_program" / "__main__.py"


def _lookup_synth(*flags: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlops.synth", *flags, "dev", str(STACKS), str(LOOKUP_PROGRAM)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_a_lookup_that_depends_on_a_resource_being_created_is_unknown_in_a_preview():
    """The engine gates invokes on their dependencies and answers one whose dependencies are pending creation
    with an unknown result (pulumi sdk/python pulumi/runtime/invoke.py, ResourceInvokeResponse.unknown); in a
    preview of a new stack every resource is pending creation. Invokes are recorded with their arguments."""
    fresh = _lookup_synth()
    assert fresh.returncode == 0, fresh.stderr
    document = json.loads(fresh.stdout)
    assert document["outputs"]["afterIngress"] == UNKNOWN
    by_token = {i["token"]: i for i in document["invokes"]}
    lookup = by_token["aws:lb/getLoadBalancer:getLoadBalancer"]
    assert (lookup["args"], lookup["result"]) == ({"name": "lb-a"}, "unknown")
    assert lookup["pendingDependencies"] == [
        "urn:pulumi:dev::mlops-platform::pulumi:pulumi:Stack$kubernetes:networking.k8s.io/v1:Ingress::entry"
    ]
    # An AWS-published list depends on nothing of the run: answered.
    assert by_token["aws:ec2/getPrefixList:getPrefixList"]["result"] == "known"
    assert document["outputs"]["prefixList"].startswith("pl-")
    deployed = json.loads(_lookup_synth("--deployed").stdout)
    assert deployed["outputs"]["afterIngress"].startswith("internal-lb-a-")
    assert deployed["outputs"]["afterIngress"].endswith(".us-east-1.elb.amazonaws.com")


def test_a_lookup_of_what_nobody_creates_fails_as_it_would_live():
    result = _lookup_synth("--deployed", env={"LOOKUP_PROGRAM_MISSING": "1"})
    assert result.returncode == 2
    assert "Search returned 0 results: no load balancer 'lb-nobody-makes' in us-east-1" in result.stderr
