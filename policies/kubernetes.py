"""Kubernetes workloads and namespaces: the pod security baseline, enforced on what the stack declares."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from policies.aws_storage import truthy
from policies.base import environment, get, items, mapping, resource_policy, shown

MIN_UID = 10000
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
TOKEN_ANNOTATION = "mlops.dev/needs-service-account-token"
POD_SECURITY_EXCEPTION = "mlops.dev/pod-security-exception"

# Where each workload kind keeps its pod spec.
POD_SPEC_PATHS = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
WORKLOADS = tuple(POD_SPEC_PATHS)
# Pods that run to completion: no Service sends them traffic (readiness) and activeDeadlineSeconds, not a liveness
# probe, bounds a hung run.
RUN_TO_COMPLETION = ("kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob")
LONG_RUNNING = tuple(kind for kind in WORKLOADS if kind not in RUN_TO_COMPLETION)
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PriorityClass",
    "PersistentVolume",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "APIService",
    "IngressClass",
    "RuntimeClass",
    "NodePool",
    "EC2NodeClass",
    "NodeClaim",
    "ClusterIssuer",
    "ClusterTriggerAuthentication",
    # `scope: Cluster` in their CRDs: awspca.cert-manager.io_awspcaclusterissuers.yaml (aws-privateca-issuer v1.9.0),
    # trust.cert-manager.io_bundles.yaml (trust-manager v0.20.2).
    "AWSPCAClusterIssuer",
    "Bundle",
    # Kueue v0.14.8 CRDs (config/components/crd/bases): `scope: Cluster`; a LocalQueue is namespaced.
    "ResourceFlavor",
    "ClusterQueue",
    # admissionregistration.k8s.io/v1, "ValidatingAdmissionPolicy" in the Kubernetes API reference:
    # the policy and its binding are cluster-scoped (no metadata.namespace).
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
}


def pod_spec(props: Mapping[str, Any], resource_type: str) -> Mapping[str, Any]:
    return mapping(get(props, *POD_SPEC_PATHS.get(resource_type, ("spec",)), default={}))


def containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("initContainers", "containers"):
        for container in items(spec.get(key)):
            if isinstance(container, Mapping):
                yield container


def _setting(spec, container, key):
    """A security setting of a container, falling back to the pod's security context."""
    value = get(container, "securityContext", key)
    return value if value is not None else get(spec, "securityContext", key)


def _each(check):
    """Run `check(spec, container)` on every container of a workload; collect the messages."""

    def run(props, args):
        spec = pod_spec(props, args.resource_type)
        found = []
        for container in containers(spec):
            message = check(spec, container, args)
            if message:
                found.append(f"container {shown(get(container, 'name', default='?'))}: {message}")
        return found

    return run


def _non_root(spec, container, _args):
    if not truthy(_setting(spec, container, "runAsNonRoot")):
        return "may run as root (runAsNonRoot is not true)"
    uid = _setting(spec, container, "runAsUser")
    if not isinstance(uid, (int, float)) or uid < MIN_UID:
        return f"runs as UID {shown(uid)}; use a UID of {MIN_UID} or more"
    return None


def _read_only(_spec, container, _args):
    return (
        None
        if truthy(get(container, "securityContext", "readOnlyRootFilesystem"))
        else "root filesystem is writable"
    )


def _no_escalation(_spec, container, _args):
    value = get(container, "securityContext", "allowPrivilegeEscalation")
    return None if value is False or value == "false" else "allows privilege escalation"


def _drop_all(_spec, container, _args):
    dropped = [str(c).upper() for c in items(get(container, "securityContext", "capabilities", "drop"))]
    added = items(get(container, "securityContext", "capabilities", "add"))
    if "ALL" not in dropped:
        return "does not drop ALL capabilities"
    return f"adds capabilities {added}" if added else None


def _seccomp(spec, container, _args):
    kind = get(container, "securityContext", "seccompProfile", "type") or get(
        spec, "securityContext", "seccompProfile", "type"
    )
    return None if kind == "RuntimeDefault" else f"seccomp profile {shown(kind)}; use RuntimeDefault"


def _not_privileged(_spec, container, _args):
    return "is privileged" if truthy(get(container, "securityContext", "privileged")) else None


def _resources(_spec, container, _args):
    missing = [
        f"{kind}.{what}"
        for kind in ("requests", "limits")
        for what in ("cpu", "memory")
        if get(container, "resources", kind, what) is None
    ]
    return f"no {', '.join(missing)}" if missing else None


def _probes(spec, container, _args):
    if container in items(spec.get("initContainers")):
        return None
    missing = [probe for probe in ("readinessProbe", "livenessProbe") if not get(container, probe)]
    return f"no {' or '.join(missing)}" if missing else None


def _image(_spec, container, args):
    image = get(container, "image")
    if not isinstance(image, str) or not image:
        return "has no image"
    name = image.rsplit("/", 1)[-1]
    if DIGEST.search(image):
        return None
    if environment(args) == "prod":
        return f"image {image!r} is not pinned by digest (@sha256:...)"
    if ":" not in name or name.endswith(":latest"):
        return f"image {image!r} floats (no tag or :latest)"
    return None


def _host_access(props, args):
    spec = pod_spec(props, args.resource_type)
    problems = [f"uses {key}" for key in ("hostNetwork", "hostPID", "hostIPC") if truthy(spec.get(key))]
    problems += [
        f"mounts hostPath volume {shown(get(v, 'name', default='?'))}"
        for v in items(spec.get("volumes"))
        if get(v, "hostPath")
    ]
    return problems


def _token(props, args):
    spec = pod_spec(props, args.resource_type)
    annotations = mapping(get(props, "metadata", "annotations", default={}))
    if annotations.get(TOKEN_ANNOTATION) == "true":
        return None
    value = spec.get("automountServiceAccountToken")
    return (
        None
        if value is False or value == "false"
        else "mounts a service-account token it does not declare a need for"
    )


def _namespaced(resource_type: str) -> bool:
    return (
        resource_type.startswith("kubernetes:")
        and not resource_type.startswith(("kubernetes:helm.sh/", "kubernetes:yaml", "kubernetes:kustomize"))
        and resource_type.rsplit(":", 1)[-1] not in CLUSTER_SCOPED
    )


def _not_default_namespace(props, _args):
    namespace = get(props, "metadata", "namespace")
    if namespace in (None, "", "default"):
        return f"lives in the {namespace or 'default (unset)'} namespace; put it in its team's or platform namespace"
    return None


TEAM_NAMESPACE_PREFIX = "team-"


def pod_labels(props: Mapping[str, Any], resource_type: str) -> Mapping[str, Any]:
    """The labels the workload's pods get: its pod template's (the Pod's own for a Pod)."""
    template = POD_SPEC_PATHS.get(resource_type, ("spec",))[:-1]
    return mapping(get(props, *template, "metadata", "labels", default={}))


def _team_label(props, args):
    """A workload in a team's namespace (team-<team>) labels its pods team: <team>; split cost allocation data
    and OpenCost attribute the pods' cost by that label."""
    namespace = get(props, "metadata", "namespace")
    if not isinstance(namespace, str) or not namespace.startswith(TEAM_NAMESPACE_PREFIX):
        return None
    team = namespace[len(TEAM_NAMESPACE_PREFIX) :]
    label = pod_labels(props, args.resource_type).get("team")
    if label == team:
        return None
    return f"its pods in namespace {namespace} carry team label {shown(label)}; they need team: {team}"


def _pod_security(props, _args):
    level = get(props, "metadata", "labels", "pod-security.kubernetes.io/enforce")
    name = get(props, "metadata", "name")
    if name in ("kube-system", "kube-node-lease", "kube-public") or level in ("restricted", "baseline"):
        return None
    reason = get(props, "metadata", "annotations", POD_SECURITY_EXCEPTION)
    if isinstance(reason, str) and reason.strip():
        return None
    return (
        f"namespace enforces pod security {shown(level)}; use restricted, or state why not in the "
        f"{POD_SECURITY_EXCEPTION} annotation"
    )


def _workload_policy(
    name, description, check, severity=Severity.HIGH, remediation="", environment_aware=False, types=WORKLOADS
):
    return resource_policy(
        name,
        area="kubernetes",
        severity=severity,
        description=description,
        types=types,
        check=_each(check),
        remediation=remediation,
        environment_aware=environment_aware,
    )


POLICIES = [
    _workload_policy(
        "k8s-run-as-non-root",
        f"Workloads run as non-root with a UID of {MIN_UID} or more.",
        _non_root,
        remediation=f"Set securityContext runAsNonRoot: true and runAsUser >= {MIN_UID}.",
    ),
    _workload_policy(
        "k8s-read-only-root-fs",
        "Containers have a read-only root filesystem.",
        _read_only,
        severity=Severity.MEDIUM,
        remediation="Set readOnlyRootFilesystem: true; mount an emptyDir for scratch.",
    ),
    _workload_policy(
        "k8s-no-privilege-escalation",
        "Containers cannot escalate privileges.",
        _no_escalation,
        remediation="Set allowPrivilegeEscalation: false.",
    ),
    _workload_policy(
        "k8s-drop-all-capabilities",
        "Containers drop all Linux capabilities.",
        _drop_all,
        remediation="Set capabilities.drop: [ALL] and add none.",
    ),
    _workload_policy(
        "k8s-seccomp-runtime-default",
        "Containers run under the RuntimeDefault seccomp profile.",
        _seccomp,
        severity=Severity.MEDIUM,
        remediation="Set seccompProfile.type: RuntimeDefault.",
    ),
    _workload_policy(
        "k8s-no-privileged",
        "Containers are never privileged.",
        _not_privileged,
        severity=Severity.CRITICAL,
        remediation="Remove privileged: true.",
    ),
    _workload_policy(
        "k8s-requests-and-limits",
        "Containers set CPU and memory requests and limits.",
        _resources,
        severity=Severity.MEDIUM,
        remediation="Set resources.requests and resources.limits for cpu and memory.",
    ),
    _workload_policy(
        "k8s-probes",
        "Containers of long-running workloads have readiness and liveness probes (Jobs run to completion).",
        _probes,
        severity=Severity.LOW,
        remediation="Add readinessProbe and livenessProbe.",
        types=LONG_RUNNING,
    ),
    _workload_policy(
        "k8s-image-pinned",
        "Images are pinned by digest in prod and never float (:latest) elsewhere.",
        _image,
        severity=Severity.HIGH,
        environment_aware=True,
        remediation="Reference images as registry/name@sha256:<digest>.",
    ),
    resource_policy(
        "k8s-no-host-access",
        area="kubernetes",
        severity=Severity.CRITICAL,
        description="Pods use no host network, PID or IPC namespace and mount no host paths.",
        types=WORKLOADS,
        check=_host_access,
        remediation="Remove hostNetwork/hostPID/hostIPC and hostPath volumes.",
    ),
    resource_policy(
        "k8s-no-service-account-token",
        area="kubernetes",
        severity=Severity.MEDIUM,
        description=f"Pods mount no service-account token unless annotated {TOKEN_ANNOTATION}: 'true'.",
        types=WORKLOADS,
        check=_token,
        remediation="Set automountServiceAccountToken: false.",
    ),
    resource_policy(
        "k8s-no-default-namespace",
        area="kubernetes",
        severity=Severity.MEDIUM,
        description="Namespaced Kubernetes objects never live in the default namespace.",
        types=_namespaced,
        check=_not_default_namespace,
        remediation="Set metadata.namespace.",
    ),
    resource_policy(
        "k8s-team-pod-label",
        area="kubernetes",
        severity=Severity.MEDIUM,
        description="Pods of a team's namespace carry the team label (cost is attributed by it).",
        types=WORKLOADS,
        check=_team_label,
        remediation="Label the pod template team: <team> (the namespace is team-<team>).",
    ),
    resource_policy(
        "k8s-namespace-pod-security",
        area="kubernetes",
        severity=Severity.HIGH,
        description="Namespaces enforce the restricted (or baseline) Pod Security Standard, or state why not.",
        types=["kubernetes:core/v1:Namespace"],
        check=_pod_security,
        remediation="Label the namespace pod-security.kubernetes.io/enforce: restricted.",
    ),
]
