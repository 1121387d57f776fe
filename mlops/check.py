"""`mlops check`: the policy pack against stacks synthesised offline, reported as text, JSON, SARIF or Markdown."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from components.loader import ConfigError, json_kind, list_stacks, load_json, stack_file
from components.validation import validate_model
from mlops.analyzer import PolicyPackProcess, Violation
from mlops.progress import Board

FORMATS = ("text", "json", "sarif", "markdown")
SARIF_LEVEL = {"mandatory": "error", "advisory": "warning", "remediate": "error", "disabled": "none"}


@dataclass
class StackReport:
    stack: str
    environment: str
    resources: int
    violations: list[Violation] = field(default_factory=list)
    source: str = ""

    @property
    def mandatory(self) -> list[Violation]:
        return [violation for violation in self.violations if violation.mandatory]


def document_environment(document: dict[str, Any]) -> str:
    environment = (document.get("outputs") or {}).get("environment")
    return environment if environment in ("dev", "staging", "prod") else "prod"


class _State(BaseModel):
    """What the policy pack, the graph and the renderer read of a step's ``newState`` (Pulumi's ResourceV3)."""

    model_config = ConfigDict(extra="allow")

    urn: Annotated[str, Field(pattern=r"^urn:pulumi:[^:]*::[^:]*::.+::.*$")]
    type: Annotated[str, Field(min_length=1)]
    custom: bool = False
    parent: str = ""
    provider: str = ""
    inputs: dict[str, Any] = {}
    dependencies: list[str] = []
    propertyDependencies: dict[str, list[str]] = {}


class _Step(BaseModel):
    model_config = ConfigDict(extra="allow")

    newState: _State


class _Preview(BaseModel):
    model_config = ConfigDict(extra="allow")

    steps: list[_Step]
    outputs: dict[str, Any] = {}


def load_saved(path: Path) -> dict[str, Any]:
    """A saved `mlops preview --json` document, its shape checked before any policy or graph reads it."""
    return preview_document(load_json(path), path)


def preview_document(document: Any, path: Path) -> dict[str, Any]:
    """``document`` (read from ``path``) checked to be a preview: its shape, and parents that form a tree."""
    expected = "expected what `mlops preview --json` prints"
    if not isinstance(document, dict):
        raise ConfigError(path, "(document)", f"not a preview: a JSON {json_kind(document)}; {expected}")
    if "steps" not in document:
        looks = (
            " (it looks like stack outputs, which `mlops verify --outputs` reads)"
            if "regions" in document
            else ""
        )
        raise ConfigError(path, "steps", f"missing: not a preview{looks}; {expected}")
    preview = validate_model(_Preview, document, path, "").model_dump()
    check_parents([step["newState"] for step in preview["steps"]], path, "steps[{}].newState")
    return preview


def check_state(state: Any, path: Path, where: str) -> dict[str, Any]:
    """One resource state (a preview step's newState, or a `pulumi stack export` resource) of the known shape."""
    return validate_model(_State, state, path, where).model_dump()


def check_parents(states: list[dict[str, Any]], path: Path, where: str) -> None:
    """Refuse a parent chain that returns to a resource it left (Pulumi's parents form a tree), which would
    make every walk up the tree endless; ``where`` names a state's position, ``{}`` standing for its index."""
    index = {state["urn"]: number for number, state in enumerate(states)}
    done: set[str] = set()
    for number, state in enumerate(states):
        seen: list[str] = []
        urn = state["urn"]
        while urn in index and urn not in done:
            if urn in seen:
                raise ConfigError(
                    path,
                    f"{where.format(number)}.parent",
                    (f"the parents of {state['urn']} lead back to {urn}; a preview's parents form a tree"),
                )
            seen.append(urn)
            urn = states[index[urn]]["parent"]
        done.update(seen)


def documents(
    stacks: list[str], stacks_dir: Path, from_file: Path | None, everything: bool, board: Board
) -> Iterator[tuple[str, dict, str]]:
    """(stack, document, source file) for each stack to check, each as soon as it is ready: read from
    ``from_file``, or synthesised in the fork pool (mlops/forked.py); ``board`` shows the synthesis's progress.
    Use it in ``contextlib.closing``: closing it stops the pool's workers."""
    if from_file is not None:
        document = load_saved(from_file)
        stack = str(document.get("stack") or from_file.stem)
        # Findings point at the stack file a reviewer would change, when the stacks folder has it.
        source = stack_file(stacks_dir, stack) if stack_file(stacks_dir, stack).is_file() else from_file
        yield stack, document, str(source)
        return
    from mlops.forked import synthesize_many

    names = stack_names(stacks, stacks_dir, everything)
    with (
        board.child_reporter() as reporter,
        contextlib.closing(synthesize_many(names, Path(stacks_dir), reporter)) as results,
    ):
        for name, document in results:
            yield name, document, str(stack_file(stacks_dir, name))


def stack_names(stacks: list[str], stacks_dir: Path, everything: bool) -> list[str]:
    """The stacks to synthesise: those named, or every stack of the folder; each must have its stack file."""
    names = list_stacks(stacks_dir) if everything else stacks
    if not names:
        raise ConfigError(None, "STACK", "name at least one stack, or pass --all or --from FILE")
    for name in names:
        if not stack_file(stacks_dir, name).is_file():
            from components.loader import UnknownStackError

            raise UnknownStackError(name, stacks_dir, list_stacks(stacks_dir))
    return names


def run_check(
    stacks: list[str],
    stacks_dir: Path,
    from_file: Path | None = None,
    everything: bool = False,
    board: Board | None = None,
    base: str | None = None,
    base_option: str = "--base",
) -> list[StackReport]:
    """Check every document with the pack started as the Pulumi engine starts it (mlops/analyzer.py); the
    reports in the order of the stacks named (or of the folder).

    The pack's process is launched first, so its start-up overlaps with reading or synthesising the documents;
    each document is analysed as soon as it is ready, while the pool synthesises the next ones. The command
    connects to the pack with the first document, after the pool forked its workers (gRPC's threads must not
    run across a fork). ``base`` is the git revision team stacks' traffic is compared with (``base_option``: the
    option that named it); without it, HEAD's."""
    board = board or Board(enabled=False)
    boundaries: dict[str, str | None] = {}
    licenses: dict[str, list[str] | None] = {}
    reports: dict[str, StackReport] = {}
    pack = PolicyPackProcess()
    with (
        contextlib.closing(pack),  # closed even when Ctrl-C comes as the pack's process starts
        contextlib.closing(documents(stacks, stacks_dir, from_file, everything, board)) as inputs,
    ):
        pack.start()
        for stack, document, source in inputs:
            pack.connect()  # once the pool's workers are forked: no gRPC thread runs across a fork
            config = policy_config(stack, document, stacks_dir, boundaries, licenses, base, base_option)
            pack.configure(config)
            violations = pack.analyze(document, progress=board.analysed(stack))
            reports[stack] = StackReport(
                stack, document_environment(document), len(document["steps"]), violations, source
            )
            board.done(stack, f"checked: {sum(violation.mandatory for violation in violations)} mandatory")
    order = [*stacks, *(list_stacks(stacks_dir) if everything else [])]
    return [reports[name] for name in order if name in reports] or list(reports.values())


def is_team_document(document: dict[str, Any]) -> bool:
    """A model-team stack's preview (stacks/team.py exports `team`; a platform stack never does)."""
    return "team" in (document.get("outputs") or {})


def policy_config(
    stack: str,
    document: dict[str, Any],
    stacks_dir: Path,
    boundaries: dict[str, str | None],
    licenses: dict[str, list[str] | None] | None = None,
    base: str | None = None,
    base_option: str = "--base",
) -> dict[str, dict[str, Any]]:
    """The pack config the live job uses for this stack: policies/config/<environment>.json for a platform
    stack; for a team stack team-<environment>.json with its platform stack's permissions boundary filled in
    and its allowed model licences (read from the platform's outputs, synthesised offline as deployed; `boundaries`
    and `licenses` cache them per platform), and the stack's traffic at the git revision ``base`` (``base_option``
    names the option that gave it), or at HEAD when none is given and the stacks folder is in a git repository.
    A team document whose stack file is not in ``stacks_dir`` keeps the placeholders, which the policies report;
    so does the base traffic outside git."""
    from policies.pack import environment_config

    licenses = {} if licenses is None else licenses
    environment = document_environment(document)
    if not is_team_document(document):
        return environment_config(environment)
    config = environment_config(f"team-{environment}")
    if not stack_file(stacks_dir, stack).is_file():
        return config
    from mlops.synth import load_source, platform_outputs
    from policies.team_config import with_allowed_licenses, with_base_traffic, with_permissions_boundary

    config = with_base_traffic(config, offline_base_traffic(stacks_dir, stack, base, base_option))
    platform = load_source(stack, stacks_dir).platform_stack
    if platform is None:
        return config
    if platform not in boundaries:
        outputs = platform_outputs(platform, stacks_dir)
        boundaries[platform] = (outputs.get("identity") or {}).get("permissionsBoundaryArn")
        licenses[platform] = outputs.get("allowedLicenses")
    return with_allowed_licenses(
        with_permissions_boundary(config, boundaries[platform]), licenses.get(platform)
    )


def offline_base_traffic(
    stacks_dir: Path, stack: str, base: str | None, base_option: str
) -> dict[str, dict[str, int]] | None:
    """The team stack's traffic at ``base``; without one, at HEAD's committed file (None outside git, or before
    the first commit: the placeholder stays and the policy reports it)."""
    from mlops.history import base_traffic, git_root, resolve_commit

    if base is not None:
        return base_traffic(stacks_dir, stack, base, base_option)
    root = git_root(stack_file(stacks_dir, stack).resolve().parent)
    if root is None or resolve_commit(root, "HEAD") is None:
        return None
    return base_traffic(stacks_dir, stack, "HEAD", "HEAD")


# ---------------------------------------------------------------------------------------------------------
# Reports


def render(reports: list[StackReport], fmt: str, shard: tuple[int, int] = (1, 1)) -> str:
    """``reports`` in ``fmt``; a JSON report also says which shard (I of N) of a sharded run it is."""
    if fmt == "json":
        return render_json(reports, shard)
    return {"text": render_text, "sarif": render_sarif, "markdown": render_markdown}[fmt](reports)


def render_text(reports: list[StackReport]) -> str:
    lines = []
    for report in reports:
        lines.append(
            f"{report.stack} ({report.environment}, {report.resources} resources): "
            f"{len(report.mandatory)} mandatory, {len(report.violations) - len(report.mandatory)} advisory"
        )
        for violation in report.violations:
            detail = violation.message.split("\n", 1)[-1]
            lines.append(f"  [{violation.enforcement}] {violation.policy}  {violation.urn or '(stack)'}")
            lines.append(f"      {detail}")
    return "\n".join(lines)


def render_json(reports: list[StackReport], shard: tuple[int, int] = (1, 1)) -> str:
    """The machine-readable report; `mlops merge-reports` reads it back (``source``: the stack file findings
    point at; ``shard``: this report's part of a sharded run, so a merge can tell that every part is there)."""
    return json.dumps(
        {
            "shard": {"index": shard[0], "count": shard[1]},
            "stacks": [
                {
                    "stack": r.stack,
                    "environment": r.environment,
                    "resources": r.resources,
                    "source": _relative(r.source) if r.source else "",
                    "violations": [asdict(v) for v in r.violations],
                }
                for r in reports
            ],
            "mandatory": sum(len(r.mandatory) for r in reports),
        },
        indent=2,
    )


def render_sarif(reports: list[StackReport]) -> str:
    from policies.base import REGISTRY
    from policies.pack import all_policies

    all_policies()
    names = sorted(REGISTRY)
    rules = [
        {
            "id": name,
            "name": name,
            "shortDescription": {"text": REGISTRY[name].description},
            "help": {"text": REGISTRY[name].remediation or REGISTRY[name].description},
            "properties": {
                "tags": ["security", REGISTRY[name].area],
                "severity": REGISTRY[name].severity,
                "security-severity": {"low": "3.0", "medium": "5.5", "high": "8.0", "critical": "9.5"}.get(
                    REGISTRY[name].severity, "5.0"
                ),
            },
        }
        for name in names
    ]
    results = []
    for report in reports:
        for violation in report.violations:
            # SARIF's ruleIndex points into the rules; a policy the pack does not list gets none (unknown).
            index = {"ruleIndex": names.index(violation.policy)} if violation.policy in names else {}
            results.append(
                {
                    "ruleId": violation.policy,
                    **index,
                    "level": SARIF_LEVEL.get(violation.enforcement, "warning"),
                    "message": {
                        "text": f"{violation.message.split(chr(10), 1)[-1]} ({violation.urn or report.stack})"
                    },
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": _relative(report.source)},
                                "region": {"startLine": 1},
                            },
                            "logicalLocations": [{"name": violation.urn or report.stack, "kind": "resource"}],
                        }
                    ],
                    "partialFingerprints": {"urnPolicy": f"{violation.urn}|{violation.policy}"},
                }
            )
    return json.dumps(
        {
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "mlops-platform-security",
                            "informationUri": "https://www.pulumi.com/docs/using-pulumi/crossguard/",
                            "rules": rules,
                        }
                    },
                    "results": results,
                }
            ],
        },
        indent=2,
    )


def _relative(path: str) -> str:
    from mlops.base import REPO_ROOT

    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return path


def render_markdown(reports: list[StackReport]) -> str:
    total = sum(len(r.mandatory) for r in reports)
    lines = [f"### Policy check: {'passed' if total == 0 else f'{total} mandatory violation(s)'}", ""]
    if not reports:
        return "\n".join([*lines, "No stack is affected by this change: nothing to check."])
    lines += [
        "| stack | environment | resources | mandatory | advisory |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for r in reports:
        lines.append(
            f"| {r.stack} | {r.environment} | {r.resources} | {len(r.mandatory)} | {len(r.violations) - len(r.mandatory)} |"
        )
    details = [(r, v) for r in reports for v in r.violations]
    if details:
        lines += ["", "| stack | level | policy | resource | finding |", "| --- | --- | --- | --- | --- |"]
        for r, v in details:
            finding = v.message.split("\n", 1)[-1].replace("|", "\\|")
            lines.append(
                f"| {r.stack} | {v.enforcement} | `{v.policy}` | `{v.urn.rsplit('::', 1)[-1] or '(stack)'}` | {finding} |"
            )
    return "\n".join(lines)
