"""RQ1 performance metrics, hand-checked on tiny tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalib.errors import PersonalibError
from personalib.metrics import (
    bbq_accuracy,
    mmlu_accuracy,
    mmlu_subject_accuracy,
    notes_of,
    performance_scores,
    truthfulqa_accuracy,
)
from tests.metrics.helpers import scored

TQA = [  # gold: A (2 options), C (3), B (4), E (5)
    ("p1", "truthfulqa", "0", "A"),
    ("p1", "truthfulqa", "1", "C."),
    ("p1", "truthfulqa", "2", "I think B"),  # no rule matches: faithful "A" (wrong), strict NA
    ("p1", "truthfulqa", "3", "no idea"),  # faithful "A" (wrong), strict NA
    ("p2", "truthfulqa", "0", "B"),
    ("p2", "truthfulqa", "1", "B"),
    ("p2", "truthfulqa", "2", "B"),
    ("p2", "truthfulqa", "3", "E"),
]
MMLU = [  # gold by item 0..6: A B C D A B C; subjects ml, ml, ccs, juris, plaw, anatomy, algebra
    ("p1", "mmlu", "0", "A"), ("p1", "mmlu", "1", "C"),  # machine_learning 1/2
    ("p1", "mmlu", "2", "C"),  # college_computer_science 1/1
    ("p1", "mmlu", "3", "A"),  # jurisprudence 0/1
]
# BBQ gold: Age ambig -> C, Age disambig -> B; Religion ambig -> B, Religion disambig -> A
BBQ = [
    ("p1", "bbq", "Age/0", "C"), ("p1", "bbq", "Age/1", "C"), ("p1", "bbq", "Age/2", "A"),
    ("p1", "bbq", "Age/3", "C"),  # Age ambig 3/4
    ("p1", "bbq", "Age/10", "B"), ("p1", "bbq", "Age/11", "A"),  # Age disambig 1/2
    ("p1", "bbq", "Religion/0", "B"), ("p1", "bbq", "Religion/1", "C"),  # Religion ambig 1/2
    ("p1", "bbq", "Religion/10", "A"),  # Religion disambig 1/1
]


def test_truthfulqa_accuracy_faithful_and_strict(items) -> None:
    faithful = truthfulqa_accuracy(scored(TQA, items))
    assert faithful[("m", "regular", "p1")] == pytest.approx(0.5)
    assert faithful[("m", "regular", "p2")] == pytest.approx(0.5)
    strict = truthfulqa_accuracy(scored(TQA, items, mode="strict"))
    assert strict[("m", "regular", "p1")] == pytest.approx(1.0)  # 2 of the 2 parsed answers


def test_mmlu_is_mean_of_subject_accuracies(items) -> None:
    s = scored(MMLU, items)
    subjects = mmlu_subject_accuracy(s).loc[("m", "regular", "p1")]
    assert subjects["machine_learning"] == 0.5 and subjects["jurisprudence"] == 0.0
    # (0.5 + 1 + 0) / 3 subjects, not the pooled 2/4
    assert mmlu_accuracy(s)[("m", "regular", "p1")] == pytest.approx(0.5)


def test_bbq_accuracy_means_over_categories_then_conditions(items) -> None:
    table = bbq_accuracy(scored(BBQ, items))
    row = table.loc[("m", "regular", "p1")]
    assert row["acc_ambig"] == pytest.approx((3 / 4 + 1 / 2) / 2)
    assert row["acc_disambig"] == pytest.approx((1 / 2 + 1) / 2)
    assert row["bbq"] == pytest.approx((0.625 + 0.75) / 2)
    assert any("averages over the 2 categories present" in n for n in notes_of(table))


def test_overall_is_mean_of_three(items) -> None:
    table = performance_scores(scored(TQA[:4] + MMLU + BBQ, items))
    row = table.loc[("m", "regular", "p1")]
    assert row["truthfulqa"] == pytest.approx(0.5) and row["mmlu"] == pytest.approx(0.5)
    assert row["overall"] == pytest.approx((0.5 + 0.5 + 0.6875) / 3)


def test_missing_dataset_gives_nan_overall_with_reason(items) -> None:
    table = performance_scores(scored(TQA, items))
    assert table["overall"].isna().all() and table["mmlu"].isna().all()
    assert any("no mmlu generations" in n for n in notes_of(table))
    assert table["truthfulqa"].notna().all()


def test_all_unparsed_in_strict_mode_is_nan_with_reason(items) -> None:
    rows = [("p3", "truthfulqa", "2", "I think B"), ("p3", "truthfulqa", "3", "hmm")]
    acc = truthfulqa_accuracy(scored(rows, items, mode="strict"))
    assert np.isnan(acc[("m", "regular", "p3")])
    assert any("m/regular/p3" in n and "no parsed answer" in n for n in notes_of(acc))


def test_one_persona_one_condition(items) -> None:
    table = bbq_accuracy(scored(BBQ[:4], items))  # only ambiguous Age items
    assert table["acc_disambig"].isna().all() and table["bbq"].isna().all()
    assert table["acc_ambig"].iloc[0] == pytest.approx(0.75)
    assert any("disambig accuracy" in n for n in notes_of(table))


def test_dataset_absent_for_a_single_metric(items) -> None:
    with pytest.raises(PersonalibError, match="needs mmlu generations"):
        mmlu_accuracy(scored(TQA, items))
    assert isinstance(truthfulqa_accuracy(scored(TQA, items)), pd.Series)
