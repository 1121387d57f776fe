"""A team's training space on the training cluster: its Kueue ClusterQueue and LocalQueue, the hub's right to
start the team's notebook servers in its namespace, and the network paths between the hub and those servers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.base import child_opts
from components.blocks.netpol import role_policy, tcp_ports
from components.training.config import TeamTraining
from components.training.notebooks import HUB_API_PORT, HUB_SERVICE_ACCOUNT, NOTEBOOK_COMPONENT, NOTEBOOK_PORT
from components.training.specs import LOCAL_QUEUE, cluster_queue_name, cluster_queue_spec, local_queue_spec

# What KubeSpawner does in the namespace it spawns in (kubespawner 7.0.0 spawner.py: create/delete the pod and
# the home PVC, watch pods and events through its reflectors).
HUB_RULES = (
    (("pods",), ("get", "list", "watch", "create", "delete")),
    (("persistentvolumeclaims",), ("get", "list", "watch", "create", "delete")),
    (("events",), ("get", "list", "watch")),
)


@dataclass(frozen=True)
class TeamTrainingArgs:
    team: str
    namespace: str
    training: TeamTraining
    cohort: pulumi.Input[str]
    pools: pulumi.Input[Mapping[str, Mapping[str, Any]]]  # the contract's training.pools (by pool name)
    hub_namespace: pulumi.Input[str]
    k8s_provider: k8s.Provider
    after: Sequence[pulumi.Resource] = ()  # the team's namespace
    labels: Mapping[str, str] | None = None


class TeamTrainingSpace(pulumi.ComponentResource):
    """Creates the team's ClusterQueue (nominal quota per allowed pool, in the platform's cohort), its LocalQueue
    ``training`` in the team namespace, a Role and RoleBinding for the hub, and two NetworkPolicies: notebook
    servers accept the hub and proxy on their port, and reach the hub's API."""

    def __init__(self, name: str, args: TeamTrainingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:training:TeamTrainingSpace", name, None, opts)
        labels = dict(args.labels or {})
        on_cluster = child_opts(self, provider=args.k8s_provider, depends_on=list(args.after))
        self.cluster_queue = k8s.apiextensions.CustomResource(
            f"{name}-cluster-queue",
            api_version="kueue.x-k8s.io/v1beta1",
            kind="ClusterQueue",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=cluster_queue_name(args.team), labels=labels),
            spec=pulumi.Output.all(args.pools, args.cohort).apply(
                lambda values: cluster_queue_spec(args.namespace, args.training, values[0], values[1])
            ),
            opts=on_cluster,
        )
        self.local_queue = k8s.apiextensions.CustomResource(
            f"{name}-local-queue",
            api_version="kueue.x-k8s.io/v1beta1",
            kind="LocalQueue",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=LOCAL_QUEUE, namespace=args.namespace, labels=labels),
            spec=local_queue_spec(args.team),
            opts=child_opts(self, provider=args.k8s_provider, depends_on=[*args.after, self.cluster_queue]),
        )
        meta = k8s.meta.v1.ObjectMetaArgs(name="jupyterhub-spawner", namespace=args.namespace, labels=labels)
        self.hub_role = k8s.rbac.v1.Role(
            f"{name}-hub-role",
            k8s.rbac.v1.RoleInitArgs(
                metadata=meta,
                rules=[
                    k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=list(kinds), verbs=list(verbs))
                    for kinds, verbs in HUB_RULES
                ],
            ),
            opts=on_cluster,
        )
        self.hub_binding = k8s.rbac.v1.RoleBinding(
            f"{name}-hub-binding",
            k8s.rbac.v1.RoleBindingInitArgs(
                metadata=meta,
                role_ref=k8s.rbac.v1.RoleRefArgs(
                    api_group="rbac.authorization.k8s.io", kind="Role", name="jupyterhub-spawner"
                ),
                subjects=[
                    k8s.rbac.v1.SubjectArgs(
                        kind="ServiceAccount", namespace=args.hub_namespace, name=HUB_SERVICE_ACCOUNT
                    )
                ],
            ),
            opts=child_opts(self, provider=args.k8s_provider, depends_on=[*args.after, self.hub_role]),
        )
        notebooks = k8s.meta.v1.LabelSelectorArgs(match_labels={"component": NOTEBOOK_COMPONENT})
        hub_peer = k8s.networking.v1.NetworkPolicyPeerArgs(
            namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                match_labels={"kubernetes.io/metadata.name": args.hub_namespace}
            )
        )
        self.network_policies = [
            role_policy(
                f"{name}-netpol-notebooks-from-hub",
                "allow-notebooks-from-hub",
                args.namespace,
                k8s.networking.v1.NetworkPolicySpecArgs(
                    pod_selector=notebooks,
                    policy_types=["Ingress"],
                    ingress=[
                        k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                            from_=[hub_peer], ports=tcp_ports(NOTEBOOK_PORT)
                        )
                    ],
                ),
                on_cluster,
                labels,
            ),
            role_policy(
                f"{name}-netpol-notebooks-to-hub",
                "allow-notebooks-to-hub",
                args.namespace,
                k8s.networking.v1.NetworkPolicySpecArgs(
                    pod_selector=notebooks,
                    policy_types=["Egress"],
                    egress=[
                        k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                            to=[hub_peer], ports=tcp_ports(HUB_API_PORT)
                        )
                    ],
                ),
                on_cluster,
                labels,
            ),
        ]
        self.register_outputs({"clusterQueue": cluster_queue_name(args.team), "localQueue": LOCAL_QUEUE})
