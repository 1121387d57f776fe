"""How the platform's internal HTTPS load balancers are named and configured (AWS Load Balancer Controller).

Serving: in every region one internal ALB, ``mlops-<env>-serving``, shared by all model Ingresses through the
IngressGroup ``mlops-serving``. Its name is fixed, so the platform can find it once the controller has made it,
and its settings that belong to the load balancer (scheme, listener, TLS policy, attributes, name) are the
same on every Ingress of the group, because the controller refuses conflicting values within a group.
MLflow has its own internal ALB, ``mlops-<env>-mlflow``.

Host names: a model answers on ``<model>-<team>.<domain>`` (the routed name Route 53 answers with a healthy
region) and ``<model>-<team>.<region>.<domain>`` (that region only); a certificate for ``*.<domain>`` and
``*.<region>.<domain>`` covers both.
"""

from __future__ import annotations

import json
from typing import Any

from components.network import zone_name
from components.workload import INGRESS_TLS_POLICY

SERVING_GROUP = "mlops-serving"
ALB = "alb.ingress.kubernetes.io"


def serving_load_balancer_name(environment: str) -> str:
    """The serving ALB's name (at most 32 characters, unique per region and account)."""
    return f"mlops-{environment}-serving"


def mlflow_load_balancer_name(environment: str) -> str:
    return f"mlops-{environment}-mlflow"


def mlflow_host(environment: str) -> str:
    """MLflow's name in the platform's private hosted zone (components.network.zone_name)."""
    return f"mlflow.{zone_name(environment)}"


def model_host(model: str, team: str, domain: str) -> str:
    return f"{model}-{team}.{domain}"


def regional_model_host(model: str, team: str, region: str, domain: str) -> str:
    return f"{model}-{team}.{region}.{domain}"


def internal_alb_annotations(
    *, certificate_arn: str | None, health_path: str | None, load_balancer_name: str, group: str | None = None
) -> dict[str, str]:
    """Annotations of an internal HTTPS-only ALB Ingress: IP targets, the modern TLS policy, invalid headers
    dropped, an explicit certificate (no discovery), a fixed name and, for the serving ALB, the group."""
    annotations = {
        f"{ALB}/scheme": "internal",
        f"{ALB}/target-type": "ip",
        f"{ALB}/listen-ports": json.dumps([{"HTTPS": 443}]),
        f"{ALB}/ssl-policy": INGRESS_TLS_POLICY,
        f"{ALB}/load-balancer-attributes": "routing.http.drop_invalid_header_fields.enabled=true",
        f"{ALB}/load-balancer-name": load_balancer_name,
    }
    if certificate_arn:
        annotations[f"{ALB}/certificate-arn"] = certificate_arn
    if health_path:
        annotations[f"{ALB}/healthcheck-path"] = health_path
    if group:
        annotations[f"{ALB}/group.name"] = group
    return annotations


def ingress_hostname(status: Any) -> str:
    """The DNS name the controller wrote into an Ingress's status (``status.loadBalancer.ingress[0]``)."""
    return status.load_balancer.ingress[0].hostname


def target_group_tags(cluster: str, namespace: str, ingress: str, service: str, port: int) -> dict[str, str]:
    """The tags the controller puts on the target group it makes for ``service:port`` of an Ingress in the
    serving group, which identify it uniquely (aws-load-balancer-controller docs, "Resource Tags"; the
    resource id is ``<namespace>/<ingress>-<service>:<port>``)."""
    return {
        "elbv2.k8s.aws/cluster": cluster,
        "ingress.k8s.aws/stack": SERVING_GROUP,
        "ingress.k8s.aws/resource": f"{namespace}/{ingress}-{service}:{port}",
    }
