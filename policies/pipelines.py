"""Argo Workflows: workflow pods never privileged or on the host; the Argo server never public.

Rules encoded here, with their sources (argo-workflows v3.6.7, chart argo-workflows 0.45.15):
- A Workflow's pods come from its templates: `container`, `script`, `containerSet.containers`, `initContainers`
  and `sidecars` each carry a container securityContext; `volumes` sit on the workflow spec and on templates;
  `podSpecPatch` is a raw pod patch (docs/fields.md, WorkflowSpec and Template). A CronWorkflow's workflow is its
  `spec.workflowSpec`.
- The server is exposed by its chart's Service (`server.serviceType`), its chart Ingress (`server.ingress`), or
  any Service or Ingress pointing at it; an ALB Ingress is public with `alb.ingress.kubernetes.io/scheme:
  internet-facing` (aws-load-balancer-controller docs/guide/ingress/annotations.md). `--auth-mode=server` lets
  every caller act as the server's own service account (docs/argo-server-auth-mode.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from policies.base import get, items, mapping, resource_policy, shown

ARGO = "kubernetes:argoproj.io/v1alpha1"
WORKFLOW_TYPES = tuple(
    f"{ARGO}:{kind}" for kind in ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")
)
RELEASE = "kubernetes:helm.sh/v3:Release"
SERVICE = "kubernetes:core/v1:Service"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
SERVER_NAME = "argo-workflows-server"  # app.kubernetes.io/name of the chart's server pods
PUBLIC_SERVICE_TYPES = ("LoadBalancer", "NodePort")
SCHEME = "alb.ingress.kubernetes.io/scheme"


def _workflow_spec(props: Mapping[str, Any], resource_type: str) -> Mapping[str, Any]:
    if resource_type.endswith(":CronWorkflow"):
        return mapping(get(props, "spec", "workflowSpec", default={}))
    return mapping(get(props, "spec", default={}))


def _containers(template: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("container", "script"):
        if isinstance(template.get(key), Mapping):
            yield template[key]
    for key in ("initContainers", "sidecars"):
        yield from (c for c in items(template.get(key)) if isinstance(c, Mapping))
    yield from (c for c in items(get(template, "containerSet", "containers")) if isinstance(c, Mapping))


def _workflow_pods(props: Mapping[str, Any], args) -> list[str]:
    spec = _workflow_spec(props, args.resource_type)
    problems = []
    if spec.get("hostNetwork") is True:
        problems.append("uses the host network (hostNetwork)")
    holders = [("spec", spec)] + [
        (f"template {shown(get(t, 'name', default='?'))}", mapping(t)) for t in items(spec.get("templates"))
    ]
    for where, holder in holders:
        problems += [
            f"{where} mounts hostPath volume {shown(get(v, 'name', default='?'))}"
            for v in items(holder.get("volumes"))
            if get(v, "hostPath")
        ]
        patch = holder.get("podSpecPatch")
        if isinstance(patch, str) and (
            "hostPath" in patch or '"privileged"' in patch or "privileged:" in patch
        ):
            problems.append(f"{where} podSpecPatch sets hostPath or privileged")
        for container in _containers(holder) if where != "spec" else ():
            if get(container, "securityContext", "privileged") is True:
                problems.append(
                    f"{where} container {shown(get(container, 'name', default='main'))} is privileged"
                )
    return problems


def _server_values(values: Mapping[str, Any]) -> list[str]:
    server = mapping(values.get("server"))
    problems = []
    if server.get("serviceType") in PUBLIC_SERVICE_TYPES:
        problems.append(
            f"server.serviceType {shown(server.get('serviceType'))} exposes the server outside the cluster"
        )
    ingress = mapping(server.get("ingress"))
    if ingress.get("enabled") is True and get(ingress, "annotations", SCHEME) != "internal":
        problems.append(f"server.ingress is enabled without {SCHEME}: internal")
    modes = [*items(server.get("authModes")), server.get("authMode")]
    args = [str(a) for a in items(server.get("extraArgs"))]
    if "server" in modes or any(a.replace(" ", "=") == "--auth-mode=server" for a in args):
        problems.append("the server runs --auth-mode=server (every caller acts as the server's own account)")
    return problems


def _is_argo_server_selector(selector: Any) -> bool:
    return mapping(selector).get("app.kubernetes.io/name") == SERVER_NAME


def _ingress_backends(props: Mapping[str, Any]) -> list[str]:
    names = [get(props, "spec", "defaultBackend", "service", "name")]
    for rule in items(get(props, "spec", "rules")):
        names += [get(path, "backend", "service", "name") for path in items(get(rule, "http", "paths"))]
    return [name for name in names if isinstance(name, str)]


def _argo_server(props: Mapping[str, Any], args) -> list[str] | None:
    if args.resource_type == RELEASE:
        chart = str(props.get("chart") or "").rsplit("/", 1)[-1]
        return _server_values(mapping(props.get("values"))) if chart == "argo-workflows" else None
    if args.resource_type == SERVICE:
        kind = get(props, "spec", "type")
        if _is_argo_server_selector(get(props, "spec", "selector")) and kind in PUBLIC_SERVICE_TYPES:
            return [f"Service of type {shown(kind)} exposes the Argo server outside the cluster"]
        return None
    if any(name.endswith(SERVER_NAME) for name in _ingress_backends(props)):
        scheme = get(props, "metadata", "annotations", SCHEME)
        if scheme != "internal":
            return [f"Ingress to the Argo server with {SCHEME} {shown(scheme)}; allowed: 'internal'"]
    return None


POLICIES = [
    resource_policy(
        "argo-workflow-pods-unprivileged",
        area="kubernetes",
        severity=Severity.CRITICAL,
        description="Argo workflows (Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow) never run "
        "privileged containers, mount host paths or use the host network.",
        types=WORKFLOW_TYPES,
        check=_workflow_pods,
        remediation="Remove securityContext.privileged, hostPath volumes, hostNetwork and pod spec patches that set them.",
    ),
    resource_policy(
        "argo-server-not-public",
        area="network",
        severity=Severity.CRITICAL,
        description="The Argo Workflows server is never public: no LoadBalancer or NodePort Service, no "
        "internet-facing Ingress, and never --auth-mode=server.",
        types=(RELEASE, SERVICE, INGRESS),
        check=_argo_server,
        remediation="Keep server.serviceType ClusterIP, reach the server through an internal ALB Ingress "
        "(alb.ingress.kubernetes.io/scheme: internal) with sign-in, and use server.authModes: [sso].",
    ),
]
