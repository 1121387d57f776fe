"""The internal HTTPS load balancer every platform Ingress gets (AWS Load Balancer Controller annotations):
internal scheme, IP targets, HTTPS only with the modern TLS policy, invalid headers dropped, an explicit
certificate and a fixed name. Serving (the shared serving ALB) and the registry (MLflow's ALB) both use it.
"""

from __future__ import annotations

import json
from typing import Any

from components.blocks.workload import INGRESS_TLS_POLICY

ALB = "alb.ingress.kubernetes.io"


def internal_alb_annotations(
    *,
    certificate_arn: str | None,
    health_path: str | None,
    load_balancer_name: str,
    group: str | None = None,
    listen_port: int = 443,
) -> dict[str, str]:
    """Annotations of an internal HTTPS-only ALB Ingress: IP targets, the modern TLS policy, invalid headers
    dropped, an explicit certificate (no discovery), a fixed name and, for the serving ALB, the group; its rules
    on the HTTPS listener of ``listen_port``."""
    annotations = {
        f"{ALB}/scheme": "internal",
        f"{ALB}/target-type": "ip",
        f"{ALB}/listen-ports": json.dumps([{"HTTPS": listen_port}]),
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
