"""The AWS Load Balancer Controller's policy: a scoped subset of the upstream iam_policy.json, kept as data.

``aws-load-balancer-controller-v2.13.2.json`` beside this module is the document, with ``${Partition}``,
``${Region}``, ``${AccountId}`` and ``${VpcId}`` where the stack's values go. It follows the condition model of
the upstream policy (kubernetes-sigs/aws-load-balancer-controller v2.13.2, docs/install/iam_policy.json, the app
version of chart 1.13.2): the controller may change only security groups, balancers and target groups that carry
its `elbv2.k8s.aws/cluster` tag (request tag on create, resource tag afterwards); it retags its own security
groups but never removes or moves the cluster tag itself (`RetagOwnSecurityGroups`). Where upstream grants
ingress rules on every security group ("*") -- the controller opens the nodes' (cluster) security group, which is
not its own, to its balancers -- this policy limits them to security groups of this VPC, with an ARN operator on
the ARN-typed `ec2:Vpc` key (`OpenBackendSecurityGroupsInVpc`). Left out on purpose (the chart disables them):
WAF, WAFv2 and Shield integration, and Cognito. tests/components/test_controller_policies.py lists every
difference from the upstream document.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

UPSTREAM_VERSION = "v2.13.2"
DOCUMENT = Path(__file__).with_name(f"aws-load-balancer-controller-{UPSTREAM_VERSION}.json")


@cache
def _template() -> str:
    return DOCUMENT.read_text()


def load_balancer_controller_policy(
    *, partition: str, region: str, account_id: str, vpc_id: str
) -> dict[str, Any]:
    """The controller's policy in this partition, region, account and VPC."""
    values = {"Partition": partition, "Region": region, "AccountId": account_id, "VpcId": vpc_id}
    return _substitute(json.loads(_template()), values)


def _substitute(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, str):
        for key, value in values.items():
            node = node.replace(f"${{{key}}}", value)
        return node
    if isinstance(node, list):
        return [_substitute(item, values) for item in node]
    if isinstance(node, dict):
        return {key: _substitute(item, values) for key, item in node.items()}
    return node
