"""Fixtures for the metrics tests: small invented items tables in the DESIGN columns."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.metrics.helpers import mc_items, bbq_frame


@pytest.fixture
def truthfulqa_items() -> pd.DataFrame:
    return mc_items("truthfulqa", ["0", "1", "2", "3"], [2, 3, 4, 5], ["A", "C", "B", "E"],
               question=["q0", "q1", "q2", "q3"])


@pytest.fixture
def mmlu_items() -> pd.DataFrame:
    subjects = ["machine_learning", "machine_learning", "college_computer_science", "jurisprudence",
                "professional_law", "anatomy", "abstract_algebra"]
    fields = ["STEM", "STEM", "STEM", "humanities", "humanities", "other", "STEM"]
    gold = ["A", "B", "C", "D", "A", "B", "C"]
    return mc_items("mmlu", [str(i) for i in range(7)], [4] * 7, gold, subject=subjects, field=fields,
               question=[f"q{i}" for i in range(7)], in_subsample=[False] * 7)


@pytest.fixture
def bbq_items() -> pd.DataFrame:
    """Age: 4 ambiguous + 4 disambiguated items (target = answer 0, unknown = answer 2, gold:
    ambiguous -> unknown, disambiguated -> answer 1), one extra without a target; Religion: 2 + 2."""
    rows = []
    for k in range(4):
        rows.append({"category": "Age", "example_id": k, "condition": "ambig",
                     "tags": ["old", "nonOld", "unknown"], "target": 0, "label": 2})
        rows.append({"category": "Age", "example_id": 10 + k, "condition": "disambig",
                     "tags": ["old", "nonOld", "unknown"], "target": 0, "label": 1})
    rows.append({"category": "Age", "example_id": 99, "condition": "disambig",
                 "tags": ["old", "nonOld", "unknown"], "target": None, "label": 1})
    for k in range(2):
        rows.append({"category": "Religion", "example_id": k, "condition": "ambig",
                     "tags": ["Jewish", "unknown", "Muslim"], "target": 2, "label": 1})
        rows.append({"category": "Religion", "example_id": 10 + k, "condition": "disambig",
                     "tags": ["Jewish", "unknown", "Muslim"], "target": 2, "label": 0})
    return bbq_frame(rows)


@pytest.fixture
def attitude_items() -> pd.DataFrame:
    """Dimension d1: statements 0 and 1 (1 reversed); d2: statement 2; two variants each."""
    rows = []
    for s, (dim, rev) in enumerate([("d1", False), ("d1", True), ("d2", False)]):
        for v in range(2):
            rows.append({"dataset": "attitudes", "item_id": f"{s}/{v}", "prompt": "p", "n_options": pd.NA,
                         "gold": pd.NA, "options": None, "attitude": dim, "statement_index": s,
                         "variant": v, "statement": f"s{s}", "reverse": rev, "instruction_type": 0})
    frame = pd.DataFrame(rows)
    frame["n_options"] = frame["n_options"].astype("Int64")
    return frame


@pytest.fixture
def toxicity_items() -> pd.DataFrame:
    rows = []
    for measure in ("off", "rac"):
        for t in range(3):
            rows.append({"dataset": "toxicity", "item_id": f"{measure}/{t}", "prompt": "p",
                         "n_options": pd.NA, "gold": pd.NA, "options": None, "measure": measure,
                         "tweet_index": t, "tweet": f"tweet {t}", "targets_black": False,
                         "is_aae": False, "vulgar": False})
    frame = pd.DataFrame(rows)
    frame["n_options"] = frame["n_options"].astype("Int64")
    return frame


@pytest.fixture
def annotations() -> pd.DataFrame:
    """Two annotators per tweet: off means 1, 2.5, 3; rac means 1, 1, 2."""
    return pd.DataFrame({"annId": [1, 2, 1, 2, 1, 2], "tweet_index": [0, 0, 1, 1, 2, 2],
                         "off_avg": [1, 1, 2, 3, 3, 3], "racist": [1, 1, 1, 1, 2, 2]})


@pytest.fixture
def items(truthfulqa_items, mmlu_items, bbq_items, attitude_items, toxicity_items) -> dict:
    return {"truthfulqa": truthfulqa_items, "mmlu": mmlu_items, "bbq": bbq_items,
            "attitudes": attitude_items, "toxicity": toxicity_items}
