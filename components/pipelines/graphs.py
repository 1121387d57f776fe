"""Inference graphs of a team's models, served by KServe's InferenceGraph router without the KServe controller.

KServe's router (cmd/router, image kserve/router) takes the graph as its one argument (`--graph-json`, the JSON
of an InferenceGraphSpec), listens on 8080 and answers readiness on /readyz; in RawDeployment mode KServe's
controller does nothing more than run it as a Deployment with a Service (kserve/kserve v0.15.2
pkg/controller/v1alpha1/inferencegraph/raw_ig.go, pkg/constants/constants.go RouterPort, RouterReadinessEndpoint).
The platform runs that router itself, as a native hardened Deployment in the team namespace, so no KServe
controller, cert-manager (KServe's chart v0.15.2 always renders a cert-manager Certificate for its webhooks,
charts/kserve-resources/templates/certificate.yaml), Knative or Istio is needed, and the policy pack sees every
field. The team's models are plain Deployments and Services, so steps call them by `serviceUrl`.

The spec handed to the router is built as an InferenceGraph object first, which the tests validate against the
closed schema of the upstream CRD (tests/schemas/kserve-v0.15.2.json).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.blocks.workload import ContainerSpec, hardened_container, hardened_pod_spec
from components.pipelines.config import ROOT_NODE, ROUTER_TYPES, GraphSpec, reachable_graphs

ROUTER_PORT = 8080
ROUTER_READINESS = "/readyz"
API_VERSION = "serving.kserve.io/v1alpha1"


def router_name(graph: str) -> str:
    """The router's Deployment and Service: `graph-<name>` (never a model's name, which has no such prefix)."""
    return f"graph-{graph}"


def model_url(model: str, namespace: str, port: int, path: str) -> str:
    return f"http://{model}.{namespace}.svc.cluster.local:{port}{path}"


def router_node(graph: GraphSpec, namespace: str, ports: Mapping[str, int]) -> dict[str, Any]:
    """One graph as a router node: each step a model's Service URL or another graph's node."""
    steps = []
    for index, step in enumerate(graph.steps):
        item: dict[str, Any] = {"name": step.target}
        if step.model is not None:
            item["serviceUrl"] = model_url(step.model, namespace, ports[step.model], graph.path)
        else:
            item["nodeName"] = step.graph
        if graph.type == "sequence" and index > 0:
            item["data"] = "$response"  # each step gets the previous step's response
        if graph.type == "sequence":
            item["dependency"] = "Hard"  # a failed step stops the sequence
        if step.weight is not None:
            item["weight"] = step.weight
        if step.condition is not None:
            item["condition"] = step.condition
        steps.append(item)
    return {"routerType": ROUTER_TYPES[graph.type], "steps": steps}


def inference_graph(
    graph: str,
    graphs: Sequence[GraphSpec],
    namespace: str,
    ports: Mapping[str, int],
    labels: Mapping[str, str],
) -> dict[str, Any]:
    """The InferenceGraph object of ``graph``: its own node as `root`, and a node for every graph it reaches."""
    by_name = {spec.name: spec for spec in graphs}
    nodes = {ROOT_NODE: router_node(by_name[graph], namespace, ports)}
    for name in reachable_graphs(graph, by_name):
        nodes[name] = router_node(by_name[name], namespace, ports)
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceGraph",
        "metadata": {"name": graph, "namespace": namespace, "labels": dict(labels)},
        "spec": {"nodes": nodes},
    }


def graph_models(graph: str, graphs: Sequence[GraphSpec]) -> list[str]:
    """Every model ``graph`` calls, directly or through the graphs it reaches."""
    by_name = {spec.name: spec for spec in graphs}
    names = [graph, *reachable_graphs(graph, by_name)]
    return list(dict.fromkeys(step.model for name in names for step in by_name[name].steps if step.model))


class GraphRouter(pulumi.ComponentResource):
    """One graph's router in one cluster: a Deployment of KServe's router with the graph, its Service, and a
    network policy letting it reach the models it calls (the team namespace denies egress by default)."""

    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service
    network_policy: k8s.networking.v1.NetworkPolicy

    def __init__(
        self,
        name: str,
        *,
        graph: str,
        graphs: Sequence[GraphSpec],
        namespace: pulumi.Input[str],
        namespace_name: str,
        ports: Mapping[str, int],
        image: pulumi.Input[str],
        service_account: pulumi.Input[str],
        vpc_cidr: pulumi.Input[str],
        labels: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlops:pipelines:GraphRouter", name, None, opts)
        resource = router_name(graph)
        selector = {"app": resource}
        all_labels = {**labels, **selector, "app.kubernetes.io/component": "inference-graph"}
        spec = inference_graph(graph, graphs, namespace_name, ports, all_labels)["spec"]
        container = hardened_container(
            ContainerSpec(
                name="router",
                image=image,
                port=ROUTER_PORT,
                health_path=ROUTER_READINESS,
                cpu="250m",
                memory="256Mi",
                args=["--graph-json", json.dumps(spec, separators=(",", ":"), sort_keys=True)],
            )
        )
        meta = k8s.meta.v1.ObjectMetaArgs(name=resource, namespace=namespace, labels=all_labels)
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            k8s.apps.v1.DeploymentInitArgs(
                metadata=meta,
                spec=k8s.apps.v1.DeploymentSpecArgs(
                    replicas=2,
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                    template=k8s.core.v1.PodTemplateSpecArgs(
                        metadata=k8s.meta.v1.ObjectMetaArgs(labels=all_labels),
                        spec=hardened_pod_spec([container], service_account, spread_labels=selector),
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            k8s.core.v1.ServiceInitArgs(
                metadata=meta,
                spec=k8s.core.v1.ServiceSpecArgs(
                    type="ClusterIP",
                    selector=selector,
                    ports=[k8s.core.v1.ServicePortArgs(name="http", port=ROUTER_PORT, target_port="http")],
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        models = graph_models(graph, graphs)
        self.network_policy = k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            k8s.networking.v1.NetworkPolicyInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"allow-{resource}", namespace=namespace, labels=all_labels
                ),
                spec=k8s.networking.v1.NetworkPolicySpecArgs(
                    pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                    policy_types=["Ingress", "Egress"],
                    ingress=[
                        k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                            from_=[
                                k8s.networking.v1.NetworkPolicyPeerArgs(
                                    ip_block=k8s.networking.v1.IPBlockArgs(cidr=vpc_cidr)
                                )
                            ],
                            ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=ROUTER_PORT, protocol="TCP")],
                        )
                    ],
                    egress=[
                        k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                            to=[
                                k8s.networking.v1.NetworkPolicyPeerArgs(
                                    pod_selector=k8s.meta.v1.LabelSelectorArgs(
                                        match_expressions=[
                                            k8s.meta.v1.LabelSelectorRequirementArgs(
                                                key="app", operator="In", values=models
                                            )
                                        ]
                                    )
                                )
                            ],
                            ports=[
                                k8s.networking.v1.NetworkPolicyPortArgs(port=port, protocol="TCP")
                                for port in sorted({ports[model] for model in models})
                            ],
                        )
                    ],
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"service": resource})
