"""Pipelines and inference graphs: the platform's `pipelines:` section and the team spec's `pipelines:` and
`graphs:` keys, with their checks (one line each, naming the key and what is allowed).

Graphs follow the node model of KServe's InferenceGraph (serving.kserve.io/v1alpha1, kserve/kserve v0.15.2
pkg/apis/serving/v1alpha1/inference_graph.go): a router type per node (Sequence, Ensemble, Splitter, Switch) and
steps that call a service URL or another node. A team graph's steps name the team's own models or other graphs
of the team; a graph that reaches itself again is refused (the router would call itself without end).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from components.configbase import KeyedValueError, Model

_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DIGEST_RE = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")
_IMAGE_RE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*(@sha256:[0-9a-f]{64})?$")
# The node name KServe's router starts at (v1alpha1.GraphRootNodeName): no team graph may take it.
ROOT_NODE = "root"
GRAPH_TYPES = ("sequence", "ensemble", "splitter", "switch")
ROUTER_TYPES = {"sequence": "Sequence", "ensemble": "Ensemble", "splitter": "Splitter", "switch": "Switch"}


def _image(value: str) -> str:
    if not _IMAGE_RE.match(value):
        raise ValueError(
            f"{value!r} is not an image reference; allowed: registry/name:tag or registry/name@sha256:<64 hex>"
        )
    tail = value.rsplit("/", 1)[-1]
    if not _DIGEST_RE.match(value) and (":" not in tail or tail.endswith(":latest")):
        raise ValueError(f"{value!r} has no fixed tag; allowed: a version tag, or a digest (@sha256:...)")
    return value


def image_is_pinned(image: str) -> bool:
    return bool(_DIGEST_RE.match(image))


class PipelinesConfig(Model):
    """The platform's `pipelines:` section: Argo Workflows on the primary cluster and, with
    `graph-router-image`, inference graphs for team stacks."""

    # The argo-workflows chart of https://argoproj.github.io/argo-helm, pinned.
    argo_workflows: Annotated[str, Field(alias="argo-workflows", pattern=r"^\d+\.\d+\.\d+$")]
    # The ACM certificate of the Argo server's internal load balancer (argo.<env>.mlops.internal).
    certificate_arn: Annotated[
        str,
        Field(
            alias="certificate-arn", pattern=r"^arn:aws(-cn|-us-gov)?:acm:[a-z0-9-]+:\d{12}:certificate/.+$"
        ),
    ]
    # The workflow archive: its own database and user on the registry's PostgreSQL.
    archive: bool = True
    # Workflows running at once, cluster-wide and per namespace (the controller's parallelism and
    # namespaceParallelism), and the defaults every workflow gets (workflowDefaults).
    parallelism: Annotated[int, Field(ge=1, le=1000)] = 50
    namespace_parallelism: Annotated[int, Field(alias="namespace-parallelism", ge=1, le=500)] = 10
    step_parallelism: Annotated[int, Field(alias="step-parallelism", ge=1, le=100)] = 5
    ttl_seconds: Annotated[int, Field(alias="ttl-seconds", ge=600, le=30 * 86400)] = 86400
    active_deadline_seconds: Annotated[int, Field(alias="active-deadline-seconds", ge=60, le=7 * 86400)] = (
        86400
    )
    # KServe's InferenceGraph router (kserve/router), which serves team graphs; unset: no graphs.
    graph_router_image: Annotated[str | None, Field(alias="graph-router-image", max_length=300)] = None

    _router_image = field_validator("graph_router_image")(
        classmethod(lambda cls, value: value if value is None else _image(value))
    )

    @model_validator(mode="after")
    def _limits(self) -> PipelinesConfig:
        if self.namespace_parallelism > self.parallelism:
            raise KeyedValueError(
                ("namespace-parallelism",),
                f"{self.namespace_parallelism} is above parallelism {self.parallelism}; allowed: at most parallelism",
            )
        return self


def check_pipelines(cfg: Any) -> None:
    """What the `pipelines:` section needs of the rest of the platform (raised as keyed errors)."""
    pipelines: PipelinesConfig | None = cfg.pipelines
    if pipelines is None:
        return
    if cfg.cluster is None or cfg.cluster.mode != "eks":
        raise KeyedValueError(
            ("pipelines",), "needs an eks cluster (cluster.mode: eks) to run Argo Workflows on"
        )
    if cfg.registry is None:
        raise KeyedValueError(
            ("pipelines",),
            "needs the registry section (artifacts go to its bucket, the archive to its database)",
        )
    if cfg.identity is None or cfg.identity.oidc is None:
        raise KeyedValueError(
            ("pipelines",),
            "needs identity.oidc: the Argo server signs people in with the platform's OIDC provider (SSO only)",
        )
    if cfg.internet_free:
        raise KeyedValueError(
            ("pipelines",),
            "Argo Workflows' images come from quay.io, which the internet-free mirror has no pull-through rule for; "
            "allowed with internet-free: true: no pipelines section",
        )
    primary = cfg.regions[0].name
    if pipelines.certificate_arn.split(":")[3] != primary:
        raise KeyedValueError(
            ("pipelines", "certificate-arn"),
            f"{pipelines.certificate_arn!r} is in another region; allowed: a certificate in {primary}",
        )
    if (
        cfg.environment == "prod"
        and pipelines.graph_router_image
        and not image_is_pinned(pipelines.graph_router_image)
    ):
        raise KeyedValueError(
            ("pipelines", "graph-router-image"),
            f"{pipelines.graph_router_image!r} is a tag; allowed in prod: an image pinned by digest (@sha256:<64 hex>)",
        )


# ---------------------------------------------------------------------------------------------------------
# The team spec


class PipelineTemplate(Model):
    """A WorkflowTemplate of the standard shape: prepare -> train -> evaluate -> register (to MLflow)."""

    name: Annotated[str, Field(pattern=_DNS_LABEL, max_length=40)]
    image: Annotated[str, Field(max_length=300)]
    # The team model whose new version the pipeline registers in MLflow.
    model: Annotated[str, Field(pattern=_DNS_LABEL, max_length=30)]
    cpu: Annotated[str, Field(pattern=r"^\d+(\.\d+)?m?$")] = "1"
    memory: Annotated[str, Field(pattern=r"^\d+(Mi|Gi)$")] = "4Gi"

    _image = field_validator("image")(classmethod(lambda cls, value: _image(value)))


class TeamPipelines(Model):
    """The team's pipelines (`pipelines:`): Argo Workflows in its namespace on the platform's primary cluster."""

    # The Kueue LocalQueue (in the team namespace) workflow pods queue in; unset: no queue label.
    local_queue: Annotated[str | None, Field(alias="local-queue", pattern=_DNS_LABEL, max_length=63)] = None
    templates: Annotated[list[PipelineTemplate], Field(max_length=20)] = []


class GraphStep(Model):
    """One step of a graph: a model of the team or another graph of the team."""

    model: Annotated[str | None, Field(pattern=_DNS_LABEL)] = None
    graph: Annotated[str | None, Field(pattern=_DNS_LABEL)] = None
    weight: Annotated[int | None, Field(ge=0, le=100)] = None  # splitter
    # switch: a GJSON path KServe's router evaluates on the request body; the step is taken if it exists.
    condition: Annotated[str | None, Field(min_length=1, max_length=500)] = None

    @model_validator(mode="after")
    def _one_target(self) -> GraphStep:
        if (self.model is None) == (self.graph is None):
            raise KeyedValueError((), "sets both or neither of model and graph; allowed: exactly one of them")
        return self

    @property
    def target(self) -> str:
        return self.model or self.graph or ""


class GraphSpec(Model):
    """An inference graph of the team's models (`graphs:`)."""

    name: Annotated[str, Field(pattern=_DNS_LABEL, min_length=1, max_length=30)]
    type: Literal["sequence", "ensemble", "splitter", "switch"]
    steps: Annotated[list[GraphStep], Field(min_length=1, max_length=10)]
    # The path each model step is called on (the router forwards the body there).
    path: Annotated[str, Field(pattern=r"^/[A-Za-z0-9_.:/-]*$")] = "/predict"

    @model_validator(mode="after")
    def _shape(self) -> GraphSpec:
        if self.name == ROOT_NODE:
            raise KeyedValueError(
                ("name",), f"{ROOT_NODE!r} is the router's own start node; allowed: another name"
            )
        for index, step in enumerate(self.steps):
            if step.weight is not None and self.type != "splitter":
                raise KeyedValueError(
                    ("steps", index, "weight"), f"only a splitter's steps have weights, not a {self.type}'s"
                )
            if step.condition is not None and self.type != "switch":
                raise KeyedValueError(
                    ("steps", index, "condition"),
                    f"only a switch's steps have conditions, not a {self.type}'s",
                )
            if self.type == "splitter" and step.weight is None:
                raise KeyedValueError(
                    ("steps", index, "weight"), "missing; every step of a splitter has a weight"
                )
            if self.type == "switch" and step.condition is None:
                raise KeyedValueError(
                    ("steps", index, "condition"), "missing; every step of a switch has a condition"
                )
        if self.type == "splitter":
            total = sum(step.weight or 0 for step in self.steps)
            if total != 100:
                weights = " + ".join(str(step.weight) for step in self.steps)
                raise KeyedValueError(
                    ("steps",), f"weights {weights} = {total}; allowed: weights summing to 100"
                )
        if self.type == "ensemble" and len(self.steps) < 2:
            raise KeyedValueError(("steps",), "an ensemble has 2 steps or more")
        return self


def graph_errors(
    graphs: Sequence[GraphSpec], models: Sequence[str]
) -> tuple[tuple[str | int, ...], str] | None:
    """The first problem of the team's graphs as (key path below `graphs`, message), or None: duplicate names,
    steps naming no model or graph of the team, and cycles through graph steps."""
    names = [graph.name for graph in graphs]
    for index, name in enumerate(names):
        if name in names[:index]:
            return (index, "name"), f"graph {name!r} is listed twice"
    allowed_models = ", ".join(models) or "none"
    for g_index, graph in enumerate(graphs):
        for s_index, step in enumerate(graph.steps):
            if step.model is not None and step.model not in models:
                return (g_index, "steps", s_index, "model"), (
                    f"{step.model!r} is not a model of this team; allowed: {allowed_models}"
                )
            if step.graph is not None and step.graph not in names:
                return (g_index, "steps", s_index, "graph"), (
                    f"{step.graph!r} is not a graph of this team; allowed: {', '.join(names)}"
                )
    edges = {graph.name: [step.graph for step in graph.steps if step.graph is not None] for graph in graphs}
    cycle = find_cycle(edges)
    if cycle is not None:
        g_index = names.index(cycle[0])
        s_index = next(i for i, step in enumerate(graphs[g_index].steps) if step.graph == cycle[1])
        return (g_index, "steps", s_index, "graph"), (
            f"{cycle[1]!r} makes a cycle {' -> '.join(cycle)}; allowed: graphs that never reach themselves"
        )
    return None


def find_cycle(edges: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A cycle of the directed graph ``edges`` as [a, b, ..., a], or None (depth-first, in the given order)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in edges.get(node, ()):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in edges:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def reachable_graphs(graph: str, graphs: Mapping[str, GraphSpec]) -> list[str]:
    """The graphs ``graph`` calls, directly or not, in first-visit order (without ``graph`` itself)."""
    seen: list[str] = []
    stack = [step.graph for step in reversed(graphs[graph].steps) if step.graph]
    while stack:
        name = stack.pop()
        if name is None or name in seen or name == graph:
            continue
        seen.append(name)
        stack.extend(step.graph for step in reversed(graphs[name].steps) if step.graph)
    return seen


def check_team_pipelines(team: Any) -> None:
    """The team spec's pipelines and graphs against its models (raised as keyed errors below the team key)."""
    models = [model.name for model in team.models]
    if team.pipelines is not None:
        for index, template in enumerate(team.pipelines.templates):
            if template.model not in models:
                raise KeyedValueError(
                    ("pipelines", "templates", index, "model"),
                    f"{template.model!r} is not a model of this team; allowed: {', '.join(models)}",
                )
            if team.environment == "prod" and not image_is_pinned(template.image):
                raise KeyedValueError(
                    ("pipelines", "templates", index, "image"),
                    f"{template.image!r} is a tag; allowed in prod: an image pinned by digest (@sha256:<64 hex>)",
                )
        names = [template.name for template in team.pipelines.templates]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise KeyedValueError(
                    ("pipelines", "templates", index, "name"), f"template {name!r} is listed twice"
                )
    problem = graph_errors(team.graphs, models)
    if problem is not None:
        raise KeyedValueError(("graphs", *problem[0]), problem[1])
