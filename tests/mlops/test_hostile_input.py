"""Mistaken and hostile input through the real command line: one line, exit 2, no traceback, nothing written.

The property tests mutate the shipped stack files (bytes, keys, value types, nesting, repeated and deleted
lines). Many generated cases go through the path `mlops preview` takes before synthesis (the loader, the
models, the platform lookup of team stacks) in this process; a small sample goes through the real
`mlops preview` subprocess, where the program runs too, with a timeout that only detects a hang.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from components.loader import ConfigError, UnknownStackError, list_stacks
from mlops.synth import load_source
from tests.conftest import STACKS, run_mlops

SHIPPED = list_stacks(STACKS)
PYDANTIC_PHRASES = ("Input should", "Value error", "None:", "String should", "List should")


def copy_stacks(target: Path) -> Path:
    for path in STACKS.glob("Pulumi.*.yaml"):
        shutil.copy(path, target)
    return target


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def assert_one_line_error(result, *, starts: str = "error: ") -> str:
    assert result.returncode == 2, result.stdout[-500:] + result.stderr[-2000:]
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(starts), lines[0]
    assert not any(phrase in lines[0] for phrase in PYDANTIC_PHRASES), lines[0]
    return lines[0]


@pytest.fixture
def stacks_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "stacks"
    folder.mkdir()
    return copy_stacks(folder)


# ---------------------------------------------------------------------------------------------------------
# The four reported cases


def test_a_stray_byte_is_one_line_naming_file_and_line(stacks_dir):
    path = stacks_dir / "Pulumi.dev.yaml"
    path.write_bytes(path.read_bytes() + b"\xff")
    line = assert_one_line_error(run_mlops("preview", "dev", "--stacks-dir", str(stacks_dir)))
    lines = path.read_bytes().count(b"\n") + 1
    assert line == f"error: {path}: line {lines}: byte 0xff is not UTF-8 text; save the file as UTF-8"


def test_a_repeated_key_is_refused_with_both_lines(stacks_dir):
    path = stacks_dir / "Pulumi.dev.yaml"
    text = path.read_text()
    first = text.splitlines().index("    nat: single") + 1
    path.write_text(text.replace("    nat: single\n", "    nat: single\n    nat: none\n"))
    line = assert_one_line_error(run_mlops("preview", "dev", "--stacks-dir", str(stacks_dir)))
    assert line == (
        f"error: {path}: line {first + 1}: config.mlops:platform.nat: key 'nat' is written twice in one mapping "
        f"(first at line {first}); keep one"
    )


def test_two_config_blocks_are_a_repeated_key_not_a_missing_one(stacks_dir):
    path = stacks_dir / "Pulumi.dev.yaml"
    path.write_text(path.read_text() + "config:\n  aws:region: us-east-1\n")
    line = assert_one_line_error(run_mlops("preview", "dev", "--stacks-dir", str(stacks_dir)))
    assert line.endswith("config: key 'config' is written twice in one mapping (first at line 2); keep one")


def test_nested_aliases_answer_at_once(stacks_dir):
    """A few hundred bytes that expand to 9**8 values: refused on a count, not after minutes of expansion
    (the timeout only detects a hang)."""
    anchors = ['  x:a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    anchors += [f"  x:a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 8)]
    (stacks_dir / "Pulumi.bomb.yaml").write_text(
        "config:\n" + "\n".join(anchors) + "\n  mlops:platform: [*a7]\n"
    )
    line = assert_one_line_error(run_mlops("preview", "bomb", "--stacks-dir", str(stacks_dir)))
    assert line.endswith(
        "the document expands to more than 10000 values (aliases included); write it out without nested aliases"
    )


def test_team_new_without_owner_flags_names_the_flag_and_writes_nothing(stacks_dir):
    before = snapshot(stacks_dir)
    result = run_mlops("team", "new", "risk", "--env", "dev", "--stacks-dir", str(stacks_dir))
    assert (
        assert_one_line_error(result)
        == "error: --owner-group is required unless --from gives owners.sso-group"
    )
    result = run_mlops(
        "team",
        "new",
        "risk",
        "--env",
        "dev",
        "--stacks-dir",
        str(stacks_dir),
        "--owner-group",
        "g",
        "--owner-role-arn",
        "arn:aws:iam::111111111111:role/r",
        "--cost-center",
        "cc-1",
    )
    assert assert_one_line_error(result) == "error: --model NAME=IMAGE is required unless --from gives models"
    assert snapshot(stacks_dir) == before


def test_every_command_reports_a_broken_stack_file_in_one_line(stacks_dir, tmp_path, synth):
    """The README's promise for every command that reads stack files; `check` synthesises in worker processes,
    so the error also has to survive being sent back from one."""
    path = stacks_dir / "Pulumi.dev.yaml"
    path.write_text(path.read_text().replace("    nat: single\n", "    nat: single\n    nat: none\n"))
    expected = f"error: {path}: line 16: config.mlops:platform.nat: key 'nat' is written twice"
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(synth("dev")["outputs"]))
    commands = [
        ["preview", "dev"],
        ["graph", "dev"],
        ["check", "dev", "team-fraud-dev"],
        ["team", "validate", "team-fraud-dev"],
        ["team", "list"],
        ["verify", "dev", "--outputs", str(outputs)],
    ]
    for command in commands:
        line = assert_one_line_error(run_mlops(*command, "--stacks-dir", str(stacks_dir)))
        assert line.startswith(expected), (command, line)


# ---------------------------------------------------------------------------------------------------------
# Command-line parsing, `team new` flags and `--from` files


def test_parsing_errors_are_one_line_naming_the_option():
    assert assert_one_line_error(run_mlops("team", "new", "risk")) == (
        "error: Missing option '--env'. (see `mlops team new --help`)"
    )
    assert assert_one_line_error(run_mlops("team", "new", "risk", "--env", "dev", "--gpus", "two")) == (
        "error: --gpus: must be a whole number, got 'two' (see `mlops team new --help`)"
    )


def test_team_flags_name_themselves_and_contradictions_are_refused(stacks_dir):
    base = [
        "team",
        "new",
        "risk",
        "--env",
        "dev",
        "--stacks-dir",
        str(stacks_dir),
        "--owner-group",
        "g",
        "--owner-role-arn",
        "arn:aws:iam::111111111111:role/r",
        "--cost-center",
        "cc-1",
        "--model",
        "p=r/p:1.0.0",
    ]
    assert assert_one_line_error(run_mlops(*base, "--data-classification", "secret")) == (
        "error: --data-classification: 'secret' is not allowed; allowed: public, internal, confidential, restricted"
    )
    assert assert_one_line_error(run_mlops(*base[:4], "qa", *base[5:])) == (
        "error: --env: 'qa' is not allowed; allowed: dev, staging, prod"
    )
    source = stacks_dir.parent / "risk.yaml"
    source.write_text(yaml.safe_dump({"mlops:team": {"cost-center": "cc-9"}}))
    assert assert_one_line_error(run_mlops(*base, "--from", str(source))) == (
        f"error: {source}: mlops:team.cost-center: the file gives 'cc-9' and --cost-center gives 'cc-1'; "
        "give it in one place"
    )


def test_team_from_file_errors_name_that_file_and_its_keys(stacks_dir):
    source = stacks_dir.parent / "risk.yaml"
    before = snapshot(stacks_dir)
    command = ["team", "new", "risk", "--env", "dev", "--stacks-dir", str(stacks_dir), "--from", str(source)]
    source.write_bytes(b"owners:\n  sso-group: caf\xe9\n")
    assert (
        assert_one_line_error(run_mlops(*command))
        == f"error: {source}: line 2: byte 0xe9 is not UTF-8 text; save the file as UTF-8"
    )
    source.write_text("owners:\n  sso-group: a\n  sso-group: b\n")
    assert assert_one_line_error(run_mlops(*command)).endswith(
        "line 3: owners.sso-group: key 'sso-group' is written twice in one mapping (first at line 2); keep one"
    )
    source.write_text("- a list\n")
    assert (
        assert_one_line_error(run_mlops(*command))
        == f"error: {source}: (top level): must be a mapping (the team spec), got a list of 1 item"
    )
    source.write_text(
        yaml.safe_dump(
            {
                "config": {
                    "mlops:team": {
                        "owners": {"sso-group": "g", "role-arn": "arn:aws:iam::111111111111:role/r"},
                        "cost-center": "cc",
                        "models": [
                            {
                                "name": "p",
                                "port": "http",
                                "versions": [{"name": "v1", "image": "r/p:1.0.0", "weight": 100}],
                            }
                        ],
                    }
                }
            }
        )
    )
    assert assert_one_line_error(run_mlops(*command)) == (
        f"error: {source}: config.mlops:team.models[0].port: must be a whole number, got 'http'"
    )
    assert snapshot(stacks_dir) == before


# ---------------------------------------------------------------------------------------------------------
# `mlops check --from` and `mlops graph --from`


def test_check_from_refuses_what_is_not_a_preview(tmp_path):
    saved = tmp_path / "saved.json"
    cases = [
        (
            '{"environment": "dev", "regions": {}}',
            "steps: missing: not a preview (it looks like stack outputs, which `mlops verify --outputs` reads); "
            "expected what `mlops preview --json` prints",
        ),
        ("[1, 2]", "(document): not a preview: a JSON array; expected what `mlops preview --json` prints"),
        ('{"steps": [{"op": "delete", "oldState": {}}]}', "steps[0].newState: missing; this key is required"),
        (
            '{"steps": [{"newState": {"urn": "x", "type": "aws:s3/bucket:Bucket"}}]}',
            "steps[0].newState.urn: 'x' does not match the allowed pattern ^urn:pulumi:[^:]*::[^:]*::.+::.*$",
        ),
        (
            '{"steps": [{"newState": {"urn": "urn:pulumi:s::p::t::n", "type": "t", "inputs": []}}]}',
            "steps[0].newState.inputs: must be a mapping, got a list of 0 items",
        ),
        (
            '{"steps": [',
            "line 1: not valid JSON: Expecting value at column 12 (the file ends early: truncated?)",
        ),
    ]
    for text, expected in cases:
        saved.write_text(text)
        assert (
            assert_one_line_error(run_mlops("check", "--from", str(saved))) == f"error: {saved}: {expected}"
        ), text
    # `graph --from` reads saved previews through the same function.
    assert (
        assert_one_line_error(run_mlops("graph", "x", "--from", str(saved)))
        == f"error: {saved}: {cases[-1][1]}"
    )


# ---------------------------------------------------------------------------------------------------------
# `mlops verify --outputs`


def test_verify_refuses_outputs_that_are_not_this_stacks(tmp_path, synth):
    outputs = tmp_path / "outputs.json"

    def verify_error(text: str) -> str:
        outputs.write_text(text)
        return assert_one_line_error(run_mlops("verify", "prod", "--outputs", str(outputs)))

    assert verify_error('{"environment": "prod", "regions": {') == (
        f"error: {outputs}: line 1: not valid JSON: Expecting property name enclosed in double quotes at column 37 "
        "(the file ends early: truncated?)"
    )
    assert verify_error("environment: prod\n") == (
        f"error: {outputs}: line 1: not valid JSON: Expecting value at column 1"
    )
    dev = synth("dev")
    assert verify_error(json.dumps(dev["outputs"])) == (
        f"error: {outputs}: the outputs of a dev stack in us-east-1, but {STACKS}/Pulumi.prod.yaml declares "
        "prod in us-east-1, us-west-2; pass the outputs of stack 'prod'"
    )
    assert verify_error(json.dumps(dev)) == f"error: {outputs}: the preview of stack 'dev', not of 'prod'"
    team = synth("team-fraud-dev")["outputs"]
    assert verify_error(json.dumps(team)) == (
        f"error: {outputs}: the outputs of team stack 'fraud'; mlops verify checks platform stacks"
    )
    broken = json.loads(json.dumps(synth("prod")["outputs"]))
    del broken["regions"]["us-west-2"]["vpcId"]
    assert verify_error(json.dumps(broken)) == (
        f"error: {outputs}: outputs.regions.us-west-2.vpcId: missing; this key is required"
    )


# ---------------------------------------------------------------------------------------------------------
# Property tests: mutated shipped stack files

SCALARS = [
    "yes",
    "off",
    "1:20",
    "017",
    "0o17",
    "1e3",
    "08",
    "~",
    "null",
    "[]",
    "{}",
    "''",
    "-1",
    "0",
    "1.5",
    str(2**70),
    ".inf",
    "2024-01-01",
    "&a x",
    "*a",
    "!!str x",
    "<<",
    "|",
    '"\\x00"',
    "{a: 1, a: 2}",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    "@",
    "`",
    "%",
    "? x",
]
SPECIAL_BYTES = [
    b"\x00",
    b"\xff",
    b"\xef\xbb\xbf",
    b"\t",
    b":",
    b"&",
    b"*",
    b"\n",
    b"- ",
    b"[",
    b"{",
    b'"',
    b"'",
    b"#",
    b"\r",
    b"\xc3",
    b"\xe2\x80\xa8",
    b"---\n",
    b"  ",
]


@st.composite
def mutated_stack(draw, stacks: tuple[str, ...] = tuple(SHIPPED)) -> tuple[str, bytes, str]:
    """(stack, the file's new bytes, the kind of mutation) for one shipped stack file."""
    stack = draw(st.sampled_from(stacks))
    data = (STACKS / f"Pulumi.{stack}.yaml").read_bytes()
    lines = data.split(b"\n")
    index = draw(st.integers(0, len(lines) - 1))
    line = lines[index]
    rest = line.lstrip()
    indent = line[: len(line) - len(rest)]
    key, colon, value = rest.partition(b":")
    kind = draw(st.sampled_from(["bytes", "key", "type", "nesting", "repeat", "delete"]))
    if kind == "bytes":
        at = draw(st.integers(0, len(data)))
        cut = draw(st.integers(0, 3))
        noise = draw(st.sampled_from(SPECIAL_BYTES) | st.binary(min_size=1, max_size=3))
        return stack, data[:at] + noise + data[at + cut :], kind
    if kind == "key" and colon:
        new_key = draw(
            st.sampled_from([b"nat", b"regions", b"config", b"name", b"mlops:team", b"<<", b"1", b"yes"])
            | st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8).map(str.encode)
        )
        lines[index] = indent + new_key + b":" + value
    elif kind == "type" and colon:
        lines[index] = indent + key + b": " + draw(st.sampled_from(SCALARS)).encode()
    elif kind == "nesting" and colon:
        wrap = draw(st.sampled_from(["[{}]", "{{x: {}}}", "[[{}]]", "{{{}: 1}}"]))
        lines[index] = indent + key + b": " + wrap.format(value.strip().decode("utf-8")).encode()
    elif kind == "repeat":
        lines.insert(draw(st.integers(0, len(lines))), line)
    else:
        del lines[index]
        kind = "delete"
    return stack, b"\n".join(lines), kind


def assert_user_error_line(message: str, folder: Path) -> None:
    assert "\n" not in message, message
    assert message.startswith((str(folder), "unknown stack")), message
    assert not any(phrase in message for phrase in PYDANTIC_PHRASES), message


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_stack())
def test_mutated_stack_files_are_read_or_refused_in_one_line(case):
    """The path `mlops preview` takes up to synthesis: every mutation is accepted as a whole stack source, or
    refused with one ConfigError line naming the file; no other exception (a traceback), nothing written."""
    stack, data, _ = case
    with tempfile.TemporaryDirectory() as temporary:
        folder = copy_stacks(Path(temporary))
        (folder / f"Pulumi.{stack}.yaml").write_bytes(data)
        before = snapshot(folder)
        try:
            source = load_source(stack, folder)
        except (ConfigError, UnknownStackError) as exc:
            assert_user_error_line(str(exc), folder)
        else:
            assert source.kind in ("platform", "team") and source.config
        assert snapshot(folder) == before


@settings(
    max_examples=5,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(mutated_stack(("dev",)))
@example(
    (
        "dev",
        (STACKS / "Pulumi.dev.yaml").read_bytes().replace(b"\n    nat: single", b"\n    nat:   single"),
        "bytes",
    )
)
def test_mutated_stack_files_through_mlops_preview(case):
    """The real `mlops preview`, program included: a full preview with exit 0, or one line with exit 2, and the
    stacks folder unchanged. A small fixed sample on the dev stack, since every accepted case is a synthesis;
    the explicit example is one the program must accept."""
    stack, data, _ = case
    with tempfile.TemporaryDirectory() as temporary:
        folder = copy_stacks(Path(temporary))
        (folder / f"Pulumi.{stack}.yaml").write_bytes(data)
        before = snapshot(folder)
        result = run_mlops("preview", stack, "--stacks-dir", str(folder), timeout=300)
        if result.returncode == 0:
            lines = result.stdout.splitlines()
            assert lines[0] == f"Previewing (offline) mlops-platform/{stack}"
            assert any(line.strip().endswith("to create") for line in lines) and "Outputs:" in lines
            assert result.stderr == ""
        else:
            assert_one_line_error(result, starts=f"error: {folder}")
        assert snapshot(folder) == before
