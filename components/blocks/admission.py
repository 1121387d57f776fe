"""A ValidatingAdmissionPolicy from its spec as a plain dict (the form the tests evaluate with CEL and validate
with kubernetes-validate): the team-Ingress guard and the team-namespace guard share it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi_kubernetes as k8s


def admission_policy_args(
    name: str, labels: Mapping[str, str], spec: Mapping[str, Any]
) -> k8s.admissionregistration.v1.ValidatingAdmissionPolicyInitArgs:
    """The typed arguments of a ValidatingAdmissionPolicy named ``name`` whose spec (one resource rule, its
    variables and validations) is ``spec``."""
    admission = k8s.admissionregistration.v1
    [rule] = spec["matchConstraints"]["resourceRules"]
    return admission.ValidatingAdmissionPolicyInitArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, labels=dict(labels)),
        spec=admission.ValidatingAdmissionPolicySpecArgs(
            failure_policy=spec["failurePolicy"],
            match_constraints=admission.MatchResourcesArgs(
                resource_rules=[
                    admission.NamedRuleWithOperationsArgs(
                        api_groups=rule["apiGroups"],
                        api_versions=rule["apiVersions"],
                        operations=rule["operations"],
                        resources=rule["resources"],
                    )
                ]
            ),
            variables=[admission.VariableArgs(**v) for v in spec["variables"]],
            validations=[admission.ValidationArgs(**v) for v in spec["validations"]],
        ),
    )
