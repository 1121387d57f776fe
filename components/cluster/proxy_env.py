"""The egress proxy's variables in the values of the cluster's charts that take environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Where a chart of the cluster takes extra environment variables (values.yaml at the pinned versions): Karpenter
# `controller.env` (a list of EnvVar), the load balancer controller `env` (a map), KEDA `env` (a list, all KEDA
# components). metrics-server and the NVIDIA device plugin call nothing outside the cluster.
PROXY_ENV_VALUES = {
    "karpenter": ("controller.env", "list"),
    "aws-load-balancer-controller": ("env", "map"),
    "keda": ("env", "list"),
}


def with_proxy_env(chart: str, values: Mapping[str, Any], proxy_env: Mapping[str, str]) -> dict[str, Any]:
    """A chart's values with the proxy variables where the chart takes environment variables (unchanged
    without a proxy)."""
    out = dict(values)
    if not proxy_env or chart not in PROXY_ENV_VALUES:
        return out
    path, shape = PROXY_ENV_VALUES[chart]
    env: Any = (
        [{"name": key, "value": value} for key, value in sorted(proxy_env.items())]
        if shape == "list"
        else dict(sorted(proxy_env.items()))
    )
    head, _, rest = path.partition(".")
    if rest:
        out[head] = {**dict(out.get(head) or {}), rest: env}
    else:
        out[head] = env
    return out
