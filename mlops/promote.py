"""`mlops promote`: move a model version along its canary steps, or give it a new image, by editing the team's
stack file in place.

The file is edited with a round-trip YAML library (ruamel.yaml), so its comments, key order, quoting and layout
stay as they are; only the lines of the changed values differ. The result is read back through the project's
strict stack-file reader, the team spec and the checks `mlops team validate` runs against the platform stack,
and only then replaces the file (a temporary file in the same folder, renamed over it): a refused promotion
writes nothing, and an interrupted one leaves the old file whole.
"""

from __future__ import annotations

import difflib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.config import parse_team
from components.loader import MAX_YAML_BYTES, ConfigError, read_bytes
from components.serving.canary import needs_record, next_step, rebalance
from components.serving.config import TeamConfig
from components.stackfile import TEAM_KEY, read_config_file, read_stack_config
from mlops.team import PROVENANCE_FLAGS


@dataclass(frozen=True)
class Promotion:
    """What `mlops promote` was asked for."""

    stack: str
    model: str
    version: str
    weight: int | None = None
    image: str | None = None
    step: bool = False
    override: str | None = None
    # The version's provenance (components.serving.provenance), as `mlops team new` takes it: --source
    # REPOSITORY@COMMIT, --license SPDX-ID, --run URI, --notes TEXT.
    source: str | None = None
    license: str | None = None
    run: str | None = None
    notes: str | None = None

    def provenance(self) -> dict[str, str]:
        """The provenance flags given, by key (source, license, run, notes)."""
        given = {"source": self.source, "license": self.license, "run": self.run, "notes": self.notes}
        return {key: value for key, value in given.items() if value is not None}


@dataclass(frozen=True)
class Result:
    path: Path
    before: str
    after: str
    team: TeamConfig

    @property
    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                fromfile=f"a/{self.path.name}",
                tofile=f"b/{self.path.name}",
            )
        )


def _yaml(text: str):
    from ruamel.yaml import YAML
    from ruamel.yaml.util import load_yaml_guess_indent

    _, indent, offset = load_yaml_guess_indent(text)
    handler = YAML(typ="rt")
    handler.preserve_quotes = True
    handler.width = 4096  # never fold a long line (image references)
    handler.indent(mapping=indent, sequence=indent, offset=offset)
    return handler


def _dump(handler: Any, document: Any) -> str:
    stream = io.StringIO()
    handler.dump(document, stream)
    return stream.getvalue()


def load_round_trip(path: Path, text: str) -> tuple[Any, Any]:
    """The document as ruamel's round-trip tree, with a dumper that writes it back byte for byte; ConfigError
    when this file's layout would not survive a rewrite (then nothing can be edited without reformatting)."""
    handler = _yaml(text)
    document = handler.load(text)
    if _dump(handler, document) != text:
        raise ConfigError(
            path,
            "(file)",
            "its layout (mixed indentation or flow style) would change if rewritten; format it as `mlops team "
            "new` writes stack files, or edit it by hand",
        )
    return handler, document


def _find(items: Any, name: str, key: str, what: str) -> tuple[int, Any]:
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == name:
            return index, item
    known = ", ".join(str(item.get("name")) for item in items if isinstance(item, dict)) or "none"
    raise ConfigError(None, "", f"{what} {name!r} is not in {key}; {what}s: {known}")


def _move_trailing(source: Any, source_key: Any, target: Any, target_key: Any) -> None:
    """Move the comment and blank lines that follow ``source_key``'s line to after ``target_key``'s line.

    ruamel.yaml keeps what follows a value's line (blank lines, comment lines, up to the next key) with that
    value; a key or list item inserted after it must take them over, so they stay below the inserted lines.
    The end-of-line comment stays where it is."""
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    slots = source.ca.items.get(source_key)
    token = slots[2] if slots and len(slots) > 2 else None
    if token is None:
        return
    head, _, rest = token.value.partition("\n")
    if not rest:
        return
    if head.strip():
        token.value = head + "\n"
    else:
        slots[2] = None
    target.ca.items[target_key] = [None, None, CommentToken("\n" + rest, CommentMark(0), None), None]


def _set_key_after(mapping: Any, key: str, value: Any, after: str) -> None:
    """Set ``key`` in a round-trip mapping; a new key goes right after ``after`` (its place in the spec)."""
    if key in mapping:
        mapping[key] = value
        return
    keys = list(mapping)
    if after not in keys:
        after = keys[-1]
    mapping.insert(keys.index(after) + 1, key, value)
    _move_trailing(mapping, after, mapping, key)


def _round_trip(value: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap

    return CommentedMap(value) if isinstance(value, dict) else value


def _provenance(request: Promotion) -> dict[str, Any]:
    """The provenance flags as the version's mapping holds them (parsed as `mlops team new` parses them)."""
    from mlops.team import provenance_value

    return {key: _round_trip(provenance_value(key, text)) for key, text in request.provenance().items()}


# Where each provenance key goes in a version's mapping when it is new there: after the key before it.
_PROVENANCE_AFTER = {"source": "weight", "license": "source", "run": "license", "notes": "run"}


def edit(document: Any, team: TeamConfig, request: Promotion) -> str:
    """Apply ``request`` to the round-trip document (validated afterwards, as a whole, by the team spec); the
    key of the promoted version (``mlops:team.models[M].versions[V]``)."""
    value = document["config"][TEAM_KEY]
    if not isinstance(value, dict):
        raise ConfigError(None, TEAM_KEY, "is a JSON string; mlops promote edits a YAML mapping")
    m_index, model = _find(value["models"], request.model, f"{TEAM_KEY}.models", "model")
    key = f"{TEAM_KEY}.models[{m_index}].versions"
    versions = model["versions"]
    steps = team.canary_steps
    first = steps[0]
    weights = {str(v["name"]): int(v["weight"]) for v in versions}
    names = list(weights)
    if request.version not in weights:
        if request.image is None:
            _find(versions, request.version, key, "version")  # raises, listing the versions
        start = request.weight if request.weight is not None else first
        if needs_record(start, first, first_listed=False) and request.override is None:
            raise ConfigError(
                None,
                "--weight",
                f"{start} starts new version {request.version} above the first canary step {first} of "
                f"{TEAM_KEY}.canary-steps; allowed: {first} or less, or --override REASON (recorded in the file)",
            )
        from ruamel.yaml.comments import CommentedMap

        entry = CommentedMap([("name", request.version), ("image", request.image), ("weight", 0)])
        entry.update(_provenance(request))
        last = versions[-1]
        versions.append(entry)
        # The lines after the old last version now follow the new one's last line (a nested mapping's last key).
        holder, key_of = entry, list(entry)[-1]
        if isinstance(holder[key_of], dict):
            holder, key_of = holder[key_of], list(holder[key_of])[-1]
        _move_trailing(last, list(last)[-1], holder, key_of)
        weights[request.version] = 0
        names.append(request.version)
        target_weight = start
    else:
        current = weights[request.version]
        if request.step:
            upcoming = next_step(steps, current)
            if upcoming is None:
                raise ConfigError(
                    None, "--step", f"version {request.version} of {request.model} already holds 100"
                )
            target_weight = upcoming
        elif request.weight is not None:
            target_weight = request.weight
        else:
            target_weight = current
        entry = versions[names.index(request.version)]
        given = request.provenance()
        if given and request.image is None:
            flag = PROVENANCE_FLAGS[next(iter(given))]
            raise ConfigError(
                None,
                flag,
                f"version {request.version} of {request.model} exists; provenance is given with a new version, "
                "or with --image for a new image",
            )
        if request.image is not None:
            if request.image != entry["image"] and team.environment == "prod":
                for needed in ("source", "run"):
                    if needed not in given:
                        raise ConfigError(
                            None,
                            PROVENANCE_FLAGS[needed],
                            f"required: --image gives version {request.version} of {request.model} a new image in "
                            "prod, and its provenance describes the old one; give --source REPOSITORY@COMMIT and "
                            "--run URI for the new image",
                        )
            entry["image"] = request.image
            for name, value in _provenance(request).items():
                _set_key_after(entry, name, value, _PROVENANCE_AFTER[name])
    try:
        updated = rebalance(weights, request.version, target_weight)
    except ValueError as exc:
        raise ConfigError(None, key, str(exc)) from None
    for index, name in enumerate(names):
        entry = versions[index]
        old, new = weights[name], updated[name]
        if old != new:
            entry["weight"] = new
            if needs_record(new, first, first_listed=index == 0):
                _set_key_after(entry, "stepped-from", old, "weight")
            elif "stepped-from" in entry:
                del entry["stepped-from"]
        if name == request.version and request.override is not None:
            _set_key_after(entry, "canary-override", request.override, "stepped-from")
    return f"{key}[{names.index(request.version)}]"


def check_result(written: Path, path: Path, stacks_dir: Path) -> TeamConfig:
    """The ``written`` text of stack file ``path`` as `mlops team validate` reads it: the strict reader, the
    team spec, and the checks against the platform stack and the other team stacks."""
    from mlops.team import check_platform, check_shared_load_balancer
    from stacks.access import check_owner_access
    from stacks.training import check_team_training

    raw = read_config_file(written)
    team = parse_team(raw.get(TEAM_KEY), path)
    check_platform(team, path, stacks_dir)
    check_owner_access(team, path, stacks_dir)
    check_shared_load_balancer(team, path, stacks_dir)
    check_team_training(team, path, stacks_dir)
    return team


def promote(request: Promotion, stacks_dir: Path, *, dry_run: bool = False) -> Result:
    """Edit the team stack file; the file is replaced only when the result passes every check."""
    if request.step and request.weight is not None:
        raise ConfigError(None, "--step", "moves to the next canary step; leave out --weight (or --step)")
    if not request.step and request.weight is None and request.image is None:
        raise ConfigError(None, "", "give --step, --weight N or --image REF (see `mlops promote --help`)")
    path, raw = read_stack_config(stacks_dir, request.stack)
    if TEAM_KEY not in raw:
        raise ConfigError(path, TEAM_KEY, "missing; mlops promote works on team stack files")
    team = parse_team(raw[TEAM_KEY], path)
    data = read_bytes(path, MAX_YAML_BYTES)
    before = data.decode("utf-8")
    handler, document = load_round_trip(path, before)
    try:
        version_key = edit(document, team, request)
    except ConfigError as exc:
        raise ConfigError(
            exc.file or (path if exc.key.startswith(TEAM_KEY) else None), exc.key, exc.message
        ) from None
    after = _dump(handler, document)
    # The promoted version's provenance comes from the flags when it is new or gets a new image: a problem
    # with it (a bad commit, a licence the platform refuses, a key prod requires) names the flag.
    flags = {}
    if request.image is not None:
        flags = {f"{version_key}.{key}": flag for key, flag in PROVENANCE_FLAGS.items()}
    result_team = _write_checked(path, data, after, stacks_dir, dry_run, flags)
    return Result(path, before, after, result_team)


def _flag_for(key: str, flags: dict[str, str]) -> str | None:
    for prefix, flag in flags.items():
        if key == prefix or key.startswith((f"{prefix}.", f"{prefix}[")):
            return flag
    return None


def _write_checked(
    path: Path, original: bytes, text: str, stacks_dir: Path, dry_run: bool, flags: dict[str, str]
) -> TeamConfig:
    """Write ``text`` to a temporary file beside ``path``, check it as the stack file, then rename it over
    ``path`` (unless ``dry_run``); the temporary file is always removed otherwise. An error at a key of
    ``flags`` (key prefix: flag) names the flag that set it."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".promote")
    temporary = Path(name)
    try:
        os.fchmod(handle, path.stat().st_mode & 0o777)
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        try:
            team = check_result(temporary, path, stacks_dir)
        except ConfigError as exc:
            flag = _flag_for(exc.key, flags) if exc.file in (None, str(temporary), str(path)) else None
            if flag is not None:
                raise ConfigError(None, flag, exc.message) from None
            file = path if exc.file == str(temporary) else exc.file
            raise ConfigError(file, exc.key, f"{exc.message} (refused; the file is unchanged)") from None
        if dry_run:
            return team
        if read_bytes(path, MAX_YAML_BYTES) != original:
            raise ConfigError(path, "(file)", "changed while mlops promote was editing it; run it again")
        os.replace(temporary, path)
        return team
    finally:
        temporary.unlink(missing_ok=True)
