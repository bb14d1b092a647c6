"""Tests for personalib.claims.setup: setup counts on the package's persona sets and on small
items tables written by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from personalib.analysis import persona_table
from personalib.claims import ClaimData, NotComputable
from personalib.claims import setup as s


def _data(items: dict | None = None, annotations: pd.DataFrame | None = None) -> ClaimData:
    return ClaimData(pd.DataFrame(), persona_table(["regular", "empty", "control"]), items or {},
                     ("m1", "m2"), {}, annotations)


def test_persona_counts_of_the_study_sets() -> None:
    d = _data()
    assert s.persona_count(d, persona_set="regular") == 162
    assert s.category_count(d, persona_set="regular") == 12
    assert s.category_sizes(d, persona_set="regular")["political_figure"] == 27
    assert s.persona_count(d, persona_set="control") == 30 and s.paraphrase_count(d) == 29
    assert s.personas_in_sets(d, persona_sets=["regular", "control"]) == 192
    assert s.paraphrase_top_p(d) == 0.95 and s.model_count(d) == 2
    assert s.bbq_group_personas(d) == 18
    with pytest.raises(NotComputable, match="persona set 'mine' is not in this profile"):
        s.persona_count(d, persona_set="mine")


def test_item_counts() -> None:
    items = pd.DataFrame({"item_id": [f"{i}/{v}" for i in range(3) for v in range(2)],
                          "attitude": ["x", "x", "x", "x", "y", "y"],
                          "statement_index": [0, 0, 1, 1, 2, 2], "variant": [0, 1] * 3,
                          "n_options": pd.array([pd.NA] * 6, dtype="Int64")})
    mc = pd.DataFrame({"item_id": list("abcd"), "subject": ["s", "s", "t", "t"],
                       "n_options": pd.array([4] * 4, dtype="Int64"),
                       "in_subsample": [True, False, True, True]})
    d = _data({"attitudes": items, "mmlu": mc}, pd.DataFrame({"annId": [1, 1, 2]}))
    assert s.item_count(d, dataset="attitudes") == 6
    assert s.distinct_count(d, dataset="attitudes", column="attitude") == 2
    assert s.group_sizes(d, dataset="attitudes", group="attitude", column="statement_index") == {"x": 2, "y": 1}
    assert s.variants_per_block(d, dataset="attitudes", block="statement_index", column="variant") == 2
    assert s.item_count(d, dataset="mmlu", subsample=True) == 3
    assert s.subsample_share(d, dataset="mmlu") == pytest.approx(0.75)
    assert s.max_per_group(d, dataset="mmlu", group="subject", subsample=True) == 2
    assert s.options_per_item(d, dataset="mmlu") == 4 and s.annotator_count(d) == 2
    with pytest.raises(NotComputable, match=r"no 'category' column \(try X\)"):
        s.distinct_count(d, dataset="attitudes", column="category", hint="try X")
    with pytest.raises(NotComputable, match="the bbq items are not loaded"):
        s.item_count(d, dataset="bbq")
    with pytest.raises(NotComputable, match="no study subsample ids"):
        s.item_count(d, dataset="attitudes", subsample=True)
    with pytest.raises(NotComputable, match="human annotations"):
        s.annotator_count(_data())
