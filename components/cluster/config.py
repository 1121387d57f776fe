"""The serving cluster's config (`mlops:platform.cluster`): two modes, a pydantic discriminated union on `mode`.

`eks` (the default when `mode` is omitted) creates one EKS cluster per region with Karpenter node pools and the
in-cluster autoscaling add-ons. `byo` targets an existing cluster through a kubeconfig context and installs only
what makes sense on any cluster (KEDA, metrics-server). Each mode is its own model, so a key of the other mode is
an unknown key there; ``unknown_key_message`` and ``missing_messages`` give those errors the mode's own wording
(read by the message code in ``components.config``). A byo section reports its first AWS-only key before anything
else, from a validator that reads the keys as written.

Nothing here imports Pulumi.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, ValidationInfo, model_validator

from components.configbase import KEBAB_RE, KeyedValueError, Model

CLUSTER_MODES = ("eks", "byo")
EKS_ADDONS = (
    "vpc-cni",
    "coredns",
    "kube-proxy",
    "eks-pod-identity-agent",
    "aws-ebs-csi-driver",
    "amazon-cloudwatch-observability",
)
CLUSTER_CHARTS = (
    "karpenter",
    "keda",
    "metrics-server",
    "aws-load-balancer-controller",
    "nvidia-device-plugin",
)
BYO_CHARTS = ("keda", "metrics-server")
BYO_KEYS = ("mode", "kubernetes-version", "kubeconfig", "kubeconfig-context", "charts")

_K8S_VERSION_RE = re.compile(r"^1\.(\d{2})$")
_ADDON_VERSION_RE = re.compile(r"^v\d+\.\d+\.\d+-eksbuild\.\d+$")
_CHART_VERSION_RE = re.compile(r"^v?\d+\.\d+\.\d+$")
_AMI_ALIAS_RE = re.compile(r"^(al2023|bottlerocket)@(latest|v\d[\w.-]*)$")
_ROLE_ARN_RE = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_DURATION_RE = re.compile(r"^(\d+(s|m|h))+$")
_INSTANCE_FAMILY_RE = re.compile(r"^[a-z][a-z0-9-]*\d[a-z0-9-]*$")
_INSTANCE_CATEGORY_RE = re.compile(r"^[a-z]$")
_KeyedValueError = KeyedValueError  # the name the validators below raise


def _keys(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}


def _exact_chart_version(value: str) -> str:
    if not _CHART_VERSION_RE.match(value):
        raise ValueError(f"{value!r} is not an exact chart version; allowed: X.Y.Z (no ranges, no 'latest')")
    return value


def _exact_addon_version(value: str) -> str:
    if not _ADDON_VERSION_RE.match(value):
        raise ValueError(f"{value!r} is not an exact add-on version; allowed: vX.Y.Z-eksbuild.N")
    return value


ChartVersion = Annotated[str, AfterValidator(_exact_chart_version)]
AddonVersion = Annotated[str, AfterValidator(_exact_addon_version)]


class AddonVersions(Model):
    """Pinned versions of the EKS managed add-ons (`aws eks describe-addon-versions` lists them)."""

    vpc_cni: Annotated[AddonVersion, Field(alias="vpc-cni")]
    coredns: AddonVersion
    kube_proxy: Annotated[AddonVersion, Field(alias="kube-proxy")]
    eks_pod_identity_agent: Annotated[AddonVersion, Field(alias="eks-pod-identity-agent")]
    aws_ebs_csi_driver: Annotated[AddonVersion, Field(alias="aws-ebs-csi-driver")]
    # Container Insights' CloudWatch agent, installed by observability (container-insights: true); pinned here
    # with the others because which versions EKS offers follows the cluster's Kubernetes version.
    amazon_cloudwatch_observability: Annotated[AddonVersion, Field(alias="amazon-cloudwatch-observability")]


class EksChartVersions(Model):
    """Pinned Helm chart versions of an EKS cluster's in-cluster add-ons."""

    missing_messages: ClassVar[dict[str, str]] = {
        key: "missing; required with mode: eks (an exact X.Y.Z)"
        for key in ("karpenter", "keda", "metrics-server", "aws-load-balancer-controller")
    }

    karpenter: ChartVersion
    keda: ChartVersion
    metrics_server: Annotated[ChartVersion, Field(alias="metrics-server")]
    aws_load_balancer_controller: Annotated[ChartVersion, Field(alias="aws-load-balancer-controller")]
    nvidia_device_plugin: Annotated[ChartVersion | None, Field(alias="nvidia-device-plugin")] = None
    # With private-ca or custom-ca-bundle (components/trust).
    cert_manager: Annotated[ChartVersion | None, Field(alias="cert-manager")] = None
    aws_privateca_issuer: Annotated[ChartVersion | None, Field(alias="aws-privateca-issuer")] = None
    trust_manager: Annotated[ChartVersion | None, Field(alias="trust-manager")] = None


class ByoChartVersions(Model):
    """Pinned Helm chart versions of what an existing cluster gets: KEDA and metrics-server."""

    missing_messages: ClassVar[dict[str, str]] = {
        key: "missing; mode byo installs keda and metrics-server" for key in BYO_CHARTS
    }

    keda: ChartVersion
    metrics_server: Annotated[ChartVersion, Field(alias="metrics-server")]


class SystemNodesConfig(Model):
    """The small managed node group that runs cluster-critical controllers (Karpenter, CoreDNS, KEDA...)."""

    instance_types: Annotated[list[str], Field(alias="instance-types", min_length=1, max_length=8)] = [
        "m7i.large"
    ]
    min_size: Annotated[int, Field(alias="min-size", ge=1, le=10)] = 2
    desired_size: Annotated[int, Field(alias="desired-size", ge=1, le=10)] = 2
    max_size: Annotated[int, Field(alias="max-size", ge=1, le=10)] = 3
    disk_size_gib: Annotated[int, Field(alias="disk-size-gib", ge=20, le=1000)] = 50

    @model_validator(mode="after")
    def _sizes(self) -> SystemNodesConfig:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise _KeyedValueError(
                ("desired-size",),
                f"{self.desired_size} is outside min-size {self.min_size} .. max-size {self.max_size}; "
                "allowed: min-size <= desired-size <= max-size",
            )
        return self


class NodePoolConfig(Model):
    """One Karpenter NodePool: what capacity it may launch, how much in total, and how it consolidates."""

    name: Annotated[str, Field(pattern=KEBAB_RE, max_length=63)]
    capacity_type: Annotated[Literal["on-demand", "spot"], Field(alias="capacity-type")]
    instance_families: Annotated[list[str] | None, Field(alias="instance-families", min_length=1)] = None
    instance_categories: Annotated[list[str] | None, Field(alias="instance-categories", min_length=1)] = None
    architectures: Annotated[list[Literal["amd64", "arm64"]], Field(min_length=1)] = ["amd64"]
    gpu: bool = False
    cpu_limit: Annotated[int, Field(alias="cpu-limit", ge=1, le=100_000)]
    memory_limit_gib: Annotated[int, Field(alias="memory-limit-gib", ge=1, le=1_000_000)]
    gpu_limit: Annotated[int | None, Field(alias="gpu-limit", ge=1, le=10_000)] = None
    consolidation_policy: Annotated[
        Literal["WhenEmpty", "WhenEmptyOrUnderutilized"], Field(alias="consolidation-policy")
    ] = "WhenEmptyOrUnderutilized"
    consolidate_after: Annotated[str, Field(alias="consolidate-after")] = "1m"
    expire_after: Annotated[str, Field(alias="expire-after")] = "720h"
    disruption_budget: Annotated[str, Field(alias="disruption-budget", pattern=r"^(\d{1,3}%|\d+)$")] = "10%"
    weight: Annotated[int | None, Field(ge=1, le=100)] = None

    @model_validator(mode="after")
    def _shape(self) -> NodePoolConfig:
        if (self.instance_families is None) == (self.instance_categories is None):
            raise _KeyedValueError(
                ("instance-families",),
                "set exactly one of instance-families (e.g. [g5, g6]) or "
                "instance-categories (e.g. [c, m, r])",
            )
        for key, values, pattern, example in (
            ("instance-families", self.instance_families, _INSTANCE_FAMILY_RE, "g5, m7i"),
            ("instance-categories", self.instance_categories, _INSTANCE_CATEGORY_RE, "c, m, r"),
        ):
            for index, value in enumerate(values or []):
                if not pattern.match(value):
                    raise _KeyedValueError((key, index), f"{value!r} is not valid; allowed: e.g. {example}")
        for key, value in (
            ("consolidate-after", self.consolidate_after),
            ("expire-after", self.expire_after),
        ):
            if value != "Never" and not _DURATION_RE.match(value):
                raise _KeyedValueError(
                    (key,), f"{value!r} is not a duration; allowed: e.g. 30s, 5m, 720h or Never"
                )
        if self.gpu and self.gpu_limit is None:
            raise _KeyedValueError(
                ("gpu-limit",), "missing; a gpu: true pool needs a gpu-limit (GPUs in total)"
            )
        if not self.gpu and self.gpu_limit is not None:
            raise _KeyedValueError(("gpu-limit",), "only allowed with gpu: true")
        if self.gpu and self.instance_families is None:
            raise _KeyedValueError(
                ("instance-families",), "missing; a gpu: true pool names its GPU families (e.g. [g5, g6])"
            )
        return self


# EC2 launches Spot Instances only when the account has the service-linked role AWSServiceRoleForEC2Spot, which API
# callers must make sure exists (EC2 User Guide, "Service-linked role for Spot Instance requests"). `create`
# (default): the stack creates it with its first spot pool, so a fresh account works; on an account that already
# has it, `pulumi up` fails at once ("Service role name AWSServiceRoleForEC2Spot has been taken"): set `exists`, or
# `pulumi import` it. `exists`: nothing is created; if the role is in fact missing, every spot launch fails at run
# time (AuthFailure.ServiceLinkedRoleCreationNotPermitted in Karpenter's logs) while on-demand pools keep working.
# The role is account-wide and kept on destroy.
SpotServiceLinkedRole = Literal["create", "exists"]


def _kubernetes_version(value: str | None) -> str | None:
    if value is not None and not _K8S_VERSION_RE.match(value):
        raise ValueError(f"{value!r} is not a Kubernetes minor version; allowed: e.g. '1.33' (quoted)")
    return value


KubernetesVersion = Annotated[str, AfterValidator(_kubernetes_version)]


class EksClusterConfig(Model):
    """Mode `eks`: the serving cluster of every region, built by the platform."""

    missing_messages: ClassVar[dict[str, str]] = {
        key: "missing; required with mode: eks"
        for key in ("kubernetes-version", "addons", "admin-role-arns", "node-pools")
    }

    mode: Literal["eks"] = "eks"
    kubernetes_version: Annotated[KubernetesVersion, Field(alias="kubernetes-version")]
    endpoint_public_access: Annotated[bool, Field(alias="endpoint-public-access")] = False
    public_access_cidrs: Annotated[list[str] | None, Field(alias="public-access-cidrs", min_length=1)] = None
    admin_role_arns: Annotated[list[str], Field(alias="admin-role-arns", min_length=1)]
    addons: AddonVersions
    charts: EksChartVersions
    system_nodes: Annotated[SystemNodesConfig | None, Field(alias="system-nodes")] = None
    node_ami_alias: Annotated[str | None, Field(alias="node-ami-alias")] = None
    node_pools: Annotated[list[NodePoolConfig], Field(alias="node-pools", min_length=1)]
    spot_service_linked_role: Annotated[SpotServiceLinkedRole, Field(alias="spot-service-linked-role")] = (
        "create"
    )

    @classmethod
    def unknown_key_message(cls, key: str) -> str | None:
        if key in _keys(ByoClusterConfig):
            return "only allowed with mode: byo (mode eks builds its own kubeconfig)"
        return None

    @property
    def creates_spot_service_linked_role(self) -> bool:
        """Whether the stack creates AWSServiceRoleForEC2Spot: a spot pool exists and the role is not there."""
        spot = any(pool.capacity_type == "spot" for pool in self.node_pools)
        return spot and self.spot_service_linked_role == "create"

    @model_validator(mode="after")
    def _cross_checks(self) -> EksClusterConfig:
        if any(pool.gpu for pool in self.node_pools) and self.charts.nvidia_device_plugin is None:
            raise _KeyedValueError(
                ("charts", "nvidia-device-plugin"), "missing; required when a node pool has gpu: true"
            )
        for index, arn in enumerate(self.admin_role_arns):
            if not _ROLE_ARN_RE.match(arn):
                raise _KeyedValueError(
                    ("admin-role-arns", index),
                    f"{arn!r} is not an IAM role ARN; allowed: arn:aws:iam::<account>:role/<name>",
                )
        names = [pool.name for pool in self.node_pools]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise _KeyedValueError(("node-pools", index, "name"), f"node pool {name!r} is listed twice")
        if self.node_ami_alias is not None and not _AMI_ALIAS_RE.match(self.node_ami_alias):
            raise _KeyedValueError(
                ("node-ami-alias",),
                f"{self.node_ami_alias!r} is not an AMI alias; allowed: al2023@latest, al2023@vYYYYMMDD",
            )
        self._public_access_rules()
        return self

    def _public_access_rules(self) -> None:
        if self.endpoint_public_access and self.public_access_cidrs is None:
            raise _KeyedValueError(
                ("public-access-cidrs",),
                "missing; a public endpoint needs an allow-list of CIDRs (never 0.0.0.0/0)",
            )
        if not self.endpoint_public_access and self.public_access_cidrs is not None:
            raise _KeyedValueError(("public-access-cidrs",), "only allowed with endpoint-public-access: true")
        for index, cidr in enumerate(self.public_access_cidrs or []):
            try:
                network = ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise _KeyedValueError(
                    ("public-access-cidrs", index), f"{cidr!r} is not a CIDR; allowed: e.g. 203.0.113.0/24"
                ) from None
            if network.prefixlen == 0:
                raise _KeyedValueError(
                    ("public-access-cidrs", index),
                    f"{cidr} opens the API endpoint to the whole internet; allowed: specific CIDRs (prefix /1 or longer)",
                )

    @property
    def system(self) -> SystemNodesConfig:
        return self.system_nodes or SystemNodesConfig()

    @property
    def ami_alias(self) -> str:
        return self.node_ami_alias or "al2023@latest"


class ByoClusterConfig(Model):
    """Mode `byo`: an existing cluster reached by kubeconfig; only in-cluster settings apply."""

    missing_messages: ClassVar[dict[str, str]] = {
        "kubeconfig-context": "missing; mode byo names the context to deploy to (never the current one)"
    }

    mode: Literal["byo"]
    kubernetes_version: Annotated[KubernetesVersion | None, Field(alias="kubernetes-version")] = None
    kubeconfig: str | None = None
    kubeconfig_context: Annotated[str, Field(alias="kubeconfig-context", min_length=1)]
    charts: ByoChartVersions

    @model_validator(mode="before")
    @classmethod
    def _aws_only_keys_first(cls, value: Any) -> Any:
        """An AWS-only key left in a byo section is the error to fix first: it says the section was written for
        mode eks, which explains any missing byo key too. Keys are checked as written, so the first one is named."""
        if not isinstance(value, dict):
            return value
        for key, item in value.items():
            if key == "charts" and isinstance(item, dict):
                for chart in item:
                    if chart in _keys(EksChartVersions) and chart not in BYO_CHARTS:
                        raise _KeyedValueError(("charts", chart), _byo_only_message())
            elif key in _keys(EksClusterConfig) and key not in BYO_KEYS:
                raise _KeyedValueError((key,), _byo_only_message())
        return value


def _byo_only_message() -> str:
    return (
        "AWS-only setting, not allowed with mode: byo; allowed there: "
        + ", ".join(BYO_KEYS)
        + " (charts: "
        + ", ".join(BYO_CHARTS)
        + ")"
    )


def _default_mode(value: Any) -> Any:
    """`mode` may be omitted: a cluster section without one is an EKS cluster."""
    if isinstance(value, dict) and "mode" not in value:
        return {"mode": "eks", **value}
    return value


ClusterConfig = Annotated[
    EksClusterConfig | ByoClusterConfig, Field(discriminator="mode"), BeforeValidator(_default_mode)
]


def cluster_fits_environment(value: Any, info: ValidationInfo) -> Any:
    """A public API endpoint is a dev/staging convenience; prod clusters are reachable only from the VPC."""
    public = isinstance(value, EksClusterConfig) and value.endpoint_public_access
    if public and info.data.get("environment") == "prod":
        raise _KeyedValueError(
            ("endpoint-public-access",),
            "true is not allowed in prod; allowed in prod: false (private endpoint only)",
        )
    return value
