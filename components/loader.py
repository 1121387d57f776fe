"""The one reader of every file a user hands the project: stack files, `--from` files and JSON documents.

Stack files are read by two programs: this project (offline preview, check, team, verify) and Pulumi itself,
which decodes them with Go's gopkg.in/yaml.v3 (sdk/go/common/encoding/marshal.go) after stripping a UTF-8
byte-order mark (sdk/go/common/workspace/loaders.go, readFileStripUTF8BOM). So this reader accepts only what
both read the same way, and refuses the rest with one line naming the file, the line and what to write:

- bytes that are not UTF-8, control characters, a byte-order mark after the first character, and the YAML 1.1
  line breaks (NEL, LS, PS) on which parsers disagree;
- a key written twice in one mapping, at any depth (yaml.v3 refuses it: "mapping key already defined");
- plain scalars that YAML 1.1 (PyYAML), YAML 1.2's core schema and yaml.v3 resolve differently (`yes`, `on`,
  `1:20`, `017`, `0o17`, `1e3`, dates...), merge keys (`<<`), explicit tags, directives, several documents;
- documents over a size bound, nested beyond a depth bound, or whose aliases expand past a node bound (a few
  hundred bytes of nested aliases can stand for millions of nodes).

What it returns is what the Pulumi program receives live: Pulumi turns the decoded value into JSON for the
program (sdk/go/common/resource/config/object.go), so an integral float such as `1.0e+3` arrives as `1000`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

# Bounds: the largest shipped stack file is under 4 KiB with about 250 values nested 8 deep.
MAX_YAML_BYTES = 256 * 1024
MAX_YAML_NODES = 10_000  # values after alias expansion
MAX_YAML_DEPTH = 32
# Saved previews of big stacks run to a few MiB.
MAX_JSON_BYTES = 64 * 1024 * 1024


class ConfigError(Exception):
    """A user error in a stack file: one line naming the file, the key path and what is allowed."""

    def __init__(self, file: str | Path | None, key: str, message: str):
        self.file = str(file) if file is not None else None
        self.key = key
        self.message = message
        where = f"{self.file}: " if self.file else ""
        head = f"{key}: " if key else ""  # no key: the message names what to change (a CLI flag)
        super().__init__(f"{where}{head}{message}")

    def __reduce__(self):
        # `mlops check` synthesises in worker processes; the error must survive the trip back.
        return type(self), (self.file, self.key, self.message)


class _Refused(Exception):
    """A document refused by the YAML reader, at a 1-based line."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


# ---------------------------------------------------------------------------------------------------------
# Bytes and characters

_UTF16_32_BOMS = (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00", b"\xfe\xff", b"\xff\xfe")
# C0 controls but tab, LF and CR; DEL and the C1 controls (NEL among them); the YAML 1.1 line and paragraph
# separators; surrogates and non-characters; a byte-order mark anywhere but first (yaml.v3, like libyaml, skips
# one at the start of any line, PyYAML only at the start of the stream).
_FORBIDDEN_CHARS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]"
)


def decode_text(data: bytes) -> str:
    """UTF-8 text of ``data``, a leading byte-order mark stripped as Pulumi strips it; else ``_Refused``."""
    for bom in _UTF16_32_BOMS:
        if data.startswith(bom):
            return _refuse(
                1,
                "the file is UTF-16 or UTF-32 encoded (it starts with that byte-order mark); save it as UTF-8",
            )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return _refuse(line, f"byte 0x{data[exc.start]:02x} is not UTF-8 text; save the file as UTF-8")
    found = _FORBIDDEN_CHARS.search(text)
    if found:
        line = text.count("\n", 0, found.start()) + 1
        char = found.group()
        name = {"\x00": " (NUL)", "\ufeff": " (a byte-order mark)", "\x85": " (NEL)"}.get(char, "")
        return _refuse(line, f"character U+{ord(char):04X}{name} is not allowed in the file; remove it")
    return text


def _refuse(line: int, message: str) -> Any:
    raise _Refused(line, message)


# ---------------------------------------------------------------------------------------------------------
# Scalars: accepted only where YAML 1.1, YAML 1.2 core and yaml.v3 agree

_SAFE_LOADER_RESOLVER = yaml.SafeLoader("")
_TAG = "tag:yaml.org,2002:"
# yaml.v3 resolve.go
_V3_MAP: dict[str, tuple[str, Any]] = {
    **{word: ("bool", True) for word in ("true", "True", "TRUE")},
    **{word: ("bool", False) for word in ("false", "False", "FALSE")},
    **{word: ("null", None) for word in ("", "~", "null", "Null", "NULL")},
    **{word: ("float", math.nan) for word in (".nan", ".NaN", ".NAN")},
    **{word: ("float", math.inf) for word in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF")},
    **{word: ("float", -math.inf) for word in ("-.inf", "-.Inf", "-.INF")},
    "<<": ("merge", "<<"),
}
_V3_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_GO_INT = re.compile(r"^[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$")
# A numeral: more digits than this is no value of a stack file, and Python refuses int() past 4,300 digits.
_NUMERAL = re.compile(r"^[-+]?(0[xX][0-9a-fA-F_]+|0[oObB][0-9_]+|[0-9_.]*[0-9][0-9_.]*([eE][-+]?[0-9_]+)?)$")
MAX_NUMERAL_CHARS = 100
# YAML 1.2.2, 10.3.2 (tag resolution of the core schema)
_CORE = (
    (re.compile(r"^(null|Null|NULL|~|)$"), "null"),
    (re.compile(r"^(true|True|TRUE|false|False|FALSE)$"), "bool"),
    (re.compile(r"^[-+]?[0-9]+$"), "int10"),
    (re.compile(r"^0o[0-7]+$"), "int8"),
    (re.compile(r"^0x[0-9a-fA-F]+$"), "int16"),
    (re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$"), "float"),
    (re.compile(r"^[-+]?(\.inf|\.Inf|\.INF)$"), "inf"),
    (re.compile(r"^(\.nan|\.NaN|\.NAN)$"), "nan"),
)
INT64 = (-(2**63), 2**63 - 1)
UINT64_MAX = 2**64 - 1


def _go_int(text: str) -> int | None:
    """Go's strconv.ParseInt(text, 0, 64), then ParseUint: prefixes 0x, 0o, 0b and a bare leading 0 (octal)."""
    if not _GO_INT.match(text) or len(text.lstrip("+-0xXoObB")) > 64:  # past 64 digits: out of range
        return None
    sign = -1 if text[0] == "-" else 1
    digits = text.lstrip("+-").lower()
    if digits.startswith(("0x", "0o", "0b")):
        value = int(digits[2:], {"x": 16, "o": 8, "b": 2}[digits[1]])
    elif len(digits) > 1 and digits.startswith("0"):
        value = int(digits, 8)
    else:
        value = int(digits)
    value *= sign
    if INT64[0] <= value <= INT64[1] or (sign > 0 and value <= UINT64_MAX and text[0] != "+"):
        return value
    return None


def _go_parse_int(text: str, base: int, *, signed: bool = True) -> int | None:
    """Go's strconv.ParseInt(text, base, 64) for base 2 or 8 (ParseUint with ``signed=False``): one optional
    sign, then digits of the base only; None where Go returns an error (syntax or range)."""
    sign = 1
    if signed and text[:1] in ("+", "-"):
        sign, text = (-1 if text[0] == "-" else 1), text[1:]
    if not text or len(text.lstrip("0")) > 64 or set(text) - set("01234567"[:base]):
        return None
    value = sign * int(text, base)
    low, high = (INT64[0], INT64[1]) if signed else (0, UINT64_MAX)
    return value if low <= value <= high else None


def _underscore_ok(text: str) -> bool:
    """Go's strconv.underscoreOK: an underscore only between digits (a base prefix counts as a digit)."""
    text = text[1:] if text[:1] in ("+", "-") else text
    saw, index, hexadecimal = "^", 0, False
    if len(text) >= 2 and text[0] == "0" and text[1].lower() in "box":
        saw, index, hexadecimal = "0", 2, text[1].lower() == "x"
    for char in text[index:]:
        if (char.isdigit() and char.isascii()) or (hexadecimal and char.lower() in "abcdef"):
            saw = "0"
        elif char == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


def _go_float(text: str) -> float | None:
    """Go's strconv.ParseFloat(text, 64) for the decimal spellings yaml.v3 hands it; None on an error, which
    includes a value out of float64's range (Go reports ErrRange where Python gives infinity)."""
    if not re.match(r"^[-+]?([0-9_]+\.?[0-9_]*|\.[0-9_]+)([eE][-+]?[0-9_]+)?$", text) or not _underscore_ok(
        text
    ):
        return None
    value = float(text.replace("_", ""))
    return None if math.isinf(value) else value


def _days_in(month: int, year: int) -> int:
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)  # Go's proleptic calendar has a year 0
    return [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]


def _go_timestamp(text: str) -> bool:
    """Whether yaml.v3's parseTimestamp (resolve.go) reads ``text`` as a time: Go's time.Parse with the
    layouts "2006-1-2T15:4:5.999999999Z07:00" (T or t), "2006-1-2 15:4:5.999999999" and "2006-1-2", whose
    fields are 1-2 digits, a fraction after '.' or ',', and whose ranges (day of month included) are checked."""
    match = re.match(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(.*)$", text, re.DOTALL)
    if not match:
        return False
    year, month, day, rest = int(match[1]), int(match[2]), int(match[3]), match[4]
    if rest:
        clock = re.match(r"^([Tt ])([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})([.,][0-9]+)?(.*)$", rest, re.DOTALL)
        if not clock:
            return False
        zone = clock[6]
        if clock[1] == " " and zone:
            return False
        if clock[1] != " " and zone != "Z" and not re.match(r"^[-+][0-9]{2}:[0-9]{2}$", zone):
            return False
        if int(clock[2]) > 23 or int(clock[3]) > 59 or int(clock[4]) > 59:
            return False
    return 1 <= month <= 12 and 1 <= day <= _days_in(month, year)


def v3_resolve(text: str) -> tuple[str, Any]:
    """How gopkg.in/yaml.v3 (resolve.go, v3.0.1) reads a plain scalar decoded into ``interface{}``."""
    if text in _V3_MAP:
        return _V3_MAP[text]
    hint = text[:1]
    if hint == ".":
        number = _go_float(text) if text[1:2].isdigit() else None  # ParseFloat of the text as written
        return ("float", number) if number is not None else ("str", text)
    if hint in "0123456789+-" and hint:
        if _go_timestamp(text):
            return "timestamp", text
        plain = text.replace("_", "")
        number = _go_int(plain)
        if number is not None:
            return "int", number
        if _V3_FLOAT.match(plain):
            real = _go_float(plain)
            if real is not None:
                return "float", real
        # strconv.ParseInt(plain[2:], base, 64) takes a sign after the prefix: 0b-101 is -5, 0o+7 is 7.
        for prefix, base in (("0b", 2), ("0o", 8)):
            if plain.startswith(prefix):
                value = _go_parse_int(plain[2:], base)
                if value is None:
                    value = _go_parse_int(plain[2:], base, signed=False)
            elif plain.startswith(f"-{prefix}"):
                value = _go_parse_int("-" + plain[3:], base)
            else:
                continue
            if value is not None:
                return "int", value
    return "str", text


def core_resolve(text: str) -> tuple[str, Any]:
    """How a YAML 1.2 reader with the core schema reads a plain scalar."""
    for pattern, kind in _CORE:
        if pattern.match(text):
            if kind == "null":
                return "null", None
            if kind == "bool":
                return "bool", text.lower() == "true"
            if kind.startswith("int"):
                return "int", int(text.replace("0o", "").replace("0x", ""), int(kind[3:]))
            if kind == "inf":
                return "float", -math.inf if text.startswith("-") else math.inf
            if kind == "nan":
                return "float", math.nan
            return "float", float(text)
    return "str", text


def yaml11_resolve(text: str) -> tuple[str, Any]:
    """How PyYAML's safe loader (YAML 1.1 resolution rules) reads a plain scalar."""
    tag = _SAFE_LOADER_RESOLVER.resolve(yaml.ScalarNode, text, (True, False))
    kind = tag[len(_TAG) :] if tag.startswith(_TAG) else tag
    if kind == "str":
        return "str", text
    try:
        value = _SAFE_LOADER_RESOLVER.construct_object(yaml.ScalarNode(tag, text), deep=True)
    except (yaml.YAMLError, ValueError):  # PyYAML raises ValueError too: 2024-02-30, 0b_, 5,000 digits
        return "error", None
    return kind, value


def _same(left: tuple[str, Any], right: tuple[str, Any]) -> bool:
    if left[0] != right[0]:
        return False
    if left[0] == "float" and math.isnan(left[1]) and math.isnan(right[1]):
        return True
    return left[1] == right[1]


def _describe(reading: tuple[str, Any]) -> str:
    kind, value = reading
    if kind == "str":
        return f"the string {value!r}"
    if kind == "int":
        return f"the integer {value}"
    if kind == "float":
        return f"the number {value}"
    if kind == "bool":
        return "true" if value else "false"
    return {"null": "null", "timestamp": "a timestamp", "merge": "a merge key"}.get(kind, "an error")


def plain_scalar(text: str, line: int) -> Any:
    """The value of a plain scalar, when every YAML reader agrees on it."""
    if text == "<<":
        _refuse(line, "merge keys (<<) are not allowed in a stack file; write the keys out")
    if len(text) > MAX_NUMERAL_CHARS and _NUMERAL.match(text):
        _refuse(
            line,
            f"a number of {len(text)} characters is longer than any value a stack file holds; "
            "quote it for a string",
        )
    pulumi, core, yaml11 = v3_resolve(text), core_resolve(text), yaml11_resolve(text)
    if not (_same(pulumi, core) and _same(pulumi, yaml11)):
        kinds = {pulumi[0], core[0], yaml11[0]}
        advice = "quote it for a string"
        if "bool" in kinds:
            advice = "write true or false, or quote it for a string"
        elif kinds & {"int", "float"}:
            advice += ", or write the number in plain decimal"
        _refuse(
            line,
            f"{text!r} is read differently by YAML readers: {_describe(pulumi)} by Pulumi (yaml.v3), "
            f"{_describe(yaml11)} by YAML 1.1, {_describe(core)} by YAML 1.2; {advice}",
        )
    kind, value = pulumi
    if kind == "int" and value > INT64[1]:
        # yaml.v3 decodes it as a uint64, which Pulumi's config reader (config/object.go, unmarshalObject)
        # does not take in the releases before it gained that case.
        _refuse(
            line, f"{text!r} is above the largest integer Pulumi reads ({INT64[1]}); quote it for a string"
        )
    if kind == "float":
        if not math.isfinite(value):
            _refuse(
                line,
                f"{text!r} is not a finite number; JSON, which Pulumi hands the program, has no such value",
            )
        # Pulumi passes config to the program as Go-encoded JSON, where 1000.0 is written 1000.
        if value.is_integer() and abs(value) < 1e21:
            return int(value)
    return value


# ---------------------------------------------------------------------------------------------------------
# Documents


class _Frame:
    __slots__ = ("anchor", "key", "key_line", "line", "lines", "start_nodes", "value")

    def __init__(self, value: Any, anchor: str | None, line: int, start_nodes: int):
        self.value = value
        self.anchor = anchor
        self.line = line
        self.start_nodes = start_nodes
        self.key: Any = _NO_KEY
        self.key_line = 0
        self.lines: dict[str, int] = {}


_NO_KEY = object()


_PLAIN_KEY = re.compile(r"^[^\s\"'\\\[\]]+$")


def key_text(key: Any) -> str:
    """A key as an error message shows it: as written when plain, else in double quotes with escapes, so a key
    holding a line break or quotes cannot make the message two lines or change what it says."""
    text = str(key)
    return text if _PLAIN_KEY.match(text) and text.isprintable() else json.dumps(text)


def key_path(parts: list[Any]) -> str:
    """``a.b[0].c`` from the keys and indices leading to a value, keys escaped by ``key_text``."""
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{key_text(part)}" if path else key_text(part))
    return path


_ESCAPE_LENGTH = {"x": 2, "u": 4, "U": 8}


def _check_double_quoted(raw: str, line: int) -> None:
    r"""Escapes PyYAML decodes but yaml.v3 (scannerc.go, yaml_parser_scan_flow_scalar) refuses: `\/`, which
    yaml.v3 calls "found unknown escape character", and a code point that is a surrogate or past U+10FFFF
    ("found invalid Unicode character escape code")."""
    index = raw.find("\\")
    while index != -1 and index + 1 < len(raw):
        escape = raw[index + 1]
        if escape == "/":
            _refuse(
                line + raw.count("\n", 0, index),
                "the escape \\/ in a double-quoted string is not read by Pulumi "
                "(yaml.v3: unknown escape character); write / alone",
            )
        length = _ESCAPE_LENGTH.get(escape, 0)
        digits = raw[index + 2 : index + 2 + length]
        if length and re.fullmatch("[0-9a-fA-F]+", digits) and len(digits) == length:
            code = int(digits, 16)
            if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                _refuse(
                    line + raw.count("\n", 0, index),
                    f"the escape \\{escape}{digits} is not a Unicode character "
                    "(a surrogate or past U+10FFFF); Pulumi (yaml.v3) refuses it: write the character itself",
                )
        index = raw.find("\\", index + 2 + length)


def _key_scalar(value: Any, text: str) -> str:
    """A plain scalar in key position spelled as the user wrote it, with how YAML reads it."""
    if value is None:
        return "an empty key" if text == "" else f"key {text} (YAML reads it as null)"
    kind = "a boolean" if isinstance(value, bool) else "a number"
    return f"key {text} (YAML reads it as {kind})"


class _Builder:
    """Builds the document from parser events, iteratively, counting every value an alias expands to."""

    def __init__(self, text: str, max_nodes: int, max_depth: int):
        self.text = text
        self.max_nodes = max_nodes
        self.max_depth = max_depth
        self.nodes = 0
        self.aliased = False
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        self.root: Any = None

    def parts(self) -> list[Any]:
        parts: list[Any] = []
        for frame in self.stack:
            if isinstance(frame.value, list):
                parts.append(len(frame.value))
            elif frame.key is not _NO_KEY:
                parts.append(frame.key)
        return parts

    def path(self) -> str:
        return key_path(self.parts()) or "(top level)"

    def count(self, weight: int, line: int) -> None:
        self.nodes += weight
        if self.nodes > self.max_nodes:
            if self.aliased:
                _refuse(
                    line,
                    f"the document expands to more than {self.max_nodes} values (aliases included); "
                    "write it out without nested aliases",
                )
            _refuse(
                line,
                f"the document holds more than {self.max_nodes} values, more than any stack file; "
                "is it the right file?",
            )

    def add(self, value: Any, line: int, *, scalar_key: bool, text: str | None = None) -> None:
        if not self.stack:
            self.root = value
            return
        frame = self.stack[-1]
        if isinstance(frame.value, list):
            frame.value.append(value)
        elif frame.key is _NO_KEY:
            if not scalar_key:
                _refuse(line, f"{self.path()}: a key must be a plain string, not a list, mapping or alias")
            if not isinstance(value, str):
                _refuse(
                    line,
                    f"{self.path()}: {_key_scalar(value, text or '')} is not a string; quote it to make it one",
                )
            if value in frame.lines:
                _refuse(
                    line,
                    f"{self._child(value)}: key {value!r} is written twice in one mapping "
                    f"(first at line {frame.lines[value]}); keep one",
                )
            frame.key, frame.key_line = value, line
        else:
            frame.lines[frame.key] = frame.key_line
            frame.value[frame.key] = value
            frame.key = _NO_KEY

    def _child(self, key: str) -> str:
        return key_path([*self.parts(), key])

    def event(self, event: yaml.Event) -> None:
        line = event.start_mark.line + 1
        if (
            isinstance(event, (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent))
            and event.tag
        ):
            _refuse(
                line,
                f"explicit tags ({event.tag}) are not allowed in a stack file; quote a value to make it a string",
            )
        if isinstance(event, yaml.ScalarEvent):
            self.count(1, line)
            if event.style == '"':
                _check_double_quoted(self.text[event.start_mark.index : event.end_mark.index], line)
            value = plain_scalar(event.value, line) if event.style is None else event.value
            self._anchor(event.anchor, value, 1)
            self.add(value, line, scalar_key=True, text=event.value)
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor in self.open_anchors:
                _refuse(line, f"alias *{event.anchor} refers to a node that contains it")
            if event.anchor not in self.anchors:
                _refuse(line, f"alias *{event.anchor} has no anchor &{event.anchor} before it")
            value, weight = self.anchors[event.anchor]
            self.aliased = True
            self.count(weight, line)
            self.add(copy.deepcopy(value), line, scalar_key=False)
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            if self.stack and isinstance(self.stack[-1].value, dict) and self.stack[-1].key is _NO_KEY:
                _refuse(line, f"{self.path()}: a key must be a plain string, not a list, mapping or alias")
            if len(self.stack) >= self.max_depth:
                _refuse(line, f"{self.path()}: nested deeper than {self.max_depth} levels")
            self.count(1, line)
            container: Any = [] if isinstance(event, yaml.SequenceStartEvent) else {}
            if event.anchor:
                self.open_anchors.add(event.anchor)
            self.stack.append(_Frame(container, event.anchor, line, self.nodes))
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            frame = self.stack.pop()
            if frame.anchor:
                self.open_anchors.discard(frame.anchor)
            self._anchor(frame.anchor, frame.value, self.nodes - frame.start_nodes + 1)
            self.add(frame.value, frame.line, scalar_key=False)

    def _anchor(self, anchor: str | None, value: Any, weight: int) -> None:
        if anchor:
            self.anchors[anchor] = (value, weight)


MAX_TAB_RETRIES = 64


def _separating_tab(text: str, index: int) -> bool:
    """Whether the tab at ``index`` (where PyYAML, which takes no tab between tokens, stopped) is one that
    yaml.v3 skips as white space between tokens: right after a value indicator `:` that is not the first thing
    on its line, after `,`, `[` or `{`, or trailing after a value. Replacing such a tab with a space changes
    nothing yaml.v3 reads; every other tab is refused."""
    before = text[:index]
    start = before.rfind("\n") + 1
    head = before[start:]
    if not head.strip():
        return False  # indentation, or a line of white space
    previous = head[-1]
    if previous in ",[{":
        return True
    if previous == ":":
        return head.strip() != ":"  # `:` alone starts the value of a complex key, where yaml.v3 refuses a tab
    end = text.find("\n", index)
    after = text[index : end if end != -1 else len(text)]
    return previous not in " -?" and (not after.strip() or after.strip().startswith("#"))


def _syntax_error(exc: yaml.MarkedYAMLError, text: str) -> _Refused:
    mark = exc.problem_mark or exc.context_mark
    problem = " ".join(str(exc.problem or exc.context or "syntax error").split())
    line = mark.line + 1 if mark else 1
    context = str(exc.context or "")
    if exc.context_mark is not None and "quoted scalar" in context and "end of stream" in problem:
        line = exc.context_mark.line + 1
        problem = "a quoted string starts here and is never closed (the file ends first)"
    elif "'\\t'" in problem and mark is not None:
        indentation = not text[: mark.index][text.rfind("\n", 0, mark.index) + 1 :].strip()
        problem = "a tab " + (
            "indents this line; YAML indents with spaces, never tabs"
            if indentation
            else "where YAML needs a space; write a space"
        )
    return _Refused(line, f"not valid YAML: {problem}")


def parse_yaml(text: str, max_nodes: int = MAX_YAML_NODES, max_depth: int = MAX_YAML_DEPTH) -> Any:
    """The one document in ``text`` (None when empty); ``_Refused`` for anything the readers could disagree on."""
    for _ in range(MAX_TAB_RETRIES):
        try:
            return _parse_events(text, max_nodes, max_depth)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            if mark is not None and "'\\t'" in str(exc.problem) and _separating_tab(text, mark.index):
                text = text[: mark.index] + " " + text[mark.index + 1 :]
                continue
            raise _syntax_error(exc, text) from None
        except yaml.YAMLError as exc:  # a reader error without a mark
            _refuse(1, f"not valid YAML: {' '.join(str(exc).split())}")
        except ValueError:
            # PyYAML's scanner calls chr() on a \U escape past U+10FFFF; yaml.v3 refuses it too.
            found = re.search(r"\\U([0-9a-fA-F]{8})", text)
            line = text.count("\n", 0, found.start()) + 1 if found else 1
            _refuse(
                line,
                "an escape in a double-quoted string is not a Unicode character (past U+10FFFF); "
                "write the character itself",
            )
    return _refuse(1, f"not valid YAML: more than {MAX_TAB_RETRIES} tabs between values; write spaces")


def _parse_events(text: str, max_nodes: int, max_depth: int) -> Any:
    builder = _Builder(text, max_nodes, max_depth)
    documents = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                _refuse(line, "a second YAML document (---) in the file; a stack file holds one document")
            if event.version or event.tags:
                _refuse(line, "YAML directives (%YAML, %TAG) are not allowed in a stack file")
        elif not isinstance(event, (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)):
            builder.event(event)
    return builder.root


def read_bytes(path: Path, limit: int) -> bytes:
    """The file's bytes, or ConfigError: missing, unreadable, or larger than ``limit``."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ConfigError(path, "(file)", f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > limit:
        size = f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit // 1024} KiB"
        raise ConfigError(
            path, "(file)", f"is larger than {size}, more than any file mlops reads; is it the right file?"
        )
    return data


def load_yaml(path: Path) -> Any:
    """Read a YAML file (a stack file or a `--from` file) with the rules above; ConfigError on any refusal."""
    data = read_bytes(Path(path), MAX_YAML_BYTES)
    with refusal(str(path)):
        return parse_yaml(decode_text(data))


# ---------------------------------------------------------------------------------------------------------
# JSON documents (saved previews, stack outputs)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Refused(0, f"key {key!r} appears twice in one object")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise _Refused(0, f"{name} is not a JSON number")


def _json_int(text: str) -> int:
    if len(text) > MAX_NUMERAL_CHARS:
        raise _Refused(0, f"a number of {len(text)} digits is longer than any value mlops reads")
    return int(text)


def _json_float(text: str) -> float:
    if len(text) > MAX_NUMERAL_CHARS:
        raise _Refused(0, f"a number of {len(text)} characters is longer than any value mlops reads")
    value = float(text)
    if math.isinf(value):
        raise _Refused(0, f"{text} is out of the range of a JSON number (a 64-bit float)")
    return value


def parse_json(text: str) -> Any:
    """One JSON value; ``_Refused`` for syntax errors, duplicate keys, NaN/Infinity, numbers too long or out of
    range, and extreme nesting."""
    if not text.strip():
        _refuse(1, "is empty; expected a JSON document")
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_int=_json_int,
            parse_float=_json_float,
        )
    except json.JSONDecodeError as exc:
        # "Unterminated string starting at": the position is where the string starts, and the file ends in it.
        ends_early = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        truncated = " (the file ends early: truncated?)" if ends_early else ""
        message = exc.msg.removesuffix(" at")  # json says "starting at" and then the column
        return _refuse(exc.lineno, f"not valid JSON: {message} at column {exc.colno}{truncated}")
    except RecursionError:
        return _refuse(1, "not a JSON document mlops reads: nested too deeply")


@contextlib.contextmanager
def refusal(source: str) -> Iterator[None]:
    """Turn a refusal of text that is not a file (a command's output) into ConfigError naming ``source``."""
    try:
        yield
    except _Refused as exc:
        raise ConfigError(source, f"line {exc.line}" if exc.line else "(document)", exc.message) from None


def load_json(path: Path) -> Any:
    """Read a JSON file (`--from` previews, `--outputs`) with the same discipline; ConfigError on refusal."""
    data = read_bytes(Path(path), MAX_JSON_BYTES)
    with refusal(str(path)):
        return parse_json(decode_text(data))


def json_kind(value: Any) -> str:
    """The JSON name of a value's kind, for messages about documents of the wrong shape."""
    if isinstance(value, bool):
        return "boolean"
    return {dict: "object", list: "array", str: "string", int: "number", float: "number"}.get(
        type(value), "null"
    )


# ---------------------------------------------------------------------------------------------------------
# Writing stack files


def _reads_back(text: str) -> bool:
    try:
        return plain_scalar(text, 0) == text
    except _Refused:
        return False


class _StackDumper(yaml.SafeDumper):
    """PyYAML's safe dumper quotes what YAML 1.1 would not read back as a string (`yes`), but not what yaml.v3
    reads otherwise (`1e3`, `0o17`): every string that this reader would not take back as that string is quoted."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = None if _reads_back(text) else "'"
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_StackDumper.add_representer(str, _represent_str)


def dump_yaml(value: Any) -> str:
    """YAML text that ``parse_yaml`` (and so Pulumi) reads back as ``value``."""
    return yaml.dump(
        value, Dumper=_StackDumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )


# ---------------------------------------------------------------------------------------------------------
# Stack files


def stack_file(stacks_dir: Path, stack: str) -> Path:
    return Path(stacks_dir) / f"Pulumi.{stack}.yaml"


def list_stacks(stacks_dir: Path) -> list[str]:
    """Stack names with a stack file in ``stacks_dir``, sorted."""
    prefix, suffix = "Pulumi.", ".yaml"
    return sorted(
        path.name[len(prefix) : -len(suffix)]
        for path in Path(stacks_dir).glob("Pulumi.*.yaml")
        if path.is_file()
    )


class UnknownStackError(Exception):
    def __init__(self, stack: str, stacks_dir: Path, known: list[str]):
        self.stack = stack
        self.stacks_dir = stacks_dir
        self.known = known
        listing = ", ".join(known) if known else "none"
        super().__init__(f"unknown stack {stack!r}: no {stack_file(stacks_dir, stack)}; stacks: {listing}")

    def __reduce__(self):
        return type(self), (self.stack, self.stacks_dir, self.known)
