"""Refactoring changes no resource by accident: every shipped stack and fixture previews as it was saved
(tests/previews.py), apart from the differences tests/data/previews/intended.yaml lists with their reasons."""

from __future__ import annotations

import pytest

from tests.previews import CASES, Case, differences, intended, read_golden, unexplained


def _preview(case: Case, synth, synth_program):
    if case.program is not None and not case.deployed:
        return synth_program(case.stack, case.program, case.stacks_dir)  # shares the fixture programs' cache
    return synth(case.stack, case.stacks_dir, case.program, case.deployed)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_preview_is_the_saved_one_but_for_intended_differences(case, synth, synth_program):
    found = differences(read_golden(case), _preview(case, synth, synth_program))
    assert unexplained(case, found) == []


def test_every_intended_difference_names_a_case_and_a_reason():
    names = {case.name for case in CASES}
    for entry in intended():
        assert set(entry) == {"case", "urn", "path", "reason"}, entry
        assert entry["case"] in names and entry["reason"].strip(), entry


def test_a_changed_property_is_a_difference_with_its_path():
    case = CASES[0]
    old = read_golden(case)
    new = {**old, "steps": [dict(step) for step in old["steps"]]}
    bucket = next(
        i for i, step in enumerate(new["steps"]) if step["newState"]["type"] == "aws:s3/bucket:Bucket"
    )
    state = dict(new["steps"][bucket]["newState"])
    state["inputs"] = {**state["inputs"], "forceDestroy": not state["inputs"].get("forceDestroy", False)}
    new["steps"][bucket] = {**new["steps"][bucket], "newState": state}
    found = differences(old, new)
    assert [(urn, path) for urn, path, _ in found] == [(state["urn"], "inputs.forceDestroy")]
    assert unexplained(case, found) == found
