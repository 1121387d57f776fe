"""The operations the team Ingress admission policy intercepts, read from the previews by value.

A ValidatingAdmissionPolicy is evaluated only for the operations its ``matchConstraints.resourceRules`` name
(Kubernetes API reference, ValidatingAdmissionPolicy v1, NamedRuleWithOperations.operations: "CREATE, UPDATE,
DELETE, CONNECT or * for all";
https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/validating-admission-policy-v1/). An
Ingress takes hosts and the shared load balancer's annotations when it is created and when it is updated, so the
guard must intercept both: a rule naming only CREATE would let a team rewrite an admitted Ingress's hosts.
"""

from __future__ import annotations

import pytest

from tests.conftest import states

POLICY = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
EXPECTED = {
    "resourceRules": [
        {
            "apiGroups": ["networking.k8s.io"],
            "apiVersions": ["v1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["ingresses"],
        }
    ]
}


@pytest.mark.parametrize(("stack", "regions"), [("prod", 2), ("staging", 1), ("dev", 1)])
def test_the_ingress_guard_intercepts_creates_and_updates_of_ingresses(synth, stack, regions):
    policies = [
        p for p in states(synth(stack), POLICY) if p["inputs"]["metadata"]["name"] == "mlops-team-ingress"
    ]
    assert len(policies) == regions
    for policy in policies:
        spec = policy["inputs"]["spec"]
        assert spec["matchConstraints"] == EXPECTED
        assert spec["failurePolicy"] == "Fail"
