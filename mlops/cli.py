"""The `mlops` command line: offline preview, JSON Schema of stack files, and the stack graph."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from components.loader import ConfigError, UnknownStackError
from mlops import render
from mlops.base import DEFAULT_STACKS_DIR, CostError, ProgramError
from mlops.verify import VerifyError

EXIT_USER_ERROR = 2

app = typer.Typer(
    name="mlops",
    help="Describe, preview and check the MLOps platform's Pulumi stacks offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}
T = TypeVar("T")

USER_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    UnknownStackError,
    ProgramError,
    VerifyError,
    CostError,
)

# The AWS options of the commands that call AWS (verify, the purges).
Profile = Annotated[str | None, typer.Option("--profile", help="AWS profile to use.")]
EndpointUrl = Annotated[
    str | None,
    typer.Option("--endpoint-url", help="Send every AWS call to this endpoint (any AWS-compatible API)."),
]
StacksDir = Annotated[
    Path,
    typer.Option(
        "--stacks-dir", help="Folder holding the Pulumi.<stack>.yaml stack files.", show_default=True
    ),
]


NoCache = Annotated[
    bool,
    typer.Option(
        "--no-cache",
        help="Synthesise platform outputs afresh: neither read nor write the .mlops-cache folder.",
    ),
]


def bypass_cache(no_cache: bool) -> None:
    """``--no-cache``: before any worker is forked, so the workers see it too."""
    if no_cache:
        from mlops import cache

        cache.disable()


def progress_board(document_on_stdout: bool):
    """The progress display on stderr, enabled only for a terminal and no document on stdout."""
    from mlops.progress import Board, wanted

    return Board(enabled=wanted(document_on_stdout))


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    _state["debug"] = debug


def fail(message: str, code: int = EXIT_USER_ERROR) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def guarded(action: Callable[[], T]) -> T:
    """Run ``action``; user errors become one line on stderr and exit 2 (a traceback only with --debug)."""
    try:
        return action()
    except USER_ERRORS as exc:
        if _state["debug"]:
            traceback.print_exc()
        fail(str(exc))
        raise  # unreachable: fail() raises


def write_atomically(path: Path, text: str) -> None:
    """Write a whole file or nothing: a uniquely named temporary file in the target's folder (so the rename stays
    on one file system) renamed into place; on any error the temporary file is removed and the error is one line."""
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        fail(f"--output: cannot write {path}: {exc.strerror or exc} (the folder must exist and be writable)")
        raise  # unreachable: fail() raises
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(handle, 0o666 & ~umask)  # mkstemp creates 0600; the report is an ordinary file
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        fail(f"--output: cannot write {path}: {exc.strerror or exc}")


@app.command()
def preview(
    stack: Annotated[str, typer.Argument(help="Stack name, e.g. dev, staging, prod.")],
    stacks_dir: StacksDir = DEFAULT_STACKS_DIR,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a document shaped like `pulumi preview --json`.")
    ] = False,
    against: Annotated[
        Path | None,
        typer.Option(
            "--against",
            help="The previous state: a saved `mlops preview --json` or `pulumi stack export`; changes that would "
            "replace or delete a stateful resource are refused (exit 2).",
        ),
    ] = None,
    allow_replacement: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-replacement", help="A resource name whose replacement is intended (repeatable)."
        ),
    ] = None,
    no_cache: NoCache = False,
) -> None:
    """Synthesise a stack offline under the Pulumi SDK's mock monitor and show what it would create."""
    from mlops.synth import synthesize

    bypass_cache(no_cache)
    with progress_board(as_json) as board:
        document = guarded(lambda: synthesize(stack, stacks_dir, on_register=board.registrations(stack)))
        board.done(stack, f"synthesised: {len(document['steps'])} resources")
    if against is not None:
        from mlops.replacement import current, read_previous, refused_changes

        previous = guarded(lambda: read_previous(against))
        refused = refused_changes(previous, current(document), allow_replacement or ())
        if refused:
            for line in refused:
                typer.echo(f"error: {stack}: {line}", err=True)
            raise typer.Exit(EXIT_USER_ERROR)
    if as_json:
        typer.echo(json.dumps(document, indent=2, sort_keys=True))
    else:
        typer.echo(render.preview_text(document))


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the schema here instead of stdout.")
    ] = None,
) -> None:
    """Write the JSON Schema of stack files (for editors' YAML support)."""
    from mlops.schema import stack_file_schema

    emit(json.dumps(stack_file_schema(), indent=2, sort_keys=True) + "\n", output)


def emit(text: str, output: Path | None) -> None:
    """Print ``text``, or write it whole to ``output`` (never a half-written file)."""
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_atomically(output, text)
        typer.echo(f"wrote {output}", err=True)


@app.command()
def graph(
    stack: Annotated[str, typer.Argument(help="Stack name.")],
    stacks_dir: StacksDir = DEFAULT_STACKS_DIR,
    fmt: Annotated[str, typer.Option("--format", help="mermaid or dot.")] = "mermaid",
    from_file: Annotated[
        Path | None, typer.Option("--from", help="Read a saved `mlops preview --json` document instead.")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the diagram here.")] = None,
    no_cache: NoCache = False,
) -> None:
    """Draw the component tree of a stack with its cross-component dependencies (Mermaid or DOT)."""
    from mlops.graph import FORMATS, render_graph

    if fmt not in FORMATS:
        fail(f"--format: {fmt!r} is not a format; allowed: {', '.join(FORMATS)}")
    bypass_cache(no_cache)
    document = guarded(lambda: load_document(stack, stacks_dir, from_file))
    emit(render_graph(document, fmt) + "\n", output)


@app.command()
def check(
    stacks: Annotated[list[str] | None, typer.Argument(help="Stacks to check.")] = None,
    stacks_dir: StacksDir = DEFAULT_STACKS_DIR,
    everything: Annotated[
        bool, typer.Option("--all", help="Check every stack in the stacks folder (both cores).")
    ] = False,
    from_file: Annotated[
        Path | None, typer.Option("--from", help="Check a saved `mlops preview --json` document.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json, sarif or markdown.")] = "text",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here.")] = None,
    no_cache: NoCache = False,
    changed_since: Annotated[
        str | None,
        typer.Option(
            "--changed-since",
            metavar="REF",
            help="Check only the stacks the changes since the git revision REF affect (committed since the merge "
            "base, and not yet committed).",
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            metavar="I/N",
            help="Check only part I of N (1-based) of the selected stacks, split balanced by expected cost.",
        ),
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            metavar="REF",
            help="The git revision team stacks' traffic is compared with (new model versions start at the first "
            "canary step); default: --changed-since's REF, else HEAD.",
        ),
    ] = None,
) -> None:
    """Run the policy pack over the Analyzer protocol; exit 1 on any mandatory violation."""
    from mlops.check import FORMATS, render, run_check

    if fmt not in FORMATS:
        fail(f"--format: {fmt!r} is not a format; allowed: {', '.join(FORMATS)}")
    bypass_cache(no_cache)
    names, position = list(stacks or []), (1, 1)
    # The revision team stacks' traffic is compared with: --base, else --changed-since's (which the selection
    # checks first), else HEAD's; a --base git does not know is refused before anything is synthesised.
    compared_with = (base, "--base") if base is not None else (changed_since, "--changed-since")
    if base is not None:
        from mlops.history import revision_in

        guarded(lambda: revision_in(Path(stacks_dir).resolve(), base, "--base"))
    selecting = changed_since is not None or shard is not None
    if selecting:
        if from_file is not None:
            option = "--shard" if shard is not None else "--changed-since"
            fail(f"--from: checks one saved document; it cannot be combined with {option}")
        from mlops.changes import select

        names, position, notes = guarded(lambda: select(stacks_dir, names, everything, changed_since, shard))
        for note in notes:
            typer.echo(note, err=True)
    if selecting and not names:
        reports = []  # nothing affected, or an empty shard: an empty report, so every shard has one
    else:
        with progress_board(output is None and fmt != "text") as board:
            reports = guarded(
                lambda: run_check(
                    names, stacks_dir, from_file, everything and not selecting, board, *compared_with
                )
            )
    emit(render(reports, fmt, position) + "\n", output)
    if any(report.mandatory for report in reports):
        raise typer.Exit(1)


@app.command()
def inventory(
    stacks: Annotated[list[str] | None, typer.Argument(help="Team stacks, e.g. team-fraud-prod.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every team stack in the stacks folder.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="text, json, markdown or csv.")] = "text",
    live: Annotated[
        bool, typer.Option("--live", help="Compare with the clusters (kubectl); exit 1 on drift.")
    ] = False,
    context: Annotated[
        list[str] | None,
        typer.Option(
            "--context",
            help="[PLATFORM:]REGION=KUBECONTEXT of a cluster to compare with --live; repeat.",
        ),
    ] = None,
    stacks_dir: StacksDir = DEFAULT_STACKS_DIR,
    no_cache: NoCache = False,
) -> None:
    """Every model version of the team stacks: team, environment, regions, namespace, weight, image digest,
    source commit, license, run, owner group and autoscaling range; offline, from the stack files and previews."""
    from mlops import inventory as inv

    if fmt not in inv.FORMATS:
        fail(f"--format: {fmt!r} is not allowed; allowed: {', '.join(inv.FORMATS)}")
    if everything and stacks:
        fail("--all: names every team stack; it cannot be combined with STACK names")
    if context and not live:
        fail("--context: only with --live")
    contexts = guarded(lambda: inv.parse_contexts(context or ()))
    if live and not contexts:
        fail("--context: missing; --live needs [PLATFORM:]REGION=CONTEXT for each cluster to compare")
    bypass_cache(no_cache)
    rows = guarded(lambda: inv.inventory(list(stacks or ()), stacks_dir, everything))
    if live:
        guarded(
            lambda: inv.resolve_contexts(rows, contexts)
        )  # a context that matches nothing: before any output
    typer.echo(inv.render(rows, fmt), nl=False)
    if live:
        drift, states, compared = guarded(lambda: inv.live_drift(rows, contexts))
        typer.echo(inv.render_drift(drift, states, compared), nl=False, err=fmt != "text")
        if drift:
            raise typer.Exit(1)


@app.command("merge-reports")
def merge_reports(
    files: Annotated[
        list[Path], typer.Argument(help="The JSON reports of every shard of one `mlops check` run.")
    ],
    fmt: Annotated[str, typer.Option("--format", help="sarif, markdown, json or text.")] = "sarif",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the merged report here.")
    ] = None,
) -> None:
    """Merge shard reports into one (one SARIF run, one Markdown comment); exit 1 on any mandatory violation."""
    from mlops.check import FORMATS, render
    from mlops.merge import merge_reports as merge

    if fmt not in FORMATS:
        fail(f"--format: {fmt!r} is not a format; allowed: {', '.join(FORMATS)}")
    reports = guarded(lambda: merge(list(files)))
    emit(render(reports, fmt) + "\n", output)
    if any(report.mandatory for report in reports):
        raise typer.Exit(1)


@app.command()
def cost(
    stacks: Annotated[list[str] | None, typer.Argument(help="Stacks to estimate.")] = None,
    stacks_dir: StacksDir = DEFAULT_STACKS_DIR,
    fmt: Annotated[str, typer.Option("--format", help="text, json or markdown.")] = "text",
    compare: Annotated[
        Path | None,
        typer.Option(
            "--compare", help="A saved `mlops cost --format json` (the base branch's): show the difference."
        ),
    ] = None,
    from_file: Annotated[
        Path | None, typer.Option("--from", help="Estimate a saved `mlops preview --json` document.")
    ] = None,
    prices: Annotated[
        Path | None, typer.Option("--prices", help="The price table (default: mlops/data/prices.json).")
    ] = None,
    refresh_prices: Annotated[
        bool,
        typer.Option(
            "--refresh-prices",
            help="Rebuild the price table from the AWS Price List API first (live: needs AWS credentials).",
        ),
    ] = False,
    profile: Profile = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here.")] = None,
    no_cache: NoCache = False,
) -> None:
    """A monthly cost estimate per resource, per component and in total, from the synthesised preview."""
    from mlops import cost as costs

    if fmt not in costs.FORMATS:
        fail(f"--format: {fmt!r} is not a format; allowed: {', '.join(costs.FORMATS)}")
    names = list(stacks or [])
    if from_file is not None and len(names) > 1:
        fail("--from: estimates one saved document; give at most one stack name (its label)")
    if not names and from_file is None:
        fail("give a stack name (or --from FILE)")
    table_path = prices or costs.PRICES_PATH
    if refresh_prices:
        from mlops.prices import refresh

        def rebuild() -> None:
            import boto3

            session = boto3.Session(profile_name=profile)
            write_atomically(
                table_path, refresh(table_path, session.client("pricing", region_name="us-east-1"))
            )

        guarded(rebuild)
        typer.echo(f"refreshed {table_path}", err=True)
    bypass_cache(no_cache)

    def run() -> str:
        table = costs.PriceTable.load(table_path)
        documents = (
            [(names[0] if names else str(from_file), load_document("", stacks_dir, from_file))]
            if from_file is not None
            else [(name, load_document(name, stacks_dir, None)) for name in names]
        )
        estimates = [costs.estimate(name, document, table) for name, document in documents]
        if compare is not None:
            return costs.render_diff(costs.compare(costs.load_base(compare), estimates), table, fmt)
        return costs.render(estimates, table, fmt)

    emit(guarded(run) + "\n", output)


team_app = typer.Typer(
    help="Model-team self-service: new team stacks, validation, listing.", no_args_is_help=True
)
app.add_typer(team_app, name="team")


@team_app.command("new")
def team_new(
    team: Annotated[str, typer.Argument(help="Team name (a DNS-1123 label, e.g. fraud).")],
    env: Annotated[str, typer.Option("--env", help="Environment: dev, staging or prod.")],
    stacks_dir: StacksDir = DEFAULT_STACKS_DIR,
    platform_stack: Annotated[
        str | None, typer.Option(help="Platform stack to build on (default: the environment).")
    ] = None,
    owner_group: Annotated[
        str | None, typer.Option("--owner-group", help="SSO group that owns the team.")
    ] = None,
    owner_role_arn: Annotated[
        str | None, typer.Option("--owner-role-arn", help="IAM role the owners sign in with.")
    ] = None,
    cost_center: Annotated[str | None, typer.Option("--cost-center")] = None,
    data_classification: Annotated[
        str | None,
        typer.Option("--data-classification", help="public, internal (default), confidential or restricted."),
    ] = None,
    cpu: Annotated[str | None, typer.Option("--cpu", help="CPU quota, e.g. 8 (default) or 500m.")] = None,
    memory: Annotated[str | None, typer.Option("--memory", help="Memory quota, e.g. 32Gi (default).")] = None,
    gpus: Annotated[int | None, typer.Option("--gpus", help="GPU quota (default 0).")] = None,
    pods: Annotated[int | None, typer.Option("--pods", help="Pod quota (default 50).")] = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", help="NAME=IMAGE; repeat for more models.")
    ] = None,
    region: Annotated[
        list[str] | None,
        typer.Option("--region", help="Region to serve in (default: all of the platform's)."),
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option("--from", help="YAML file with the team spec; flags fill in what it leaves out."),
    ] = None,
    source: Annotated[
        list[str] | None,
        typer.Option("--source", help="NAME=REPOSITORY@COMMIT: where --model NAME was built from."),
    ] = None,
    license_: Annotated[
        list[str] | None, typer.Option("--license", help="NAME=SPDX-ID: --model NAME's license.")
    ] = None,
    run: Annotated[
        list[str] | None,
        typer.Option("--run", help="NAME=URI: the MLflow model (runs:/... or models:/NAME/VERSION)."),
    ] = None,
    notes: Annotated[list[str] | None, typer.Option("--notes", help="NAME=TEXT: free-form notes.")] = None,
    alert: Annotated[
        list[str] | None,
        typer.Option(
            "--alert", help="PROTOCOL:ENDPOINT (email:ADDRESS or https:URL) hearing the model alarms; repeat."
        ),
    ] = None,
) -> None:
    """Write stacks/Pulumi.team-TEAM-ENV.yaml, validated; never overwrites an existing file."""
    from mlops.team import NewTeam, create

    request = NewTeam(
        team=team,
        environment=env,
        platform_stack=platform_stack,
        owner_group=owner_group,
        owner_role_arn=owner_role_arn,
        cost_center=cost_center,
        data_classification=data_classification,
        cpu=cpu,
        memory=memory,
        gpus=gpus,
        pods=pods,
        models=tuple(model or ()),
        regions=tuple(region or ()),
        from_file=from_file,
        sources=tuple(source or ()),
        licenses=tuple(license_ or ()),
        runs=tuple(run or ()),
        notes=tuple(notes or ()),
        alerts=tuple(alert or ()),
    )
    path = guarded(lambda: create(request, stacks_dir))
    typer.echo(f"wrote {path}")


@team_app.command("validate")
def team_validate(
    stack_or_file: Annotated[
        str, typer.Argument(help="A team stack name (team-fraud-prod) or a stack file path.")
    ],
    stacks_dir: StacksDir = DEFAULT_STACKS_DIR,
) -> None:
    """Check a team stack file against the team spec and its platform stack."""
    from mlops.team import validate

    team = guarded(lambda: validate(stack_or_file, stacks_dir))
    models = ", ".join(model.name for model in team.models)
    typer.echo(f"ok: team {team.name} ({team.environment}) on {team.platform_stack}: {models}")


@team_app.command("dependents")
def team_dependents(
    platform_stack: Annotated[str, typer.Argument(help="A platform stack name (prod).")],
    stacks_dir: StacksDir = DEFAULT_STACKS_DIR,
) -> None:
    """Team stacks built on a platform stack; exit 1 while there is any (destroy them before the platform)."""
    from mlops.team import dependents

    found = guarded(lambda: dependents(platform_stack, stacks_dir))
    if not found:
        typer.echo(f"ok: no team stack is built on {platform_stack}")
        return
    for stack, team in found:
        typer.echo(f"{stack}: team {team.name} ({', '.join(team.regions)})")
    typer.echo(
        f"error: destroy these team stacks before {platform_stack}: their Ingresses keep the serving ALBs (whose "
        "network interfaces block the subnets' deletion) and their records keep the public zone from being deleted",
        err=True,
    )
    raise typer.Exit(1)


@team_app.command("list")
def team_list(stacks_dir: StacksDir = DEFAULT_STACKS_DIR) -> None:
    """Teams, environments, models and their traffic weights."""
    from rich.console import Console
    from rich.table import Table

    from mlops.team import list_teams

    teams = guarded(lambda: list_teams(stacks_dir))
    table = Table("stack", "team", "env", "platform", "model", "versions (weight)", "scaling", box=None)
    for stack, team in teams:
        for model in team.models:
            versions = ", ".join(f"{v.name} ({v.weight})" for v in model.versions)
            scaling = model.autoscaling
            signal = (
                f"cpu {scaling.cpu_target}%"
                if scaling.cpu_target is not None
                else f"rps {scaling.rps_target}"
                if scaling.rps_target is not None
                else f"keda {scaling.keda.type}"
                if scaling.keda
                else "-"
            )
            gpu = f", {model.resources.gpus} GPU" if model.resources.gpus else ""
            table.add_row(
                stack,
                team.name,
                team.environment,
                team.platform_stack,
                model.name,
                versions,
                f"{scaling.min_replicas}-{scaling.max_replicas}, {signal}{gpu}",
            )
    Console(width=200).print(table)


@app.command()
def verify(
    stack: Annotated[str, typer.Argument(help="Stack name whose deployment to verify.")],
    outputs: Annotated[
        Path | None,
        typer.Option(
            "--outputs", help="JSON of `pulumi stack output --json` (or an `mlops preview --json` document)."
        ),
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="Override the region of every check.")
    ] = None,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    stale_after: Annotated[
        int,
        typer.Option(
            "--stale-after", min=0, help="Minutes an alarm may sit in INSUFFICIENT_DATA before it fails."
        ),
    ] = 60,
    stacks_dir: StacksDir = DEFAULT_STACKS_DIR,
) -> None:
    """Check the live account against the stack's outputs: exit 1 when a check fails, 2 when none can run."""
    from mlops import verify as checks

    if fmt not in ("text", "json"):
        fail(f"--format: {fmt!r} is not a format; allowed: text, json")

    def run() -> list:
        import datetime as dt

        loaded = checks.load_outputs(stack, outputs, stacks_dir)
        expect = checks.expectations(loaded, dt.timedelta(minutes=stale_after))
        clients = checks.client_factory(profile, region, endpoint_url)
        checks.preflight(clients, region or expect.primary_region)
        return checks.run_checks(expect, clients)

    results = guarded(run)
    typer.echo(checks.render_json(results, stack) if fmt == "json" else checks.render_text(results))
    if any(result.status != checks.PASS for result in results):
        raise typer.Exit(1)


def platform_clients(
    command: str, stacks_dir: Path, stack: str, profile: str | None, endpoint_url: str | None
):
    """A platform stack's config and AWS clients whose credentials are for its account (the purge commands)."""
    from components.config import parse_platform
    from components.stackfile import PLATFORM_KEY, read_stack_config
    from mlops import verify as checks

    path, raw = read_stack_config(stacks_dir, stack)
    if PLATFORM_KEY not in raw:
        raise ConfigError(path, PLATFORM_KEY, f"missing: mlops {command} works on platform stacks")
    cfg = parse_platform(raw[PLATFORM_KEY], path)
    clients = checks.client_factory(profile, None, endpoint_url)
    account = checks.preflight(clients, cfg.primary_region.name)
    if account != cfg.account_id:
        raise VerifyError(
            f"the credentials are for account {account}; {path} declares account-id {cfg.account_id}"
        )
    return cfg, clients


@app.command("purge-repositories")
def purge_repositories(
    stack: Annotated[
        str, typer.Argument(help="Platform stack whose ECR-created repositories to list or delete.")
    ],
    delete: Annotated[
        bool, typer.Option("--delete", help="Delete them with their images (default: only list).")
    ] = False,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
    stacks_dir: StacksDir = DEFAULT_STACKS_DIR,
) -> None:
    """The repositories ECR created for the stack (pull-through cache, replicated models): destroy leaves them."""
    from mlops import purge

    def run() -> list[str]:
        cfg, clients = platform_clients("purge-repositories", stacks_dir, stack, profile, endpoint_url)
        return purge.purge(clients, cfg, delete)

    lines = guarded(run)
    typer.echo("\n".join(lines) if lines else "no repositories created by ECR for this stack")


@app.command("purge-guardduty-endpoints")
def purge_guardduty_endpoints(
    stack: Annotated[
        str, typer.Argument(help="Platform stack whose GuardDuty-created endpoints to list or delete.")
    ],
    delete: Annotated[
        bool,
        typer.Option(
            "--delete", help="Delete them, endpoints first, then their security groups (default: only list)."
        ),
    ] = False,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
    stacks_dir: StacksDir = DEFAULT_STACKS_DIR,
) -> None:
    """The guardduty-data endpoints and security groups GuardDuty created in the stack's VPCs: they keep destroy
    from deleting the subnets and VPCs. Run it once the clusters are destroyed."""
    from mlops import guardduty_endpoints

    def run() -> list[str]:
        cfg, clients = platform_clients("purge-guardduty-endpoints", stacks_dir, stack, profile, endpoint_url)
        try:
            return guardduty_endpoints.purge(clients, cfg, delete)
        except TimeoutError as exc:
            raise VerifyError(str(exc)) from None

    lines = guarded(run)
    typer.echo(
        "\n".join(lines) if lines else "no GuardDuty endpoints or security groups in this stack's VPCs"
    )


@app.command()
def promote(
    stack: Annotated[str, typer.Argument(help="A team stack name (team-fraud-prod).")],
    model: Annotated[str, typer.Argument(help="The model to promote (e.g. embedder).")],
    version: Annotated[str, typer.Argument(help="The version to promote, or to add with --image (e.g. v2).")],
    weight: Annotated[
        int | None, typer.Option("--weight", min=0, max=100, help="The version's new share of traffic.")
    ] = None,
    image: Annotated[
        str | None,
        typer.Option("--image", help="The version's new image (a digest in prod); adds the version."),
    ] = None,
    step: Annotated[
        bool, typer.Option("--step", help="Move the version to the team's next canary step (canary-steps).")
    ] = False,
    override: Annotated[
        str | None,
        typer.Option(
            "--override", help="Why the version may skip the first canary step (recorded in the file)."
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source", help="REPOSITORY@COMMIT: where the new version (or new image) was built from."
        ),
    ] = None,
    license_: Annotated[str | None, typer.Option("--license", help="SPDX-ID: the version's license.")] = None,
    run_uri: Annotated[
        str | None,
        typer.Option("--run", help="URI: the MLflow model (runs:/... or models:/NAME/VERSION)."),
    ] = None,
    notes: Annotated[str | None, typer.Option("--notes", help="TEXT: free-form notes.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the diff; write nothing.")] = False,
    stacks_dir: StacksDir = DEFAULT_STACKS_DIR,
) -> None:
    """Edit a team stack file for a promotion (comments and layout kept); checked before it is replaced."""
    from mlops.promote import Promotion
    from mlops.promote import promote as run

    request = Promotion(
        stack,
        model,
        version,
        weight=weight,
        image=image,
        step=step,
        override=override,
        source=source,
        license=license_,
        run=run_uri,
        notes=notes,
    )
    result = guarded(lambda: run(request, stacks_dir, dry_run=dry_run))
    typer.echo(result.diff, nl=False)
    weights = next(m for m in result.team.models if m.name == model).versions
    shares = ", ".join(f"{v.name} {v.weight}" for v in weights)
    typer.echo(f"{'would write' if dry_run else 'wrote'} {result.path}: {model} {shares}", err=True)


@app.command("pack-config")
def pack_config(
    stack: Annotated[str, typer.Argument(help="Stack name (dev, team-fraud-prod).")],
    platform_outputs: Annotated[
        str | None,
        typer.Option(
            "--platform-outputs",
            metavar="FILE",
            help="A team stack's platform outputs, as `pulumi stack output --json` prints them ('-': stdin): "
            "the permissions boundary and allowed licences.",
        ),
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            metavar="REF",
            help="The git revision whose stack file holds the traffic to compare with (what was deployed, or the "
            "pull request's base).",
        ),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the config here.")] = None,
    stacks_dir: StacksDir = DEFAULT_STACKS_DIR,
) -> None:
    """The policy pack config of a stack's live preview or deployment, every placeholder filled."""
    from mlops.pack_config import STDIN, read_outputs
    from mlops.pack_config import pack_config as build
    from policies.team_config import BASE_TRAFFIC_PLACEHOLDER

    def run() -> tuple[dict[str, Any], list[str]]:
        outputs = None
        if platform_outputs is not None:
            stdin = sys.stdin.buffer.read() if platform_outputs == STDIN else None
            outputs = read_outputs(platform_outputs, stdin)
        return build(stacks_dir, stack, outputs, base)

    config, left = guarded(run)
    for placeholder in left:
        option = "--base" if placeholder == BASE_TRAFFIC_PLACEHOLDER else "--platform-outputs"
        typer.echo(f"note: {stack}: {placeholder} left in place; {option} fills it", err=True)
    emit(json.dumps(config, indent=2) + "\n", output)


@app.command("deploy-plan")
def deploy_plan(
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="The last commit deployed (the head of the last successful deploy run)."
        ),
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Every stack (nothing deployed yet, or the last deploy is unknown).")
    ] = False,
    stacks_dir: StacksDir = DEFAULT_STACKS_DIR,
) -> None:
    """The stacks a change deploys, as JSON: platform stacks, then team stacks, each with its pack config, deploy
    role and runners; stacks without a GitHub environment are listed as skipped."""
    from mlops.deploy_plan import deploy_plan as plan

    if (since is None) == (not everything):
        fail("give one of --since REF (the last commit deployed) or --all")
    typer.echo(json.dumps(guarded(lambda: plan(stacks_dir, since)), sort_keys=True))


@app.command()
def history(
    stack: Annotated[str, typer.Argument(help="A team stack name (team-fraud-prod).")],
    model: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json or markdown.")] = "text",
    stacks_dir: StacksDir = DEFAULT_STACKS_DIR,
) -> None:
    """A model's releases from the git history of its stack file: versions, digests, weights, who, which PR."""
    from mlops.history import FORMATS, release_history, render

    if fmt not in FORMATS:
        fail(f"--format: {fmt!r} is not a format; allowed: {', '.join(FORMATS)}")
    changes = guarded(lambda: release_history(stacks_dir, stack, model))
    typer.echo(render(changes, fmt))


def load_document(stack: str, stacks_dir: Path, from_file: Path | None) -> dict[str, Any]:
    """A preview document: synthesised now, or read from a saved `mlops preview --json`."""
    if from_file is None:
        from mlops.synth import synthesize

        return synthesize(stack, stacks_dir)
    from mlops.check import load_saved

    return load_saved(from_file)


def usage_message(exc: Any) -> str:
    """A command-line parsing error as one line naming the option as typed, in the project's phrasing."""
    from pydantic import ValidationError

    from components.validation import pydantic_message

    param, cause = getattr(exc, "param", None), exc.__cause__
    if param is not None and isinstance(cause, ValidationError):
        hint = (
            param.opts[0]
            if getattr(param, "param_type_name", "") == "option"
            else (param.metavar or param.name).upper()
        )
        message = f"{hint}: {pydantic_message(cause.errors(include_url=False)[0])}"
    else:
        message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    return f"{message} (see `{ctx.command_path} --help`)" if ctx is not None else message


def main(argv: list[str] | None = None) -> None:
    """The `mlops` entry point: parsing errors, like every user error, are one line and exit 2."""
    try:
        code = app(args=argv, prog_name="mlops", standalone_mode=False)
    except KeyboardInterrupt:
        sys.exit(130)
    except typer.TyperException as exc:  # the command line's parsing errors (click's, as typer exports them)
        if type(exc).__name__ == "NoArgsIsHelpError":
            sys.exit(EXIT_USER_ERROR)  # the help has been printed
        typer.echo(f"error: {usage_message(exc)}", err=True)
        sys.exit(exc.exit_code or EXIT_USER_ERROR)
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
