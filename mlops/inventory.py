"""`mlops inventory`: every model version of the team stacks, from their stack files and offline previews.

One row per model version of a team stack: team, environment, regions, namespace, traffic weight, image and digest,
source commit, licence, MLflow run, owner group and autoscaling range. What is deployed comes from the stack's
preview (its model version Deployments, labelled `mlops.platform/purpose: model-version`, with their provenance
annotations, and their autoscalers), the weights from its `models` output, the owner group from its stack file.

``--live`` asks each region's cluster with kubectl, as the smoke suite does (``kubectl get ... -o json --context
CONTEXT``), which image each version's Deployment runs and how many replicas are ready, and reports drift: a
version missing from the cluster, another image, fewer ready replicas than the autoscaling minimum, or a model
version Deployment in the namespace that the stack does not declare.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from components.loader import ConfigError, list_stacks, stack_file
from components.serving.config import TeamConfig
from components.serving.provenance import (
    COMMIT_ANNOTATION,
    LICENSE_ANNOTATION,
    MODEL_VERSION_PURPOSE,
    PURPOSE_LABEL,
    RUN_ANNOTATION,
    SOURCE_ANNOTATION,
)
from mlops.base import ProgramError

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SCALERS = ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "kubernetes:keda.sh/v1alpha1:ScaledObject")
K8S_PROVIDER = "pulumi:providers:kubernetes"
FORMATS = ("text", "json", "markdown", "csv")
COLUMNS = (
    "stack",
    "team",
    "environment",
    "model",
    "version",
    "regions",
    "namespace",
    "weight",
    "image",
    "digest",
    "commit",
    "source",
    "license",
    "run",
    "owner_group",
    "min_replicas",
    "max_replicas",
)


@dataclass(frozen=True)
class Row:
    stack: str
    team: str
    environment: str
    model: str
    version: str
    regions: tuple[str, ...]
    namespace: str
    weight: int
    image: str
    digest: str  # sha256:<hex>, or "" for an image given by tag
    commit: str
    source: str
    license: str
    run: str
    owner_group: str
    min_replicas: int
    max_replicas: int
    deployment: str = field(default="", compare=False)  # the Deployment's name in the namespace

    def cells(self) -> list[str]:
        values = asdict(self)
        return [
            ",".join(values[c]) if c == "regions" else str(values[c]) if values[c] != "" else "-"
            for c in COLUMNS
        ]


def team_stacks(stacks: list[str], stacks_dir: Path, everything: bool) -> list[tuple[str, TeamConfig]]:
    """The team stacks to list, with their configs: those named, or every team stack of the folder."""
    from mlops.synth import load_source
    from mlops.team import validate

    names = list_stacks(stacks_dir) if everything else stacks
    if not names:
        raise ConfigError(None, "STACK", "name at least one team stack, or pass --all")
    chosen = []
    for name in names:
        source = load_source(name, stacks_dir)  # a missing or broken stack file is one line
        if source.kind != "team":
            if everything:
                continue
            raise ConfigError(
                stack_file(stacks_dir, name),
                "mlops:platform",
                "a platform stack has no models; allowed: a team stack (team-<team>-<env>)",
            )
        chosen.append((name, validate(name, stacks_dir)))
    return chosen


def _provider_regions(document: Mapping[str, Any]) -> dict[str, str]:
    """Kubernetes provider reference -> region: stacks/team.py names each cluster's provider `k8s-<region>`."""
    regions = {}
    for step in document.get("steps", []):
        state = step.get("newState") or {}
        if state.get("type") == K8S_PROVIDER:
            name = state["urn"].rsplit("::", 1)[-1]
            regions[state["urn"]] = name.removeprefix("k8s-")
    return regions


def rows_of(stack: str, team: TeamConfig, document: Mapping[str, Any]) -> list[Row]:
    """The model versions of one team stack's preview document."""
    providers = _provider_regions(document)
    states = [step.get("newState") or {} for step in document.get("steps", [])]
    scaling: dict[tuple[str, str], tuple[int, int]] = {}
    for state in states:
        if state.get("type") in SCALERS:
            inputs = state.get("inputs") or {}
            spec = inputs.get("spec") or {}
            bounds = (
                (spec.get("minReplicas"), spec.get("maxReplicas"))
                if state["type"] == SCALERS[0]
                else (spec.get("minReplicaCount"), spec.get("maxReplicaCount"))
            )
            scaling[(inputs.get("metadata", {}).get("namespace"), spec["scaleTargetRef"]["name"])] = bounds
    weights = (document.get("outputs") or {}).get("models") or {}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for state in states:
        inputs = state.get("inputs") or {}
        metadata = inputs.get("metadata") or {}
        labels = metadata.get("labels") or {}
        if state.get("type") != DEPLOYMENT or labels.get(PURPOSE_LABEL) != MODEL_VERSION_PURPOSE:
            continue
        model, version = labels["app.kubernetes.io/name"], labels["app.kubernetes.io/version"]
        provider = (state.get("provider") or "").rsplit("::", 1)[0]
        entry = found.setdefault((model, version), {"regions": [], "metadata": metadata, "inputs": inputs})
        entry["regions"].append(providers.get(provider, "?"))
    rows = []
    for (model, version), entry in found.items():
        metadata = entry["metadata"]
        annotations = metadata.get("annotations") or {}
        containers = entry["inputs"]["spec"]["template"]["spec"]["containers"]
        image = containers[0]["image"]
        low, high = scaling.get((metadata["namespace"], metadata["name"]), (None, None))
        rows.append(
            Row(
                stack=stack,
                team=team.name,
                environment=team.environment,
                model=model,
                version=version,
                regions=tuple(sorted(entry["regions"])),
                namespace=metadata["namespace"],
                weight=int(weights.get(model, {}).get(version, 0)),
                image=image,
                digest=image.split("@", 1)[1] if "@" in image else "",
                commit=annotations.get(COMMIT_ANNOTATION, ""),
                source=annotations.get(SOURCE_ANNOTATION, ""),
                license=annotations.get(LICENSE_ANNOTATION, ""),
                run=annotations.get(RUN_ANNOTATION, ""),
                owner_group=team.owners.sso_group,
                min_replicas=int(low) if low is not None else 0,
                max_replicas=int(high) if high is not None else 0,
                deployment=metadata["name"],
            )
        )
    return sorted(rows, key=lambda row: (row.model, row.version))


def inventory(stacks: list[str], stacks_dir: Path, everything: bool) -> list[Row]:
    """Every model version of the chosen team stacks, their previews synthesised in the fork pool."""
    import contextlib

    from mlops.forked import synthesize_many

    teams = dict(team_stacks(stacks, stacks_dir, everything))
    rows: list[Row] = []
    with contextlib.closing(synthesize_many(list(teams), Path(stacks_dir))) as results:
        documents = dict(results)
    for name, team in teams.items():
        rows += rows_of(name, team, documents[name])
    return rows


# ---------------------------------------------------------------------------------------------------------
# Formats


def render(rows: list[Row], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(
            [{column: getattr(row, column) for column in COLUMNS} for row in rows], indent=2, default=list
        )
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([";".join(row.regions) if c == "regions" else getattr(row, c) for c in COLUMNS])
        return buffer.getvalue()
    table = [list(COLUMNS), *[row.cells() for row in rows]]
    if fmt == "markdown":
        lines = [
            "| " + " | ".join(table[0]) + " |",
            "| " + " | ".join("---" for _ in COLUMNS) + " |",
            *["| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in table[1:]],
        ]
        return "\n".join(lines) + "\n"
    widths = [max(len(line[index]) for line in table) for index in range(len(COLUMNS))]
    return "".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() + "\n"
        for line in table
    )


# ---------------------------------------------------------------------------------------------------------
# --live: the clusters, through kubectl


@dataclass(frozen=True)
class Drift:
    stack: str
    region: str
    what: str  # e.g. "scorer-v3: runs image X, the stack declares Y"


def parse_contexts(values: Iterable[str]) -> dict[str, str]:
    """`--context REGION=CONTEXT` values -> {region: context}."""
    contexts: dict[str, str] = {}
    for value in values:
        region, separator, context = value.partition("=")
        if not separator or not region or not context:
            raise ConfigError(
                None, "--context", f"{value!r} is not REGION=CONTEXT (e.g. us-east-1=prod-use1)"
            )
        if region in contexts:
            raise ConfigError(None, "--context", f"region {region} is given twice")
        contexts[region] = context
    return contexts


def kubectl_json(kubectl: str, *args: str) -> dict[str, Any]:
    command = [kubectl, *args]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except FileNotFoundError:
        raise ProgramError(f"{kubectl} not found on PATH; --live needs kubectl") from None
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-1:] or [f"exit {result.returncode}"]
        raise ProgramError(f"{' '.join(command)}: {detail[0]}")
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise ProgramError(f"{' '.join(command)}: not JSON") from None


def live_drift(
    rows: list[Row], contexts: Mapping[str, str], kubectl: str = "kubectl"
) -> tuple[list[Drift], int]:
    """Compare each row with the clusters of its regions that ``contexts`` names (one kubectl call per stack,
    namespace and region; a region without a context is not compared): the drift, and how many were compared."""
    if not contexts:
        raise ConfigError(
            None, "--context", "missing; --live needs REGION=CONTEXT for the clusters to compare"
        )
    drift: list[Drift] = []
    groups: dict[tuple[str, str, str], list[Row]] = {}
    for row in rows:
        for region in row.regions:
            if region in contexts:
                groups.setdefault((row.stack, row.namespace, region), []).append(row)
    for (stack, namespace, region), expected in groups.items():
        answer = kubectl_json(
            kubectl,
            "get",
            "deployments",
            "-n",
            namespace,
            "-l",
            f"{PURPOSE_LABEL}={MODEL_VERSION_PURPOSE}",
            "-o",
            "json",
            "--context",
            contexts[region],
        )
        live = {item["metadata"]["name"]: item for item in answer.get("items", [])}
        for row in expected:
            item = live.pop(row.deployment, None)
            where = f"{row.model} {row.version} ({namespace}/{row.deployment})"
            if item is None:
                drift.append(Drift(stack, region, f"{where}: not in the cluster"))
                continue
            containers = item.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
            image = next((c.get("image") for c in containers if c.get("name") == "model"), None)
            if image != row.image:
                drift.append(Drift(stack, region, f"{where}: runs {image}, the stack declares {row.image}"))
            ready = int(item.get("status", {}).get("readyReplicas") or 0)
            if ready < row.min_replicas:
                drift.append(
                    Drift(
                        stack,
                        region,
                        f"{where}: {ready} ready replicas, below min-replicas {row.min_replicas}",
                    )
                )
        for name in sorted(live):
            drift.append(
                Drift(stack, region, f"{namespace}/{name}: a model version the stack does not declare")
            )
    return drift, len(groups)


def render_drift(drift: list[Drift], compared: int) -> str:
    if not drift:
        return f"live: no drift ({compared} stack regions compared)\n"
    return "".join(f"drift: {d.stack} {d.region}: {d.what}\n" for d in drift)
