"""Names, labels and identities the cluster's modules share: one spelling for each."""

from __future__ import annotations

DISCOVERY_TAG = "karpenter.sh/discovery"
NODE_ROLE_LABEL = "mlops.io/node-role"
POOL_LABEL = "mlops.io/pool"
ACCELERATOR_LABEL = "mlops.io/accelerator"
GPU_RESOURCE = "nvidia.com/gpu"
# The label the NVIDIA device plugin chart's default node affinity accepts to run its DaemonSet on a node without
# node-feature-discovery (NVIDIA/k8s-device-plugin v0.17.2 deployments/helm/nvidia-device-plugin/values.yaml).
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"
SYSTEM_TAINT_KEY = "CriticalAddonsOnly"
# Training nodes (components.training): only admitted training work and notebooks tolerate it.
TRAINING_TAINT_KEY = "mlops.io/training"
NODE_CLASS_NAME = "default"
NONROOT_UID = 65532

KARPENTER_NAMESPACE = "karpenter"
KARPENTER_SERVICE_ACCOUNT = "karpenter"
KEDA_NAMESPACE = "keda"
# The chart's operator service account (kedacore/charts v2.17.1 values.yaml serviceAccount.operator.name); the
# operator runs the scalers, so its Pod Identity role is what KEDA's `aws` pod identity provider uses.
KEDA_OPERATOR_SERVICE_ACCOUNT = "keda-operator"
# The ClusterTriggerAuthentication team ScaledObjects reference to query the managed Prometheus with SigV4.
KEDA_AWS_AUTHENTICATION = "aws-pod-identity"
LBC_NAMESPACE = "aws-load-balancer-controller"
LBC_SERVICE_ACCOUNT = "aws-load-balancer-controller"
NVIDIA_NAMESPACE = "nvidia-device-plugin"
METRICS_SERVER_NAMESPACE = "kube-system"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"


def cluster_name(environment: str, region: str) -> str:
    """The EKS cluster name, also the value of the `karpenter.sh/discovery` tag on its subnets."""
    return f"mlops-{environment}-{region}"
