"""NetworkPolicy pieces every namespace the platform or a team owns uses: an IP peer, TCP ports, the DNS egress rule
(CoreDNS in kube-system, UDP and TCP 53) and one policy named by its role in a namespace."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s


def ip_peer(cidr: str) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    return k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=cidr))


def tcp_ports(*ports: int) -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
    return [k8s.networking.v1.NetworkPolicyPortArgs(port=port, protocol="TCP") for port in ports]


def dns_egress() -> k8s.networking.v1.NetworkPolicyEgressRuleArgs:
    """Out to CoreDNS (the kube-dns pods of kube-system) on port 53, UDP and TCP."""
    return k8s.networking.v1.NetworkPolicyEgressRuleArgs(
        to=[
            k8s.networking.v1.NetworkPolicyPeerArgs(
                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                    match_labels={"kubernetes.io/metadata.name": "kube-system"}
                ),
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}),
            )
        ],
        ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=53, protocol="UDP"), *tcp_ports(53)],
    )


def role_policy(
    resource_name: str,
    role: str,
    namespace: pulumi.Input[str],
    spec: k8s.networking.v1.NetworkPolicySpecArgs,
    opts: pulumi.ResourceOptions,
    labels: Mapping[str, str] | None = None,
) -> k8s.networking.v1.NetworkPolicy:
    """The NetworkPolicy named ``role`` in ``namespace`` (resource ``resource_name``)."""
    return k8s.networking.v1.NetworkPolicy(
        resource_name,
        k8s.networking.v1.NetworkPolicyInitArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=role, namespace=namespace, labels=dict(labels) if labels is not None else None
            ),
            spec=spec,
        ),
        opts=opts,
    )
