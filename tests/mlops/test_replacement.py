"""`mlops preview --against`: config changes that would replace or delete stateful resources are refused."""

from __future__ import annotations

import copy
import json

from mlops.replacement import STATEFUL, Resource, current, read_previous, refused_changes
from tests.conftest import by_name, run_mlops

KEY = "urn:pulumi:dev::mlops-platform::mlops:encryption:KeyRing$aws:kms/key:Key::keys-us-east-1-logs"
DB = "urn:pulumi:dev::mlops-platform::mlops:registry:ModelRegistry$aws:rds/instance:Instance::registry-db"


def resource(urn, type_, inputs, deps=None):
    return Resource(urn, type_, inputs, deps or {})


def test_a_kms_key_turning_multi_region_is_refused_with_the_property_and_what_is_lost():
    """multi_region is ForceNew in the provider (terraform-provider-aws internal/service/kms/key.go)."""
    old = {KEY: resource(KEY, "aws:kms/key:Key", {"multiRegion": False})}
    new = {KEY: resource(KEY, "aws:kms/key:Key", {"multiRegion": True})}
    assert refused_changes(old, new) == [
        "refused: aws:kms/key:Key keys-us-east-1-logs: multiRegion false -> true would replace it "
        f"({STATEFUL['aws:kms/key:Key'].loses})"
    ]
    assert refused_changes(old, new, allowed=["keys-us-east-1-logs"]) == []


def test_changes_that_update_in_place_are_not_refused():
    old = {DB: resource(DB, "aws:rds/instance:Instance", {"engineVersion": "16.4", "instanceClass": "db.t4g.medium"})}
    new = {DB: resource(DB, "aws:rds/instance:Instance", {"engineVersion": "16", "instanceClass": "db.r6g.large"})}
    assert refused_changes(old, new) == []


def test_a_removed_stateful_resource_is_refused():
    old = {DB: resource(DB, "aws:rds/instance:Instance", {"identifier": "mlops-dev-mlflow"})}
    [line] = refused_changes(old, {})
    assert line.startswith("refused: aws:rds/instance:Instance registry-db would be deleted: it is no longer in the program")


def test_a_computed_property_left_out_keeps_its_value():
    """object_lock_enabled on a bucket is Optional+Computed: leaving it out keeps the deployed bucket."""
    urn = "urn:pulumi:prod::mlops-platform::mlops:registry:ModelRegistry$aws:s3/bucket:Bucket::registry-artifacts-us-east-1"
    old = {urn: resource(urn, "aws:s3/bucket:Bucket", {"bucket": "b", "objectLockEnabled": True})}
    new = {urn: resource(urn, "aws:s3/bucket:Bucket", {"bucket": "b"})}
    assert refused_changes(old, new) == []
    renamed = {urn: resource(urn, "aws:s3/bucket:Bucket", {"bucket": "c"})}
    assert refused_changes(old, renamed)[0].startswith('refused: aws:s3/bucket:Bucket registry-artifacts-us-east-1: bucket "b" -> "c"')


def test_values_from_other_resources_are_not_compared():
    """An offline preview has stand-ins for other resources' outputs (a key ARN): only config-made values count."""
    old = {DB: resource(DB, "aws:rds/instance:Instance", {"kmsKeyId": "arn:aws:kms:us-east-1:1:key/real"})}
    new = {DB: resource(DB, "aws:rds/instance:Instance", {"kmsKeyId": "arn:aws:kms:us-east-1:1:key/mock"},
                        {"kmsKeyId": ["urn:...:keys-us-east-1-database"]})}
    assert refused_changes(old, new) == []


def test_reads_a_stack_export(tmp_path):
    export = {"version": 3, "deployment": {"resources": [
        {"urn": KEY, "type": "aws:kms/key:Key", "custom": True, "inputs": {"multiRegion": False}, "outputs": {}},
    ]}}
    path = tmp_path / "state.json"
    path.write_text(json.dumps(export))
    assert read_previous(path)[KEY].inputs == {"multiRegion": False}


def test_preview_against_a_single_region_state_refuses_the_key_replacements(synth, tmp_path):
    """End to end: dev's keys as a single-region deployment made them; the new program would replace each."""
    dev = synth("dev")
    previous = copy.deepcopy(dev)
    for step in previous["steps"]:
        if step["newState"]["type"] == "aws:kms/key:Key":
            step["newState"]["inputs"]["multiRegion"] = False
    path = tmp_path / "previous.json"
    path.write_text(json.dumps(previous))
    result = run_mlops("preview", "dev", "--against", str(path))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 6
    assert lines[0] == (
        "error: dev: refused: aws:kms/key:Key keys-us-east-1-artifacts: multiRegion false -> true would replace it "
        f"({STATEFUL['aws:kms/key:Key'].loses})"
    )
    assert result.stdout == ""
    allowed = [arg for line in lines for arg in ("--allow-replacement", line.split()[4].rstrip(":"))]
    assert run_mlops("preview", "dev", "--against", str(path), *allowed).returncode == 0


def test_preview_against_itself_passes_and_an_unreadable_file_is_one_line(synth, tmp_path):
    path = tmp_path / "same.json"
    path.write_text(json.dumps(synth("dev")))
    assert refused_changes(read_previous(path), current(synth("dev"))) == []
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    result = run_mlops("preview", "dev", "--against", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {bad}: (document): neither `mlops preview --json` output (steps) nor `pulumi stack export` "
        "(deployment.resources)"
    ]
    assert by_name(synth("dev"), "registry-db")["type"] == "aws:rds/instance:Instance"
