"""Training workloads and notebooks: queued through Kueue, kept off serving, never privileged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import Severity

from policies.base import get, items, mapping, resource_policy, shown
from policies.kubernetes import WORKLOADS, containers, pod_spec

TRAINING_TAINT = "mlops.io/training"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"
SERVING_KINDS = (
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:ReplicaSet",
)
BATCH_KINDS = tuple(
    kind for kind in WORKLOADS if kind not in (*SERVING_KINDS, "kubernetes:apps/v1:DaemonSet")
)
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
# Where each batch kind keeps the labels its pods are created with (Kueue reads the queue label from the job
# object, https://kueue.sigs.k8s.io/docs/tasks/run/jobs/; a plain Pod from itself).
POD_METADATA_PATHS = {
    "kubernetes:core/v1:Pod": ("metadata",),
    "kubernetes:batch/v1:Job": ("spec", "template", "metadata"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "metadata"),
}
QUEUE_LABEL_PATHS = {
    "kubernetes:core/v1:Pod": ("metadata",),
    "kubernetes:batch/v1:Job": ("metadata",),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "metadata"),
}


def tolerates_training(spec: Mapping[str, Any]) -> bool:
    """A toleration of the training taint: its key, or an empty key with operator Exists (tolerates every taint,
    https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/)."""
    for toleration in items(spec.get("tolerations")):
        key = get(toleration, "key")
        if key == TRAINING_TAINT or (key in (None, "") and get(toleration, "operator") == "Exists"):
            return True
    return False


def _training_pod(props, args):
    spec = pod_spec(props, args.resource_type)
    if not tolerates_training(spec):
        return None
    problems = []
    queue = get(props, *QUEUE_LABEL_PATHS.get(args.resource_type, ("metadata",)), "labels", QUEUE_LABEL)
    if not isinstance(queue, str) or not queue:
        problems.append(f"tolerates the training taint but names no LocalQueue (label {QUEUE_LABEL})")
    annotations = mapping(
        get(props, *POD_METADATA_PATHS.get(args.resource_type, ("metadata",)), "annotations")
    )
    if annotations.get(DO_NOT_DISRUPT) != "true":
        problems.append(f"runs on training nodes without the {DO_NOT_DISRUPT}: 'true' pod annotation")
    return problems


def _serving_off_training(props, args):
    if tolerates_training(pod_spec(props, args.resource_type)):
        return "a long-running (serving) workload tolerates the training taint; training pools never serve models"
    return None


def _notebooks_unprivileged(props, _args):
    values = mapping(get(props, "values"))
    if not str(get(props, "chart", default="")).endswith("jupyterhub"):
        return None
    singleuser = mapping(values.get("singleuser"))
    problems = []
    if get(singleuser, "cloudMetadata", "blockWithIptables") is not False:
        problems.append(
            "singleuser.cloudMetadata.blockWithIptables is not false: the chart adds a privileged init container "
            "(deny the metadata address with a NetworkPolicy instead)"
        )
    if get(singleuser, "allowPrivilegeEscalation") is not False:
        problems.append(
            f"singleuser.allowPrivilegeEscalation is {shown(get(singleuser, 'allowPrivilegeEscalation'))}"
        )
    uid = get(singleuser, "uid")
    if not isinstance(uid, (int, float)) or isinstance(uid, bool) or uid <= 0:
        problems.append(f"singleuser.uid is {shown(uid)}; notebooks run as a non-root uid")
    pod = mapping(get(singleuser, "extraPodConfig"))
    extra = [*items(singleuser.get("initContainers")), *items(singleuser.get("extraContainers"))]
    for container in [*containers(pod), *extra]:
        if get(container, "securityContext", "privileged") is True:
            problems.append(f"container {shown(get(container, 'name'))} is privileged")
    for team in mapping(get(values, "custom", "teams")).values():
        for profile in items(get(team, "profiles")):
            override = mapping(get(profile, "kubespawner_override"))
            if get(override, "privileged") is True or get(override, "allow_privilege_escalation") is True:
                problems.append(f"profile {shown(get(profile, 'slug'))} overrides privilege")
    return problems


POLICIES = [
    resource_policy(
        "training-pods-name-a-local-queue",
        area="kubernetes",
        severity=Severity.HIGH,
        description=f"Pods and jobs that tolerate the training taint name a Kueue LocalQueue ({QUEUE_LABEL}) and "
        f"carry {DO_NOT_DISRUPT}: 'true'.",
        types=BATCH_KINDS,
        check=_training_pod,
        remediation=f"Label the job {QUEUE_LABEL}: training and annotate its pods {DO_NOT_DISRUPT}: 'true'.",
    ),
    resource_policy(
        "training-pools-never-serve",
        area="kubernetes",
        severity=Severity.HIGH,
        description="Serving workloads (Deployments, StatefulSets, ReplicaSets) never tolerate the training taint.",
        types=SERVING_KINDS,
        check=_serving_off_training,
        remediation=f"Remove the {TRAINING_TAINT} toleration (and any tolerate-everything toleration).",
    ),
    resource_policy(
        "notebooks-never-privileged",
        area="kubernetes",
        severity=Severity.CRITICAL,
        description="JupyterHub's single-user servers run unprivileged: no iptables init container, no privilege "
        "escalation, a non-root uid, no privileged container or profile.",
        types=[HELM_RELEASE],
        check=_notebooks_unprivileged,
        remediation="Set singleuser.cloudMetadata.blockWithIptables: false, allowPrivilegeEscalation: false, uid: 1000.",
    ),
]
