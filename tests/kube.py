"""Kubernetes objects of a preview document as manifests, validated against the Kubernetes OpenAPI schemas."""

from __future__ import annotations

from typing import Any

import kubernetes_validate

KUBERNETES_VERSION = "1.33.0"
_NOT_MANIFEST = {"id", "urn"}


def manifests(document: dict[str, Any], kind: str | None = None) -> list[dict[str, Any]]:
    """Every Kubernetes object the stack declares (Helm releases and providers excluded), as a manifest."""
    found = []
    for step in document["steps"]:
        state = step["newState"]
        if not state["type"].startswith("kubernetes:") or "apiVersion" not in state["inputs"]:
            continue
        manifest = {key: value for key, value in state["inputs"].items() if key not in _NOT_MANIFEST}
        if kind is None or manifest.get("kind") == kind:
            found.append(manifest)
    return found


def is_builtin(api_version: str) -> bool:
    """Core (`v1`), unqualified groups (`apps/v1`) and `*.k8s.io` groups are Kubernetes' own kinds."""
    group = api_version.split("/")[0] if "/" in api_version else ""
    return "." not in group or group.endswith(".k8s.io")


def invalid_builtin_objects(document: dict[str, Any], version: str = KUBERNETES_VERSION) -> list[str]:
    """Strict validation of every built-in kind; custom resources (no schema) are skipped and counted apart."""
    problems = []
    for manifest in manifests(document):
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            if is_builtin(manifest["apiVersion"]):
                problems.append(
                    f"{manifest['kind']} {manifest['metadata'].get('name')}: no schema for a built-in kind"
                )
        except kubernetes_validate.ValidationError as exc:
            problems.append(
                f"{manifest['kind']} {manifest['metadata'].get('name')}: {exc.message} at {list(exc.path)}"
            )
    return problems
