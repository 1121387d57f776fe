"""Service certificates: a cert-manager Certificate (cert-manager.io/v1) per Service that serves TLS, issued by the
cluster's AWSPCAClusterIssuer (components.trust.component) from the platform's private CA.

cert-manager writes the key pair into a kubernetes.io/tls Secret of the Service's namespace (`tls.crt`, `tls.key`,
`ca.crt`) and renews it before it expires; the pod mounts that Secret (components.blocks.workload.PodTrust).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.base import child_opts

CERTIFICATE_API = "cert-manager.io/v1"
# The key of a Service certificate: RSA 2048, the one key type every TLS client and the ALB's connections to its
# targets accept; a new key at every renewal (cert-manager `privateKey.rotationPolicy: Always`).
PRIVATE_KEY = {"algorithm": "RSA", "size": 2048, "rotationPolicy": "Always"}
# Server and client authentication: the extended key usages of the EndEntityCertificate/V1 template (ACM Private CA
# User Guide, "Understanding certificate templates").
USAGES = ["digital signature", "key encipherment", "server auth", "client auth"]


@dataclass(frozen=True)
class IssuerRef:
    """The issuer Service certificates come from, and how long they live (private-ca.certificate-days)."""

    name: str
    kind: str
    group: str
    duration_hours: int
    ready: Sequence[pulumi.Resource] = field(
        default_factory=tuple
    )  # the issuer's resources, when in this stack

    def spec_ref(self) -> dict[str, str]:
        return {"group": self.group, "kind": self.kind, "name": self.name}


def service_dns_names(service: str, namespace: str, extra: Sequence[str] = ()) -> list[str]:
    """The names a client in the cluster reaches a Service by (Kubernetes docs, "DNS for Services and Pods"), then
    ``extra`` (e.g. a load balancer's host)."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
        *extra,
    ]


def certificate_spec(secret: str, dns_names: Sequence[str], issuer: IssuerRef) -> dict:
    """A Certificate for ``dns_names`` into Secret ``secret``: the issuer's lifetime, renewed with a third left."""
    return {
        "secretName": secret,
        "commonName": dns_names[0],
        "dnsNames": list(dns_names),
        "duration": f"{issuer.duration_hours}h",
        "renewBefore": f"{max(issuer.duration_hours // 3, 1)}h",
        "privateKey": dict(PRIVATE_KEY),
        "usages": list(USAGES),
        "issuerRef": issuer.spec_ref(),
    }


def tls_secret_name(service: str) -> str:
    return f"{service}-tls"


def service_certificate(
    owner: pulumi.Resource,
    name: str,
    *,
    service: str,
    namespace: pulumi.Input[str],
    namespace_name: str,
    issuer: IssuerRef | pulumi.Output[IssuerRef],
    labels: dict[str, str],
    extra_names: Sequence[str] = (),
    depends_on: Sequence[pulumi.Resource] = (),
    provider: pulumi.ProviderResource | None = None,
) -> k8s.apiextensions.CustomResource:
    """The Certificate ``<name>`` (Kubernetes name ``<service>-tls``) of one Service, Secret ``<service>-tls``;
    ``issuer`` may come from the platform contract (an Output in a team stack)."""
    secret = tls_secret_name(service)
    names = service_dns_names(service, namespace_name, extra_names)
    if isinstance(issuer, IssuerRef):
        spec: Any = certificate_spec(secret, names, issuer)
        ready = list(issuer.ready)
    else:
        spec, ready = issuer.apply(lambda ref: certificate_spec(secret, names, ref)), []
    return k8s.apiextensions.CustomResource(
        name,
        api_version=CERTIFICATE_API,
        kind="Certificate",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=secret, namespace=namespace, labels=labels),
        spec=spec,
        opts=child_opts(owner, provider=provider, depends_on=[*ready, *depends_on]),
    )
