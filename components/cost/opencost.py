"""OpenCost on an EKS cluster: in-cluster cost attribution per namespace, team and workload, read from the
region's managed Prometheus workspace.

The chart (opencost/opencost-helm-chart, pinned by `cost.opencost`) runs the OpenCost API (port 9003) with the
chart's SigV4 proxy sidecar (`opencost.prometheus.amp`, `opencost.sigV4Proxy`): OpenCost queries
`http://localhost:8005/workspaces/<id>` and the proxy signs each request for `aps` with the pod's EKS Pod Identity
credentials, a role allowed only to read that one workspace. The UI and the MCP server are off; the API is a
ClusterIP Service, admitted by a NetworkPolicy only from the cluster's pods and its private subnets (where the
managed collector scrapes OpenCost's own metrics from), so it is reached with `kubectl port-forward`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.base import child_opts
from components.blocks import Association, PodIdentityRole, allow, document, to_json
from components.blocks.context import PlatformContext
from components.blocks.netpol import dns_egress, ip_peer, role_policy, tcp_ports
from components.blocks.workload import POD_IDENTITY_AGENT
from components.cluster.charts import SYSTEM_SCHEDULING, hardened_container, labelled_namespace, resources
from components.cluster.naming import NONROOT_UID
from components.cluster.policies import cluster_pod_identity_trust

OPENCOST_NAMESPACE = "opencost"
OPENCOST_SERVICE_ACCOUNT = "opencost"
OPENCOST_CHART = ("opencost", "https://opencost.github.io/opencost-helm-chart")
API_PORT = 9003  # values.yaml opencost.exporter.apiPort
SIGV4_PROXY_PORT = 8005  # values.yaml opencost.sigV4Proxy.port
# The chart's default is `:latest`; pinned to a release of awslabs/aws-sigv4-proxy whose AWS SDK for Go
# (v1.55.7, go.mod at v1.11.1) reads EKS Pod Identity credentials (the container credential provider with
# AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, aws-sdk-go v1.47.11 and later).
SIGV4_PROXY_IMAGE = "public.ecr.aws/aws-observability/aws-sigv4-proxy:1.11.1"
# What OpenCost asks of the Prometheus HTTP API, as AMP authorises it: instant and range queries
# (aps:QueryMetrics), series, label names and values, metric metadata.
QUERY_ACTIONS = ("aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata")
CONFIG_VOLUME = "opencost-configs"


def opencost_query_policy(workspace_arn: str) -> dict[str, Any]:
    """Read-only access to one workspace: the queries OpenCost makes, nothing that writes or administers."""
    return document(allow(list(QUERY_ACTIONS), workspace_arn, sid="QueryThisRegionsWorkspace"))


def aps_host(region: str, partition: str = "aws") -> str:
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"aps-workspaces.{region}.{suffix}"


def opencost_values(
    cluster_name: pulumi.Input[str], region: str, partition: str, workspace_id: pulumi.Input[str]
) -> dict[str, Any]:
    """The release's values over the chart's defaults (tests/components/test_chart_values.py asserts Helm's
    merge and the rendered Deployment)."""
    hardened = hardened_container()
    return {
        "fullnameOverride": "opencost",
        "serviceAccount": {"create": True, "name": OPENCOST_SERVICE_ACCOUNT},
        "podSecurityContext": {
            "runAsNonRoot": True,
            "fsGroup": NONROOT_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # The managed collector's annotated-services job (components/observability/prometheus.py) scrapes
        # OpenCost's own cost metrics into the workspace OpenCost reads.
        "service": {
            "type": "ClusterIP",
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": str(API_PORT)},
        },
        "opencost": {
            "exporter": {
                "defaultClusterId": cluster_name,
                "replicas": 1,
                "resources": resources("100m", "256Mi", "1", "1Gi"),
                "securityContext": hardened,
                # OpenCost writes its pricing configuration under /var/configs: a volume, the root stays read-only.
                "extraVolumeMounts": [{"name": CONFIG_VOLUME, "mountPath": "/var/configs"}],
            },
            "mcp": {"enabled": False},
            "ui": {"enabled": False},
            "prometheus": {
                "internal": {"enabled": False},
                "amp": {"enabled": True, "workspaceId": workspace_id},
            },
            "sigV4Proxy": {
                "image": SIGV4_PROXY_IMAGE,
                "region": region,
                "host": aps_host(region, partition),
                "resources": resources("20m", "32Mi", "200m", "128Mi"),
                "securityContext": hardened,
            },
            **SYSTEM_SCHEDULING,
        },
        "extraVolumes": [{"name": CONFIG_VOLUME, "emptyDir": {"sizeLimit": "64Mi"}}],
    }


@dataclass(frozen=True)
class OpenCostArgs:
    """One EKS cluster's OpenCost: its cluster, the region's workspace, the pinned chart version, and where
    clients are (``client_cidrs``: the cluster's private subnets) and the VPC (``vpc_cidr``: the API server's
    and the aps-workspaces endpoint's addresses)."""

    context: PlatformContext
    version: str
    cluster_name: pulumi.Input[str]
    cluster_resource_name: str  # the EKS cluster's name, for the trust's aws:SourceArn (mlops-<env>-<region>)
    k8s_provider: k8s.Provider
    workspace_id: pulumi.Input[str]
    workspace_arn: pulumi.Input[str]
    vpc_cidr: str
    client_cidrs: Sequence[str]
    ready: Sequence[
        pulumi.Resource
    ] = ()  # what the namespace waits for (nodes, CoreDNS, the Pod Identity agent)


def network_policy_specs(vpc_cidr: str, client_cidrs: Sequence[str]) -> dict[str, Any]:
    """Default deny; in: the API port from the cluster's pods and private subnets; out: DNS, HTTPS in the VPC
    (the API server, the aps-workspaces endpoint), the Pod Identity agent, and HTTPS outside the VPC (OpenCost
    prices nodes from AWS's public price list, pricing.us-east-1.amazonaws.com, through the NAT gateways)."""
    if not client_cidrs:
        raise ValueError("OpenCost's policy needs the cluster's private subnet CIDRs")
    every_pod = k8s.meta.v1.LabelSelectorArgs()
    any_namespace = k8s.networking.v1.NetworkPolicyPeerArgs(
        namespace_selector=k8s.meta.v1.LabelSelectorArgs()
    )
    outside_vpc = k8s.networking.v1.NetworkPolicyPeerArgs(
        ip_block=k8s.networking.v1.IPBlockArgs(cidr="0.0.0.0/0", except_=[vpc_cidr])
    )
    return {
        "default-deny": k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=every_pod, policy_types=["Ingress", "Egress"]
        ),
        "allow-in-cluster-clients": k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=every_pod,
            policy_types=["Ingress"],
            ingress=[
                k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=[any_namespace, *[ip_peer(cidr) for cidr in client_cidrs]],
                    ports=tcp_ports(API_PORT),
                )
            ],
        ),
        "allow-egress": k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=every_pod,
            policy_types=["Egress"],
            egress=[
                dns_egress(),
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[ip_peer(vpc_cidr)], ports=tcp_ports(443)),
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                    to=[ip_peer(POD_IDENTITY_AGENT)], ports=tcp_ports(80)
                ),
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[outside_vpc], ports=tcp_ports(443)),
            ],
        ),
    }


class OpenCost(pulumi.ComponentResource):
    """OpenCost on one EKS cluster: namespace ``opencost`` (Pod Security `restricted`), the Pod Identity role of
    its service account (`<name>-role`, `<name>-policy`, `<name>-identity`) allowed QUERY_ACTIONS on the region's
    workspace only, its NetworkPolicies and the pinned Helm release (`<name>-release`), which waits for the
    association (a pod gets Pod Identity credentials only if the association exists when it starts)."""

    def __init__(self, name: str, args: OpenCostArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:cost:OpenCost", name, None, opts)
        ctx = args.context
        self.namespace = labelled_namespace(
            self, name, OPENCOST_NAMESPACE, "restricted", args.k8s_provider, args.ready
        )
        self.identity = PodIdentityRole(
            name,
            ctx,
            parent=self,
            trust=cluster_pod_identity_trust(ctx, args.cluster_resource_name),
            description=f"OpenCost on {args.cluster_resource_name}: reads the region's managed Prometheus",
            policy=pulumi.Output.from_input(args.workspace_arn).apply(
                lambda arn: to_json(opencost_query_policy(arn))
            ),
            policy_by="name",
            associations=[Association(args.cluster_name, OPENCOST_NAMESPACE, OPENCOST_SERVICE_ACCOUNT, None)],
        )
        self.role: aws.iam.Role = self.identity.role
        self.association: aws.eks.PodIdentityAssociation = self.identity.associations[0]
        on_cluster = child_opts(self, provider=args.k8s_provider, depends_on=[self.namespace])
        self.network_policies = [
            role_policy(f"{name}-netpol-{role}", role, OPENCOST_NAMESPACE, spec, on_cluster)
            for role, spec in network_policy_specs(args.vpc_cidr, args.client_cidrs).items()
        ]
        chart, repository = OPENCOST_CHART
        assert self.identity.policy is not None
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            k8s.helm.v3.ReleaseArgs(
                name=chart,
                chart=chart,
                version=args.version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repository),
                namespace=OPENCOST_NAMESPACE,
                create_namespace=False,
                atomic=True,
                cleanup_on_fail=True,
                max_history=10,
                timeout=900,
                values=opencost_values(args.cluster_name, ctx.region, ctx.partition, args.workspace_id),
            ),
            opts=child_opts(
                self,
                provider=args.k8s_provider,
                depends_on=[self.namespace, self.association, self.identity.policy, *self.network_policies],
            ),
        )
        self.register_outputs({"namespace": OPENCOST_NAMESPACE, "role_arn": self.role.arn})
