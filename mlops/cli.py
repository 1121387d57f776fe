"""The `mlops` command line: offline preview, JSON Schema of stack files, and the stack graph."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from components.config import ConfigError, UnknownStackError
from mlops import render
from mlops.synth import DEFAULT_STACKS_DIR, ProgramError

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

USER_ERRORS: tuple[type[Exception], ...] = (ConfigError, UnknownStackError, ProgramError)

StacksDir = Annotated[
    Path,
    typer.Option("--stacks-dir", help="Folder holding the Pulumi.<stack>.yaml stack files.", show_default=True),
]


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
    """Write a whole file or nothing: a temporary sibling renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


@app.command()
def preview(
    stack: Annotated[str, typer.Argument(help="Stack name, e.g. dev, staging, prod.")],
    stacks_dir: StacksDir = DEFAULT_STACKS_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print a document shaped like `pulumi preview --json`.")] = False,
) -> None:
    """Synthesise a stack offline under the Pulumi SDK's mock monitor and show what it would create."""
    from mlops.synth import synthesize

    document = guarded(lambda: synthesize(stack, stacks_dir))
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
) -> None:
    """Draw the component tree of a stack with its cross-component dependencies (Mermaid or DOT)."""
    from mlops.graph import FORMATS, render_graph

    if fmt not in FORMATS:
        fail(f"--format: {fmt!r} is not a format; allowed: {', '.join(FORMATS)}")
    document = guarded(lambda: load_document(stack, stacks_dir, from_file))
    emit(render_graph(document, fmt) + "\n", output)


@app.command()
def check(
    stacks: Annotated[list[str] | None, typer.Argument(help="Stacks to check.")] = None,
    stacks_dir: StacksDir = DEFAULT_STACKS_DIR,
    everything: Annotated[bool, typer.Option("--all", help="Check every stack in the stacks folder (both cores).")] = False,
    from_file: Annotated[Path | None, typer.Option("--from", help="Check a saved `mlops preview --json` document.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json, sarif or markdown.")] = "text",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here.")] = None,
) -> None:
    """Run the policy pack over the Analyzer protocol; exit 1 on any mandatory violation."""
    from mlops.check import FORMATS, render, run_check

    if fmt not in FORMATS:
        fail(f"--format: {fmt!r} is not a format; allowed: {', '.join(FORMATS)}")
    reports, _ = guarded(lambda: run_check(list(stacks or []), stacks_dir, from_file, everything))
    emit(render(reports, fmt) + "\n", output)
    if any(report.mandatory for report in reports):
        raise typer.Exit(1)


def load_document(stack: str, stacks_dir: Path, from_file: Path | None) -> dict[str, Any]:
    """A preview document: synthesised now, or read from a saved `mlops preview --json`."""
    if from_file is None:
        from mlops.synth import synthesize

        return synthesize(stack, stacks_dir)
    try:
        document = json.loads(from_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(from_file, "(document)", f"not a readable preview JSON document ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("steps"), list):
        raise ConfigError(from_file, "steps", "missing; expected the output of `mlops preview --json`")
    return document


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
