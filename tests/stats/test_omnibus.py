"""Tests for personalib.stats.omnibus: Cochran's Q and Friedman, cross-checked against pingouin /
scipy and the textbook formulas, plus every degenerate case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from scipy.stats import chi2, friedmanchisquare, rankdata

from personalib.errors import PersonalibError
from personalib.stats import (
    cochrans_q,
    cochrans_q_table,
    friedman,
    friedman_attitudes,
    friedman_toxicity,
)


def textbook_cochran(x: np.ndarray) -> float:
    """Q = (k-1)(k sum C_j^2 - N^2) / (k N - sum L_i^2) (Cochran 1950)."""
    k = x.shape[1]
    col, row, total = x.sum(axis=0), x.sum(axis=1), x.sum()
    return (k - 1) * (k * (col**2).sum() - total**2) / (k * total - (row**2).sum())


def textbook_friedman(x: np.ndarray) -> float:
    """Friedman chi-square with the tie correction, from within-block average ranks."""
    n, k = x.shape
    ranks = np.vstack([rankdata(r) for r in x])
    stat = 12 / (n * k * (k + 1)) * (ranks.sum(axis=0) ** 2).sum() - 3 * n * (k + 1)
    ties = sum((c**3 - c).sum() for c in (np.unique(r, return_counts=True)[1] for r in x))
    return stat / (1 - ties / (n * k * (k**2 - 1)))


def to_long(x: np.ndarray, row: str = "item_id", col: str = "persona") -> pd.DataFrame:
    n, k = x.shape
    return pd.DataFrame({row: np.repeat([f"i{i}" for i in range(n)], k),
                         col: np.tile([f"p{j}" for j in range(k)], n), "value": x.reshape(-1)})


# ---- Cochran's Q ---------------------------------------------------------------------------

def test_cochran_hand_checked_table(no_warnings) -> None:
    # Column totals 4, 2, 2 (N = 8); row totals 2, 1, 3, 1, 1: Q = 2 * (3*24 - 64) / (24 - 16) = 2.
    x = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 0, 1], [1, 0, 0]])
    res = cochrans_q(x)
    assert res.ok and res.statistic == pytest.approx(2.0)
    assert res.dof == 2 and res.p_value == pytest.approx(np.exp(-1))  # chi2(2).sf(2) = e^-1
    assert (res.n, res.k) == (5, 3)


def test_cochran_matches_pingouin_and_formula(no_warnings) -> None:
    rng = np.random.default_rng(7)
    x = (rng.random((60, 8)) < np.linspace(0.2, 0.8, 8)).astype(int)
    res = cochrans_q(to_long(x))
    ref = pg.cochran(to_long(x), dv="value", within="persona", subject="item_id")
    assert res.statistic == pytest.approx(float(ref["Q"].iloc[0]))
    assert res.p_value == pytest.approx(float(ref["p_unc"].iloc[0]))
    assert res.statistic == pytest.approx(textbook_cochran(x))
    assert res.p_value == pytest.approx(chi2.sf(textbook_cochran(x), 7))


def test_cochran_long_wide_and_bool_agree(no_warnings) -> None:
    x = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [1, 0, 0]])
    wide = pd.DataFrame(x.astype(bool), columns=["a", "b", "c"])
    assert cochrans_q(wide).statistic == pytest.approx(cochrans_q(to_long(x)).statistic)


def test_cochran_all_identical_answers(no_warnings) -> None:
    res = cochrans_q(np.ones((10, 3)))
    assert np.isnan(res.statistic) and np.isnan(res.p_value)
    assert res.reason == "all personas gave the same answers: Cochran's Q is undefined"
    # Rows may differ from each other: what matters is that no item separates the personas.
    assert not cochrans_q(np.array([[1, 1, 1], [0, 0, 0]])).ok


def test_cochran_one_persona(no_warnings) -> None:
    res = cochrans_q(to_long(np.array([[1], [0]])))
    assert not res.ok and "needs at least two" in res.reason and res.k == 1


def test_cochran_incomplete_items_dropped_or_none_left(no_warnings) -> None:
    x = np.array([[1, 0, 0], [1, 1, 0], [0, 1, np.nan], [1, 0, 0]])
    res = cochrans_q(x)
    assert res.ok and res.n == 3 and "dropped 1 of 4 items" in res.note
    assert res.statistic == pytest.approx(textbook_cochran(x[[0, 1, 3]]))
    none_left = cochrans_q(np.array([[1, np.nan], [np.nan, 0]]))
    assert not none_left.ok and "no item has an answer from every persona" in none_left.reason


def test_cochran_rejects_non_binary_values() -> None:
    with pytest.raises(PersonalibError, match=r"binary values .* found \[2.0\]"):
        cochrans_q(np.array([[1, 2], [0, 1]]))


def test_cochran_table_per_model_dataset_and_measure(no_warnings) -> None:
    rng = np.random.default_rng(3)
    varied = to_long((rng.random((30, 4)) < 0.5).astype(int))
    flat = to_long(np.zeros((30, 4), dtype=int))
    data = pd.concat([varied.assign(model="m1"), flat.assign(model="demo")]).assign(dataset="mmlu")
    data = data.rename(columns={"value": "hit"}).assign(refused=0)
    table = cochrans_q_table(data, values=["hit", "refused"])
    assert list(table.columns[:3]) == ["model", "dataset", "measure"]
    assert len(table) == 4
    m1_hit = table[(table.model == "m1") & (table.measure == "hit")].iloc[0]
    assert m1_hit.statistic == pytest.approx(cochrans_q(varied).statistic) and m1_hit.reason is None
    assert table[table.model == "demo"].reason.str.contains("same answers").all()
    assert table[table.measure == "refused"].statistic.isna().all()


def test_cochran_table_missing_group_column() -> None:
    with pytest.raises(PersonalibError, match=r"needs column\(s\) \['model', 'dataset'\]"):
        cochrans_q_table(to_long(np.eye(3)))


# ---- Friedman ------------------------------------------------------------------------------

def test_friedman_matches_scipy_and_formula_with_ties(no_warnings) -> None:
    rng = np.random.default_rng(11)
    x = rng.integers(1, 6, size=(12, 6)).astype(float)  # ratings 1-5: many ties
    res = friedman(x)
    ref = friedmanchisquare(*x.T)
    assert res.statistic == pytest.approx(ref.statistic) and res.p_value == pytest.approx(ref.pvalue)
    assert res.statistic == pytest.approx(textbook_friedman(x))
    assert (res.dof, res.n, res.k) == (5.0, 12, 6)


def test_friedman_two_personas(no_warnings) -> None:
    x = np.array([[1, 2], [2, 3], [3, 1], [1, 3.0]])
    res = friedman(x)  # scipy refuses k = 2; the statistic is still defined
    assert res.ok and res.statistic == pytest.approx(textbook_friedman(x)) and res.dof == 1


def test_friedman_degenerate_cases(no_warnings) -> None:
    tied = friedman(np.full((4, 3), 3.0))
    assert not tied.ok and "same score within every block" in tied.reason
    one_block = friedman(np.array([[1.0, 2.0, 3.0]]))
    assert not one_block.ok and "needs at least two" in one_block.reason
    one_persona = friedman(np.array([[1.0], [2.0]]))
    assert not one_persona.ok and "only 1 persona" in one_persona.reason
    incomplete = friedman(np.array([[1, 2, 3], [3, 2, 1], [2, np.nan, 1.0], [1, 3, 2]]))
    assert incomplete.ok and incomplete.n == 3 and "dropped 1 of 4 blocks" in incomplete.note


def attitude_ratings(model: str, rng: np.random.Generator, constant: bool = False) -> pd.DataFrame:
    """Invented questionnaire ratings: 2 attitudes (3 and 2 statements) x 3 variants."""
    personas = [("regular", "a_nurse"), ("regular", "a_lawyer"), ("regular", "a_chef"),
                ("empty", "empty"), ("control", "a_helpful_assistant"),
                ("control", "a_useful_helper"), ("control", "a_supportive_aide")]
    rows = []
    for attitude, statements in (("empathy", [0, 1, 2]), ("altruism", [3, 4])):
        for s in statements:
            for v in range(3):
                for pset, stem in personas:
                    rating = 3.0 if constant else float(rng.integers(1, 6))
                    rows.append((model, pset, stem, attitude, s, v, rating))
    return pd.DataFrame(rows, columns=["model", "persona_set", "persona", "attitude",
                                       "statement_index", "variant", "rating"])


def test_friedman_attitudes_families_and_means(no_warnings) -> None:
    rng = np.random.default_rng(5)
    ratings = pd.concat([attitude_ratings("m1", rng), attitude_ratings("demo", rng, True)])
    ratings.loc[ratings.index[0], "rating"] = np.nan  # strict parsing: one unparsed variant
    table = friedman_attitudes(ratings)
    assert list(table.columns[:3]) == ["model", "family", "attitude"]
    assert len(table) == 2 * 2 * 2
    m1 = table[table.model == "m1"].set_index(["family", "attitude"])
    assert m1.loc[("regular", "empathy"), "k"] == 4 and m1.loc[("control", "empathy"), "k"] == 3
    # Hand computation: per-statement mean over variants, statements x personas, scipy.
    sub = ratings[(ratings.model == "m1") & (ratings.attitude == "empathy")
                  & ratings.persona_set.isin(["regular", "empty"])]
    x = sub.groupby(["statement_index", "persona"])["rating"].mean().unstack().to_numpy()
    assert m1.loc[("regular", "empathy"), "statistic"] == pytest.approx(friedmanchisquare(*x.T).statistic)
    demo = table[table.model == "demo"]
    assert demo.statistic.isna().all() and demo.reason.str.contains("same score").all()


def test_friedman_attitudes_own_family_for_other_sets(no_warnings) -> None:
    ratings = attitude_ratings("m1", np.random.default_rng(2))
    ratings.loc[ratings.persona == "a_chef", "persona_set"] = "my-set"
    families = friedman_attitudes(ratings)["family"].unique().tolist()
    assert families == ["regular", "control", "my-set"]


def test_friedman_toxicity_blocks_are_tweets(no_warnings) -> None:
    rng = np.random.default_rng(9)
    x = rng.integers(1, 6, size=(20, 5)).astype(float)
    long = to_long(x, row="tweet_index").rename(columns={"value": "rating"})
    data = pd.concat([long.assign(measure="off"), long.assign(measure="rac", rating=3.0)])
    table = friedman_toxicity(data.assign(model="m1"))
    off = table[table.measure == "off"].iloc[0]
    assert off.statistic == pytest.approx(friedmanchisquare(*x.T).statistic) and off.n == 20
    assert np.isnan(table[table.measure == "rac"].statistic.iloc[0])


# ---- Effect sizes --------------------------------------------------------------------------

def test_cochran_effect_size_hand_checked(no_warnings) -> None:
    """The hand-checked table above (Q = 2, n = 5 items, k = 3): eta-squared Q = 2 / (5 * 2) = .2.
    The largest possible Q, one persona right on every item and the others never, gives 1."""
    x = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 0, 1], [1, 0, 0]])
    assert cochrans_q(x).effect_size == pytest.approx(0.2)
    assert cochrans_q(np.tile([1, 0, 0, 0], (6, 1))).effect_size == pytest.approx(1.0)
    assert np.isnan(cochrans_q(np.ones((4, 3))).effect_size)


def test_friedman_kendalls_w_hand_checked_and_pingouin(no_warnings) -> None:
    """Every block ranks the three personas alike: chi2 = n (k - 1) = 8, W = 1. Ranks (1,2,3),
    (1,3,2), (2,1,3), (1,2,3): rank sums 5, 8, 11, S = sum (R - 8)^2 = 18,
    W = 12 S / (n^2 (k^3 - k)) = 216 / 384 = .5625."""
    concordant = friedman(np.array([[1, 2, 3.0]] * 4))
    assert concordant.statistic == pytest.approx(8) and concordant.effect_size == pytest.approx(1.0)
    x = np.array([[1, 2, 3], [1, 3, 2], [2, 1, 3], [1, 2, 3.0]])
    res = friedman(x)
    assert res.effect_size == pytest.approx(0.5625)
    rng = np.random.default_rng(4)
    tied = rng.integers(1, 6, size=(15, 5)).astype(float)
    ref = pg.friedman(to_long(tied, row="block"), dv="value", within="persona", subject="block")
    assert friedman(tied).effect_size == pytest.approx(float(ref["W"].iloc[0]))


def test_effect_size_column_in_the_tables(no_warnings) -> None:
    rng = np.random.default_rng(3)
    data = to_long((rng.random((30, 4)) < 0.5).astype(int)).assign(model="m1", dataset="tqa")
    table = cochrans_q_table(data)
    assert table.columns[-1] == "effect_size"
    row = table.iloc[0]
    assert row.effect_size == pytest.approx(row.statistic / (row.n * (row.k - 1)))


# ---- Reference: the study's real GPT-4 questionnaire answers -----------------------------------

REF_STEMS = ("Rosa_Luxemburg", "Jorg_Haider", "empty", "a_black_person", "an_african_american_person")


def reference_attitude_ratings(reference_dir) -> pd.DataFrame:
    """GPT-4's 31 answers per statement for the five released regular/empty personas, parsed with
    personalib.parsing (faithful: unparsed = 3) and reverse-scored (6 - x), METHODS 4-5."""
    import json

    from personalib.parsing import extract_rating

    release = reference_dir / "original-release"
    questions = json.loads((release / "data" / "attitude_questions.json").read_text())
    statements = [(q["attitude"], i in q["reverse"]) for q in questions
                  for i in range(len(q["statements"]))]
    rows = []
    for stem in REF_STEMS:
        folder = release / "results" / "zero" / "gpt-4-0125-preview"
        base = json.loads((folder / "attitudes" / f"{stem}.json").read_text())
        extra = json.loads((folder / "attitudes_extra" / f"{stem}.json").read_text())
        for s, (attitude, reverse) in enumerate(statements):
            texts = [base[s][0]["generated_text"]] + [extra[s * 30 + k][0]["generated_text"]
                                                      for k in range(30)]
            for variant, text in enumerate(texts):
                rating = extract_rating(text) or 3
                rows.append(("gpt-4", "empty" if stem == "empty" else "regular", stem, attitude, s,
                             variant, 6 - rating if reverse else rating))
    return pd.DataFrame(rows, columns=["model", "persona_set", "persona", "attitude",
                                       "statement_index", "variant", "rating"])


@pytest.mark.reference
def test_friedman_on_released_gpt4_attitudes(reference_dir, no_warnings) -> None:
    ratings = reference_attitude_ratings(reference_dir)
    assert len(ratings) == 5 * 27 * 31
    table = friedman_attitudes(ratings)
    assert len(table) == 7 and set(table.family) == {"regular"} and (table.k == 5).all()
    for _, row in table.iterrows():
        sub = ratings[ratings.attitude == row.attitude]
        x = sub.groupby(["statement_index", "persona"])["rating"].mean().unstack().to_numpy()
        assert row.n == x.shape[0]
        if row.reason is None:
            ref = friedmanchisquare(*x.T)
            assert row.statistic == pytest.approx(ref.statistic)
            assert row.p_value == pytest.approx(ref.pvalue)
        else:  # only a fully tied attitude may be undefined
            assert (x.min(axis=1) == x.max(axis=1)).all()
