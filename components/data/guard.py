"""The admission policy that keeps namespaces named like team namespaces (``team-*``) to the platform.

The data policies trust the EKS Pod Identity session tag ``kubernetes-namespace``: a pod in ``team-fraud``
reaches ``teams/fraud/``. So only the identities that run the platform's and the teams' stacks (the cluster's
admin roles: the deployer) may create or change a ``team-*`` namespace. Their Kubernetes user name is the one
EKS gives an access entry of an IAM role by default: ``arn:<partition>:sts::<account>:assumed-role/<role
name>/{{SessionName}}``, the role's path removed (Amazon EKS User Guide, "Set a custom username for EKS access
entries").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.base import child_opts
from components.blocks.admission import admission_policy_args

GUARD_NAME = "mlops-team-namespaces"
TEAM_NAMESPACE_PREFIX = "team-"


def session_user_prefix(role_arn: str) -> str:
    """``arn:aws:iam::1:role/path/name`` -> ``arn:aws:sts::1:assumed-role/name/`` (EKS's default user name of an
    IAM role's access entry, without the session name)."""
    head, _, resource = role_arn.partition(":role/")
    partition, account = head.split(":")[1], head.split(":")[4]
    return f"arn:{partition}:sts::{account}:assumed-role/{resource.rsplit('/', 1)[-1]}/"


def namespace_policy_spec(admin_role_arns: Sequence[str]) -> dict[str, Any]:
    """The policy: a namespace named ``team-*`` is created or updated only by one of ``admin_role_arns``."""
    prefixes = "[" + ", ".join(json.dumps(session_user_prefix(arn)) for arn in admin_role_arns) + "]"
    return {
        "failurePolicy": "Fail",
        "matchConstraints": {
            "resourceRules": [
                {
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE", "UPDATE"],
                    "resources": ["namespaces"],
                }
            ]
        },
        "variables": [
            {
                "name": "platform",
                "expression": f"{prefixes}.exists(p, request.userInfo.username.startsWith(p))",
            }
        ],
        "validations": [
            {
                "expression": f"!object.metadata.name.startsWith('{TEAM_NAMESPACE_PREFIX}') || variables.platform",
                "message": "namespaces named team-* are created and changed only by the platform's deployer "
                "(a team's data access follows its namespace's name)",
            }
        ],
    }


class TeamNamespaceGuard(pulumi.ComponentResource):
    """The ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1, GA since Kubernetes 1.30) and its binding
    (Deny) on one cluster. Attributes: ``policy``, ``binding``."""

    def __init__(
        self,
        name: str,
        admin_role_arns: Sequence[str],
        k8s_provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlops:data:TeamNamespaceGuard", name, None, opts)
        admission = k8s.admissionregistration.v1
        labels = {"app.kubernetes.io/managed-by": "pulumi"}
        spec = namespace_policy_spec(admin_role_arns)
        self.policy = admission.ValidatingAdmissionPolicy(
            f"{name}-policy",
            admission_policy_args(GUARD_NAME, labels, spec),
            opts=child_opts(self, provider=k8s_provider),
        )
        self.binding = admission.ValidatingAdmissionPolicyBinding(
            f"{name}-binding",
            admission.ValidatingAdmissionPolicyBindingInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(name=GUARD_NAME, labels=labels),
                spec=admission.ValidatingAdmissionPolicyBindingSpecArgs(
                    policy_name=GUARD_NAME, validation_actions=["Deny"]
                ),
            ),
            opts=child_opts(self, provider=k8s_provider, depends_on=[self.policy]),
        )
        self.register_outputs({"policy": GUARD_NAME})
