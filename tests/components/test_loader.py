"""The one reader of stack files and JSON documents (components/loader.py), against what Pulumi itself reads.

Pulumi loads a stack file with Go's gopkg.in/yaml.v3 (pulumi/pulumi sdk/go/common/encoding/marshal.go,
`yaml.Unmarshal` into `any`) after stripping a UTF-8 byte-order mark (sdk/go/common/workspace/loaders.go,
readFileStripUTF8BOM), then turns each config value into JSON for the program
(sdk/go/common/resource/config/object.go, unmarshalObject / MarshalJSON). The cases below that name yaml.v3
come from its own test table (go-yaml/yaml v3.0.1, decode_test.go, `unmarshalTests`) and sources
(resolve.go, decode.go); the YAML 1.1 readings are PyYAML's, the YAML 1.2 ones the core schema's
(YAML 1.2.2 specification, section 10.3.2 "Tag Resolution").
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.loader import (
    MAX_NUMERAL_CHARS,
    MAX_YAML_BYTES,
    MAX_YAML_NODES,
    ConfigError,
    _Refused,
    decode_text,
    dump_yaml,
    key_path,
    key_text,
    load_json,
    load_yaml,
    parse_json,
    parse_yaml,
    v3_resolve,
)
from components.stackfile import read_config_file


def refusal(text: str | bytes) -> tuple[int, str]:
    with pytest.raises(_Refused) as caught:
        parse_yaml(decode_text(text if isinstance(text, bytes) else text.encode()))
    return caught.value.line, caught.value.message


# ---------------------------------------------------------------------------------------------------------
# The port of yaml.v3's resolver, checked against yaml.v3's own test table


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi", ("str", "hi")),
        ("true", ("bool", True)),
        ("10", ("int", 10)),
        ("0b10", ("int", 2)),
        ("0xA", ("int", 10)),
        ("0.1", ("float", 0.1)),
        (".1", ("float", 0.1)),
        (".Inf", ("float", math.inf)),
        ("-.Inf", ("float", -math.inf)),
        ("-10", ("int", -10)),
        ("-.1", ("float", -0.1)),
        ("6.8523e+5", ("float", 6.8523e5)),
        ("685.230_15e+03", ("float", 685.23015e3)),
        ("685_230.15", ("float", 685230.15)),
        ("True", ("bool", True)),
        ("FALSE", ("bool", False)),
        ("+685_230", ("int", 685230)),
        ("02472256", ("int", 685230)),
        ("-02472256", ("int", -685230)),
        ("0o2472256", ("int", 685230)),
        ("-0o2472256", ("int", -685230)),
        ("0x_0A_74_AE", ("int", 685230)),
        ("0b1010_0111_0100_1010_1110", ("int", 685230)),
        ("-0b101010", ("int", -42)),
        ("-0b" + "1" + "0" * 63, ("int", -(2**63))),
        ("4294967296", ("int", 4294967296)),
        ("", ("null", None)),
        ("~", ("null", None)),
        ("null", ("null", None)),
        ("-b_c", ("str", "-b_c")),
        ("+b_c", ("str", "+b_c")),
        ("50cent_of_dollar", ("str", "50cent_of_dollar")),
        ("1:1", ("str", "1:1")),
        ("2015-01-01", ("timestamp", "2015-01-01")),
        ("2015-2-3T3:4:5Z", ("timestamp", "2015-2-3T3:4:5Z")),
        ("2015-02-24 18:19:39", ("timestamp", "2015-02-24 18:19:39")),
        ("yes", ("str", "yes")),
        ("on", ("str", "on")),
    ],
)
def test_v3_resolve_follows_yaml_v3_unmarshal_tests(text, expected):
    """go-yaml/yaml v3.0.1 decode_test.go (`unmarshalTests`, decoding into `map[string]interface{}`) and
    resolve.go: "Base 60 floats ... are purposefully unsupported", YAML 1.1 booleans (yes/on) are strings, and
    1.1 octals spelled 0777 "are still decoded by default in v3"."""
    assert v3_resolve(text) == expected


# ---------------------------------------------------------------------------------------------------------
# Scalars Pulumi reads differently from YAML 1.1 or 1.2 are refused; the rest are read as Pulumi reads them


@pytest.mark.parametrize(
    ("text", "pulumi", "yaml11"),
    [
        ("yes", "the string 'yes'", "true"),
        ("Off", "the string 'Off'", "false"),
        ("1:20", "the string '1:20'", "the integer 80"),
        ("017", "the integer 15", "the integer 15"),
        ("0o17", "the integer 15", "the string '0o17'"),
        ("08", "the number 8.0", "the string '08'"),
        ("1e3", "the number 1000.0", "the string '1e3'"),
        ("1_000", "the integer 1000", "the integer 1000"),
        ("2024-01-01", "a timestamp", "a timestamp"),
        ("99999999999999999999", "the number 1e+20", "the integer 99999999999999999999"),
        ("=", "the string '='", "an error"),
    ],
)
def test_scalars_yaml_readers_disagree_on_are_refused_with_the_line(text, pulumi, yaml11):
    """yaml.v3 (resolve.go) reads `yes`/`off` and `1:20` as strings, `017` as octal 15 and `08` as a float,
    while YAML 1.1 (PyYAML) reads booleans, a sexagesimal 80 and the string '08', and YAML 1.2's core schema
    reads `017` as decimal 17. A date becomes a Go time.Time that Pulumi's unmarshalObject renders as
    "2024-01-01 00:00:00 +0000 UTC" (config/object.go). None of these may pass silently."""
    line, message = refusal(f"config:\n  mlops:platform:\n    key: {text}\n")
    assert line == 3
    assert message.startswith(
        f"{text!r} is read differently by YAML readers: {pulumi} by Pulumi (yaml.v3), {yaml11} by YAML 1.1"
    )
    assert "quote it for a string" in message


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("1.5", 1.5),
        ("0x1F", 31),
        ("~", None),
        ("42", 42),
        ("'yes'", "yes"),
        ('"017"', "017"),
        ("1.0e+3", 1000),
        ("|\n      x\n", "x\n"),
    ],
)
def test_scalars_every_reader_agrees_on_are_read_as_the_program_receives_them(text, value):
    """Where yaml.v3, YAML 1.1 and YAML 1.2 agree, the value is Pulumi's. A float with no fraction reaches the
    program as an integer: Pulumi marshals config objects with Go's encoding/json (config/object.go
    MarshalJSON), which writes float64(1000) as `1000`."""
    document = parse_yaml(f"a:\n  b: {text}\n")
    assert document == {"a": {"b": value}}
    assert type(document["a"]["b"]) is type(value)


def test_special_floats_are_refused():
    """JSON has no NaN or infinity (RFC 8259, section 6), and Pulumi hands structured config to the program as
    JSON, so `.inf` could not arrive."""
    assert refusal("a: .inf\n") == (
        1,
        "'.inf' is not a finite number; JSON, which Pulumi hands the program, has no such value",
    )


# ---------------------------------------------------------------------------------------------------------
# Duplicate keys, merge keys, tags, directives, documents


def test_duplicate_key_is_refused_with_both_lines_like_yaml_v3():
    """yaml.v3 decode.go refuses a repeated key: `line %d: mapping key %#v already defined at line %d`
    (d.uniqueKeys is on by default), so Pulumi fails on such a file; the last value must never win here."""
    text = "config:\n  mlops:platform:\n    nat: single\n    environment: dev\n    nat: none\n"
    assert refusal(text) == (
        5,
        "config.mlops:platform.nat: key 'nat' is written twice in one mapping (first at line 3); keep one",
    )


def test_duplicate_keys_at_any_depth_and_in_any_spelling():
    """yaml.v3 compares the keys' values (`ni.Value == nj.Value`), so `a` and `"a"` are the same key."""
    assert refusal("config:\n  x:\n    - {a: 1, 'a': 2}\n")[1] == (
        "config.x[0].a: key 'a' is written twice in one mapping (first at line 3); keep one"
    )
    assert refusal("config:\n  a: 1\nconfig:\n  b: 2\n") == (
        3,
        "config: key 'config' is written twice in one mapping (first at line 1); keep one",
    )


def test_merge_keys_explicit_tags_directives_and_second_documents_are_refused():
    assert refusal("base: &b {x: 1}\nother:\n  <<: *b\n") == (
        3,
        "merge keys (<<) are not allowed in a stack file; write the keys out",
    )
    assert refusal("a: !!str 1\n")[1].startswith("explicit tags (tag:yaml.org,2002:str) are not allowed")
    assert refusal("%YAML 1.1\n---\na: 1\n") == (
        1,
        "YAML directives (%YAML, %TAG) are not allowed in a stack file",
    )
    # yaml.v3's Unmarshal reads only the first document of a stream; a second one would be ignored silently.
    assert refusal("a: 1\n---\nb: 2\n") == (
        2,
        "a second YAML document (---) in the file; a stack file holds one document",
    )


def test_non_string_keys_are_refused():
    """Pulumi's unmarshalObject turns a `map[any]any` key into its `%v` text (`1` -> "1", `true` -> "true");
    only string keys read the same everywhere."""
    assert refusal("config:\n  1: a\n") == (
        2,
        "config: key 1 (YAML reads it as a number) is not a string; quote it to make it one",
    )
    assert (
        refusal("config:\n  ~: a\n")[1]
        == "config: key ~ (YAML reads it as null) is not a string; quote it to make it one"
    )
    assert (
        refusal("config:\n  ? [a]\n  : 1\n")[1]
        == "config: a key must be a plain string, not a list, mapping or alias"
    )


# ---------------------------------------------------------------------------------------------------------
# Bounds


def test_nested_alias_expansion_is_bounded():
    """A few hundred bytes of nested aliases stand for 9**9 values ("billion laughs"); yaml.v3 guards with an
    alias ratio (decode.go allowedAliasRatio), this reader with a count of every value an alias expands to."""
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    text = "config:\n" + "".join(f"  {line}\n" for line in lines)
    assert len(text) < 600
    line, message = refusal(text)
    assert line == 6  # a4, the first anchor past the bound (9**4 x 10 values)
    assert (
        message
        == f"the document expands to more than {MAX_YAML_NODES} values (aliases included); write it out without nested aliases"
    )


def test_aliases_within_the_bound_are_read_like_yaml_v3():
    """decode_test.go: `a: &a {c: 1}` / `b: *a` decodes b as a copy of a."""
    assert parse_yaml("a: &a {c: 1}\nb: *a\n") == {"a": {"c": 1}, "b": {"c": 1}}
    assert refusal("a: &a [1, *a]\n") == (1, "alias *a refers to a node that contains it")
    assert refusal("a: *nothing\n") == (1, "alias *nothing has no anchor &nothing before it")


def test_depth_is_bounded():
    line, message = refusal("a: " + "[" * 40 + "]" * 40 + "\n")
    assert line == 1 and message.endswith("nested deeper than 32 levels")


def test_size_is_bounded(tmp_path):
    path = tmp_path / "Pulumi.big.yaml"
    path.write_bytes(b"config:\n" + b"  # padding\n" * (MAX_YAML_BYTES // 12 + 1))
    with pytest.raises(ConfigError) as caught:
        load_yaml(path)
    assert str(caught.value) == (
        f"{path}: (file): is larger than 256 KiB, more than any file mlops reads; is it the right file?"
    )


# ---------------------------------------------------------------------------------------------------------
# Bytes and characters


def test_bytes_that_are_not_utf8_name_the_line():
    assert refusal(b"config:\n  a: caf\xe9\n") == (2, "byte 0xe9 is not UTF-8 text; save the file as UTF-8")


def test_leading_utf8_bom_is_stripped_as_pulumi_strips_it():
    """sdk/go/common/workspace/loaders.go readFileStripUTF8BOM drops a leading EF BB BF before decoding."""
    assert parse_yaml(decode_text(b"\xef\xbb\xbfconfig:\n  a: b\n")) == {"config": {"a": "b"}}


def test_other_boms_nul_and_control_characters_are_refused():
    """yaml.v3's reader refuses control characters (readerc.go: "control characters are not allowed"), and
    skips a byte-order mark at the start of any line where PyYAML skips one only at the start of the stream,
    so a mid-file BOM is refused rather than read two ways."""
    assert refusal("a: 1\nb: \x00\n") == (2, "character U+0000 (NUL) is not allowed in the file; remove it")
    assert refusal("a: 1\n\ufeffb: 2\n") == (
        2,
        "character U+FEFF (a byte-order mark) is not allowed in the file; remove it",
    )
    assert refusal("a: 1\nb: x\u2028y\n")[0] == 2
    assert refusal(b"\xff\xfea\x00:\x00")[1].startswith("the file is UTF-16 or UTF-32 encoded")


def test_tab_indentation_names_the_line():
    assert refusal("config:\n\tmlops:platform: {}\n") == (
        2,
        "not valid YAML: a tab indents this line; YAML indents with spaces, never tabs",
    )


def test_non_mapping_roots_and_config(tmp_path):
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError) as caught:
        read_config_file(path)
    assert (
        str(caught.value)
        == f"{path}: (top level): must be a mapping with a 'config' key, got a list of 2 items"
    )
    path.write_text("config: [a]\n")
    with pytest.raises(ConfigError) as caught:
        read_config_file(path)
    assert str(caught.value) == f"{path}: config: must be a mapping of namespaced keys (e.g. mlops:platform)"


def test_unreadable_file_is_one_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_yaml(tmp_path)
    assert str(caught.value) == f"{tmp_path}: (file): cannot be read (Is a directory)"


# ---------------------------------------------------------------------------------------------------------
# JSON documents


def json_refusal(text: str) -> tuple[int, str]:
    with pytest.raises(_Refused) as caught:
        parse_json(text)
    return caught.value.line, caught.value.message


def test_truncated_json_says_so_with_the_line():
    assert json_refusal('{\n  "steps": [\n    {"urn": "a"') == (
        3,
        "not valid JSON: Expecting ',' delimiter at column 16 (the file ends early: truncated?)",
    )


def test_json_duplicate_keys_nan_and_deep_nesting_are_refused():
    """RFC 8259 section 4: names within an object SHOULD be unique; section 6: NaN and Infinity are not
    permitted. Python's json module accepts both by default."""
    assert json_refusal('{"a": 1, "a": 2}')[1] == "key 'a' appears twice in one object"
    assert json_refusal('{"a": NaN}')[1] == "NaN is not a JSON number"
    assert (
        json_refusal("[" * 100_000 + "]" * 100_000)[1] == "not a JSON document mlops reads: nested too deeply"
    )
    assert json_refusal("  \n") == (1, "is empty; expected a JSON document")


def test_json_written_as_utf16_is_refused(tmp_path: Path):
    """PowerShell 5's `>` writes UTF-16 with a byte-order mark."""
    path = tmp_path / "outputs.json"
    path.write_bytes('{"a": 1}'.encode("utf-16"))
    with pytest.raises(ConfigError) as caught:
        load_json(path)
    assert str(caught.value).startswith(f"{path}: line 1: the file is UTF-16 or UTF-32 encoded")


# ---------------------------------------------------------------------------------------------------------
# Writing


@given(
    st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"), include_characters="\t\n"),
        max_size=12,
    )
)
def test_written_strings_read_back_as_themselves(text):
    """`mlops team new` writes stack files with dump_yaml: a string such as '1e3' or '0o17', which PyYAML's own
    dumper leaves plain because YAML 1.1 reads it as a string, would reach Pulumi as a number."""
    assert parse_yaml(dump_yaml({"key": text})) == {"key": text}


def test_pyyaml_alone_would_write_numbers_for_pulumi():
    import yaml

    assert yaml.safe_dump({"k": "1e3"}) == "k: 1e3\n"  # yaml.v3 (resolve.go yamlStyleFloat) reads 1000
    assert dump_yaml({"k": "1e3"}) == "k: '1e3'\n"


def test_every_shipped_and_fixture_stack_file_is_accepted_and_read_as_pyyaml_reads_it():
    """The shipped stack files and test fixtures pass the strict reader, and for them it agrees with PyYAML's
    safe_load, so tests that read fixtures with safe_load see what the CLI sees."""
    import yaml

    from tests.conftest import FIXTURES, STACKS

    paths = sorted(STACKS.glob("Pulumi.*.yaml")) + sorted(FIXTURES.glob("Pulumi.*.yaml"))
    assert len(paths) >= 13
    for path in paths:
        assert load_yaml(path) == yaml.safe_load(path.read_text()), path


# ---------------------------------------------------------------------------------------------------------
# Where yaml.v3, PyYAML and Python's int() part ways


@pytest.mark.parametrize(("text", "value"), [("0b-101", -5), ("0o+7", 7), ("0b+1", 1), ("0o-17", -15)])
def test_v3_resolve_takes_a_sign_after_the_base_prefix_as_strconv_parseint_does(text, value):
    """yaml.v3 resolve.go reads `0b…` and `0o…` with strconv.ParseInt(plain[2:], 2 or 8, 64), and ParseInt
    takes one leading sign (Go strconv docs: "ParseInt interprets a string s in the given base ... s may begin
    with a leading sign"), so yaml.v3 reads 0b-101 as -5 where YAML 1.1 and 1.2 read a string."""
    assert v3_resolve(text) == ("int", value)
    assert refusal(f"a: {text}\n") == (
        1,
        (
            f"{text!r} is read differently by YAML readers: the integer {value} by Pulumi (yaml.v3), the string "
            f"{text!r} by YAML 1.1, the string {text!r} by YAML 1.2; quote it for a string, or write the number in plain decimal"
        ),
    )


@pytest.mark.parametrize("text", ["2024-02-30", "0b_", "2023-02-29"])
def test_scalars_pyyaml_raises_valueerror_on_are_refused_in_one_line(text):
    """PyYAML's constructors raise ValueError (not YAMLError) for a timestamp-shaped date that does not exist
    (datetime.date) and for `0b_` (int('', 2)); yaml.v3's parseTimestamp checks the day of month and reads
    both as strings. The reader refuses them with the line instead of a traceback."""
    line, message = refusal(f"config:\n  a: {text}\n")
    assert line == 2
    assert message == (
        f"{text!r} is read differently by YAML readers: the string {text!r} by Pulumi (yaml.v3), an error by "
        f"YAML 1.1, the string {text!r} by YAML 1.2; quote it for a string"
    )
    assert parse_yaml(f"a: '{text}'\n") == {"a": text}


def test_long_numerals_are_refused_in_one_line_in_yaml_and_json():
    """Python refuses int() of a numeral past 4,300 digits (sys.int_info.default_max_str_digits, "Integer
    string conversion length limitation"); numerals longer than MAX_NUMERAL_CHARS are refused before it."""
    digits = "1" * 5000
    assert refusal(f"a: {digits}\n") == (
        1,
        "a number of 5000 characters is longer than any value a stack file holds; quote it for a string",
    )
    assert refusal(f"a: 0x{'f' * (MAX_NUMERAL_CHARS + 1)}\n")[1].startswith(
        f"a number of {MAX_NUMERAL_CHARS + 3} characters"
    )
    assert parse_yaml(f"a: '{digits}'\n") == {"a": digits}
    assert json_refusal(f'{{"a": {digits}}}') == (
        0,
        "a number of 5000 digits is longer than any value mlops reads",
    )
    assert json_refusal(f'{{"a": 1.{digits}}}') == (
        0,
        "a number of 5002 characters is longer than any value mlops reads",
    )
    assert json_refusal('{"a": 1e999}') == (0, "1e999 is out of the range of a JSON number (a 64-bit float)")
    assert parse_json('{"a": ' + "9" * MAX_NUMERAL_CHARS + "}") == {"a": int("9" * MAX_NUMERAL_CHARS)}


def test_integers_above_int64_are_refused():
    """yaml.v3 decodes an integer above int64 as uint64 (resolve.go: ParseUint after ParseInt fails), and
    Pulumi's config reader (sdk/go/common/resource/config/object.go unmarshalObject) has no uint64 case."""
    assert parse_yaml("a: 9223372036854775807\n") == {"a": 2**63 - 1}
    assert refusal("a: 9223372036854775808\n") == (
        1,
        "'9223372036854775808' is above the largest integer Pulumi reads (9223372036854775807); quote it for a string",
    )


def test_double_quoted_escapes_yaml_v3_refuses_are_refused():
    """yaml.v3 scannerc.go (yaml_parser_scan_flow_scalar) has no `\\/` escape ("found unknown escape
    character", YAML 1.1's list) and refuses a code point that is a surrogate or past U+10FFFF ("found
    invalid Unicode character escape code"); PyYAML decodes the first two and raises ValueError on the third."""
    assert refusal('a: 1\nb: "x\\/y"\n') == (
        2,
        "the escape \\/ in a double-quoted string is not read by Pulumi (yaml.v3: unknown escape character); write / alone",
    )
    assert refusal('a: "\\ud800"\n') == (
        1,
        (
            "the escape \\ud800 is not a Unicode character (a surrogate or past U+10FFFF); Pulumi (yaml.v3) refuses it: "
            "write the character itself"
        ),
    )
    assert refusal('a: 1\nb: "\\U00110000"\n') == (
        2,
        "an escape in a double-quoted string is not a Unicode character (past U+10FFFF); write the character itself",
    )
    assert parse_yaml('a: "\\u00e9\\t\\x41\\U0001F600"\n') == {"a": "\u00e9\tA\U0001f600"}


def test_keys_in_messages_are_escaped_so_they_cannot_forge_a_line():
    """A key holding a line break or quotes is shown in double quotes with JSON escapes, so the error stays one
    line and cannot pass for another message."""
    assert key_text("mlops:platform") == "mlops:platform"
    assert key_text("a\nerror: forged") == '"a\\nerror: forged"'
    assert key_path(["config", 'x"y', 0, "z"]) == 'config."x\\"y"[0].z'
    line, message = refusal('config:\n  "a\\nb":\n    1: 2\n')
    assert (line, message) == (
        3,
        'config."a\\nb": key 1 (YAML reads it as a number) is not a string; quote it to make it one',
    )
    assert "\n" not in message
