"""The pack's verdicts are those saved in tests/data/reports/ (tests/reports.py): `mlops check --from` on every
saved preview and `mlops check --all`, compared byte for byte after the normalisation tests/reports.py names."""

from __future__ import annotations

import pytest

from tests import reports


@pytest.mark.parametrize("case", reports.cases())
def test_the_report_is_the_saved_one(case: str) -> None:
    assert reports.report(case) == reports.saved(case)


def test_every_saved_report_has_a_case() -> None:
    assert sorted(path.stem for path in reports.REPORTS.glob("*.json")) == sorted(reports.cases())
