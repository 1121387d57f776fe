"""Model target groups are the team stack's own: nothing depends on what the load balancer controller makes.

The controller registers pods in them through TargetGroupBindings, validated against a closed JSON Schema
generated from the upstream CRD of the controller version the stacks pin
(tests/schemas/aws-load-balancer-controller-v2.13.2.json, see its $comment). An update that adds a version
to an existing model is modelled by previewing the changed team stack: its new target group is a resource of
the stack like the others, so no step waits on the controller or looks anything up.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml

from components.cluster.policies.load_balancer_controller import load_balancer_controller_policy
from tests.conftest import STACKS, by_name, run_mlops, states
from tests.iam_eval import decision
from tests.kube import manifests

SCHEMA = json.loads(
    (
        Path(__file__).resolve().parents[1] / "schemas" / "aws-load-balancer-controller-v2.13.2.json"
    ).read_text()
)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
TEAM_STACKS = ("team-fraud-prod", "team-fraud-dev")


def bindings(document):
    return [m for m in manifests(document) if m["kind"] == "TargetGroupBinding"]


def test_the_schema_is_from_the_pinned_controller_release():
    """Chart 1.13.2 of aws-load-balancer-controller ships app version v2.13.2 (its Chart.yaml appVersion)."""
    pinned = {
        yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())["config"]["mlops:platform"]["cluster"][
            "charts"
        ]["aws-load-balancer-controller"]
        for stack in ("dev", "staging", "prod")
    }
    assert pinned == {"1.13.2"}
    assert "kubernetes-sigs/aws-load-balancer-controller v2.13.2" in SCHEMA["$comment"]


@pytest.mark.parametrize("stack", TEAM_STACKS)
def test_every_target_group_binding_matches_the_upstream_crd(synth, stack):
    objects = bindings(synth(stack))
    assert objects
    for manifest in objects:
        errors = [error.message for error in VALIDATOR.iter_errors(manifest)]
        assert errors == [], f"{manifest['metadata']['name']}: {errors}"
    broken = copy.deepcopy(objects[0])
    broken["spec"]["targetGroupArn"] = broken["spec"].pop("targetGroupARN")
    assert not VALIDATOR.is_valid(broken)


@pytest.mark.parametrize("stack", TEAM_STACKS)
def test_team_stacks_look_nothing_up(synth, stack):
    """No invoke at all: every id a team stack needs is its own resource's or its platform's contract."""
    assert synth(stack)["invokes"] == []


def test_each_version_has_its_own_target_group_bound_to_its_service(synth):
    """Pulumi's target group carries what the controller would otherwise set: IP targets in the serving VPC,
    HTTP on the model's port and a health check on the model's readiness path."""
    team, platform = synth("team-fraud-prod"), synth("prod", deployed=True)
    for region in ("us-east-1", "us-west-2"):
        region_outputs = platform["outputs"]["regions"][region]
        for model, version in (("embedder", "v1"), ("embedder", "v2"), ("scorer", "v3")):
            group = by_name(team, f"fraud-{model}-{region}-{version}-tg")
            assert group["provider"].startswith(by_name(team, f"aws-{region}")["urn"])
            inputs = group["inputs"]
            assert (inputs["targetType"], inputs["protocol"], inputs["port"]) == ("ip", "HTTP", 8080)
            assert inputs["vpcId"] == region_outputs["vpcId"]
            deployment = by_name(team, f"fraud-{model}-{region}-{version}")["inputs"]
            [container] = deployment["spec"]["template"]["spec"]["containers"]
            assert inputs["healthCheck"]["path"] == container["readinessProbe"]["httpGet"]["path"]
            assert inputs["healthCheck"]["port"] == "traffic-port"
            assert inputs["tags"]["team"] == "fraud" and inputs["tags"]["version"] == version
            binding = by_name(team, f"fraud-{model}-{region}-{version}-tgb")
            assert binding["inputs"]["spec"]["serviceRef"] == {"name": f"{model}-{version}", "port": 8080}
            assert binding["inputs"]["spec"]["targetGroupARN"] == group["id"]
            assert binding["inputs"]["spec"]["vpcID"] == region_outputs["vpcId"]
            # Destroy order: the binding (the controller deregisters its targets) goes before the target group.
            assert group["urn"] in binding["dependencies"]
            assert binding["inputs"]["metadata"]["name"] == inputs["name"]


def test_a_target_group_replaced_by_a_new_port_or_vpc_gets_a_new_binding():
    """spec.targetGroupARN and spec.vpcID of a TargetGroupBinding are immutable (aws-load-balancer-controller
    v2.13.2, webhooks/elbv2/targetgroupbinding_validator.go, checkImmutableFields): a binding named as its target
    group is replaced with it, never updated to another ARN."""
    from components.serving.deployment import target_group_name

    base = target_group_name("fraud", "scorer", "v3", 8080, "vpc-1")
    assert target_group_name("fraud", "scorer", "v3", 9090, "vpc-1") != base
    assert target_group_name("fraud", "scorer", "v3", 8080, "vpc-2") != base
    assert target_group_name("fraud", "scorer", "v3", 8080, "vpc-1") == base


def test_the_binding_opens_the_model_port_to_the_vpc_as_the_network_policy_does(synth):
    """Without `networking` the controller manages no security-group rule for a binding
    (aws-load-balancer-controller v2.13.2 pkg/targetgroupbinding/networking_manager.go); the ALB's nodes are
    in the VPC, which the namespace's NetworkPolicy admits on the model ports."""
    team = synth("team-fraud-prod")
    for region in ("us-east-1", "us-west-2"):
        allow = by_name(team, f"team-fraud-{region}-netpol-allow-ingress-from-vpc")["inputs"]["spec"][
            "ingress"
        ][0]
        cidr = allow["from"][0]["ipBlock"]["cidr"]
        binding = by_name(team, f"fraud-scorer-{region}-v3-tgb")["inputs"]["spec"]
        assert binding["networking"] == {
            "ingress": [{"from": [{"ipBlock": {"cidr": cidr}}], "ports": [{"port": 8080, "protocol": "TCP"}]}]
        }
        assert {"port": 8080, "protocol": "TCP"} in allow["ports"]


def test_the_ingress_forwards_to_the_target_groups_and_goes_first_on_destroy(synth):
    team = synth("team-fraud-prod")
    route = by_name(team, "fraud-embedder-us-east-1-route")
    action = json.loads(
        route["inputs"]["metadata"]["annotations"]["alb.ingress.kubernetes.io/actions.weighted"]
    )
    groups = [by_name(team, f"fraud-embedder-us-east-1-{v}-tg") for v in ("v1", "v2")]
    assert [g["targetGroupARN"] for g in action["forwardConfig"]["targetGroups"]] == [g["id"] for g in groups]
    # No controller-made target group, so no health-check annotation that would configure one.
    assert "alb.ingress.kubernetes.io/healthcheck-path" not in route["inputs"]["metadata"]["annotations"]
    for version in ("v1", "v2"):
        assert by_name(team, f"fraud-embedder-us-east-1-{version}-tgb")["urn"] in route["dependencies"]
    assert {g["urn"] for g in groups} <= set(route["dependencies"])


def test_adding_a_version_to_an_existing_model_needs_nothing_from_the_controller(tmp_path):
    """The update that broke a lookup-based design: a version added to a deployed model. Its target group
    is created by the same update, and its alarm names it directly."""
    for path in STACKS.glob("Pulumi.*.yaml"):
        shutil.copy(path, tmp_path)
    file = tmp_path / "Pulumi.team-fraud-prod.yaml"
    document = yaml.safe_load(file.read_text())
    embedder = next(m for m in document["config"]["mlops:team"]["models"] if m["name"] == "embedder")
    embedder["versions"][0]["weight"] = 80
    embedder["versions"].append({**embedder["versions"][1], "name": "v3", "weight": 10})
    document["config"]["mlops:team"]["quotas"]["gpus"] = 48
    document["config"]["mlops:team"]["quotas"]["pods"] = 400
    file.write_text(yaml.safe_dump(document))
    result = run_mlops("preview", "team-fraud-prod", "--json", "--stacks-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    updated = json.loads(result.stdout)
    assert updated["invokes"] == []
    for region in ("us-east-1", "us-west-2"):
        group = by_name(updated, f"fraud-embedder-{region}-v3-tg")
        alarm = by_name(updated, f"fraud-embedder-{region}-dns-v3-healthy")
        assert alarm["inputs"]["dimensions"]["TargetGroup"] == group["id"].split(":", 5)[5]
        assert group["urn"] in alarm["dependencies"]
        route = by_name(updated, f"fraud-embedder-{region}-route")
        action = json.loads(
            route["inputs"]["metadata"]["annotations"]["alb.ingress.kubernetes.io/actions.weighted"]
        )
        assert [g["weight"] for g in action["forwardConfig"]["targetGroups"]] == [80, 10, 10]
        assert action["forwardConfig"]["targetGroups"][2]["targetGroupARN"] == group["id"]
    assert len(states(updated, "aws:lb/targetGroup:TargetGroup")) == 8


def test_the_controller_registers_targets_in_target_groups_it_did_not_create(synth):
    """The controller's policy (aws-load-balancer-controller v2.13.2 docs/install/iam_policy.json) grants
    RegisterTargets/DeregisterTargets on every target group without a tag condition, while modifying or
    deleting one needs its `elbv2.k8s.aws/cluster` tag. The team's target groups carry neither that tag nor
    `ingress.k8s.aws/stack` (the tags the controller finds its own resources by, annotations.md "Rename
    behavior"), so the controller registers pods in them but never changes or deletes them."""
    policy = load_balancer_controller_policy(
        partition="aws", region="us-east-1", account_id="333333333333", vpc_id="vpc-1"
    )["Statement"]
    arn = "arn:aws:elasticloadbalancing:us-east-1:333333333333:targetgroup/fraud-scorer-v3-1a2b3c4d/0123456789abcdef"
    for action in ("elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"):
        assert decision(policy, action, arn) == "Allow"
    for action in ("elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:ModifyTargetGroup"):
        assert decision(policy, action, arn) == "ImplicitDeny"
    for group in states(synth("team-fraud-prod"), "aws:lb/targetGroup:TargetGroup"):
        assert not {"elbv2.k8s.aws/cluster", "ingress.k8s.aws/stack"} & set(group["inputs"]["tags"])
