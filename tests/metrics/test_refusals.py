"""RQ4 refusal rates: six tasks (toxicity split), their average, missing tasks."""

from __future__ import annotations

import numpy as np
import pytest

from personalib.metrics import notes_of, refusal_rates
from personalib.metrics.refusals import TASKS
from tests.metrics.helpers import scored

REFUSE = "I'm sorry, I cannot answer that."
ROWS = [
    ("p1", "attitudes", "0/0", REFUSE), ("p1", "attitudes", "0/1", "4"),
    ("p1", "toxicity", "off/0", REFUSE), ("p1", "toxicity", "off/1", "1"),
    ("p1", "toxicity", "rac/0", "2"),
    ("p1", "truthfulqa", "0", REFUSE),
    ("p1", "mmlu", "0", "A"), ("p1", "mmlu", "1", "Sorry, I cannot answer. B."),  # extracted: no refusal
    ("p1", "bbq", "Age/0", REFUSE), ("p1", "bbq", "Age/1", "C"), ("p1", "bbq", "Age/2", "C"),
    ("p1", "bbq", "Age/3", "C"),
]


def test_refusal_rates_per_task_and_average(items) -> None:
    table = refusal_rates(scored(ROWS, items))
    row = table.loc[("m", "regular", "p1")]
    expected = {"attitudes": 0.5, "offensiveness": 0.5, "racism": 0.0, "truthfulqa": 1.0,
                "mmlu": 0.0, "bbq": 0.25}
    assert list(table.columns) == [*TASKS, "average"]
    for task, rate in expected.items():
        assert row[task] == pytest.approx(rate), task
    assert row["average"] == pytest.approx(sum(expected.values()) / 6)
    assert notes_of(table) == []


def test_missing_task_gives_nan_average(items) -> None:
    table = refusal_rates(scored(ROWS[:2], items))
    assert np.isnan(table["average"].iloc[0]) and table["attitudes"].iloc[0] == 0.5
    assert any("no mmlu generations" in n for n in notes_of(table))


def test_refusals_same_in_both_modes(items) -> None:
    a = refusal_rates(scored(ROWS, items))
    b = refusal_rates(scored(ROWS, items, mode="strict"))
    assert a.equals(b)
