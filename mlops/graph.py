"""The component tree of a stack with its cross-component dependencies, as Mermaid or DOT.

Nodes are the stack and its ComponentResources (with how many resources each owns directly); solid edges are
parent -> child; dashed edges say that resources inside one component depend on resources inside another
(through `dependsOn` or an input that carries another resource's output), with the number of such links.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

FORMATS = ("mermaid", "dot")


@dataclass(frozen=True)
class Graph:
    nodes: dict[str, str]  # urn -> label
    tree: list[tuple[str, str]]  # (parent urn, child urn)
    links: dict[tuple[str, str], int]  # (dependent component, dependency component) -> count


def component_graph(document: dict[str, Any]) -> Graph:
    states = [step["newState"] for step in document["steps"]]
    by_urn = {state["urn"]: state for state in states}
    components = {urn for urn, state in by_urn.items() if not state["custom"]}

    def owner(urn: str) -> str | None:
        """The nearest component (or the stack) that contains a resource."""
        current = by_urn.get(urn)
        while current is not None and current["urn"] not in components:
            current = by_urn.get(current["parent"])
        return current["urn"] if current is not None else None

    def ancestors(urn: str) -> set[str]:
        found: set[str] = set()
        current = by_urn.get(urn)
        while current is not None and current["parent"]:
            found.add(current["parent"])
            current = by_urn.get(current["parent"])
        return found

    owned = Counter(owner(state["parent"]) for state in states if state["custom"] and state["parent"])
    nodes = {}
    for urn in sorted(components, key=lambda u: (len(ancestors(u)), u)):
        state = by_urn[urn]
        count = owned.get(urn, 0)
        nodes[urn] = f"{_name(urn)}\n{state['type']}\n{count} resource{'s' if count != 1 else ''}"
    tree = sorted(
        (owner(by_urn[urn]["parent"]) or "", urn) for urn in components if by_urn[urn]["parent"] in by_urn
    )
    links: Counter = Counter()
    for state in states:
        source = owner(state["urn"]) if not state["custom"] else owner(state["parent"])
        targets = set(state["dependencies"])
        for deps in state["propertyDependencies"].values():
            targets.update(deps)
        for target in targets:
            target_owner = owner(target)
            if target_owner is None or source is None or target_owner == source:
                continue
            # Containment is already drawn by the tree.
            if target_owner in ancestors(source) or source in ancestors(target_owner):
                continue
            links[(source, target_owner)] += 1
    return Graph(nodes, tree, dict(sorted(links.items())))


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def render_graph(document: dict[str, Any], fmt: str = "mermaid") -> str:
    graph = component_graph(document)
    ids = {urn: f"n{index}" for index, urn in enumerate(graph.nodes)}
    if fmt == "dot":
        title = f"{document.get('project', '')}/{document.get('stack', '')}"
        lines = [
            f"digraph {_dot_quote(title)} {{",
            "  rankdir=LR;",
            "  node [shape=box, fontname=Helvetica];",
        ]
        lines += [f"  {ids[urn]} [label={_dot_quote(label)}];" for urn, label in graph.nodes.items()]
        lines += [f"  {ids[parent]} -> {ids[child]};" for parent, child in graph.tree]
        lines += [
            f"  {ids[source]} -> {ids[target]} [style=dashed, label={_dot_quote(str(count))}];"
            for (source, target), count in graph.links.items()
        ]
        return "\n".join([*lines, "}"])
    lines = ["flowchart LR"]
    lines += [f'  {ids[urn]}["{_mermaid_label(label)}"]' for urn, label in graph.nodes.items()]
    lines += [f"  {ids[parent]} --> {ids[child]}" for parent, child in graph.tree]
    lines += [
        f'  {ids[source]} -. "{count}" .-> {ids[target]}' for (source, target), count in graph.links.items()
    ]
    return "\n".join(lines)


def _mermaid_label(label: str) -> str:
    return label.replace('"', "#quot;").replace("\n", "<br/>")


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
