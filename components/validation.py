"""Validation errors a person can act on: pydantic's first error turned into one ConfigError naming the file,
the key path as written in the file, and what is allowed there. Light on purpose (pydantic and the loader
only): commands that validate a document without any component model import this, not components.config."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from components.configbase import KeyedValueError as _KeyedValueError
from components.loader import ConfigError


def validate_model(model: type[BaseModel], raw: Any, file: str | Path | None, root: str) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise _first_error(model, exc, file, root, raw) from None


def _first_error(
    model: type[BaseModel], exc: ValidationError, file: str | Path | None, root: str, raw: Any
) -> ConfigError:
    error = exc.errors(include_url=False)[0]
    where = tuple(error["loc"])
    loc = _input_path(where, raw)
    context = error.get("ctx") or {}
    context_error = context.get("error")
    owner = _model_at(model, where[:-1])
    key = str(where[-1]) if where else ""
    if isinstance(context_error, _KeyedValueError):
        # The validator's model is in the input, so a union tag may end `where`: it is not a key there.
        loc = _input_path(where, raw, keep_last=False) + context_error.loc
        message = str(context_error)
    elif error["type"] == "extra_forbidden":
        hook = getattr(owner, "unknown_key_message", None)
        allowed = _keys_of(owner)
        message = (hook(key) if hook else None) or (
            f"unknown key; allowed: {', '.join(allowed)}" if allowed else "unknown key"
        )
    elif error["type"] == "missing" and key in getattr(owner, "missing_messages", {}):
        message = owner.missing_messages[key]  # type: ignore[union-attr]
    elif error["type"] == "union_tag_invalid":
        # A discriminated union (e.g. the cluster's `mode`): the tag is a value of the discriminator key.
        discriminator = str(context.get("discriminator", "")).strip("'")
        loc = (*loc, discriminator)
        tags = ", ".join(tag.strip().strip("'") for tag in str(context.get("expected_tags", "")).split(","))
        # pydantic's context holds the tag as a string; the input holds the value the user wrote.
        written = error["input"].get(discriminator) if isinstance(error["input"], dict) else None
        message = f"{describe_value(written)} is not allowed; allowed: {tags}"
    else:
        message = pydantic_message(error)
    return ConfigError(file, _key_path(root, loc), message)


def _input_path(loc: tuple[Any, ...], raw: Any, keep_last: bool = True) -> tuple[Any, ...]:
    """The error's location as keys the user wrote: the tags pydantic inserts for union members
    (``str``, ``function-after[...]``, model names, a discriminated union's tag) are not in the input, so they
    are dropped; a missing last key is kept (``keep_last``) since it names what is missing."""
    kept: list[Any] = []
    node = raw
    for index, part in enumerate(loc):
        present = (
            part in node
            if isinstance(node, dict)
            else (isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node))
        )
        if present:
            node = node[part]
        elif not (keep_last and index == len(loc) - 1 and isinstance(node, dict)):
            continue  # a union member's tag
        kept.append(part)
    return tuple(kept)


_SHOULD = re.compile(
    r"^(Input|String|List|Value|Dictionary|Tuple|Set|Decimal|Object|Data|Url|Timedelta) should "
)
_EXPECTED = {
    "a valid string": "a string",
    "a valid integer": "a whole number",
    "a valid number": "a number",
    "a valid boolean": "true or false",
    "a valid list": "a list",
    "a valid array": "a list",
    "a valid dictionary": "a mapping",
}


def describe_value(value: Any) -> str:
    """A value as a stack-file author wrote it: YAML spellings, not Python reprs."""
    if value is None:
        return "no value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return _short(value)
    if isinstance(value, list):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        return "a mapping"
    return _short(value)


def pydantic_message(error: Any) -> str:
    """One pydantic error in the project's phrasing: what is allowed, then what was given.

    Works from pydantic's error type and message, so it holds for keys and models added later: "Input should be
    a valid string" becomes "must be a string, got 5"; "Input should be 'a' or 'b'" becomes "5 is not allowed;
    allowed: a, b"; a validator's own "Value error, ..." text is kept as written.
    """
    kind, message = error["type"], str(error["msg"])
    given = describe_value(error.get("input"))
    if kind == "missing":
        return "missing; this key is required"
    if kind in ("value_error", "assertion_error"):
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
        return message
    if kind in ("literal_error", "enum"):
        expected = str((error.get("ctx") or {}).get("expected", ""))
        allowed = ", ".join(part.strip().strip("'") for part in re.split(r",| or ", expected) if part.strip())
        return f"{given} is not allowed; allowed: {allowed}"
    if kind == "string_pattern_mismatch":
        return f"{given} does not match the allowed pattern {(error.get('ctx') or {}).get('pattern')}"
    message = _SHOULD.sub("must ", message.split(",", 1)[0] if kind.endswith("_parsing") else message)
    for said, plain in _EXPECTED.items():
        if message.startswith(f"must be {said}"):
            message = f"must be {plain}"
    message = re.sub(r"( or instance of \w+| after validation, not \d+)$", "", message)
    quote = (
        "; quote it to make it a string"
        if kind == "string_type" and isinstance(error.get("input"), (int, float))
        else ""
    )
    return f"{message}, got {given}{quote}"


def _key_path(root: str, loc: tuple[Any, ...]) -> str:
    path = root
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model an error's location (pydantic's, with union tags) points into, walked from the root model."""
    current: list[type[BaseModel]] = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        # pydantic names a discriminated union's chosen member by its tag (the value of its Literal key).
        tagged = [
            m for m in current if any(get_args(f.annotation) == (part,) for f in m.model_fields.values())
        ]
        if len(current) > 1 and tagged:
            current = tagged
            continue
        field = next(
            (f for m in current for name, f in m.model_fields.items() if (f.alias or name) == part), None
        )
        if field is None:
            return None
        current = _models_in(field.annotation)
        if not current:
            return None
    return current[0] if len(current) == 1 else None


def _keys_of(model: type[BaseModel] | None) -> list[str]:
    """The keys a model accepts, as a stack file spells them."""
    return [f.alias or name for name, f in model.model_fields.items()] if model is not None else []


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [found for arg in get_args(annotation) for found in _models_in(arg)]
