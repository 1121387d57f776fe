"""Where a cluster's charts and images come from: upstream, or the account's ECR in internet-free stacks.

Internet-free clusters pull charts as OCI artifacts from the account's ECR (`charts/<chart>`, pushed there before
the first deployment) and images through ECR pull-through cache rules, one per upstream registry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from components.configbase import PULL_THROUGH_UPSTREAMS, image_registry

CHART_SOURCES = {
    # chart key: (chart reference, repository or None for OCI)
    "karpenter": ("oci://public.ecr.aws/karpenter/karpenter", None),
    "keda": ("keda", "https://kedacore.github.io/charts"),
    "metrics-server": ("metrics-server", "https://kubernetes-sigs.github.io/metrics-server/"),
    "aws-load-balancer-controller": ("aws-load-balancer-controller", "https://aws.github.io/eks-charts"),
    "nvidia-device-plugin": ("nvidia-device-plugin", "https://nvidia.github.io/k8s-device-plugin"),
    # Training (components.training): Kueue publishes its chart as an OCI artifact only.
    "kueue": ("oci://registry.k8s.io/kueue/charts/kueue", None),
    "jupyterhub": ("jupyterhub", "https://hub.jupyter.org/helm-chart/"),
    "aws-efa-k8s-device-plugin": ("aws-efa-k8s-device-plugin", "https://aws.github.io/eks-charts"),
}
# The charts of private-network stacks (components/trust), installed only with private-ca or custom-ca-bundle.
TRUST_CHART_SOURCES = {
    "cert-manager": ("cert-manager", "https://charts.jetstack.io"),
    "aws-privateca-issuer": ("aws-privateca-issuer", "https://cert-manager.github.io/aws-privateca-issuer"),
    "trust-manager": ("trust-manager", "https://charts.jetstack.io"),
}

CHART_REPOSITORY_PREFIX = "charts"
# Images from a registry pull-through cache cannot reach (nvcr.io) are copied into this prefix instead.
COPIED_IMAGE_PREFIX = "copies"
# Each chart's image value, as the chart's values.yaml names it (karpenter-provider-aws charts/karpenter,
# eks-charts aws-load-balancer-controller, metrics-server charts/metrics-server, NVIDIA k8s-device-plugin
# deployments/helm), and the mirror prefix and path its image is pulled from.
CHART_IMAGES = {
    "karpenter": ("controller.image.repository", "ecr-public", "karpenter/controller"),
    "aws-load-balancer-controller": ("image.repository", "ecr-public", "eks/aws-load-balancer-controller"),
    "metrics-server": ("image.repository", "k8s", "metrics-server/metrics-server"),
    # KEDA 2.17 composes "<global.image.registry>/<image.<part>.repository>" for all three of its images.
    "keda": ("global.image.registry", "ghcr", None),
    "nvidia-device-plugin": ("image.repository", COPIED_IMAGE_PREFIX, "nvidia/k8s-device-plugin"),
}


def registry_host(account_id: str, region: str, partition: str = "aws") -> str:
    """The account's private ECR registry in a region."""
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"{account_id}.dkr.ecr.{region}.{suffix}"


def mirror_image(image: str, mirror: str | None) -> str:
    """An image through the mirror: an upstream with a pull-through rule becomes `<mirror>/<prefix>/<path>`."""
    registry = image_registry(image)
    prefixes = {upstream: prefix for prefix, upstream in PULL_THROUGH_UPSTREAMS.items()}
    if mirror is None or registry not in prefixes:
        return image
    return f"{mirror}/{prefixes[registry]}/{image[len(registry) + 1 :]}"


def chart_source(chart: str, mirror: str | None) -> tuple[str, str | None]:
    """(chart reference, Helm repository or None for OCI): upstream, or the OCI copy in the mirror registry."""
    if mirror is not None:
        return f"oci://{mirror}/{CHART_REPOSITORY_PREFIX}/{chart}", None
    return {**CHART_SOURCES, **TRUST_CHART_SOURCES}[chart]


def mirrored_values(chart: str, values: Mapping[str, Any], mirror: str | None) -> dict[str, Any]:
    """A chart's values with its images pulled through the mirror registry (unchanged without a mirror)."""
    if mirror is None or chart not in CHART_IMAGES:
        return dict(values)
    path, prefix, repository = CHART_IMAGES[chart]
    target = f"{mirror}/{prefix}" + (f"/{repository}" if repository else "")
    return _with_path(values, path.split("."), target)


def _with_path(mapping: Mapping[str, Any], keys: Sequence[str], value: Any) -> dict[str, Any]:
    head, *rest = keys
    copy = dict(mapping)
    copy[head] = _with_path(mapping.get(head) or {}, rest, value) if rest else value
    return copy
