"""The project uses only the public surfaces of pulumi, pulumi_policy, typer and click: no `_`-prefixed module or
attribute of theirs is imported or read anywhere (a private name can change in any release, and the live
policy pack then runs code no release was tested with)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("pulumi", "pulumi_policy", "typer", "click")
FOLDERS = ("benchmarks", "components", "mlops", "policies", "stacks", "tests")


def _private(name: str) -> bool:
    """`_x` and `__x` are private; dunder names (`__version__`, `__name__`) are not."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


DOTTED = re.compile(r"\b(?:pulumi_policy|pulumi|typer|click)(?:\.\w+)+")


def _root(node: ast.AST) -> str | None:
    """The name an expression starts from: ``pulumi`` for ``pulumi.Config()._name`` or ``sdk.x[0]._y``."""
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _ours(module: str) -> bool:
    return module.split(".")[0] in PACKAGES


def private_uses(source: str, path: str = "<source>") -> list[str]:
    """Every import of a private module or name of the packages, and every private attribute read on a name
    bound to one of their modules or objects (``pulumi._utils``, ``import typer._click``, ``from
    pulumi.runtime.sync_await import _sync_await``, ``sdk._PolicyAnalyzerServicer``, ``getattr(x, "_y")``
    where ``x`` is such a name)."""
    tree = ast.parse(source, path)
    bound: set[str] = set()  # names that refer to the packages' modules or what they export
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _ours(alias.name):
                    bound.add((alias.asname or alias.name).split(".")[0])
                    if any(_private(part) for part in alias.name.split(".")):
                        found.append(f"{path}:{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and _ours(node.module):
            for alias in node.names:
                bound.add(alias.asname or alias.name)
                if any(_private(part) for part in [*node.module.split("."), alias.name]):
                    found.append(f"{path}:{node.lineno}: from {node.module} import {alias.name}")
    for node in ast.walk(tree):  # `m = pulumi`, `P = PolicyPack`: the new name is bound too
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id in bound:
            bound.update(target.id for target in node.targets if isinstance(target, ast.Name))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and _private(node.attr) and _root(node.value) in bound) or (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) >= 2
            and _root(node.args[0]) in bound
            # a private name, or one computed at run time (which may be private)
            and not (
                isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
                and not _private(node.args[1].value)
            )
        ):
            found.append(f"{path}:{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # a dotted path in a string: importlib.import_module("pulumi._utils"), mock.patch("typer._click.x")
            found.extend(
                f"{path}:{node.lineno}: {match.group(0)!r}"
                for match in DOTTED.finditer(node.value)
                if any(_private(part) for part in match.group(0).split("."))
            )
    return found


def project_files() -> list[Path]:
    return sorted(
        path
        for folder in FOLDERS
        for path in (REPO / folder).rglob("*.py")
        if "__pycache__" not in path.parts and path != Path(__file__)  # this file names them to test the scan
    )


def test_no_private_name_of_pulumi_pulumi_policy_typer_or_click_is_used():
    found = [
        use
        for path in project_files()
        for use in private_uses(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    ]
    assert found == []


def test_the_scan_finds_private_imports_and_attributes():
    """What the project once did, each caught."""
    source = (
        "import pulumi_aws\n"
        "import typer._click\n"
        "from typer._click.exceptions import ClickException\n"
        "from pulumi.runtime.sync_await import _sync_await\n"
        "import pulumi_policy.policy as sdk\n"
        "sdk._PolicyAnalyzerServicer.Analyze = None\n"
        "import pulumi\n"
        "pulumi._utils.lazy_import\n"
        "getattr(sdk, '_NotApplicableError')\n"
        "pulumi_aws._utilities.get_version()\n"  # not one of the four packages
        "pulumi.__version__\n"
        "pulumi.Config()._name\n"
        "getattr(pulumi.runtime, '_sync_await')\n"
        "getattr(pulumi, '_' + 'x')\n"
        "m = pulumi\n"
        "m._x\n"
        "importlib.import_module('pulumi._utils')\n"
        "mock.patch('pulumi.runtime.sync_await._sync_await')\n"
        "getattr(pulumi, 'Config')\n"
        "'pulumi.runtime.proto.analyzer_pb2'\n"
    )
    assert sorted(use.split(": ", 1)[1] for use in private_uses(source)) == sorted(
        [
            "import typer._click",
            "from typer._click.exceptions import ClickException",
            "from pulumi.runtime.sync_await import _sync_await",
            "sdk._PolicyAnalyzerServicer",
            "pulumi._utils",
            "getattr(sdk, '_NotApplicableError')",
            "pulumi.Config()._name",
            "getattr(pulumi.runtime, '_sync_await')",
            "getattr(pulumi, '_' + 'x')",
            "m._x",
            "'pulumi._utils'",
            "'pulumi.runtime.sync_await._sync_await'",
        ]
    )


def test_the_analyzer_stubs_are_public_modules():
    """mlops/analyzer.py talks to the pack with the SDK's generated stubs, public modules of pulumi."""
    from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

    assert analyzer_pb2.AnalyzeRequest and analyzer_pb2_grpc.AnalyzerStub
    assert not any(_private(part) for part in analyzer_pb2_grpc.__name__.split("."))
