"""The platform's training side on one region's cluster: training NodePools, Kueue, JupyterHub, the EFA plugin."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.base import child_opts
from components.blocks.ingress import ALB, internal_alb_annotations
from components.cluster.charts import (
    SYSTEM_SCHEDULING,
    hardened_container,
    labelled_namespace,
    pinned_release,
    resources,
)
from components.cluster.karpenter import node_class_spec
from components.cluster.naming import GPU_RESOURCE, LBC_NAMESPACE, LBC_SERVICE_ACCOUNT, SYSTEM_TAINT_KEY
from components.identity.config import OidcConfig
from components.identity.oidc import OidcSignIn, OidcSignInArgs, platform_ui_ingress_args
from components.training.config import TrainingConfig
from components.training.notebooks import HUB_NAMESPACE, HUB_PROXY_SERVICE, jupyterhub_values
from components.training.specs import (
    EFA_LABEL,
    TRAINING_TAINT_KEY,
    kueue_manager_config,
    pool_resource_name,
    pools_view,
    resource_flavor_spec,
    training_node_class_spec,
    training_node_pool_spec,
)

KUEUE_NAMESPACE = "kueue-system"
KUEUE_IMAGE = "registry.k8s.io/kueue/kueue"
EFA_NAMESPACE = "aws-efa-device-plugin"
DATASETS_STORAGE_CLASS = "gp3-datasets"
# Team namespaces carry the label `team` (components.serving.team): Kueue manages jobs and pods there only.
MANAGED_NAMESPACE_LABEL = "team"


def kueue_values(version: str) -> dict[str, Any]:
    """Kueue's release values: the published image of the pinned version (the chart at its tag names a staging
    image with pullPolicy Always), two replicas with a disruption budget on the system nodes, the hardened
    containers, metrics on the secure port only, no KueueViz and no Prometheus objects."""
    return {
        "controllerManager": {
            "manager": {
                "image": {"repository": KUEUE_IMAGE, "tag": f"v{version}", "pullPolicy": "IfNotPresent"},
                "resources": resources("500m", "512Mi", "2", "1Gi"),
                "podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                "containerSecurityContext": hardened_container(),
                "priorityClassName": "system-cluster-critical",
            },
            "replicas": 2,
            "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
            **SYSTEM_SCHEDULING,
        },
        "managerConfig": {"controllerManagerConfigYaml": kueue_manager_config(MANAGED_NAMESPACE_LABEL)},
        "enablePrometheus": False,
        "enableCertManager": False,
        "enableKueueViz": False,
    }


def efa_device_plugin_values() -> dict[str, Any]:
    """The EFA device plugin on the EFA pools' nodes only (other GPU instance types have EFA too, but only an EFA
    pool's jobs request it): it tolerates their taints; the chart's own affinity keeps it to instance types with
    EFA."""
    return {
        "tolerations": [
            {"key": TRAINING_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"},
            {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"},
            {"key": SYSTEM_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"},
        ],
        "nodeSelector": {EFA_LABEL: "true"},
        "resources": resources("10m", "20Mi", "100m", "64Mi"),
    }


@dataclass(frozen=True)
class TrainingPlatformArgs:
    """What the training side needs of its region's cluster (plain values and the cluster's resources)."""

    config: TrainingConfig
    environment: str
    cluster_name: str
    k8s_provider: k8s.Provider
    instance_profile: pulumi.Input[str]
    ami_alias: str
    volumes_key_arn: pulumi.Input[str]
    tags: Mapping[str, str]
    karpenter: pulumi.Resource  # the Karpenter release: its CRDs
    node_class_depends_on: Sequence[pulumi.Resource]  # what the platform's node class waits for
    workload_ready: Sequence[pulumi.Resource]  # the load balancer controller and node pools
    oidc: OidcConfig
    oidc_client_secret: pulumi.Input[str]
    # The account's Spot service-linked role when the stack creates it: spot pools wait for it (as the cluster's).
    spot_service_linked_role: pulumi.Resource | None = None
    lb_subnet_ids: Sequence[pulumi.Input[str]] = ()
    # custom.teams of the hub (components.training.notebooks.team_profiles), from the team stacks on the platform.
    teams: Mapping[str, Any] = field(default_factory=dict)


class TrainingPlatform(pulumi.ComponentResource):
    """Creates, on one cluster: an EC2NodeClass and a tainted NodePool per training pool, a gp3 StorageClass for
    datasets, Kueue (namespace, release) with a ResourceFlavor per pool, the EFA device plugin when a pool has
    EFA, and JupyterHub (namespace, OIDC client Secret, release, Ingress on an internal ALB with sign-in).

    Pass the region's AWS provider in ``opts``; Kubernetes objects use ``args.k8s_provider``.
    """

    def __init__(self, name: str, args: TrainingPlatformArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:training:TrainingPlatform", name, None, opts)
        self._args = args
        cfg, provider = args.config, args.k8s_provider
        base = node_class_spec(
            cluster=args.cluster_name,
            instance_profile=args.instance_profile,
            ami_alias=args.ami_alias,
            volume_key_arn=args.volumes_key_arn,
            volume_size_gib=100,
            tags=args.tags,
        )
        self.node_classes: dict[str, k8s.apiextensions.CustomResource] = {}
        self.node_pools: dict[str, k8s.apiextensions.CustomResource] = {}
        for pool in cfg.pools:
            spot = pool.capacity_type == "spot"
            node_class = k8s.apiextensions.CustomResource(
                f"{name}-node-class-{pool.name}",
                api_version="karpenter.k8s.aws/v1",
                kind="EC2NodeClass",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=pool_resource_name(pool.name)),
                spec=training_node_class_spec(base, pool, cfg.dataset_volume_gib),
                opts=child_opts(
                    self, provider=provider, depends_on=[args.karpenter, *args.node_class_depends_on]
                ),
            )
            self.node_classes[pool.name] = node_class
            self.node_pools[pool.name] = k8s.apiextensions.CustomResource(
                f"{name}-pool-{pool.name}",
                api_version="karpenter.sh/v1",
                kind="NodePool",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=pool_resource_name(pool.name)),
                spec=training_node_pool_spec(pool),
                opts=child_opts(
                    self,
                    provider=provider,
                    depends_on=[
                        args.karpenter,
                        node_class,
                        *([args.spot_service_linked_role] if spot and args.spot_service_linked_role else []),
                    ],
                ),
            )
        self.datasets_storage_class = k8s.storage.v1.StorageClass(
            f"{name}-gp3-datasets",
            k8s.storage.v1.StorageClassInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(name=DATASETS_STORAGE_CLASS),
                provisioner="ebs.csi.aws.com",
                parameters={
                    "type": "gp3",
                    "encrypted": "true",
                    "kmsKeyId": pulumi.Output.from_input(args.volumes_key_arn),
                    "iops": "6000",
                    "throughput": "750",
                },
                reclaim_policy="Retain",
                volume_binding_mode="WaitForFirstConsumer",
                allow_volume_expansion=True,
            ),
            opts=child_opts(self, provider=provider),
        )
        self._kueue(name, args)
        self._efa(name, args)
        self._hub(name, args)
        self.register_outputs(
            {"pools": list(self.node_pools), "flavors": list(self.flavors), "hubHost": cfg.notebooks.host}
        )

    def _release(self, name: str, chart: str, version: str, namespace: str, values, depends_on, short=None):
        return pinned_release(
            self, name, chart, version, namespace, values, self._args.k8s_provider, depends_on, short
        )

    def _kueue(self, name: str, args: TrainingPlatformArgs) -> None:
        cfg = args.config
        self.kueue_namespace = labelled_namespace(
            self, name, KUEUE_NAMESPACE, "restricted", args.k8s_provider, args.workload_ready
        )
        self.kueue = self._release(
            name,
            "kueue",
            cfg.charts.kueue,
            KUEUE_NAMESPACE,
            kueue_values(cfg.charts.kueue),
            [self.kueue_namespace],
        )
        self.flavors = {
            pool.name: k8s.apiextensions.CustomResource(
                f"{name}-flavor-{pool.name}",
                api_version="kueue.x-k8s.io/v1beta1",
                kind="ResourceFlavor",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=pool_resource_name(pool.name)),
                spec=resource_flavor_spec(pool),
                opts=child_opts(self, provider=args.k8s_provider, depends_on=[self.kueue]),
            )
            for pool in cfg.pools
        }

    def _efa(self, name: str, args: TrainingPlatformArgs) -> None:
        cfg = args.config
        self.efa_device_plugin = None
        if not any(pool.kind == "efa" for pool in cfg.pools):
            return
        assert cfg.charts.efa_device_plugin is not None
        namespace = labelled_namespace(
            self,
            name,
            EFA_NAMESPACE,
            "privileged",
            args.k8s_provider,
            args.workload_ready,
            exception="the EFA device plugin registers EFA devices through the kubelet's host device-plugin socket",
        )
        self.efa_device_plugin = self._release(
            name,
            "aws-efa-k8s-device-plugin",
            cfg.charts.efa_device_plugin,
            EFA_NAMESPACE,
            efa_device_plugin_values(),
            [namespace],
            short="efa-device-plugin",
        )

    def _hub(self, name: str, args: TrainingPlatformArgs) -> None:
        cfg = args.config
        labels = {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "jupyterhub"}
        self.hub_namespace = labelled_namespace(
            self, name, HUB_NAMESPACE, "restricted", args.k8s_provider, args.workload_ready
        )
        self.signin = OidcSignIn(
            f"{name}-hub-signin",
            OidcSignInArgs(
                namespace=HUB_NAMESPACE,
                oidc=args.oidc,
                client_secret=args.oidc_client_secret,
                secret_name="oidc-client",
                labels=labels,
                reader=(LBC_NAMESPACE, LBC_SERVICE_ACCOUNT),
                after=[self.hub_namespace],
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=args.k8s_provider),
        )
        self.hub = self._release(
            name,
            "jupyterhub",
            cfg.charts.jupyterhub,
            HUB_NAMESPACE,
            jupyterhub_values(
                cfg.notebooks,
                args.oidc,
                pulumi.Output.secret(args.oidc_client_secret),
                args.teams,
                "gp3-encrypted",
                cfg.charts.jupyterhub,
            ),
            [self.hub_namespace, self.kueue],
            short="hub",
        )
        annotations: dict[str, Any] = {
            **internal_alb_annotations(
                certificate_arn=cfg.notebooks.certificate_arn,
                health_path="/hub/health",
                load_balancer_name=f"mlops-{args.environment}-notebooks",
            ),
            **self.signin.annotations,
        }
        if args.lb_subnet_ids:
            annotations[f"{ALB}/subnets"] = pulumi.Output.all(*args.lb_subnet_ids).apply(",".join)
        signed_in = [self.signin.secret, *filter(None, [self.signin.role_binding])]
        self.hub_ingress = k8s.networking.v1.Ingress(
            f"{name}-hub-ingress",
            platform_ui_ingress_args(
                name="jupyterhub",
                namespace=HUB_NAMESPACE,
                labels=labels,
                annotations=annotations,
                host=cfg.notebooks.host,
                service=HUB_PROXY_SERVICE,
                port=80,
            ),
            opts=child_opts(
                self, provider=args.k8s_provider, depends_on=[self.hub, *signed_in, *args.workload_ready]
            ),
        )

    def contract_values(self, region: str) -> dict[str, Any]:
        """The contract's ``training`` (components.outputs.TrainingOutputs) by field name."""
        cfg = self._args.config
        return {
            "region": region,
            "cohort": cfg.cohort,
            "pools": pools_view(cfg),
            "hub_namespace": HUB_NAMESPACE,
            "hub_url": f"https://{cfg.notebooks.host}",
            "overcommit_factor": cfg.overcommit_factor,
        }
