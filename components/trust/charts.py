"""The values of the trust charts (cert-manager, the AWS Private CA issuer, trust-manager) and the proxy values
of the cluster's other charts, each read from the chart's values.yaml at the pinned version (tests/data/charts)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.cluster.charts import hardened_container, resources

CERT_MANAGER_NAMESPACE = "cert-manager"
CERT_MANAGER_SERVICE_ACCOUNT = "cert-manager"
PCA_ISSUER_SERVICE_ACCOUNT = "aws-privateca-issuer"
# Images of the trust charts (values.yaml defaults at the pinned versions). quay.io has no pull-through rule
# here, so internet-free clusters pull these from copies in the account's ECR (`copies/jetstack/...`); the issuer
# from ECR Public comes through the `ecr-public` rule.
CERT_MANAGER_IMAGES = {
    "image": "jetstack/cert-manager-controller",
    "webhook.image": "jetstack/cert-manager-webhook",
    "cainjector.image": "jetstack/cert-manager-cainjector",
    "acmesolver.image": "jetstack/cert-manager-acmesolver",
    "startupapicheck.image": "jetstack/cert-manager-startupapicheck",
}
TRUST_MANAGER_IMAGES = {
    "image": "jetstack/trust-manager",
    "defaultPackageImage": "jetstack/trust-pkg-debian-bookworm",
}
PCA_ISSUER_IMAGE = "k1n1h4h4/cert-manager-aws-privateca-issuer"


def _set(values: dict[str, Any], path: str, value: Any) -> None:
    *heads, last = path.split(".")
    node = values
    for head in heads:
        node = node.setdefault(head, {})
    node[last] = value


def _mirrored(
    values: dict[str, Any], images: Mapping[str, str], mirror: str | None, prefix: str
) -> dict[str, Any]:
    if mirror is not None:
        for path, repository in images.items():
            _set(values, f"{path}.repository", f"{mirror}/{prefix}/{repository}")
    return values


def cert_manager_values(proxy_env: Mapping[str, str], mirror: str | None) -> dict[str, Any]:
    """cert-manager with its CRDs (crds.enabled, kept on uninstall), two controllers and a disruption budget;
    the proxy through the chart's `http_proxy`/`https_proxy`/`no_proxy` values (templates/deployment.yaml)."""
    values: dict[str, Any] = {
        "crds": {"enabled": True, "keep": True},
        "replicaCount": 2,
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        "resources": resources("50m", "128Mi", "500m", "512Mi"),
        "webhook": {"replicaCount": 2, "podDisruptionBudget": {"enabled": True, "minAvailable": 1}},
        "cainjector": {"replicaCount": 2, "podDisruptionBudget": {"enabled": True, "minAvailable": 1}},
    }
    if proxy_env:
        values.update(
            {
                "http_proxy": proxy_env["HTTP_PROXY"],
                "https_proxy": proxy_env["HTTPS_PROXY"],
                "no_proxy": proxy_env["NO_PROXY"],
            }
        )
    return _mirrored(values, CERT_MANAGER_IMAGES, mirror, "copies")


def pca_issuer_values(proxy_env: Mapping[str, str], mirror: str | None) -> dict[str, Any]:
    """The AWS Private CA issuer under its Pod Identity service account; cert-manager's service account may approve
    its requests (approverRole); the proxy through the chart's `env` map (templates/deployment.yaml)."""
    values: dict[str, Any] = {
        "replicaCount": 2,
        "serviceAccount": {"create": True, "name": PCA_ISSUER_SERVICE_ACCOUNT},
        "approverRole": {
            "enabled": True,
            "serviceAccountName": CERT_MANAGER_SERVICE_ACCOUNT,
            "namespace": CERT_MANAGER_NAMESPACE,
        },
        "securityContext": hardened_container(),
        "podSecurityContext": {
            "runAsUser": 65532,
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if proxy_env:
        values["env"] = {key: proxy_env[key] for key in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")}
    return _mirrored(values, {"image": PCA_ISSUER_IMAGE}, mirror, "ecr-public")


def trust_manager_values(mirror: str | None) -> dict[str, Any]:
    """trust-manager with its CRD, reading Bundle sources from cert-manager's namespace (app.trust.namespace);
    the default package (the public CAs, `useDefaultCAs`) stays on. It calls nothing outside the cluster."""
    values: dict[str, Any] = {
        "crds": {"enabled": True, "keep": True},
        "replicaCount": 2,
        "app": {"trust": {"namespace": CERT_MANAGER_NAMESPACE}},
        "secretTargets": {"enabled": False},
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
    }
    return _mirrored(values, TRUST_MANAGER_IMAGES, mirror, "copies")
