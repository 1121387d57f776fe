"""Serving clusters: one EKS cluster per region that autoscales nodes (Karpenter) and workloads (KEDA, HPA).

``ServingCluster`` builds the cluster from pulumi_aws primitives so that every control-plane, IAM and node
setting is visible to the policy pack: a private (or allow-listed) API endpoint, secrets envelope encryption,
all control-plane logs in a KMS-encrypted log group, access entries instead of the aws-auth ConfigMap, a
small managed node group for cluster-critical controllers, and Karpenter with on-demand, spot and GPU pools
for everything else. ``ByoCluster`` targets an existing cluster through a kubeconfig context and installs the
pieces that make sense on any cluster (KEDA, metrics-server).

The inputs are plain values (ids, ARNs, config), not the network or key objects, so the component can be
built and tested on its own.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.base import child_opts
from components.cluster.addons import build_network_addons, build_workload_addons
from components.cluster.args import ByoClusterArgs, ServingClusterArgs
from components.cluster.charts import (
    KarpenterRelease,
    build_charts,
    build_controller_identities,
    keda_values,
    labelled_namespace,
    metrics_server_values,
    pinned_release,
)
from components.cluster.config import ByoChartVersions
from components.cluster.control_plane import build_admin_access, build_control_plane, kubernetes_provider
from components.cluster.karpenter import (
    build_interruption_handling,
    build_karpenter_identity,
    build_node_pools,
)
from components.cluster.naming import KEDA_NAMESPACE, METRICS_SERVER_NAMESPACE
from components.cluster.nodes import build_karpenter_nodes, build_system_nodes


class ServingCluster(pulumi.ComponentResource):
    """One region's EKS serving cluster with Karpenter node pools and in-cluster autoscaling add-ons.

    Creates: the control plane (cluster IAM role, a KMS-encrypted control-plane log group, the EKS cluster with
    API auth mode, secrets envelope encryption, every log type and a private endpoint in prod, its IAM OIDC
    provider, admin access entries), pinned managed add-ons, a tainted system node group through an IMDSv2-only
    launch template, Karpenter (IAM through Pod Identity, node role with an EC2_LINUX access entry and the
    instance profile nodes launch with, interruption queue and EventBridge rules, the Helm release, an
    EC2NodeClass and one NodePool per configured pool), the NVIDIA device plugin when a pool has GPUs,
    metrics-server, KEDA and the AWS Load Balancer Controller, and an encrypted gp3 StorageClass. Every
    Kubernetes object goes through ``k8s_provider``, built from the cluster's outputs.
    """

    eks_cluster: aws.eks.Cluster
    system_node_group: aws.eks.NodeGroup
    addon_pod_identity_agent: aws.eks.Addon
    k8s_provider: k8s.Provider
    node_role: aws.iam.Role
    oidc_provider: aws.iam.OpenIdConnectProvider
    cluster_security_group_id: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(self, name: str, args: ServingClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:cluster:ServingCluster", name, None, opts)
        self.args = args
        tags = dict(args.tags)
        self.control_plane = plane = build_control_plane(self, name, args, tags)
        self.eks_cluster = eks = plane.cluster
        self.name = eks.name
        self.cluster_security_group_id = plane.security_group_id
        self.oidc_issuer = plane.oidc_issuer
        self.oidc_provider = plane.oidc_provider

        self.network_addons = build_network_addons(self, name, args, eks, tags)
        self.system_nodes = build_system_nodes(
            self, name, args, eks, plane.security_group_id, self.network_addons.all, tags
        )
        # What the platform's agents on the nodes (observability) wait for.
        self.system_node_group = self.system_nodes.node_group
        self.addon_pod_identity_agent = self.network_addons.pod_identity_agent
        self.workload_addons = build_workload_addons(
            self, name, args, eks, self.network_addons, self.system_nodes.node_group, tags
        )
        self.admin_access = build_admin_access(self, name, args, eks, tags)

        self.karpenter_nodes = nodes = build_karpenter_nodes(self, name, args, eks, tags)
        self.node_role = nodes.role.role
        self.interruption = build_interruption_handling(self, name, args, tags)
        self.interruption_queue = self.interruption.queue
        agent = self.network_addons.pod_identity_agent
        self.karpenter_identity = build_karpenter_identity(
            self, name, args, eks, self.node_role.arn, self.interruption_queue.arn, agent, tags
        )
        self.controller_identities = build_controller_identities(self, name, args, eks, agent, tags)
        self.keda_role = self.controller_identities.keda_role

        self.kubeconfig, self.k8s_provider = kubernetes_provider(
            self, name, args, eks, [*self.admin_access.policy_associations, *plane.deployer_rules]
        )
        # Somewhere to run and admin access; the other charts also wait for CoreDNS, Karpenter does not.
        nodes_ready = [self.system_nodes.node_group, *self.admin_access.policy_associations]
        ready = [*nodes_ready, self.workload_addons.coredns]
        karpenter = KarpenterRelease(
            endpoint=eks.endpoint,
            interruption_queue=self.interruption_queue.name,
            depends_on=[
                self.karpenter_identity.association,
                self.karpenter_identity.policy,
                nodes.access_entry,
                *self.interruption.targets.values(),
                *([nodes.role.policy] if nodes.role.policy is not None else []),
            ],
            ready=nodes_ready,
        )
        self.charts = build_charts(
            self,
            name,
            args,
            self.k8s_provider,
            ready,
            karpenter,
            self.controller_identities,
            self.workload_addons.ebs_csi,
        )
        assert self.charts.karpenter is not None and self.charts.load_balancer_controller is not None
        self.load_balancer_controller = self.charts.load_balancer_controller
        self.node_pools = build_node_pools(
            self,
            name,
            args,
            self.k8s_provider,
            nodes.instance_profile.name,
            [plane.security_group_discovery_tag, *nodes.role.attachments],
            self.charts.karpenter,
        )
        self.register_outputs(
            {
                "name": self.name,
                "endpoint": eks.endpoint,
                "oidcIssuer": self.oidc_issuer,
                "clusterSecurityGroupId": self.cluster_security_group_id,
                "nodeRoleArn": self.node_role.arn,
                "interruptionQueue": self.interruption_queue.name,
            }
        )

    @property
    def workload_ready(self) -> list[pulumi.Resource]:
        """What a workload on this cluster waits for: somewhere to run (the node pools) and the load balancer
        controller (its webhooks admit pods and Ingresses; destroy then removes Ingresses before it)."""
        return [self.node_pools.node_class, *self.node_pools.pools.values(), self.load_balancer_controller]


class ByoCluster(pulumi.ComponentResource):
    """An existing (bring-your-own) cluster: a Kubernetes provider for it, plus KEDA and metrics-server.

    No AWS resources are created. The kubeconfig is handed to the provider as a secret (it may hold
    credentials); the context is always explicit so a deployment never lands on whatever context happens to
    be current. Karpenter, the load balancer controller and the GPU plugin are AWS/EKS specific and are not
    installed here.
    """

    k8s_provider: k8s.Provider
    name: pulumi.Output[str]

    def __init__(self, name: str, args: ByoClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:cluster:ByoCluster", name, None, opts)
        self.args = args
        cfg = args.cluster
        charts: ByoChartVersions = cfg.charts
        self.k8s_provider = k8s.Provider(
            f"{name}-k8s",
            k8s.ProviderArgs(
                kubeconfig=pulumi.Output.secret(cfg.kubeconfig) if cfg.kubeconfig is not None else None,
                context=cfg.kubeconfig_context,
                enable_server_side_apply=True,
            ),
            opts=child_opts(self),
        )
        self.name = pulumi.Output.from_input(cfg.kubeconfig_context or name)
        self.keda_namespace = labelled_namespace(
            self, name, KEDA_NAMESPACE, "restricted", self.k8s_provider, []
        )
        self.metrics_server = pinned_release(
            self,
            name,
            "metrics-server",
            charts.metrics_server,
            METRICS_SERVER_NAMESPACE,
            metrics_server_values(system_nodes=False),
            self.k8s_provider,
            [],
        )
        self.keda = pinned_release(
            self,
            name,
            "keda",
            charts.keda,
            KEDA_NAMESPACE,
            keda_values(system_nodes=False),
            self.k8s_provider,
            [self.keda_namespace],
        )
        self.register_outputs({"name": self.name, "context": cfg.kubeconfig_context})


def cluster_outputs(cluster: ServingCluster | ByoCluster) -> dict[str, Any]:
    """The values of the outputs contract's `ClusterOutputs` (by field name) for either kind of cluster."""
    if isinstance(cluster, ServingCluster):
        return {
            "mode": "eks",
            "name": cluster.name,
            "endpoint": cluster.eks_cluster.endpoint,
            "certificate_authority": cluster.eks_cluster.certificate_authority.data,
            "oidc_issuer": cluster.oidc_issuer,
            "oidc_provider_arn": cluster.oidc_provider.arn,
            "node_role_arn": cluster.node_role.arn,
            "cluster_security_group_id": cluster.cluster_security_group_id,
        }
    return {
        "mode": "byo",
        "name": cluster.name,
        "endpoint": None,
        "certificate_authority": None,
        "oidc_issuer": None,
        "oidc_provider_arn": None,
        "node_role_arn": None,
        "cluster_security_group_id": None,
    }
