"""The layers of the README's layout section, checked on the source: every ``import`` statement is read with ``ast``,
wherever it stands (module level, inside a function, under ``if TYPE_CHECKING:``), since each of them is a
dependency a reader must follow and a lazy or type-only import between two modules is still a circle.

Layers, top to bottom, arrows only downward: mlops -> stacks -> components.config -> concerns -> blocks -> base
(configbase and the plain helpers beside it). Nothing below components.config imports it, blocks know no
concern, no module and no concern package imports back anything that imports it, and policies/ knows nothing
of components.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("components", "stacks", "mlops", "policies")
# The lowest layer: what config models, blocks and concerns all build on, with no Pulumi and no concern.
BASE = (
    "components.configbase",
    "components.loader",
    "components.validation",
    "components.quantity",
    "components.cidr",
    "components.stackfile",
)
# The building blocks: the platform context, the security baseline, the child-options helper.
BLOCKS = ("components.blocks", "components.base")
ENTRY = "components.config"

Graph = Mapping[str, frozenset[str]]


def module_names(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Every Python module of ``packages`` under ``root``, by dotted name (a package by its own name)."""
    names: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names[".".join(parts)] = path
    return names


def _targets(
    module: str, path: Path, node: ast.Import | ast.ImportFrom, known: Mapping[str, Path]
) -> set[str]:
    """The project's modules one import statement loads (the deepest known module of each name)."""
    if isinstance(node, ast.Import):
        candidates = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            package = package[: len(package) - node.level + 1]
            base = ".".join([*package, base] if base else package)
        # `from package import module` is an import of the module; `from module import name` of the module.
        candidates = [
            f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names
        ]
    found: set[str] = set()
    for name in candidates:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name:
            found.add(name)
    return found


def import_graph(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, frozenset[str]]:
    """Module -> the project's modules it imports, from every import statement anywhere in its source."""
    known = module_names(root, packages)
    graph: dict[str, frozenset[str]] = {}
    for module, path in known.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= _targets(module, path, node, known)
        graph[module] = frozenset(edges - {module})
    return graph


def circles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def unit(module: str) -> str:
    """The package a module belongs to for the package graph: a concern (``components.<concern>``, a package
    or a single module), ``components.blocks``, or a top-level package (stacks, mlops, policies)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "components" and len(parts) > 1 else parts[0]


def package_graph(graph: Graph) -> dict[str, frozenset[str]]:
    edges: dict[str, set[str]] = {}
    for module, targets in graph.items():
        edges.setdefault(unit(module), set()).update(unit(t) for t in targets if unit(t) != unit(module))
    return {name: frozenset(targets) for name, targets in edges.items()}


def _within(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def layer_violations(graph: Graph) -> list[str]:
    """Every import that points up or sideways out of its layer, as ``importer -> imported: why``."""
    problems = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if module.startswith("components.") and module != ENTRY and target == ENTRY:
                problems.append(f"{module} -> {target}: below the stack-file entry point, which imports it")
            elif _within(module, BLOCKS) and not _within(target, BLOCKS + BASE):
                problems.append(f"{module} -> {target}: blocks know no concern")
            elif _within(module, BASE) and not _within(target, BASE):
                problems.append(f"{module} -> {target}: the base layer imports only itself")
            elif module.startswith("components") and not target.startswith("components"):
                problems.append(f"{module} -> {target}: components import none of stacks, mlops, policies")
            elif module.startswith("stacks") and target.startswith("mlops"):
                problems.append(f"{module} -> {target}: the programs import no command")
            elif module.startswith("policies") and not target.startswith("policies"):
                problems.append(f"{module} -> {target}: the policy pack stands apart")
    return problems


@pytest.fixture(scope="module")
def graph() -> dict[str, frozenset[str]]:
    return import_graph(REPO)


# -- the project ---------------------------------------------------------------------------------------------


def test_no_module_imports_back_what_imports_it(graph):
    assert circles(graph) == []


def test_no_package_imports_back_a_package_that_imports_it(graph):
    assert circles(package_graph(graph)) == []


def test_imports_point_only_downward(graph):
    assert layer_violations(graph) == []


def test_the_graph_sees_every_kind_of_import(graph):
    """The walk reaches imports inside functions and under TYPE_CHECKING (the project uses both), so the checks
    above cover them: the programs import the concerns lazily, the CLI imports the entry point lazily."""
    assert "components.config" in graph["mlops.cli"]  # function-local in `mlops schema` and friends
    assert "components.cluster.args" in graph["components.cluster.charts"]
    assert len(graph) > 100


# -- the checker, on trees written here ----------------------------------------------------------------------


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_a_circle_through_a_type_checking_import_is_found(tmp_path):
    root = write_tree(
        tmp_path,
        {
            "components/__init__.py": "",
            "components/cluster/__init__.py": "",
            "components/cluster/component.py": "from components.cluster.nodes import build\n",
            "components/cluster/nodes.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from components.cluster.component import ClusterArgs\n"
            ),
        },
    )
    assert circles(import_graph(root, ["components"])) == [
        ["components.cluster.component", "components.cluster.nodes"]
    ]


def test_a_circle_through_a_function_local_relative_import_is_found(tmp_path):
    root = write_tree(
        tmp_path,
        {
            "mlops/__init__.py": "",
            "mlops/check.py": "def run():\n    from .forked import many\n",
            "mlops/forked.py": "def many():\n    from mlops import check\n",
        },
    )
    assert circles(import_graph(root, ["mlops"])) == [["mlops.check", "mlops.forked"]]


def test_a_circle_between_concern_packages_is_found(tmp_path):
    """No module imports back its importer, yet registry and serving depend on each other."""
    root = write_tree(
        tmp_path,
        {
            "components/__init__.py": "",
            "components/registry/__init__.py": "",
            "components/registry/mlflow.py": "from components.serving.workload import hardened\n",
            "components/registry/images.py": "",
            "components/serving/__init__.py": "",
            "components/serving/workload.py": "",
            "components/serving/team.py": "from components.registry.images import model_repository\n",
        },
    )
    graph = import_graph(root, ["components"])
    assert circles(graph) == []
    assert circles(package_graph(graph)) == [["components.registry", "components.serving"]]


def test_imports_against_the_layers_are_named(tmp_path):
    root = write_tree(
        tmp_path,
        {
            "components/__init__.py": "",
            "components/config.py": "from components.serving import config\n",
            "components/configbase.py": "",
            "components/serving/__init__.py": "",
            "components/serving/config.py": "import components.configbase\n",
            "components/serving/team.py": "def f():\n    from components.config import TeamConfig\n",
            "components/blocks/__init__.py": "",
            "components/blocks/context.py": "from components.serving.config import TeamConfig\n",
            "policies/__init__.py": "",
            "policies/tags.py": "from components.configbase import MANAGED_BY\n",
        },
    )
    assert layer_violations(import_graph(root, ["components", "policies"])) == [
        "components.blocks.context -> components.serving.config: blocks know no concern",
        "components.serving.team -> components.config: below the stack-file entry point, which imports it",
        "policies.tags -> components.configbase: the policy pack stands apart",
    ]


def test_from_package_import_module_is_an_import_of_the_module(tmp_path):
    root = write_tree(
        tmp_path,
        {
            "mlops/__init__.py": "",
            "mlops/cache.py": "",
            "mlops/forked.py": "from mlops import cache\nimport mlops.check as check\n",
            "mlops/check.py": "",
        },
    )
    assert import_graph(root, ["mlops"])["mlops.forked"] == {"mlops.cache", "mlops.check"}
