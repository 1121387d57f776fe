"""The cluster's Helm charts (Karpenter, the AWS Load Balancer Controller, KEDA, metrics-server, the NVIDIA
device plugin), their namespaces and the Pod Identity roles of the controllers that call AWS, and the encrypted
default StorageClass."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.base import child_opts
from components.blocks import Association, PodIdentityRole, to_json
from components.cluster.args import ServingClusterArgs
from components.cluster.images import chart_source, mirrored_values
from components.cluster.naming import (
    ACCELERATOR_LABEL,
    GPU_RESOURCE,
    KARPENTER_NAMESPACE,
    KARPENTER_SERVICE_ACCOUNT,
    KEDA_AWS_AUTHENTICATION,
    KEDA_NAMESPACE,
    KEDA_OPERATOR_SERVICE_ACCOUNT,
    LBC_NAMESPACE,
    LBC_SERVICE_ACCOUNT,
    METRICS_SERVER_NAMESPACE,
    NODE_ROLE_LABEL,
    NONROOT_UID,
    NVIDIA_NAMESPACE,
    SYSTEM_TAINT_KEY,
    TRAINING_TAINT_KEY,
)
from components.cluster.policies import cluster_pod_identity_trust
from components.cluster.policies.load_balancer_controller import load_balancer_controller_policy
from components.cluster.proxy_env import with_proxy_env


def hardened_container() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": NONROOT_UID,
        "runAsGroup": NONROOT_UID,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, Any]:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}


SYSTEM_SCHEDULING = {
    "nodeSelector": {NODE_ROLE_LABEL: "system"},
    "tolerations": [{"key": SYSTEM_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
}


def keda_values(system_nodes: bool) -> dict[str, Any]:
    scheduling = SYSTEM_SCHEDULING if system_nodes else {}
    return {
        "operator": {"replicaCount": 2},
        "serviceAccount": {"operator": {"create": True, "name": KEDA_OPERATOR_SERVICE_ACCOUNT}},
        "metricsServer": {"replicaCount": 2},
        "webhooks": {"replicaCount": 2},
        "podDisruptionBudget": {
            "operator": {"minAvailable": 1},
            "metricServer": {"minAvailable": 1},
            "webhooks": {"minAvailable": 1},
        },
        "resources": {
            "operator": resources("100m", "128Mi", "1", "512Mi"),
            "metricServer": resources("100m", "128Mi", "1", "512Mi"),
            "webhooks": resources("50m", "64Mi", "500m", "256Mi"),
        },
        "securityContext": {
            "operator": hardened_container(),
            "metricServer": hardened_container(),
            "webhooks": hardened_container(),
        },
        "podSecurityContext": {
            part: {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
            for part in ("operator", "metricServer", "webhooks")
        },
        **scheduling,
    }


def keda_aws_authentication_spec() -> dict[str, Any]:
    """KEDA's AWS pod identity: scalers sign their requests with the KEDA operator's own role (EKS Pod Identity
    credentials through the SDK's default chain), not with a role of the scaled workload."""
    return {"podIdentity": {"provider": "aws", "identityOwner": "keda"}}


def metrics_server_values(system_nodes: bool) -> dict[str, Any]:
    scheduling = SYSTEM_SCHEDULING if system_nodes else {}
    return {
        "replicas": 2,
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        "resources": resources("100m", "200Mi", "1", "500Mi"),
        "securityContext": hardened_container(),
        **scheduling,
    }


POD_SECURITY_EXCEPTION = "mlops.dev/pod-security-exception"


def labelled_namespace(
    owner: pulumi.Resource,
    name: str,
    namespace: str,
    enforce: str,
    provider: k8s.Provider,
    depends_on: Sequence[pulumi.Resource],
    exception: str | None = None,
) -> k8s.core.v1.Namespace:
    """A namespace with Pod Security admission labels (enforce as given, warn and audit at restricted).

    A namespace that cannot enforce `restricted` says why in the annotation the policy pack reads.
    """
    return k8s.core.v1.Namespace(
        f"{name}-ns-{namespace}",
        k8s.core.v1.NamespaceInitArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=namespace,
                labels={
                    "pod-security.kubernetes.io/enforce": enforce,
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                    "app.kubernetes.io/managed-by": "pulumi",
                },
                annotations={POD_SECURITY_EXCEPTION: exception} if exception else None,
            )
        ),
        opts=child_opts(owner, provider=provider, depends_on=list(depends_on)),
    )


def pinned_release(
    owner: pulumi.Resource,
    name: str,
    chart: str,
    version: str | None,
    namespace: str,
    values: dict[str, Any],
    provider: k8s.Provider,
    depends_on: Sequence[pulumi.Resource],
    short: str | None = None,
    mirror: str | None = None,
) -> k8s.helm.v3.Release:
    """A Helm release pinned to an exact chart version, atomic so a failed upgrade rolls back.

    With a mirror (internet-free), the chart is the OCI copy in the account's ECR and its images come through
    the mirror's pull-through cache rules.
    """
    if version is None:
        raise ValueError(f"chart {chart!r} has no pinned version in the cluster config")
    reference, repository = chart_source(chart, mirror)
    values = mirrored_values(chart, values, mirror)
    return k8s.helm.v3.Release(
        f"{name}-{short or chart}",
        k8s.helm.v3.ReleaseArgs(
            name=chart,
            chart=reference,
            version=version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repository) if repository else None,
            namespace=namespace,
            create_namespace=False,
            atomic=True,
            cleanup_on_fail=True,
            max_history=10,
            timeout=900,
            values=values,
        ),
        opts=child_opts(owner, provider=provider, depends_on=list(depends_on)),
    )


def service_account_role(
    parent: pulumi.Resource,
    prefix: str,
    args: ServingClusterArgs,
    cluster: aws.eks.Cluster,
    namespace: str,
    service_account: str,
    description: str,
    pod_identity_agent: pulumi.Resource,
    tags: dict[str, str],
    policy: pulumi.Input[str] | None = None,
) -> PodIdentityRole:
    """A role this cluster's Pod Identity may assume, associated with one service account (`<prefix>-role`,
    `<prefix>-policy`, `<prefix>-identity`); the association waits for the Pod Identity agent."""
    ctx = args.context
    return PodIdentityRole(
        prefix,
        ctx,
        parent=parent,
        trust=cluster_pod_identity_trust(ctx, args.name),
        description=description,
        policy=policy,
        policy_by="name",
        associations=[
            Association(
                cluster.name,
                namespace,
                service_account,
                pulumi.ResourceOptions(depends_on=[pod_identity_agent]),
            )
        ],
        tags=tags,
    )


@dataclass(frozen=True)
class ControllerIdentities:
    """The Pod Identity roles of the load balancer controller (with its policy) and of the KEDA operator.

    KEDA's is associated before KEDA starts (a pod gets Pod Identity credentials only if the association exists
    when it is created); observability grants it query access to the region's managed Prometheus workspace.
    """

    lbc_role: aws.iam.Role
    lbc_identity: aws.eks.PodIdentityAssociation
    lbc_policy: aws.iam.RolePolicy
    keda_role: aws.iam.Role
    keda_identity: aws.eks.PodIdentityAssociation


def build_controller_identities(
    parent: pulumi.Resource,
    name: str,
    args: ServingClusterArgs,
    cluster: aws.eks.Cluster,
    pod_identity_agent: pulumi.Resource,
    tags: dict[str, str],
) -> ControllerIdentities:
    cname = args.name
    lbc_policy = pulumi.Output.from_input(args.vpc_id).apply(
        lambda vpc_id: to_json(
            load_balancer_controller_policy(
                partition=args.partition, region=args.region, account_id=args.account_id, vpc_id=vpc_id
            )
        )
    )
    lbc = service_account_role(
        parent,
        f"{name}-lbc",
        args,
        cluster,
        LBC_NAMESPACE,
        LBC_SERVICE_ACCOUNT,
        f"AWS Load Balancer Controller of {cname}",
        pod_identity_agent,
        tags,
        lbc_policy,
    )
    keda = service_account_role(
        parent,
        f"{name}-keda",
        args,
        cluster,
        KEDA_NAMESPACE,
        KEDA_OPERATOR_SERVICE_ACCOUNT,
        f"KEDA operator of {cname}: queries the region's managed Prometheus",
        pod_identity_agent,
        tags,
    )
    assert lbc.policy is not None
    return ControllerIdentities(lbc.role, lbc.associations[0], lbc.policy, keda.role, keda.associations[0])


@dataclass(frozen=True)
class KarpenterRelease:
    """What the Karpenter chart needs of the cluster: its endpoint, queue, and what must exist before it.

    ``ready`` is what its namespace waits for: the nodes the controller runs on and admin access, not CoreDNS.
    The controller resolves names through the VPC resolver (``dnsPolicy: Default``), so it starts without
    in-cluster DNS ("Let Karpenter manage your in-cluster DNS service", Karpenter troubleshooting,
    https://karpenter.sh/docs/troubleshooting/).
    """

    endpoint: pulumi.Input[str]
    interruption_queue: pulumi.Input[str]
    depends_on: Sequence[pulumi.Resource]
    ready: Sequence[pulumi.Resource]


@dataclass
class Charts:
    """The namespaces, the default StorageClass and the Helm releases of an EKS serving cluster."""

    namespaces: dict[str, k8s.core.v1.Namespace] = field(default_factory=dict)
    storage_class: k8s.storage.v1.StorageClass | None = None
    karpenter: k8s.helm.v3.Release | None = None
    metrics_server: k8s.helm.v3.Release | None = None
    keda: k8s.helm.v3.Release | None = None
    keda_aws_authentication: k8s.apiextensions.CustomResource | None = None
    load_balancer_controller: k8s.helm.v3.Release | None = None
    nvidia_device_plugin: k8s.helm.v3.Release | None = None


def build_charts(
    parent: pulumi.Resource,
    name: str,
    args: ServingClusterArgs,
    provider: k8s.Provider,
    ready: list[pulumi.Resource],
    karpenter: KarpenterRelease,
    identities: ControllerIdentities,
    ebs_csi: pulumi.Resource,
) -> Charts:
    """Every chart of an EKS cluster; ``ready`` is what a namespace waits for (nodes, CoreDNS, admin access),
    except Karpenter's (``karpenter.ready``)."""
    cfg = args.cluster
    charts = cfg.charts
    mirror = args.mirror
    out = Charts()

    def release(
        chart: str,
        version: str | None,
        namespace: str,
        values: dict[str, Any],
        depends_on: Sequence[pulumi.Resource],
        short: str | None = None,
    ) -> k8s.helm.v3.Release:
        values = with_proxy_env(chart, values, args.proxy_env)
        return pinned_release(
            parent, name, chart, version, namespace, values, provider, depends_on, short, mirror
        )

    out.namespaces[KARPENTER_NAMESPACE] = labelled_namespace(
        parent, name, KARPENTER_NAMESPACE, "restricted", provider, karpenter.ready
    )
    for namespace in (KEDA_NAMESPACE, LBC_NAMESPACE):
        out.namespaces[namespace] = labelled_namespace(parent, name, namespace, "restricted", provider, ready)
    out.storage_class = encrypted_storage_class(parent, name, args, provider, ebs_csi)
    out.karpenter = release(
        "karpenter",
        charts.karpenter,
        KARPENTER_NAMESPACE,
        {
            "settings": {
                "clusterName": args.name,
                "clusterEndpoint": karpenter.endpoint,
                "interruptionQueue": karpenter.interruption_queue,
                # No internet: AWS is reached only through VPC endpoints, and the pricing API has none.
                "isolatedVPC": mirror is not None,
                **({"featureGates": {"reservedCapacity": True}} if args.reserved_capacity else {}),
            },
            "replicas": 2,
            "serviceAccount": {"create": True, "name": KARPENTER_SERVICE_ACCOUNT},
            "podDisruptionBudget": {"name": "karpenter", "maxUnavailable": 1},
            "controller": {"resources": resources("500m", "512Mi", "1", "1Gi")},
            "podSecurityContext": {"fsGroup": NONROOT_UID, "runAsNonRoot": True},
            # The node's resolver (the VPC's), not CoreDNS: Karpenter starts before in-cluster DNS runs.
            "dnsPolicy": "Default",
            **SYSTEM_SCHEDULING,
        },
        [out.namespaces[KARPENTER_NAMESPACE], *karpenter.depends_on],
    )
    out.metrics_server = release(
        "metrics-server",
        charts.metrics_server,
        METRICS_SERVER_NAMESPACE,
        metrics_server_values(system_nodes=True),
        ready,
    )
    out.keda = release(
        "keda",
        charts.keda,
        KEDA_NAMESPACE,
        keda_values(system_nodes=True),
        [out.namespaces[KEDA_NAMESPACE], identities.keda_identity],
    )
    out.keda_aws_authentication = k8s.apiextensions.CustomResource(
        f"{name}-keda-aws-auth",
        api_version="keda.sh/v1alpha1",
        kind="ClusterTriggerAuthentication",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=KEDA_AWS_AUTHENTICATION),
        spec=keda_aws_authentication_spec(),
        opts=child_opts(parent, provider=provider, depends_on=[out.keda]),
    )
    out.load_balancer_controller = release(
        "aws-load-balancer-controller",
        charts.aws_load_balancer_controller,
        LBC_NAMESPACE,
        load_balancer_controller_values(args),
        [out.namespaces[LBC_NAMESPACE], identities.lbc_identity, identities.lbc_policy],
        short="lbc",
    )
    if any(pool.gpu for pool in cfg.node_pools or []) or args.training_gpus:
        out.namespaces[NVIDIA_NAMESPACE] = labelled_namespace(
            parent,
            name,
            NVIDIA_NAMESPACE,
            "privileged",
            provider,
            ready,
            exception="the NVIDIA device plugin registers GPUs through the kubelet's host device-plugin socket",
        )
        out.nvidia_device_plugin = release(
            "nvidia-device-plugin",
            charts.nvidia_device_plugin,
            NVIDIA_NAMESPACE,
            NVIDIA_DEVICE_PLUGIN_VALUES,
            [out.namespaces[NVIDIA_NAMESPACE]],
        )
    return out


def load_balancer_controller_values(args: ServingClusterArgs) -> dict[str, Any]:
    return {
        "clusterName": args.name,
        "region": args.region,
        "vpcId": args.vpc_id,
        "replicaCount": 2,
        "serviceAccount": {"create": True, "name": LBC_SERVICE_ACCOUNT},
        "resources": resources("100m", "128Mi", "500m", "512Mi"),
        "securityContext": hardened_container(),
        "podSecurityContext": {"fsGroup": NONROOT_UID, "seccompProfile": {"type": "RuntimeDefault"}},
        # The controller's IAM policy does not grant these integrations.
        "enableShield": False,
        "enableWaf": False,
        "enableWafv2": False,
        # Plain `type: LoadBalancer` Services keep the in-tree behaviour unless they opt in.
        "enableServiceMutatorWebhook": False,
        **SYSTEM_SCHEDULING,
    }


NVIDIA_DEVICE_PLUGIN_VALUES: dict[str, Any] = {
    # Only on the platform's GPU nodes, which carry the pool's taint. The chart's default node affinity stays:
    # it selects nodes labelled nvidia.com/gpu.present=true (or node-feature-discovery's labels, not installed
    # here), and GPU pools label their nodes so. Helm merges a map value into the chart's default key by key,
    # so no map here could remove that affinity; only null deletes a default key.
    "nodeSelector": {ACCELERATOR_LABEL: "nvidia"},
    "tolerations": [
        {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"},
        {"key": SYSTEM_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"},
        # GPU training nodes (components.training) carry the training taint too.
        {"key": TRAINING_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"},
    ],
    "resources": resources("50m", "64Mi", "200m", "256Mi"),
    "priorityClassName": "system-node-critical",
}


def encrypted_storage_class(
    parent: pulumi.Resource,
    name: str,
    args: ServingClusterArgs,
    provider: k8s.Provider,
    ebs_csi: pulumi.Resource,
) -> k8s.storage.v1.StorageClass:
    """The default StorageClass: gp3 volumes encrypted with the customer key, through the EBS CSI driver."""
    return k8s.storage.v1.StorageClass(
        f"{name}-gp3-encrypted",
        k8s.storage.v1.StorageClassInitArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="gp3-encrypted",
                annotations={"storageclass.kubernetes.io/is-default-class": "true"},
            ),
            provisioner="ebs.csi.aws.com",
            parameters={
                "type": "gp3",
                "encrypted": "true",
                "kmsKeyId": pulumi.Output.from_input(args.volumes_key_arn),
            },
            reclaim_policy="Delete",
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
        ),
        opts=child_opts(parent, provider=provider, depends_on=[ebs_csi]),
    )
