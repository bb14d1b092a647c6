"""Tests for personalib.stats.associations: human vs persona correlation matrices, cosine
similarity and the study's random baseline. Data are small invented tables in the schema of
largeScale.csv (annotations) and the toxicity items."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as t_dist

from personalib.errors import PersonalibError
from personalib.stats import (
    ANNOTATIONS,
    ATTITUDES,
    HUMAN_ATTITUDE_COLUMNS,
    attitude_annotation_correlations,
    attitude_correlations,
    cosine_similarity,
    human_annotation_means,
    human_attitudes,
    pearson_matrix,
    persona_annotation_means,
    random_annotation_means,
    random_attitudes,
    similarity_table,
    tweet_flags,
)

# Tweet 0 targets Black people, 1 is AAE, 2 is vulgar and targets Black people, 3 has no flag.
FLAGS = {0: (True, False, False), 1: (False, True, False), 2: (True, False, True), 3: (False,) * 3}


def toxicity_items() -> pd.DataFrame:
    """Two item rows per tweet (off/rac), as the toxicity items table has them."""
    return pd.DataFrame([(f"{m}/{t}", m, t, *f) for m in ("off", "rac") for t, f in FLAGS.items()],
                        columns=["item_id", "measure", "tweet_index", "targets_black", "is_aae",
                                 "vulgar"])


def annotations() -> pd.DataFrame:
    rows = [  # annId, tweet, off_avg, racist, then the annotator's attitudes (1..7)
        ("A", 0, 4, 5), ("A", 1, 2, 1), ("A", 3, 1, 1),
        ("B", 0, 2, 3), ("B", 2, 4, 1),
    ]
    att = {"A": range(1, 8), "B": range(2, 9)}
    return pd.DataFrame([(a, t, o, r, *att[a]) for a, t, o, r in rows],
                        columns=["annId", "tweet_index", "off_avg", "racist",
                                 *HUMAN_ATTITUDE_COLUMNS])


def test_tweet_flags_one_row_per_tweet() -> None:
    flags = tweet_flags(toxicity_items())
    assert flags.shape == (4, 3) and flags.loc[2].tolist() == [True, False, True]
    bad = toxicity_items()
    bad.loc[0, "is_aae"] = True
    with pytest.raises(PersonalibError, match="tweet 0 has conflicting flags"):
        tweet_flags(bad)


def test_human_tables_by_hand() -> None:
    att = human_attitudes(annotations())
    assert list(att.columns) == list(ATTITUDES) and att.loc["B", "altruism"] == 8
    means = human_annotation_means(annotations(), toxicity_items())
    assert list(means.columns) == list(ANNOTATIONS)
    a, b = means.loc["A"], means.loc["B"]
    assert (a.off_antiBlack, a.rac_antiBlack, a.off_aae, a.rac_aae) == (4, 5, 2, 1)
    assert np.isnan(a.off_vulgar) and np.isnan(b.off_aae)
    assert (b.off_antiBlack, b.rac_antiBlack, b.off_vulgar, b.rac_vulgar) == (3, 2, 4, 1)


def test_human_annotation_unknown_tweet() -> None:
    data = annotations()
    data.loc[0, "tweet_index"] = 99
    with pytest.raises(PersonalibError, match="not in the tweets table"):
        human_annotation_means(data, toxicity_items())


def test_persona_annotation_means_by_hand() -> None:
    off, rac = [5, 3, 1, 2], [4, 4, 2, 1]
    ratings = pd.DataFrame([("p1", m, t, v) for m, vals in (("off", off), ("rac", rac))
                            for t, v in enumerate(vals)],
                           columns=["persona", "measure", "tweet_index", "rating"])
    row = persona_annotation_means(ratings, toxicity_items()).loc["p1"]
    assert row.tolist() == [3, 3, 1, 3, 4, 2]  # ANNOTATIONS order


def random_table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 1))
    data = base * rng.uniform(-1, 1, size=(1, 7)) + rng.normal(size=(n, 7))
    return pd.DataFrame(data, columns=list(ATTITUDES))


def test_pearson_matrix_matches_pandas_and_t_test(no_warnings) -> None:
    table = random_table(30, 1)
    table.iloc[3, 2] = np.nan  # pairwise-complete rows
    res = pearson_matrix(table)
    pd.testing.assert_frame_equal(res.r, table.corr(), atol=1e-12)
    r, n = res.r.iloc[0, 2], res.n.iloc[0, 2]
    assert n == 29
    tstat = r * np.sqrt((n - 2) / (1 - r**2))
    assert res.p.iloc[0, 2] == pytest.approx(2 * t_dist.sf(abs(tstat), n - 2))
    assert res.reason is None and res.r.iloc[1, 1] == 1.0


def test_attitude_annotation_block_matches_pandas(no_warnings) -> None:
    att = random_table(25, 2)
    rng = np.random.default_rng(3)
    ann = pd.DataFrame(rng.uniform(1, 5, size=(25, 6)) + att.to_numpy()[:, :1],
                       columns=list(ANNOTATIONS))
    res = attitude_annotation_correlations(att, ann)
    assert res.r.shape == (7, 6)
    expected = att.join(ann).corr().loc[list(ATTITUDES), list(ANNOTATIONS)]
    pd.testing.assert_frame_equal(res.r, expected, atol=1e-12)
    with pytest.raises(PersonalibError, match="share no row label"):
        attitude_annotation_correlations(att, ann.set_axis([f"x{i}" for i in range(25)]))


def test_random_baseline_is_the_studys_legacy_draw() -> None:
    np.random.seed(42)
    expected_att = np.random.uniform(1, 5, size=(193, 7))
    np.random.seed(42)
    expected_ann = [np.random.uniform(1, 5, size=193) for _ in range(6)]
    assert np.array_equal(random_attitudes().to_numpy(), expected_att)
    assert np.array_equal(random_attitudes().to_numpy(),
                          np.random.RandomState(42).uniform(1, 5, size=(193, 7)))
    ann = random_annotation_means()
    assert list(ann.columns) == list(ANNOTATIONS)
    assert all(np.array_equal(ann[c].to_numpy(), e) for c, e in zip(ANNOTATIONS, expected_ann))
    np.random.seed(123)
    before = np.random.uniform(size=3)
    np.random.seed(123)
    random_attitudes()
    assert np.array_equal(np.random.uniform(size=3), before)  # caller's RNG state restored


def test_cosine_upper_and_full_by_hand(no_warnings) -> None:
    a, b = attitude_correlations(random_table(40, 4)), attitude_correlations(random_table(40, 5))
    i, j = np.triu_indices(7, k=1)
    va, vb = a.r.to_numpy()[i, j], b.r.to_numpy()[i, j]
    sim = cosine_similarity(a, b)
    assert sim.n == 21 and sim.reason is None
    assert sim.value == pytest.approx(va @ vb / np.linalg.norm(va) / np.linalg.norm(vb))
    full = cosine_similarity(a, b, part="full")
    fa, fb = a.r.to_numpy().ravel(), b.r.to_numpy().ravel()
    assert full.n == 49 and full.value == pytest.approx(fa @ fb / np.linalg.norm(fa) / np.linalg.norm(fb))
    shuffled = b.r.loc[list(ATTITUDES)[::-1], list(ATTITUDES)[::-1]]
    assert cosine_similarity(a, shuffled).value == pytest.approx(sim.value)  # aligned by label


def test_cosine_errors_and_zero_vector(no_warnings) -> None:
    a = attitude_correlations(random_table(40, 4))
    with pytest.raises(PersonalibError, match="different labels"):
        cosine_similarity(a, a.r.iloc[:6, :6])
    with pytest.raises(PersonalibError, match="part must be"):
        cosine_similarity(a, a, part="lower")
    zero = a.r * 0.0
    assert "all zeros" in cosine_similarity(a, zero).reason


def test_similarity_table_with_random_baseline(no_warnings) -> None:
    humans = random_table(60, 6)
    human = attitude_correlations(humans)
    models = {"m1": attitude_correlations(humans.iloc[:30]), "m2": attitude_correlations(random_table(30, 8))}
    table = similarity_table(human, models, attitude_correlations(random_attitudes()))
    assert table.model.tolist() == ["m1", "m2", "random baseline"]
    assert table.cosine.between(-1, 1).all() and (table.n_entries == 21).all()
    assert table.cosine.iloc[0] > table.cosine.iloc[2]  # half the humans resemble all humans


def test_degenerate_demo_model(no_warnings) -> None:
    scores = random_table(3, 9)
    scores["empathy"] = 3.0  # the tiny model answers the same for every persona
    res = attitude_correlations(scores)
    assert "'empathy' has the same value in every row" in res.reason
    assert res.r["empathy"].isna().all() and not np.isnan(res.r.iloc[0, 1])
    sim = cosine_similarity(attitude_correlations(random_table(50, 1)), res)
    assert np.isnan(sim.value) and "the cosine similarity is undefined" in sim.reason
    flat = attitude_correlations(scores.assign(**{a: 3.0 for a in ATTITUDES}))
    assert "have the same value in every row" in flat.reason
    all_nan = cosine_similarity(attitude_correlations(random_table(50, 1)), flat)
    assert all_nan.reason.startswith("all 21 correlations are undefined")
    two = attitude_correlations(random_table(2, 9))
    assert two.r.isna().all().all() and "fewer than 3 shared rows" in two.reason
