"""The platform program's private-network part (components/trust): the proxy and CA bundle every cluster's nodes
and charts get, the subordinate CA when the platform creates one, and each cluster's issuer and CA bundle."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pulumi

from components.blocks.workload import PodTrust
from components.config import PlatformConfig
from components.loader import ConfigError
from components.network.endpoints import GATEWAY_ENDPOINTS, INTERFACE_ENDPOINTS
from components.serving.config import CLIENT_CERTIFICATE_PORT
from components.stackfile import PLATFORM_KEY
from components.trust.certificates import IssuerRef
from components.trust.component import (
    BUNDLE_KEY,
    BUNDLE_NAME,
    ISSUER_GROUP,
    ISSUER_KIND,
    ISSUER_NAME,
    ClusterTrust,
    ClusterTrustArgs,
)
from components.trust.config import parse_pem_bundle, read_ca_bundle, read_pem_file
from components.trust.pca import SubordinateCa, build_subordinate_ca
from components.trust.proxy import ProxySettings, proxy_settings
from components.trust.userdata import al2023_user_data, node_user_data

# The Private CA API through an interface endpoint in the CA's region (the issuer's calls stay in the VPC).
PCA_ENDPOINT = "acm-pca"


def pca_endpoints(cfg: PlatformConfig, region: str) -> tuple[str, ...]:
    """The extra interface endpoint of a region's VPC: acm-pca where the platform's CA is."""
    ca = cfg.private_ca
    if ca is None:
        return ()
    ca_region = ca.ca_region or ca.subordinate.root_ca_arn.split(":")[3]  # type: ignore[union-attr]
    return (PCA_ENDPOINT,) if region == ca_region else ()


def region_proxy(
    cfg: PlatformConfig, region: str, extra_endpoints: tuple[str, ...] = ()
) -> ProxySettings | None:
    spec = next(r for r in cfg.regions if r.name == region)
    return proxy_settings(
        cfg.egress_proxy,
        vpc_cidrs=[spec.vpc_cidr],
        region=region,
        endpoint_services=[*INTERFACE_ENDPOINTS, *extra_endpoints, *GATEWAY_ENDPOINTS],
        partition=cfg.partition,
    )


def custom_ca_pem(cfg: PlatformConfig, file: Path | None) -> pulumi.Input[str] | None:
    """The custom CA bundle: a file's PEM (checked now), or the secret config value (checked when decrypted)."""
    bundle = cfg.custom_ca_bundle
    if bundle is None:
        return None
    key = f"{PLATFORM_KEY}.custom-ca-bundle"
    text = read_ca_bundle(bundle, file, key)
    if text is not None:
        return text
    namespace, name = bundle.secret.split(":", 1)  # type: ignore[union-attr]
    secret = pulumi.Config(namespace).get_secret(name)
    if secret is None:
        raise ConfigError(
            file,
            f"{key}.secret",
            f"{bundle.secret} is not set (pulumi config set --secret {bundle.secret} ...)",
        )
    return secret.apply(lambda pem: _checked_secret(pem, file, key))


def _checked_secret(pem: str, file: Path | None, key: str) -> str:
    if pem.startswith("offline-placeholder"):
        return pem  # `secure:` values do not decrypt offline
    try:
        parse_pem_bundle(pem.encode())
    except ValueError as exc:
        raise ConfigError(file, f"{key}.secret", f"the secret value {exc}") from None
    return pem


@dataclass(frozen=True)
class NodeTrust:
    """What one region's cluster gets: its nodes' user data and its charts' proxy variables."""

    system_user_data: pulumi.Input[str] | None = None
    node_class_user_data: pulumi.Input[str] | None = None
    proxy_env: dict[str, str] = field(default_factory=dict)


def node_trust(cfg: PlatformConfig, region: str, ca_pem: pulumi.Input[str] | None) -> NodeTrust:
    proxy = region_proxy(cfg, region, pca_endpoints(cfg, region))
    if proxy is None and ca_pem is None:
        return NodeTrust()
    alias = cfg.cluster.ami_alias  # type: ignore[union-attr]
    pem = pulumi.Output.from_input(ca_pem) if ca_pem is not None else None
    if pem is None:
        return NodeTrust(
            al2023_user_data(proxy, None), node_user_data(alias, proxy, None), proxy.env() if proxy else {}
        )
    return NodeTrust(
        pem.apply(lambda text: al2023_user_data(proxy, text)),
        pem.apply(lambda text: node_user_data(alias, proxy, text)),
        proxy.env() if proxy else {},
    )


def build_subordinate(
    cfg: PlatformConfig, ctx, providers: dict[str, pulumi.ProviderResource]
) -> SubordinateCa | None:
    ca = cfg.private_ca
    if ca is None or ca.subordinate is None:
        return None
    region = ca.subordinate.root_ca_arn.split(":")[3]
    owner = pulumi.ComponentResource("mlops:trust:PrivateCa", "private-ca", None, None)
    sub = build_subordinate_ca(
        owner, "private-ca", ctx.in_region(region), ca.subordinate, providers[region], cfg.is_prod
    )
    owner.register_outputs({"arn": sub.authority.arn})
    return sub


@dataclass(frozen=True)
class PlatformTrust:
    """What the platform's workloads and serving entries use of private networking: each region's pod trust (the
    CA bundle ConfigMap and the proxy), the issuer of Service certificates, the private CA's chain (what a
    client-certificate listener trusts), and each cluster's ClusterTrust."""

    pods: dict[str, PodTrust] = field(default_factory=dict)
    issuer: IssuerRef | None = None
    ca_chain: pulumi.Input[str] | None = None
    clusters: dict[str, ClusterTrust] = field(default_factory=dict)
    client_certificate_port: int | None = None


def pod_trust(cfg: PlatformConfig, region: str, bundle: bool) -> PodTrust | None:
    """A region's pods: the CA bundle ConfigMap (with trust-manager) and the proxy variables (with egress-proxy)."""
    proxy = region_proxy(cfg, region, pca_endpoints(cfg, region))
    if proxy is None and not bundle:
        return None
    return PodTrust(
        ca_bundle=BUNDLE_NAME if bundle else None,
        ca_bundle_key=BUNDLE_KEY,
        proxy_env=proxy.env() if proxy else {},
    )


def build_platform_trust(platform, ca_pem: pulumi.Input[str] | None) -> PlatformTrust:
    """Each EKS cluster's issuer and CA bundle, and what pods and serving entries get of them."""
    cfg = platform.cfg
    if cfg.cluster is None or cfg.cluster.mode != "eks":
        return PlatformTrust()
    clusters, chain = build_cluster_trust(platform, ca_pem)
    bundle = bool(clusters)
    pods = {region.name: pod_trust(cfg, region.name, bundle) for region in cfg.regions}
    ca = cfg.private_ca
    issuer = None
    if ca is not None and ca.service_certificates:
        issuer = IssuerRef(
            ISSUER_NAME,
            ISSUER_KIND,
            ISSUER_GROUP,
            ca.certificate_days * 24,
            ready=[c.issuer for c in clusters.values() if c.issuer is not None],
        )
    return PlatformTrust(
        pods={region: trust for region, trust in pods.items() if trust is not None},
        issuer=issuer,
        ca_chain=chain,
        clusters=clusters,
        client_certificate_port=CLIENT_CERTIFICATE_PORT
        if ca is not None and ca.client_certificates
        else None,
    )


def trust_outputs(trust: PlatformTrust) -> dict | None:
    """The contract's `trust` (components.outputs.TrustOutputs); None without private networking."""
    if not trust.pods and trust.issuer is None:
        return None
    issuer = trust.issuer
    return {
        "ca_bundle_config_map": BUNDLE_NAME if trust.clusters else None,
        "ca_bundle_key": BUNDLE_KEY,
        "proxy_env": {region: dict(pod.proxy_env) for region, pod in trust.pods.items() if pod.proxy_env},
        "issuer": {
            "name": issuer.name,
            "kind": issuer.kind,
            "group": issuer.group,
            "duration_hours": issuer.duration_hours,
        }
        if issuer is not None
        else None,
        "client_certificate_port": trust.client_certificate_port,
    }


def build_cluster_trust(
    platform, ca_pem: pulumi.Input[str] | None
) -> tuple[dict[str, ClusterTrust], pulumi.Input[str] | None]:
    """Each EKS cluster's issuer and CA bundle (with a private CA or a custom CA bundle), and the private CA's
    chain (PEM), if any."""
    cfg = platform.cfg
    ca = cfg.private_ca
    if ca is None and cfg.custom_ca_bundle is None:
        return {}, None
    sub = build_subordinate(cfg, platform.ctx, platform.providers)
    ca_arn: pulumi.Input[str] | None = None
    ca_region = cfg.primary_region.name
    sources: list[pulumi.Input[str]] = []
    chain: pulumi.Input[str] | None = None
    if ca is not None:
        if sub is not None:
            ca_arn = sub.installation.certificate_authority_arn
            ca_region = ca.subordinate.root_ca_arn.split(":")[3]  # type: ignore[union-attr]
            chain = pulumi.Output.concat(sub.certificate.certificate, "\n", sub.certificate.certificate_chain)
            sources.append(chain)
        else:
            ca_arn, ca_region = ca.ca_arn, ca.ca_region or ca_region
            chain = read_pem_file(
                ca.certificate_file,  # type: ignore[arg-type]
                platform.file,
                f"{PLATFORM_KEY}.private-ca.certificate-file",
            )
            sources.append(chain)
    if ca_pem is not None:
        sources.append(ca_pem)
    charts = cfg.cluster.charts  # type: ignore[union-attr]
    versions = {
        chart: version
        for chart, version in (
            ("cert-manager", charts.cert_manager),
            ("aws-privateca-issuer", charts.aws_privateca_issuer),
            ("trust-manager", charts.trust_manager),
        )
        if version is not None
    }
    out = {}
    for name, serving in platform.eks_clusters.items():
        out[name] = ClusterTrust(
            f"trust-{name}",
            ClusterTrustArgs(
                cluster=serving,
                ca_arn=ca_arn,
                ca_region=ca_region,
                template_arn=ca.template_arn_in(cfg.partition) if ca is not None else "",
                template_name=ca.template_name if ca is not None else "",
                charts=versions,
                bundle_sources=sources,
                proxy_env=serving.args.proxy_env,
                mirror=serving.args.mirror,
            ),
            opts=pulumi.ResourceOptions(provider=platform.providers[name]),
        )
    return out, chain
