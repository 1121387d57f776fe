"""The Kubernetes objects of the training side, as plain dictionaries (validated in tests against closed schemas
written from the upstream CRDs: Karpenter v1.5.0, Kueue v0.14.8).

Training nodes carry the ``mlops.io/training`` taint and the ``mlops.io/node-role: training`` label: nothing lands
on them unless it tolerates the taint, and Kueue adds that toleration (and the pool's node selector) to the pods
of a workload it admits on a pool's ResourceFlavor
(https://kueue.sigs.k8s.io/docs/concepts/resource_flavor/#resourceflavor-tolerations-for-automatic-scheduling).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from components.cluster.naming import (
    ACCELERATOR_LABEL,
    GPU_PRESENT_LABEL,
    GPU_RESOURCE,
    NODE_ROLE_LABEL,
    POOL_LABEL,
    TRAINING_TAINT_KEY,
)
from components.training.config import TeamTraining, TrainingConfig, TrainingPoolConfig

TRAINING_ROLE = "training"
EFA_RESOURCE = "vpc.amazonaws.com/efa"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"
LOCAL_QUEUE = "training"
ZONE_LABEL = "topology.kubernetes.io/zone"
EFA_LABEL = "mlops.io/efa"  # on the nodes of kind efa pools: where the EFA device plugin runs
TRAINING_TOLERATION = {
    "key": TRAINING_TAINT_KEY,
    "operator": "Equal",
    "value": "true",
    "effect": "NoSchedule",
}


def pool_resource_name(pool: str) -> str:
    """The NodePool, EC2NodeClass and ResourceFlavor of a training pool share this name."""
    return f"training-{pool}"


def training_node_pool_spec(pool: TrainingPoolConfig) -> dict[str, Any]:
    """The ``spec`` of a karpenter.sh/v1 NodePool for a training pool.

    Consolidation only removes empty nodes (``WhenEmpty``) and the budgets allow no disruption for drift, so a
    running job is never moved; nodes never expire (expiry ignores budgets and do-not-disrupt in Karpenter v1,
    https://karpenter.sh/docs/concepts/disruption/#forceful-methods). A job's pods carry
    ``karpenter.sh/do-not-disrupt: "true"`` as well (the policy pack checks it for pods the stacks declare).
    """
    requirements: list[dict[str, Any]] = [
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": [pool.capacity_type]},
        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
        {
            "key": "karpenter.k8s.aws/instance-family",
            "operator": "In",
            "values": list(pool.instance_families),
        },
    ]
    if pool.availability_zones:
        requirements.append({"key": ZONE_LABEL, "operator": "In", "values": list(pool.availability_zones)})
    if pool.capacity_reservation_ids:
        # Reserved capacity first, on-demand when the reservations are used up (the ReservedCapacity gate).
        requirements[0] = {
            "key": "karpenter.sh/capacity-type",
            "operator": "In",
            "values": ["reserved", pool.capacity_type],
        }
    labels = {POOL_LABEL: pool.name, NODE_ROLE_LABEL: TRAINING_ROLE}
    if pool.kind == "efa":
        labels[EFA_LABEL] = "true"
    taints = [{"key": TRAINING_TAINT_KEY, "value": "true", "effect": "NoSchedule"}]
    limits = {"cpu": str(pool.cpu_limit), "memory": f"{pool.memory_limit_gib}Gi"}
    if pool.gpus:
        labels[ACCELERATOR_LABEL] = "nvidia"
        labels[GPU_PRESENT_LABEL] = "true"
        taints.append({"key": GPU_RESOURCE, "value": "true", "effect": "NoSchedule"})
        limits[GPU_RESOURCE] = str(pool.gpus)
    return {
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "nodeClassRef": {
                    "group": "karpenter.k8s.aws",
                    "kind": "EC2NodeClass",
                    "name": pool_resource_name(pool.name),
                },
                "requirements": requirements,
                "taints": taints,
                "expireAfter": "Never",
            },
        },
        "limits": limits,
        "disruption": {
            "consolidationPolicy": "WhenEmpty",
            "consolidateAfter": pool.consolidate_after,
            "budgets": [
                {"nodes": "0", "reasons": ["Drifted", "Underutilized"]},
                {"nodes": "10%", "reasons": ["Empty"]},
            ],
        },
    }


def training_node_class_spec(
    base: Mapping[str, Any], pool: TrainingPoolConfig, dataset_volume_gib: int
) -> dict[str, Any]:
    """A training pool's EC2NodeClass: the platform's node class (``base``: discovery, IMDSv2 with hop limit 1,
    the instance profile) with a large gp3 root volume encrypted with the volumes key for datasets, and the pool's
    On-Demand Capacity Reservations by ID.

    EFA interfaces: Karpenter v1.5.0 has no EC2NodeClass field for them; it launches a NodeClaim whose pods request
    ``vpc.amazonaws.com/efa`` with EFA interfaces (pkg/providers/instance/instance.go), so the EFA pool's jobs
    request that resource, which the EFA device plugin advertises. Placement groups are not in v1.5.0's CRD
    (``placementGroupSelector`` arrives with Karpenter 1.12): the EFA pool keeps to one availability zone instead.
    """
    (root,) = base["blockDeviceMappings"]
    spec = {
        **base,
        "blockDeviceMappings": [
            {
                **root,
                "ebs": {
                    **root["ebs"],
                    "volumeSize": f"{dataset_volume_gib}Gi",
                    # gp3 at up to 16,000 IOPS and 1,000 MiB/s, at most 0.25 MiB/s per IOPS (EBS volume types).
                    "iops": 6000,
                    "throughput": 750,
                },
            }
        ],
        "tags": {**base["tags"], "mlops:purpose": "training", "mlops:pool": pool.name},
    }
    if pool.capacity_reservation_ids:
        spec["capacityReservationSelectorTerms"] = [
            {"id": reservation} for reservation in pool.capacity_reservation_ids
        ]
    return spec


def resource_flavor_spec(pool: TrainingPoolConfig) -> dict[str, Any]:
    """A pool's Kueue ResourceFlavor: admitted pods get the pool's node label and tolerate its taints."""
    tolerations = [dict(TRAINING_TOLERATION)]
    if pool.gpus:
        tolerations.append({"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"})
    return {"nodeLabels": {POOL_LABEL: pool.name}, "tolerations": tolerations}


def cluster_queue_name(team: str) -> str:
    return f"team-{team}"


def cluster_queue_spec(
    namespace: str, team: TeamTraining, pools: Mapping[str, Mapping[str, Any]], cohort: str
) -> dict[str, Any]:
    """A team's ClusterQueue: one flavor per allowed pool with the team's nominal quota there, in the platform's
    cohort so idle quota is borrowed by others and reclaimed (by preemption) when the team needs it back.

    ``pools`` is the platform's view of each pool by name (``gpus``: whether it has GPUs). All flavors of a
    resource group list the same covered resources (Kueue's ClusterQueue validation), so a CPU pool gets a GPU
    quota of 0 when the team has GPU pools too.
    """
    gpu = any(pools[quota.name]["gpus"] for quota in team.pools)
    covered = ["cpu", "memory", *([GPU_RESOURCE] if gpu else [])]
    flavors = []
    for quota in team.pools:
        resources = [
            {"name": "cpu", "nominalQuota": quota.cpu},
            {"name": "memory", "nominalQuota": quota.memory},
        ]
        if gpu:
            resources.append({"name": GPU_RESOURCE, "nominalQuota": str(quota.gpus)})
        flavors.append({"name": pool_resource_name(quota.name), "resources": resources})
    return {
        "cohort": cohort,
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
        "queueingStrategy": "BestEffortFIFO",
        "resourceGroups": [{"coveredResources": covered, "flavors": flavors}],
        "preemption": {
            "reclaimWithinCohort": "Any",
            "borrowWithinCohort": {"policy": "Never"},
            "withinClusterQueue": "LowerPriority",
        },
    }


def local_queue_spec(team: str) -> dict[str, Any]:
    return {"clusterQueue": cluster_queue_name(team)}


def kueue_manager_config(managed_label: str) -> str:
    """Kueue's Configuration (config.kueue.x-k8s.io/v1beta1), the chart's ``controllerManagerConfigYaml``.

    Metrics stay on the secure port (8443, authenticated and authorised by the API server); only team namespaces
    (labelled ``managed_label``) are managed, so a plain Pod there (a notebook) is queued too; the EFA resource is
    a device of the node, not a quota, so Kueue leaves it out of admission.
    """
    config = {
        "apiVersion": "config.kueue.x-k8s.io/v1beta1",
        "kind": "Configuration",
        "health": {"healthProbeBindAddress": ":8081"},
        "metrics": {"bindAddress": ":8443"},
        "webhook": {"port": 9443},
        "leaderElection": {"leaderElect": True, "resourceName": "c1f6bfd2.kueue.x-k8s.io"},
        "manageJobsWithoutQueueName": False,
        "managedJobsNamespaceSelector": {"matchExpressions": [{"key": managed_label, "operator": "Exists"}]},
        "waitForPodsReady": {"enable": True, "timeout": "10m", "blockAdmission": False},
        "resources": {"excludeResourcePrefixes": ["vpc.amazonaws.com/"]},
        "integrations": {
            "frameworks": ["batch/job", "pod", "jobset.x-k8s.io/jobset", "kubeflow.org/pytorchjob"]
        },
    }
    return yaml.safe_dump(config, sort_keys=False)


def pools_view(training: TrainingConfig) -> dict[str, dict[str, Any]]:
    """What a team stack needs to know of each pool (the contract's ``training.pools``)."""
    return {
        pool.name: {
            "flavor": pool_resource_name(pool.name),
            "kind": pool.kind,
            "gpus": pool.gpus > 0,
            "cpu_limit": pool.cpu_limit,
            "memory_limit_gib": pool.memory_limit_gib,
            "gpu_limit": pool.gpus,
        }
        for pool in training.pools
    }
