"""Tests for personalib.claims.report: the scorecard rows, their text and the summary."""

from __future__ import annotations

import json

import pytest

from personalib.claims import NOT_COMPUTABLE, REPRODUCED, evaluate
from personalib.claims import report
from personalib.claims.schema import Check
from tests.claims.helpers import data
from tests.claims.test_compare import check, claim


@pytest.mark.parametrize(("value", "digits", "unit", "text"), [
    (38.555691, 4, "p.p.", "38.5557 p.p."), (22.82, 2, "%", "22.82%"), (4.94545, None, None, "4.945"),
    (162, None, None, "162"), (True, None, None, "true"), (["a", "b"], None, None, "a, b"),
    ({"race": 7}, None, None, "race: 7"), (None, 2, "%", None), (float("nan"), 2, None, None),
])
def test_format_value(value, digits, unit, text) -> None:
    assert report.format_value(value, digits, unit) == text


def test_scorecard_rows_and_summary() -> None:
    ok = check(paper=3)
    gap = check(part="gap", kind="value", paper=30.0, unit="p.p.", tolerance={"decimals": 2},
                compute={"function": "personalib.claims.compute.gap", "args": {"model": "gpt-3.5", "metric": "truthfulqa"}})
    claims = [claim(ok), claim(gap, id="C98", needs={"models": ["gpt-3.5"]})]
    verdicts = evaluate(claims, data())
    card = report.scorecard(claims, verdicts).set_index("claim")
    assert card.loc["C99", "status"] == REPRODUCED and card.loc["C99", "recomputed"] == "3"
    row = card.loc["C98"]
    assert row["status"] == NOT_COMPUTABLE and row["paper"] == "30.00 p.p."
    assert row["explanation"] == "model gpt-3.5 not in this profile"
    assert row["own_models"] == "m1: 30.0000 p.p.; m2: 30.0000 p.p.; m3: 30.0000 p.p."
    counts = report.status_counts(verdicts).set_index("status")
    assert counts.loc[REPRODUCED, "checks"] == 1 and counts.loc[NOT_COMPUTABLE, "of which: a model not in this profile"] == 1
    assert report.headline_text(verdicts) == ("Claims of the paper: 1 of 2 checks reproduced, 0 differ, 0 differ "
                                              "because of a listed deviation, 1 not computable here (1: a model "
                                              "not in this profile)")
    raw = report.record_table(verdicts)
    assert json.loads(raw.loc[1, "own"])[0][0] == "m1" and json.loads(raw.loc[0, "value"]) == 3
    assert isinstance(Check.model_validate(gap.model_dump()), Check)
