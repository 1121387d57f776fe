"""Human output in the style of `pulumi preview`: the resource tree by parent, then counts per type."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any


def preview_text(document: dict[str, Any]) -> str:
    states = [step["newState"] for step in document["steps"]]
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for state in states:
        children[state["parent"]].append(state)
    rows: list[tuple[str, str]] = []

    def walk(state: dict[str, Any], prefix: str, last: bool, depth: int) -> None:
        branch = "" if depth == 0 else prefix + ("└─ " if last else "├─ ")
        rows.append((branch + state["type"], state["urn"].rsplit("::", 1)[-1]))
        kids = children.get(state["urn"], [])
        deeper = "" if depth == 0 else prefix + ("   " if last else "│  ")
        for index, kid in enumerate(kids):
            walk(kid, deeper, index == len(kids) - 1, depth + 1)

    roots = children.get("", [])
    for index, root in enumerate(roots):
        walk(root, "", index == len(roots) - 1, 0)

    width = max([len("Type")] + [len(kind) for kind, _ in rows]) + 2
    lines = [
        f"Previewing (offline) {document.get('project', '')}/{document.get('stack', '')}",
        "",
        f"     {'Type':<{width}}Name",
    ]
    lines += [f" +   {kind:<{width}}{name}" for kind, name in rows]
    counts = Counter(state["type"] for state in states)
    lines += ["", "Resources:", f"    + {len(states)} to create", "", "By type:"]
    type_width = max(len(kind) for kind in counts)
    lines += [f"    {kind:<{type_width}}  {count:>4}" for kind, count in sorted(counts.items())]
    outputs = document.get("outputs") or {}
    if outputs:
        lines += ["", "Outputs:"]
        lines += [f"    {key}: {_short(value)}" for key, value in sorted(outputs.items())]
    return "\n".join(lines)


def _short(value: Any) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 100 else text[:97] + "..."
