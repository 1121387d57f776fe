"""`mlops inventory`: every model version of the team stacks, from their stack files and offline previews.

One row per model version of a team stack: team, environment, regions, namespace, traffic weight, image and digest,
source commit, licence, MLflow run, owner group and autoscaling range. What is deployed comes from the stack's
preview (its model version Deployments, labelled `mlops.platform/purpose: model-version`, with their provenance
annotations, and their autoscalers), the weights from its `models` output, the owner group from its stack file.

``--live`` asks each region's cluster with kubectl, as the smoke suite does (``kubectl get ... -o json --context
CONTEXT``, a context per platform stack and region), what each version's Deployment declares and what its pods
run: the digest of each pod's `model` container (its `imageID`), and the Deployment's ready, updated and available
replicas. It prints that for every compared version and reports drift: a version missing from the cluster, another
image in its template, a pod running another digest than the one pinned, fewer updated or available replicas than
the autoscaling minimum, a spec the Deployment controller has not yet observed, or a model version Deployment in
the namespace that the stack does not declare.
"""

from __future__ import annotations

import csv
import io
import json
import re
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
    platform: str = field(default="", compare=False)  # the platform stack the team stack is on

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
                platform=team.platform_stack,
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


@dataclass(frozen=True)
class Live:
    """What one model version's Deployment runs in one region: the digests of its pods' `model` containers and
    the Deployment's replica counts (its status, once the controller has seen the current spec)."""

    stack: str
    region: str
    model: str
    version: str
    digests: tuple[str, ...]  # distinct, sorted; "?" for a pod whose image ID names no digest
    ready: int
    updated: int
    available: int
    observed: bool  # status.observedGeneration >= metadata.generation


def parse_contexts(values: Iterable[str]) -> dict[tuple[str | None, str], str]:
    """`--context [PLATFORM:]REGION=CONTEXT` values -> {(platform or None, region): context}."""
    contexts: dict[tuple[str | None, str], str] = {}
    for value in values:
        target, separator, context = value.partition("=")
        platform, colon, region = target.rpartition(":")
        if not separator or not region or not context or (colon and not platform):
            raise ConfigError(
                None,
                "--context",
                f"{value!r} is not [PLATFORM:]REGION=CONTEXT (e.g. prod:us-east-1=prod-use1)",
            )
        key = (platform or None, region)
        if key in contexts:
            raise ConfigError(None, "--context", f"{target} is given twice")
        contexts[key] = context
    return contexts


def resolve_contexts(
    rows: list[Row], contexts: Mapping[tuple[str | None, str], str]
) -> dict[tuple[str, str], str]:
    """The given contexts keyed by (platform stack, region). A bare REGION=CONTEXT is for the one platform the
    selected stacks share; every context must match a region a selected stack serves in on its platform."""
    if not contexts:
        raise ConfigError(
            None, "--context", "missing; --live needs [PLATFORM:]REGION=CONTEXT for the clusters to compare"
        )
    platforms = sorted({row.platform for row in rows})
    served = {(row.platform, region) for row in rows for region in row.regions}
    resolved: dict[tuple[str, str], str] = {}
    for (platform, region), context in contexts.items():
        if platform is None:
            if len(platforms) > 1:
                raise ConfigError(
                    None,
                    "--context",
                    f"{region}={context} is ambiguous: the selected stacks are on platforms "
                    f"{', '.join(platforms)}; allowed: PLATFORM:REGION=CONTEXT",
                )
            platform = platforms[0] if platforms else ""
        if (platform, region) not in served:
            where = f"{platform}:{region}" if platform else region
            raise ConfigError(
                None,
                "--context",
                f"{where}={context} matches no selected stack; allowed: a region the selected stacks serve in "
                f"({', '.join(sorted(f'{p}:{r}' for p, r in served)) or 'none'})",
            )
        if (platform, region) in resolved:
            raise ConfigError(None, "--context", f"{platform}:{region} is given twice")
        resolved[(platform, region)] = context
    return resolved


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


# A container's image ID as the kubelet reports it (`status.containerStatuses[].imageID`): the image reference by
# digest, with the runtime's prefix under dockershim (`docker-pullable://repo@sha256:...`) and without it under
# containerd (`repo@sha256:...`).
IMAGE_ID_DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})$")


def image_id_digest(image_id: str) -> str:
    """The digest an image ID names (``sha256:<64 hex>``), or "?" when it names none."""
    found = IMAGE_ID_DIGEST.search(image_id or "")
    return found.group(1) if found else "?"


def running_digests(pods: Mapping[str, Any]) -> tuple[str, ...]:
    """The distinct digests the `model` containers of ``pods`` (a `kubectl get pods -o json` answer) run."""
    digests = set()
    for pod in pods.get("items", []):
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            if status.get("name") == "model":
                digests.add(image_id_digest(status.get("imageID", "")))
    return tuple(sorted(digests))


def live_drift(
    rows: list[Row], contexts: Mapping[tuple[str | None, str], str], kubectl: str = "kubectl"
) -> tuple[list[Drift], list[Live], int]:
    """Compare each row with the clusters of its regions that ``contexts`` names (a region without a context is
    not compared): one `get deployments` per stack, namespace and region, one `get pods` per version (by the
    labels its Deployment's selector matches, app and version). Returns the drift, per compared version found in
    a cluster what it runs, and how many stack regions were compared."""
    resolved = resolve_contexts(rows, contexts)
    drift: list[Drift] = []
    live: list[Live] = []
    groups: dict[tuple[str, str, str], list[Row]] = {}
    for row in rows:
        for region in row.regions:
            if (row.platform, region) in resolved:
                groups.setdefault((row.stack, row.namespace, region), []).append(row)
    if not groups:
        raise ConfigError(
            None, "--context", "nothing was compared; name a region the selected stacks serve in"
        )
    for (stack, namespace, region), expected in groups.items():
        context = resolved[(expected[0].platform, region)]
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
            context,
        )
        found = {item["metadata"]["name"]: item for item in answer.get("items", [])}
        for row in expected:
            item = found.pop(row.deployment, None)
            where = f"{row.model} {row.version} ({namespace}/{row.deployment})"
            if item is None:
                drift.append(Drift(stack, region, f"{where}: not in the cluster"))
                continue
            containers = item.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
            image = next((c.get("image") for c in containers if c.get("name") == "model"), None)
            if image != row.image:
                drift.append(
                    Drift(stack, region, f"{where}: its template has {image}, the stack declares {row.image}")
                )
            pods = kubectl_json(
                kubectl,
                "get",
                "pods",
                "-n",
                namespace,
                "-l",
                f"app={row.model},version={row.version}",
                "-o",
                "json",
                "--context",
                context,
            )
            digests = running_digests(pods)
            if row.digest:
                for digest in digests:
                    if digest != row.digest:
                        drift.append(
                            Drift(stack, region, f"{where}: a pod runs {digest}, the stack pins {row.digest}")
                        )
            status = item.get("status") or {}
            metadata = item.get("metadata") or {}
            state = Live(
                stack=stack,
                region=region,
                model=row.model,
                version=row.version,
                digests=digests,
                ready=int(status.get("readyReplicas") or 0),
                updated=int(status.get("updatedReplicas") or 0),
                available=int(status.get("availableReplicas") or 0),
                observed=int(status.get("observedGeneration") or 0) >= int(metadata.get("generation") or 0),
            )
            live.append(state)
            if not state.observed:
                drift.append(
                    Drift(stack, region, f"{where}: the controller has not yet observed the current spec")
                )
            current = min(state.updated, state.available)
            if current < row.min_replicas:
                drift.append(
                    Drift(
                        stack,
                        region,
                        f"{where}: {state.updated} updated and {state.available} available replicas, "
                        f"below min-replicas {row.min_replicas}",
                    )
                )
        for name in sorted(found):
            drift.append(
                Drift(stack, region, f"{namespace}/{name}: a model version the stack does not declare")
            )
    return drift, live, len(groups)


def render_live(live: list[Live]) -> str:
    """Per compared version and region: the digests its pods run and its replica counts."""
    return "".join(
        f"live: {state.stack} {state.region}: {state.model} {state.version} runs "
        f"{', '.join(state.digests) or 'no pods'}; replicas ready {state.ready}, updated {state.updated}, "
        f"available {state.available}{'' if state.observed else ' (spec not yet observed)'}\n"
        for state in live
    )


def render_drift(drift: list[Drift], live: list[Live], compared: int) -> str:
    report = render_live(live)
    if not drift:
        return report + f"live: no drift ({compared} stack regions compared)\n"
    return report + "".join(f"drift: {d.stack} {d.region}: {d.what}\n" for d in drift)
