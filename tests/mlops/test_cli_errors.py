"""Command-line mistakes that used to hang, trace back or leave files behind: one line, exit 2, nothing written."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
import typer

from mlops.cli import write_atomically
from tests.conftest import STACKS, run_mlops


def one_line(result) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def write_json(path: Path, document) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_graph_from_a_preview_whose_parents_form_a_cycle_is_refused_at_once(synth, tmp_path):
    document = copy.deepcopy(synth("dev"))
    states = [step["newState"] for step in document["steps"]]
    child = next(state for state in states if state["custom"] and state["parent"])
    parent = next(state for state in states if state["urn"] == child["parent"])
    parent["parent"] = child["urn"]  # the parent's parent is its own child
    path = write_json(tmp_path / "cycle.json", document)
    index = states.index(parent)
    assert one_line(run_mlops("graph", "dev", "--from", str(path), timeout=60)) == (
        f"error: {path}: steps[{index}].newState.parent: the parents of {parent['urn']} lead back to "
        f"{parent['urn']}; a preview's parents form a tree"
    )
    assert one_line(run_mlops("check", "--from", str(path), timeout=60)).startswith(
        f"error: {path}: steps[{index}]"
    )


def test_preview_against_reads_with_the_strict_json_reader_and_shape_checks(tmp_path):
    cases = {
        '{"steps": [], "steps": []}': "(document): key 'steps' appears twice in one object",
        '{"deployment": {"resources": [{"urn": "x", "type": "t", "inputs": NaN}]}}': "(document): NaN is not a JSON number",
        '{"deployment": {"resources": "all"}}': "deployment.resources: missing or not an array; expected `pulumi stack export` output",
        '{"deployment": {"resources": [{"type": "aws:s3/bucket:Bucket"}]}}': "deployment.resources[0].urn: missing; this key is required",
        '{"steps": [{"newState": {"urn": 7, "type": "t"}}]}': "steps[0].newState.urn: must be a string, got 7; quote it to make it a string",
        '{"steps": [1]}': "steps[0]: must be a mapping, got 1",
    }
    for index, (text, expected) in enumerate(cases.items()):
        path = tmp_path / f"previous{index}.json"
        path.write_text(text)
        line = one_line(run_mlops("preview", "dev", "--against", str(path), timeout=120))
        assert line == f"error: {path}: {expected}"


def test_output_to_a_missing_folder_is_one_line_and_writes_nothing(tmp_path):
    target = tmp_path / "missing" / "schema.json"
    assert one_line(run_mlops("schema", "--output", str(target))) == (
        f"error: --output: cannot write {target}: No such file or directory (the folder must exist and be writable)"
    )
    assert not target.parent.exists()
    assert (
        one_line(run_mlops("schema", "-o", str(tmp_path)))
        == f"error: --output: cannot write {tmp_path}: Is a directory"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_failed_rename_leaves_no_temporary_file(tmp_path, monkeypatch, capsys):
    """A write refused by the file system (EACCES on the rename, as for a read-only target folder) removes
    the temporary file; this runs as any user, where a chmod'ed folder would not stop root."""

    def refuse(source, target):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    target = tmp_path / "report.txt"
    with pytest.raises(typer.Exit) as caught:
        write_atomically(target, "text")
    assert caught.value.exit_code == 2
    assert capsys.readouterr().err == f"error: --output: cannot write {target}: Permission denied\n"
    assert list(tmp_path.iterdir()) == []


def test_written_output_is_whole_and_an_ordinary_file(tmp_path):
    target = tmp_path / "schema.json"
    result = run_mlops("schema", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert json.loads(target.read_text())["type"] == "object"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [path.name for path in tmp_path.iterdir()] == ["schema.json"]


@pytest.fixture
def dev_outputs(synth, tmp_path) -> Path:
    return write_json(tmp_path / "outputs.json", synth("dev"))


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (
            ("--profile", "no-such-profile"),
            "error: --profile: no profile 'no-such-profile' in the AWS config files; allowed: a profile of ~/.aws/config "
            "or ~/.aws/credentials (or AWS_CONFIG_FILE), or no --profile for the AWS_* environment variables",
        ),
        (
            ("--endpoint-url", "localhost:5000"),
            "error: --endpoint-url: 'localhost:5000' is not a URL; allowed: http(s)://host[:port][/path]",
        ),
        (
            ("--endpoint-url", "http://localhost:port"),
            "error: --endpoint-url: 'http://localhost:port' is not a URL; allowed: http(s)://host[:port][/path]",
        ),
    ],
)
def test_verify_bad_profile_or_endpoint_is_one_line(dev_outputs, tmp_path, flags, expected):
    env = {
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }
    assert one_line(run_mlops("verify", "dev", "--outputs", str(dev_outputs), *flags, env=env)) == expected


def test_verify_of_an_unknown_stack_names_the_stacks_there_are(dev_outputs):
    assert one_line(run_mlops("verify", "nosuch", "--outputs", str(dev_outputs))) == (
        f"error: unknown stack 'nosuch': no {STACKS / 'Pulumi.nosuch.yaml'}; "
        "stacks: dev, prod, staging, team-fraud-dev, team-fraud-prod, team-recsys-prod"
    )
