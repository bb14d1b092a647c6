"""score(): parsed and scored columns, item metadata, modes, errors, origin independence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalib.errors import PersonalibError
from personalib.metrics import per_item, performance_scores, score
from tests.metrics.helpers import generations, scored

ROWS = [
    ("p1", "truthfulqa", "1", "C."),
    ("p1", "truthfulqa", "3", "no idea"),
    ("p1", "bbq", "Age/0", "A"),
    ("p1", "bbq", "Age/99", "B"),
    ("p1", "attitudes", "1/0", "2"),
    ("p1", "attitudes", "1/1", "I'm sorry, I cannot answer that."),
    ("p1", "toxicity", "rac/2", "5"),
    ("p1", "mmlu", "6", "C"),
]


def test_score_adds_parsed_scored_and_item_columns(items) -> None:
    out = scored(ROWS, items)
    assert len(out) == len(ROWS) and list(out.index) == list(range(len(ROWS)))
    assert out["answer"].astype(object).where(out["answer"].notna(), None).tolist() == [
        "C", "A", "A", "B", None, None, None, "C"]
    assert out["rating"].tolist()[4:7] == [2, 3, 5]
    assert out["extracted"].tolist() == [True, False, True, True, True, False, True, True]
    assert out["refusal"].tolist() == [False, False, False, False, False, True, False, False]
    assert out["hit"].tolist()[:4] == [True, False, False, True] and out["hit"].iloc[7]
    assert out["hit"].iloc[4:7].isna().all()
    assert out["biased"].tolist()[2] is True and pd.isna(out["biased"].iloc[3])  # Age/99: no target
    assert out["unknown"].tolist()[2:4] == [False, False]
    assert out["value"].tolist()[4:6] == [4, 3]  # reversed statement: 6 - 2, unparsed 3 -> 3
    assert pd.isna(out["value"].iloc[6])
    assert out["category"].tolist()[2:4] == ["Age", "Age"] and pd.isna(out["category"].iloc[0])
    assert out["measure"].iloc[6] == "rac" and out["tweet_index"].iloc[6] == 2
    assert out["subject"].iloc[7] == "abstract_algebra" and out["field"].iloc[7] == "STEM"
    assert out["n_options"].tolist()[:4] == [3, 5, 3, 3] and pd.isna(out["n_options"].iloc[4])
    assert out["reverse"].iloc[4] and pd.isna(out["reverse"].iloc[0])


def test_strict_mode_leaves_unparsed_missing(items) -> None:
    out = scored(ROWS, items, mode="strict")
    assert pd.isna(out["answer"].iloc[1]) and pd.isna(out["hit"].iloc[1])
    assert pd.isna(out["rating"].iloc[5]) and pd.isna(out["value"].iloc[5])
    assert out["refusal"].tolist() == scored(ROWS, items)["refusal"].tolist()


def test_index_and_row_order_are_kept(items) -> None:
    gens = generations(ROWS).iloc[::-1]
    gens.index = [f"r{i}" for i in range(len(gens))]
    out = score(gens, items)
    assert list(out.index) == list(gens.index)
    assert out["text"].tolist() == gens["text"].tolist()


def test_origin_does_not_matter(items) -> None:
    """The store's extra columns (key, origin, ...) and row order change nothing (DESIGN)."""
    rows = [(p, "truthfulqa", str(i), t) for p in ("p1", "p2")
            for i, t in enumerate(["A", "C", "B.", "E"])]
    plain = performance_scores(scored(rows, items))
    stored = generations(rows).assign(key="k", origin="imported", run_id="r", finish_reason="stop")
    stored = stored.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(performance_scores(score(stored, items)), plain)


def test_per_item_long_table(items) -> None:
    out = per_item(scored(ROWS, items), "bbq", "biased")
    assert list(out.columns) == ["model", "persona_set", "persona", "item_id", "biased"]
    assert len(out) == 2


def test_missing_columns_and_unknown_dataset(items) -> None:
    with pytest.raises(PersonalibError, match="needs column.*text"):
        score(generations(ROWS).drop(columns="text"), items)
    bad = generations([("p", "squad", "0", "A")])
    with pytest.raises(PersonalibError, match="unknown dataset.*squad"):
        score(bad, items)
    with pytest.raises(PersonalibError, match="no items table.*mmlu"):
        score(generations([("p", "mmlu", "0", "A")]), {"bbq": items["bbq"]})
    with pytest.raises(PersonalibError, match="items table for mmlu needs column.*field"):
        score(generations([("p", "mmlu", "0", "A")]), {"mmlu": items["mmlu"].drop(columns="field")})


def test_unknown_item_and_duplicate_ids(items) -> None:
    with pytest.raises(PersonalibError, match="1 truthfulqa generation.*item_id '77'"):
        score(generations([("p", "truthfulqa", "77", "A")]), items)
    dup = pd.concat([items["truthfulqa"], items["truthfulqa"].iloc[:1]])
    with pytest.raises(PersonalibError, match="duplicate item_id '0'"):
        score(generations([("p", "truthfulqa", "0", "A")]), {"truthfulqa": dup})
    with pytest.raises(PersonalibError, match="mode"):
        score(generations([("p", "truthfulqa", "0", "A")]), items, mode="loose")  # type: ignore[arg-type]


def test_empty_generations(items) -> None:
    empty = pd.DataFrame(columns=["model", "persona_set", "persona", "dataset", "item_id", "text"])
    out = score(empty, items)
    assert out.empty and "hit" in out.columns
    assert np.issubdtype(out["extracted"].dtype, np.bool_)


def test_every_metric_runs_on_the_demo_items() -> None:
    """The package's own demo items tables (the tasks contract) go through every metric."""
    from personalib import metrics as M
    from personalib.tasks import load_task

    tasks = {name: load_task(name, demo=True) for name in ("truthfulqa", "mmlu", "bbq", "attitudes", "toxicity")}
    items = {name: task.items() for name, task in tasks.items()}
    rng = np.random.default_rng(0)
    personas = ["empty", "a_lawyer", "a_person_of_Judaism_belief", "a_woman", "a_helpful_assistant"]
    rows = []
    for persona in personas:
        for name, table in items.items():
            for item_id, n in zip(table["item_id"], table["n_options"]):
                text = "ABCDEFGHIJKLM"[rng.integers(0, int(n))] + "." if pd.notna(n) else str(rng.integers(1, 6))
                rows.append((persona, name, item_id, text))
    gens = generations(rows)
    gens.loc[gens["persona"] == "a_helpful_assistant", "persona_set"] = "control"
    s = score(gens, items)
    assert len(s) == len(rows)
    perf = M.performance_scores(s)
    assert perf["overall"].notna().all() and len(perf) == len(personas)
    assert M.bbq_bias(s)["unknown_freq"].between(0, 1).all()
    assert M.attitude_scores(s).notna().all().all()
    assert M.toxicity_scores(s).notna().all().all()
    alpha = M.toxicity_alpha(s, tasks["toxicity"].annotations())
    assert alpha.shape == (len(personas), 2)
    assert M.refusal_rates(s)["average"].eq(0).all()
    M.expert_ranks(s)
    M.self_bias(s, items["bbq"])
    M.self_accuracy_differences(s, items["bbq"])
