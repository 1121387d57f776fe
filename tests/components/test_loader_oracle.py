"""What the stack-file reader accepts, Pulumi's YAML reader (gopkg.in/yaml.v3, built from Debian's source by
tests/yaml_v3_oracle.py) reads to the same value: generated YAML snippets and mutated shipped stack files."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.loader import ConfigError, _Refused, decode_text, parse_yaml
from components.stackfile import read_config_file
from tests import yaml_v3_oracle
from tests.conftest import STACKS
from tests.yaml_v3_oracle import same

yaml_v3 = yaml_v3_oracle.yaml_v3

# Spellings where YAML readers part ways: numbers in every base and with signs and underscores, timestamps
# that exist and that do not, YAML 1.1 booleans, nulls, specials, and integers at the int64/uint64 edges.
TRICKY = (
    "0b-101",
    "0o+7",
    "0b+1",
    "-0b101",
    "0x_1F",
    "0x1F",
    "-0x1F",
    "0o17",
    "017",
    "08",
    "-017",
    "1_000",
    "1__0",
    "_1",
    "1_",
    "0b_",
    "0b1_0",
    "0x",
    "0o",
    "1e3",
    "1E3",
    "1e+3",
    "1.5e-3",
    ".5",
    "-.5",
    "+.5",
    ".5e3",
    "1.",
    "0.",
    "-0",
    "+1",
    "+0.0",
    "1_0.5",
    "1,000",
    "12:30",
    "1:20:30",
    "190:20:30",
    "2024-02-29",
    "2024-02-30",
    "2023-02-29",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10",
    "2001-12-14T21:59:43Z",
    "2001-1-2",
    "2001-13-01",
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "n",
    "True",
    "TRUE",
    "tRue",
    "null",
    "Null",
    "NULL",
    "nUll",
    "~",
    ".inf",
    "-.Inf",
    ".NaN",
    ".nan",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "0b" + "1" * 64,
    "-0b" + "1" * 64,
    "0x" + "f" * 16,
    "1" * 101,
    "a",
    "a b",
    "-a",
    "?a",
    ":a",
    "a:b",
    "@a",
    "%a",
    "=",
    "<<",
    "é",
    "a#b",
)
ESCAPES = (
    "\\/",
    "\\ud800",
    "\\udfff",
    "\\u00e9",
    "\\x41",
    "\\U0001F600",
    "\\U0010FFFF",
    "\\U00110000",
    "\\N",
    "\\_",
    "\\L",
    "\\P",
    "\\0",
    "\\e",
    "\\ ",
    "\\t",
    '\\"',
    "\\\\",
    "\\z",
    "\\x4",
    "\\uD83D\\uDE00",
)
KEYS = (
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
    "g",
    "nat",
    "mlops:platform",
    "a",
    "'a'",
    '"a"',
    "1",
    "true",
    "~",
    "a b",
    "-a",
    "x:y",
    '"\\x61"',
)


def scalar(draw) -> str:
    style = draw(st.sampled_from(("plain", "plain", "plain", "tricky", "tricky", "single", "double")))
    if style == "tricky":
        return draw(st.sampled_from(TRICKY))
    if style == "double":
        parts = draw(
            st.lists(
                st.one_of(st.sampled_from(ESCAPES), st.sampled_from(("a", " ", "'", "#", ":"))), max_size=4
            )
        )
        return '"' + "".join(parts) + '"'
    text = draw(st.text(st.sampled_from("0123456789+-._xobeE:aT "), min_size=1, max_size=8))
    if style == "single":
        return "'" + text.replace("'", "''") + "'"
    return text.strip() or "0"


@st.composite
def snippet(draw, depth: int = 0) -> str:
    """A YAML document: a mapping in block or flow style whose keys repeat at times, with anchors, aliases,
    tabs after a value indicator, comments and the tricky scalars above."""
    anchors: list[str] = []

    def value(level: int) -> str:
        kind = draw(st.sampled_from(("scalar", "scalar", "scalar", "flow-seq", "flow-map", "alias")))
        if kind == "alias" and anchors:
            return "*" + draw(st.sampled_from(anchors))
        if kind == "flow-seq" and level < 2:
            return "[" + ", ".join(value(level + 1) for _ in range(draw(st.integers(0, 3)))) + "]"
        if kind == "flow-map" and level < 2:
            items = [
                f"{draw(st.sampled_from(KEYS))}: {value(level + 1)}" for _ in range(draw(st.integers(0, 3)))
            ]
            return "{" + ", ".join(items) + "}"
        text = scalar(draw)
        if draw(st.integers(0, 9)) == 0:
            anchors.append(f"x{len(anchors)}")
            text = f"&{anchors[-1]} {text}"
        return text

    def block(indent: int, level: int) -> list[str]:
        lines = []
        for _ in range(draw(st.integers(1, 4))):
            key = draw(st.sampled_from(KEYS))
            if level < 2 and draw(st.integers(0, 3)) == 0:
                lines.append(" " * indent + f"{key}:")
                if draw(st.booleans()):
                    lines += [
                        " " * (indent + 2) + f"- {value(level + 1)}" for _ in range(draw(st.integers(1, 3)))
                    ]
                else:
                    lines += block(indent + 2, level + 1)
                continue
            separator = draw(st.sampled_from((": ", ": ", ": ", ":\t", ":  ")))
            tail = draw(st.sampled_from(("", "", "", "  # note", "\t", " ")))
            lines.append(" " * indent + f"{key}{separator}{value(level)}{tail}")
        return lines

    return "\n".join(block(0, depth)) + "\n"


def loader_reading(text: str) -> tuple[bool, object]:
    try:
        return True, parse_yaml(decode_text(text.encode("utf-8", "surrogatepass")))
    except _Refused as exc:
        return False, exc.message


def test_generated_snippets_the_loader_accepts_are_read_alike_by_yaml_v3(yaml_v3):
    """yaml.v3 (Pulumi's reader) must read every snippet the loader accepts to the same value; what the loader
    refuses, yaml.v3 may read or refuse. Measured with 800 derandomized examples: 118 accepted, 682 refused
    (the generator aims at the spellings readers disagree on), of which yaml.v3 refused 486 too."""
    counts: Counter[str] = Counter()

    @settings(
        max_examples=800,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(snippet())
    def check(text: str) -> None:
        accepted, value = loader_reading(text)
        ok, oracle = yaml_v3.read(text)
        if accepted:
            assert ok, f"the loader reads {value!r} from {text!r}, which yaml.v3 refuses: {oracle}"
            assert same(value, oracle), f"{text!r}: the loader reads {value!r}, yaml.v3 {oracle!r}"
        counts["accepted" if accepted else "refused"] += 1
        counts["refused by yaml.v3 too" if not accepted and not ok else "other"] += 1

    check()
    message = f"accepted {counts['accepted']}, refused {counts['refused']} ({counts['refused by yaml.v3 too']} by yaml.v3 too)"
    print(message)
    assert counts["accepted"] >= 80 and counts["refused"] >= 300, message


_VALUE = re.compile(r"(?m)^(\s+[a-z0-9-]+: )(\S.*)$")


@st.composite
def mutated_stack(draw) -> str:
    """A shipped stack file with one to three values replaced by a generated scalar or flow collection."""
    name = draw(st.sampled_from(sorted(path.name for path in STACKS.glob("Pulumi.*.yaml"))))
    text = (STACKS / name).read_text(encoding="utf-8")
    spots = list(_VALUE.finditer(text))
    for match in sorted(
        draw(st.lists(st.sampled_from(spots), min_size=1, max_size=3, unique_by=lambda m: m.start())),
        key=lambda m: -m.start(),
    ):
        replacement = draw(snippet(depth=2)).strip().split("\n")[0].split(":", 1)[-1].strip() or scalar(draw)
        text = text[: match.start(2)] + replacement + text[match.end(2) :]
    return text


def test_mutated_stack_files_the_loader_accepts_are_read_alike_by_pulumi(yaml_v3, tmp_path):
    """Pulumi reads a stack file with yaml.v3 into its ProjectStack shape and parses every config key with
    ParseKey; a stack file read_config_file accepts must pass both and hold the same document. Measured with
    250 derandomized examples: 141 accepted, 109 refused."""
    counts: Counter[str] = Counter()
    path = tmp_path / "Pulumi.mutated.yaml"

    @settings(
        max_examples=250,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(mutated_stack())
    def check(text: str) -> None:
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            read_config_file(path)
        except ConfigError:
            counts["refused"] += 1
            return
        counts["accepted"] += 1
        ok, oracle = yaml_v3.read(text, mode="stack")
        assert ok, f"read_config_file accepts {text!r}, which Pulumi refuses: {oracle}"
        assert same(parse_yaml(text), oracle), f"{text!r}: Pulumi reads {oracle!r}"

    check()
    message = f"accepted {counts['accepted']}, refused {counts['refused']}"
    print(message)
    assert counts["accepted"] >= 50 and counts["refused"] >= 50, message


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a: 0b-101\n", {"a": -5}),
        ("a: 0o+7\n", {"a": 7}),
        ("a: 2024-02-30\n", {"a": "2024-02-30"}),
        ("a: 0b_\n", {"a": "0b_"}),
        ("a:\tb\n", {"a": "b"}),
    ],
)
def test_oracle_reads_what_the_loader_refuses_or_rewrites_as_the_loader_says(yaml_v3, text, value):
    """The facts the loader's refusal messages state about yaml.v3, asked of yaml.v3 itself."""
    assert yaml_v3.read(text) == (True, value)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('a: "\\/"\n', "found unknown escape character"),
        ('a: "\\ud800"\n', "found invalid Unicode character escape code"),
        ("a: 18446744073709551615\n", "unexpected wire type uint64"),
        ("a: 1\na: 2\n", 'mapping key "a" already defined at line 1'),
    ],
)
def test_oracle_refuses_what_the_loader_refuses_for_its_sake(yaml_v3, text, error):
    ok, message = yaml_v3.read(text)
    assert not ok and error in message, message
    with pytest.raises(_Refused):
        parse_yaml(text)


def test_oracle_parses_config_keys_as_the_loader_says(yaml_v3, tmp_path):
    """Pulumi fails on a config key ParseKey cannot read; read_config_file refuses the same keys."""
    text = "config:\n  a:b:c: 1\n"
    assert yaml_v3.read(text, mode="stack") == (False, "could not parse a:b:c as a configuration key")
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError):
        read_config_file(path)
    assert yaml_v3.read("config:\n  aws:region: eu-west-1\n", mode="stack") == (
        True,
        {"config": {"aws:region": "eu-west-1"}},
    )
