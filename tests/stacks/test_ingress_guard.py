"""The admission policy that keeps team Ingresses to their own hosts on the shared serving ALB.

The objects are validated with kubernetes-validate (Kubernetes 1.33 schemas), and the policy's CEL expressions
are evaluated with cel-python, an implementation of the CEL specification, against the team Ingresses the
team stacks declare and against Ingresses that would take the shared ALB over. The expressions use only CEL's
standard macros and functions (has, all, in, size, startsWith, endsWith, matches), which Kubernetes' CEL
environment includes ("Common Expression Language in Kubernetes": the standard definitions), and regular
expressions that RE2 and Python read alike.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import celpy
import kubernetes_validate
import pytest

from components.serving.ingress import DOMAIN_ANNOTATION, team_ingress_policy_spec
from tests.conftest import by_name
from tests.kube import KUBERNETES_VERSION, manifests

ALB = "alb.ingress.kubernetes.io"


def admitted(spec: dict[str, Any], ingress: dict[str, Any], namespace: dict[str, Any]) -> list[str]:
    """The messages of the validations that deny ``ingress`` in ``namespace`` (empty: admitted), evaluated as
    the API server does: the variables first, in order, then every validation over object, namespaceObject
    and variables (Kubernetes docs, "Validating Admission Policy": Variable composition)."""
    env = celpy.Environment()

    def evaluate(expression: str, activation: dict[str, Any]) -> Any:
        return env.program(env.compile(expression)).evaluate(activation)

    base = {"object": celpy.json_to_cel(ingress), "namespaceObject": celpy.json_to_cel(namespace)}
    variables: dict[str, Any] = {}
    for variable in spec["variables"]:
        variables[variable["name"]] = evaluate(
            variable["expression"], {**base, "variables": celpy.celtypes.MapType(variables)}
        )
    activation = {**base, "variables": celpy.celtypes.MapType(variables)}
    denied = []
    for validation in spec["validations"]:
        result = evaluate(validation["expression"], activation)
        assert isinstance(result, celpy.celtypes.BoolType), (validation["expression"], result)
        if not result:
            denied.append(validation["message"])
    return denied


@pytest.fixture(scope="module")
def team_objects(synth):
    team = synth("team-fraud-prod")
    namespaces = {
        region: by_name(team, f"team-fraud-{region}-ns")["inputs"] for region in ("us-east-1", "us-west-2")
    }
    ingresses = {
        region: [by_name(team, f"fraud-{m}-{region}-route")["inputs"] for m in ("embedder", "scorer")]
        for region in namespaces
    }
    return namespaces, ingresses


def test_the_policy_and_binding_are_valid_kubernetes_objects(synth):
    """ValidatingAdmissionPolicy is GA (admissionregistration.k8s.io/v1) since Kubernetes 1.30; the clusters
    run 1.33."""
    prod = synth("prod")
    guards = [
        m
        for m in manifests(prod)
        if m["kind"].startswith("ValidatingAdmissionPolicy") and m["metadata"]["name"] == "mlops-team-ingress"
    ]
    assert (
        sorted(m["kind"] for m in guards)
        == ["ValidatingAdmissionPolicy"] * 2 + ["ValidatingAdmissionPolicyBinding"] * 2
    )
    for manifest in guards:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    binding = by_name(prod, "ingress-guard-us-east-1-binding")["inputs"]["spec"]
    assert binding["validationActions"] == ["Deny"] and binding["policyName"] == "mlops-team-ingress"
    assert binding["matchResources"]["namespaceSelector"]["matchExpressions"] == [
        {
            "key": "kubernetes.io/metadata.name",
            "operator": "NotIn",
            "values": ["mlops-serving", "mlflow", "kube-system"],
        }
    ]
    policy = by_name(prod, "ingress-guard-us-east-1-policy")
    assert policy["inputs"]["spec"] == team_ingress_policy_spec("prod", "us-east-1")
    assert policy["inputs"]["spec"]["failurePolicy"] == "Fail"
    assert (
        by_name(prod, "ingress-guard-us-east-1-policy")["urn"]
        in by_name(prod, "ingress-guard-us-east-1-binding")["dependencies"]
    )


def test_the_team_namespace_names_its_team_and_domain(synth, team_objects):
    namespaces, _ = team_objects
    for namespace in namespaces.values():
        assert namespace["metadata"]["labels"]["team"] == "fraud"
        assert namespace["metadata"]["annotations"] == {DOMAIN_ANNOTATION: "models.example.com"}


def test_the_teams_own_ingresses_are_admitted(team_objects):
    namespaces, ingresses = team_objects
    for region, namespace in namespaces.items():
        for ingress in ingresses[region]:
            assert admitted(team_ingress_policy_spec("prod", region), ingress, namespace) == [], ingress[
                "metadata"
            ]["name"]


def _annotate(key: str, value: str) -> Callable[[dict], None]:
    return lambda ingress: ingress["metadata"]["annotations"].__setitem__(f"{ALB}/{key}", value)


TAKEOVERS: dict[str, Callable[[dict], None]] = {
    "another team's host": lambda i: i["spec"]["rules"][0].__setitem__(
        "host", "scorer-risk.models.example.com"
    ),
    "a host of no team": lambda i: i["spec"]["rules"][0].__setitem__("host", "api.models.example.com"),
    "a host in another zone": lambda i: i["spec"]["rules"][0].__setitem__(
        "host", "embedder-fraud.evil.example.org"
    ),
    "a host of another region": lambda i: i["spec"]["rules"][1].__setitem__(
        "host", "embedder-fraud.eu-west-1.models.example.com"
    ),
    "a rule without host": lambda i: i["spec"]["rules"][0].pop("host"),
    "the listener's default": lambda i: i["spec"].__setitem__(
        "defaultBackend", {"service": {"name": "x", "port": {"number": 80}}}
    ),
    "its own security groups": _annotate("security-groups", "sg-0123456789abcdef0"),
    "inbound CIDRs for the whole ALB": _annotate("inbound-cidrs", "0.0.0.0/0"),
    "a WAF ACL": _annotate("wafv2-acl-arn", "arn:aws:wafv2:us-east-1:1:regional/webacl/x/1"),
    "a rule order ahead of others": _annotate("group.order", "-1000"),
    "another group": _annotate("group.name", "fraud-private"),
    "an HTTP listener": _annotate("listen-ports", '[{"HTTP": 80}]'),
    "an internet-facing scheme": _annotate("scheme", "internet-facing"),
    "a weaker TLS policy": _annotate("ssl-policy", "ELBSecurityPolicy-2016-08"),
    "no listen-ports (HTTP:80 by default)": lambda i: i["metadata"]["annotations"].pop(f"{ALB}/listen-ports"),
    "another ingress class": lambda i: i["spec"].__setitem__("ingressClassName", "nginx"),
    "the legacy class annotation": lambda i: i["metadata"]["annotations"].__setitem__(
        "kubernetes.io/ingress.class", "nginx"
    ),
}


@pytest.mark.parametrize("takeover", sorted(TAKEOVERS))
def test_ingresses_that_would_take_the_shared_alb_over_are_denied(team_objects, takeover):
    namespaces, ingresses = team_objects
    ingress = copy.deepcopy(ingresses["us-east-1"][0])
    TAKEOVERS[takeover](ingress)
    assert admitted(team_ingress_policy_spec("prod", "us-east-1"), ingress, namespaces["us-east-1"]) != []


def test_an_ingress_in_a_namespace_without_a_team_is_denied(team_objects):
    namespaces, ingresses = team_objects
    bare = copy.deepcopy(namespaces["us-east-1"])
    bare["metadata"]["labels"].pop("team")
    denied = admitted(team_ingress_policy_spec("prod", "us-east-1"), ingresses["us-east-1"][0], bare)
    assert denied and "team namespaces" in denied[0]


def test_the_policy_pins_the_values_the_serving_entry_sets(synth):
    """The pinned values are the serving entry's own, so the platform's Ingress and the teams' agree."""
    entry = by_name(synth("prod"), "serving-us-east-1-ingress")["inputs"]["metadata"]["annotations"]
    spec = team_ingress_policy_spec("prod", "us-east-1")
    message = next(v["message"] for v in spec["validations"] if "group's settings with" in v["message"])
    pinned = json.loads(message.split("values: ", 1)[1])
    assert pinned == {key: entry[f"{ALB}/{key}"] for key in pinned}
    assert set(pinned) == {
        "scheme",
        "target-type",
        "listen-ports",
        "ssl-policy",
        "load-balancer-attributes",
        "load-balancer-name",
        "group.name",
    }
