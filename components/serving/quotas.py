"""The quotas of one Application Load Balancer, and what a region's team Ingresses need of them (pure: no
Pulumi import, so `mlops team validate` checks them without loading the SDKs)."""

from __future__ import annotations

from collections.abc import Sequence

# Fixed quotas of one Application Load Balancer ("Quotas for your Application Load Balancers", ELB User Guide):
# (default, adjustable). Target groups per ALB cannot be raised; the others can, through Service Quotas.
ALB_QUOTAS: dict[str, tuple[int, bool]] = {
    "target groups": (100, False),
    "rules": (100, True),  # excluding the default rule
    "certificates": (25, True),  # excluding the default certificate
    "targets": (1000, True),
}


def serving_alb_usage(
    models: Sequence[tuple[int, int, str]], platform_certificate: str | None
) -> dict[str, int]:
    """What the Ingresses of a region's serving ALB need of its quotas (pure).

    ``models``: per model served in the region, (its versions, its max-replicas, its certificate ARN). Each
    version is a target group holding up to max-replicas IP targets; each model's Ingress has two hosts
    (routed and regional name) with two paths each (`/metrics`, answered 404, and `/`), each (host, path) a
    listener rule; each certificate other than the listener's default (the platform's, or the first when the
    platform has none) counts.
    """
    certificates = {certificate for _, _, certificate in models}
    default = (
        platform_certificate if platform_certificate is not None else next(iter(sorted(certificates)), None)
    )
    return {
        "target groups": sum(versions for versions, _, _ in models),
        "rules": 4 * len(models),
        "certificates": len(certificates - {default}),
        "targets": sum(versions * replicas for versions, replicas, _ in models),
    }


def quota_excess(usage: dict[str, int]) -> list[str]:
    """The quotas ``usage`` exceeds, each as one phrase."""
    return [
        f"{usage[name]} {name} (quota {limit} per ALB, {'adjustable in Service Quotas' if adjustable else 'not adjustable'})"
        for name, (limit, adjustable) in ALB_QUOTAS.items()
        if usage[name] > limit
    ]
