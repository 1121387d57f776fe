"""The egress proxy as nodes and pods see it: the computed no-proxy list and the proxy environment variables.

Everything that stays inside the VPC bypasses the proxy: the VPC CIDRs (nodes, pods, internal load balancers, VPC
endpoints' addresses), the cluster's service CIDR, in-cluster names, the link-local instance metadata service and
EKS Pod Identity agent, and the AWS services the VPC reaches through endpoints (under their regional names, which
the endpoints' private DNS answers inside the VPC).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from components.trust.config import (
    METADATA_SERVICE,
    POD_IDENTITY_AGENT,
    POD_IDENTITY_AGENT_V6,
    EgressProxyConfig,
)

# EKS assigns Service addresses from one of these blocks when the cluster names none (the platform names none):
# "If you don't specify a block, Kubernetes assigns addresses from either the 10.100.0.0/16 or 172.20.0.0/16 CIDR
# blocks" (EKS API Reference, KubernetesNetworkConfigRequest serviceIpv4Cidr). Both bypass the proxy.
DEFAULT_SERVICE_CIDRS = ("10.100.0.0/16", "172.20.0.0/16")
IN_CLUSTER = ("localhost", "127.0.0.1", ".svc", ".cluster.local", ".internal")
LINK_LOCAL = (METADATA_SERVICE, POD_IDENTITY_AGENT, POD_IDENTITY_AGENT_V6)
# The regional names a VPC endpoint's service answers under that a client does not derive from the endpoint's
# service name alone (ECR's API and registry hosts, S3's virtual-hosted and dual names, EKS Auth).
EXTRA_ENDPOINT_NAMES = {
    "ecr.api": ("api.ecr.{region}.{suffix}",),
    "ecr.dkr": (".dkr.ecr.{region}.{suffix}",),
    "s3": (".s3.{region}.{suffix}", "s3.{region}.{suffix}"),
    # The EKS Auth API (Pod Identity) answers at eks-auth.<region>.api.aws (EKS API Reference, EKS Auth endpoints).
    "eks-auth": ("eks-auth.{region}.api.aws",),
}
# The cluster's own API endpoint, `<id>.<xx>.<region>.eks.<suffix>`, which the nodes' kubelet and containerd reach
# privately: Go's proxy matching (golang.org/x/net/http/httpproxy, NO_PROXY) applies CIDR entries only to IP
# literals, so the VPC CIDR does not cover the endpoint's name; a leading-dot domain entry matches its subdomains.
EKS_API_DOMAIN = ".{region}.eks.{suffix}"


def dns_suffix(partition: str) -> str:
    return "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"


def endpoint_domains(region: str, services: Iterable[str], partition: str = "aws") -> list[str]:
    """The names the VPC's endpoints answer for, as no-proxy entries: `<service>.<region>.<suffix>` for each
    endpoint service (ecr.api -> api.ecr..., ecr.dkr -> .dkr.ecr... as ECR names its hosts)."""
    suffix = dns_suffix(partition)
    names: list[str] = []
    for service in services:
        extra = EXTRA_ENDPOINT_NAMES.get(service)
        if extra is not None:
            names.extend(name.format(region=region, suffix=suffix) for name in extra)
        else:
            names.append(f"{service}.{region}.{suffix}")
    return names


def no_proxy(
    proxy: EgressProxyConfig,
    *,
    vpc_cidrs: Sequence[str],
    region: str,
    endpoint_services: Iterable[str],
    partition: str = "aws",
) -> list[str]:
    """The NO_PROXY entries of one region's nodes and pods, without duplicates, in a stable order."""
    if not proxy.computed_no_proxy:
        return _unique(proxy.no_proxy)
    return _unique(
        [
            *vpc_cidrs,
            *DEFAULT_SERVICE_CIDRS,
            *IN_CLUSTER,
            *LINK_LOCAL,
            EKS_API_DOMAIN.format(region=region, suffix=dns_suffix(partition)),
            *endpoint_domains(region, endpoint_services, partition),
            *proxy.no_proxy,
        ]
    )


def _unique(entries: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for entry in entries:
        seen.setdefault(entry, None)
    return list(seen)


@dataclass(frozen=True)
class ProxySettings:
    """One region's proxy: the URLs and the computed no-proxy list."""

    http: str
    https: str
    no_proxy: tuple[str, ...]

    def env(self) -> dict[str, str]:
        """Both spellings: Go and curl read the upper case (curl only the lower-case http_proxy), Python's
        urllib and requests either."""
        joined = ",".join(self.no_proxy)
        values = {"HTTP_PROXY": self.http, "HTTPS_PROXY": self.https, "NO_PROXY": joined}
        return {**values, **{key.lower(): value for key, value in values.items()}}


def proxy_settings(
    proxy: EgressProxyConfig | None,
    *,
    vpc_cidrs: Sequence[str],
    region: str,
    endpoint_services: Iterable[str],
    partition: str = "aws",
) -> ProxySettings | None:
    if proxy is None:
        return None
    return ProxySettings(
        proxy.http,
        proxy.https,
        tuple(
            no_proxy(
                proxy,
                vpc_cidrs=vpc_cidrs,
                region=region,
                endpoint_services=endpoint_services,
                partition=partition,
            )
        ),
    )
