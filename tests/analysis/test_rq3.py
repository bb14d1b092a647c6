"""RQ3 analysis (personalib.analysis.rq3) on the fixture stores: numbers cross-checked by hand-written
pandas/scipy on `study.scored`, and the degenerate store answered with notes, never exceptions."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy.stats import friedmanchisquare

from personalib.analysis import Study, load_study, rq3
from personalib.analysis.result import Result
from personalib.reports.keynumbers import _NAME

matplotlib.use("Agg")


def _hand_attitudes(study: Study) -> pd.DataFrame:
    rows = study.scored[study.scored["dataset"] == "attitudes"].copy()
    rows["v"] = pd.to_numeric(rows["value"]).astype(float)
    return rows.groupby(["model", "persona_set", "persona", "attitude"], observed=True)["v"].mean().unstack()


def test_attitude_scores_match_a_hand_computed_mean(study: Study) -> None:
    scores = rq3.attitude_table(study).table.set_index(["model", "persona_set", "persona"])
    hand = _hand_attitudes(study)
    for dim in ("empathy", "traditionalism"):
        assert np.allclose(scores[dim], hand.loc[scores.index, dim])
    assert scores["category"].loc[("zephyr", "control", "a_helpful_assistant")] == "control"


def test_spread_summary_range_and_no_persona(study: Study) -> None:
    scores = rq3.attitude_table(study)
    summary = rq3.spread_summary(rq3.attitude_long(scores), "attitude").table.set_index(["model", "attitude"])
    hand = _hand_attitudes(study).loc["mistral"]["altruism"]
    row = summary.loc[("mistral", "altruism")]
    assert row["range"] == pytest.approx(hand.max() - hand.min())
    assert row["no persona"] == pytest.approx(hand.loc[("empty", "empty")])
    assert row["personas"] == len(hand)


def test_friedman_regular_family_matches_scipy(study: Study) -> None:
    tests = rq3.attitude_friedman(study)
    table = tests.table
    row = table[(table["model"] == "zephyr") & (table["family"] == "regular")
                & (table["attitude"] == "empathy")].iloc[0]
    rows = study.scored[(study.scored["dataset"] == "attitudes") & (study.scored["model"] == "zephyr")
                        & (study.scored["attitude"] == "empathy")
                        & study.scored["persona_set"].isin(["regular", "empty"])].copy()
    rows["v"] = pd.to_numeric(rows["value"]).astype(float)
    wide = rows.groupby(["statement_index", "persona"])["v"].mean().unstack().dropna()
    stat, p = friedmanchisquare(*[wide[c].to_numpy() for c in wide.columns])
    assert row["statistic"] == pytest.approx(stat)
    assert row["p_value"] == pytest.approx(p)
    counts = rq3.significant_counts(tests).table
    zr = counts[(counts["model"] == "zephyr") & (counts["family"] == "regular")].iloc[0]
    sub = table[(table["model"] == "zephyr") & (table["family"] == "regular")]
    assert zr["significant"] == int((sub["p_value"] < 0.05).sum())
    wide_table = rq3.friedman_wide(tests).table
    assert {"p (regular)", "p (control)"} <= set(wide_table.columns)
    assert len(wide_table) == table[["model", "attitude"]].drop_duplicates().shape[0]


def test_toxicity_means_and_alpha(study: Study) -> None:
    tox = rq3.toxicity_table(study).table.set_index(["model", "persona_set", "persona"])
    rows = study.scored[study.scored["dataset"] == "toxicity"].copy()
    rows["r"] = pd.to_numeric(rows["rating"]).astype(float)
    hand = rows.groupby(["model", "persona_set", "persona", "measure"], observed=True)["r"].mean().unstack()
    assert np.allclose(tox["off"], hand.loc[tox.index, "off"])
    assert np.allclose(tox["rac"], hand.loc[tox.index, "rac"])
    alphas = rq3.alpha_summary(rq3.toxicity_table(study)).table
    assert set(alphas["measure"]) == {"offensiveness", "racism"}
    m = alphas[(alphas["model"] == "zephyr") & (alphas["measure"] == "racism")].iloc[0]
    assert m["mean_alpha"] == pytest.approx(tox.loc["zephyr", "alpha_rac"].mean())
    ft = rq3.toxicity_friedman(study).table
    assert len(ft) == 4 and ft["p_value"].notna().all()


def _upper(m: pd.DataFrame) -> np.ndarray:
    i, j = np.triu_indices(len(m), k=1)
    return m.to_numpy()[i, j]


def test_attitude_similarity_matches_hand_cosine(study: Study) -> None:
    sim = rq3.similarity(rq3.associations(study))
    att = sim.table[sim.table["comparison"] == rq3.COMPARISONS["attitudes"]].set_index("model")
    dims = ["freedom of speech", "harm of hate speech", "racist beliefs", "traditionalism",
            "language purism", "empathy", "altruism"]
    cols = ["freeSpeech", "harmHateSpeech", "racism", "traditionalism", "lingPurism", "empathy", "altruism"]
    humans = study.annotations.drop_duplicates("annId")[cols].astype(float).corr()
    hv = _upper(humans)
    for model in ("zephyr", "mistral"):
        mv = _upper(_hand_attitudes(study).loc[model][dims].corr())
        cos = float(hv @ mv / np.linalg.norm(hv) / np.linalg.norm(mv))
        assert att.loc[model, "cosine"] == pytest.approx(cos)
    assert np.isfinite(att.loc[rq3.RANDOM, "cosine"])
    best = att.drop(rq3.RANDOM)["cosine"].idxmax()
    counts = rq3.significant_counts(rq3.attitude_friedman(study))
    line = rq3.headline_text(sim, counts, study.models)
    assert line.startswith(f"{best}:") and "random baseline" in line and "nan" not in line.lower()
    keys = rq3.key_numbers(counts, rq3.alpha_summary(rq3.toxicity_table(study)), sim)
    assert all(_NAME.match(k) for k in keys)
    assert keys[f"{best}.cosine_attitudes"] == pytest.approx(att.loc[best, "cosine"])


def test_consistency_two_models_and_one(study: Study, fixture_paths) -> None:
    scores = rq3.attitude_table(study)
    cons = rq3.attitude_consistency(scores)
    assert (cons.table["n_personas"] >= 2).all() and set(cons.table["n_models"]) == {2}
    assert any("single persona" in n for n in cons.notes)
    fig = rq3.consistency_figure(cons)
    assert fig is not None
    plt.close(fig)
    profile, store = fixture_paths
    one = load_study(str(profile), store, ["zephyr"], ["regular", "empty", "control"])
    single = rq3.attitude_consistency(rq3.attitude_table(one))
    assert single.empty and any("only one model" in n for n in single.notes)
    assert rq3.consistency_figure(single) is None


def test_figures_draw_on_rich_data(study: Study) -> None:
    assoc = rq3.associations(study)
    assert set(assoc.attitudes) == {rq3.HUMANS, "zephyr", "mistral", rq3.RANDOM}
    assert assoc.n_random == 14
    sim = rq3.similarity(assoc)
    for fig in (rq3.attitude_figure(rq3.attitude_table(study)),
                rq3.toxicity_figure(rq3.toxicity_table(study)),
                rq3.correlation_figure(assoc, "attitudes"),
                rq3.similarity_figure(sim, rq3.COMPARISONS["attitudes"])):
        assert fig is not None and fig.axes
    plt.close("all")


def test_degenerate_store_gives_notes_not_errors(degenerate_study: Study, capsys) -> None:
    scores = rq3.attitude_table(degenerate_study)
    assert scores.empty and "no attitude questionnaire generations" in scores.notes[0]
    assert rq3.spread_summary(rq3.attitude_long(scores), "attitude").empty
    assert rq3.attitude_friedman(degenerate_study).empty
    counts = rq3.significant_counts(rq3.attitude_friedman(degenerate_study))
    tox = rq3.toxicity_table(degenerate_study)
    assert tox.empty and "no toxicity generations" in tox.notes[0]
    assert rq3.toxicity_friedman(degenerate_study).empty
    alphas = rq3.alpha_summary(tox)
    assert alphas.empty
    assoc = rq3.associations(degenerate_study)
    assert any("no human annotations" in n for n in assoc.notes)
    sim = rq3.similarity(assoc)
    assert sim.empty and sim.notes
    assert rq3.attitude_figure(scores) is None
    assert rq3.toxicity_figure(tox) is None and rq3.toxicity_figure(tox, alpha=True) is None
    assert rq3.correlation_figure(assoc) is None
    assert rq3.similarity_figure(sim, rq3.COMPARISONS["attitudes"]) is None
    assert "Note." in capsys.readouterr().out
    assert rq3.key_numbers(counts, alphas, sim) == {}
    line = rq3.headline_text(sim, counts, degenerate_study.models)
    assert "zephyr" in line and "no attitude generations" in line and "nan" not in line.lower()


def test_headline_when_no_friedman_test_is_defined() -> None:
    counts = pd.DataFrame({"model": ["m", "m"], "family": ["regular", "control"],
                           "tested": [0, 0], "significant": [0, 0]})
    sim = Result(pd.DataFrame(columns=["comparison", "model", "cosine", "n_entries", "reason"]))
    line = rq3.headline_text(sim, Result(counts), ["m"])
    assert "no Friedman test defined" in line and "0 of 0" not in line
    counts.loc[0, ["tested", "significant"]] = [7, 3]
    assert "m regular 3 of 7" in rq3.headline_text(sim, Result(counts), ["m"])


def test_a_store_with_one_attitude_dimension_gives_notes_not_errors(study: Study, fixture_paths,
                                                                     tmp_path) -> None:
    """Users run subsets (`generate --limit 2`): statements of one attitude only."""
    from personalib.store import Store
    from tests.analysis.fixture_store import fixture_rows

    profile, store = fixture_paths
    items = study.items["attitudes"].set_index("item_id")["attitude"]
    rows = [r for r in fixture_rows() if r["dataset"] != "attitudes"
            or items[r["item_id"]] == "freedom of speech"]
    Store(tmp_path / "store").append([{**r, "run_id": "subset"} for r in rows])
    subset = load_study(str(profile), tmp_path / "store", ["zephyr", "mistral"], list(study.persona_sets))
    assoc = rq3.associations(subset)
    assert any("no scores for harm of hate speech" in n for n in assoc.notes)
    m = assoc.attitudes["zephyr"].r
    assert m.loc["harm of hate speech"].isna().all()
    sim = rq3.similarity(assoc)
    assert not sim.empty
    assert rq3.headline_text(sim, rq3.significant_counts(rq3.attitude_friedman(subset)), subset.models)


def test_key_numbers_of_a_persona_set_named_with_spaces_and_markup() -> None:
    """A user set is its own Friedman family: its name becomes part of a key, and must give a
    valid one (it used to make the RQ3 report fail when recorded)."""
    counts = pd.DataFrame({"model": ["zephyr", "zephyr"], "family": ["regular", "farm and care <b>"],
                           "tested": [7, 7], "significant": [2, 1]})
    empty = Result(pd.DataFrame())
    keys = rq3.key_numbers(Result(counts), empty, empty)
    assert keys == {"zephyr.friedman_significant_regular": 2,
                    "zephyr.friedman_significant_farm_and_care_b_": 1}
    assert all(_NAME.match(k) for k in keys)
