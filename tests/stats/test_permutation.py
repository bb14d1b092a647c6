"""Tests for personalib.stats.permutation: the within-item permutation is exactly uniform, the fast
engine and the plain `Generator.permuted` loop give the same null, p-values are uniform when the
personas are identical and a planted 10 p.p. difference is detected."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chisquare, kstest, ks_2samp

from personalib.errors import PersonalibError
from personalib.stats import (
    control_gap,
    describe_gap,
    encode,
    gap_null,
    gap_table,
    permutation_gap,
    permutation_nulls,
    rate,
    stratum_mean,
)
from personalib.stats.permutation import GapNull, p_value


def test_every_arrangement_of_an_item_is_equally_likely() -> None:
    """One item whose answers are the multiset {0, 0, 1, 1, 2}: 5! / (2! 2!) = 30 arrangements,
    each with probability 1/30 (chi-square goodness of fit over 15,000 permutations)."""
    out = encode({"x": np.array([[0.0, 1.0, 2.0, 0.0, 1.0]])})
    null = permutation_nulls(out, [rate("x")], rounds=15_000, seed=3)["x"]
    freq = Counter(map(tuple, null.astype(int)))
    assert len(freq) == 30 and all(sorted(k) == [0, 0, 1, 1, 2] for k in freq)
    assert chisquare(list(freq.values())).pvalue > 0.001


def test_counts_per_item_are_kept() -> None:
    """Each permutation keeps every stratum's number of answers of each kind."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, (200, 9)).astype(float)
    out = encode({"x": x}, rng.choice(["s", "t"], 200))
    null = permutation_nulls(out, [stratum_mean("x"), rate("x", "pooled")], rounds=40, seed=1)
    np.testing.assert_allclose(null["pooled"].sum(axis=1), np.nansum(x) / 200)
    assert not np.allclose(null["pooled"], null["pooled"][0])


@pytest.mark.parametrize("composite", [False, True])
def test_engine_and_plain_permutation_give_the_same_null(composite: bool) -> None:
    rng = np.random.default_rng(2)
    x = (rng.random((300, 12)) < rng.uniform(0.3, 0.7, 12)).astype(float)
    x[rng.random(x.shape) < 0.05] = np.nan
    subjects = rng.choice(["a", "b", "c"], 300)
    if composite:
        score = stratum_mean("hit")

        def plain(m: np.ndarray) -> np.ndarray:
            return np.nanmean([np.nanmean(m[subjects == s], axis=0) for s in "abc"], axis=0)
    else:
        score, plain = rate("hit"), None
    fast = gap_null(encode({"hit": x}, subjects if composite else None), [score], rounds=999,
                    seed=5)["hit"]
    slow = permutation_gap(x, plain, rounds=999, seed=6, name="hit")
    assert fast.gap == pytest.approx(slow.gap)
    assert ks_2samp(fast.null, slow.null).pvalue > 0.001
    assert fast.chance_mean == pytest.approx(slow.chance_mean, rel=0.05)


def test_identical_personas_give_uniform_p_values() -> None:
    """200 data sets where all 8 personas answer each item with the same probability: the
    p-values are uniform (KS test), and the share below .05 is within its 99.9% binomial range."""
    ps = []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        x = (rng.random((120, 8)) < rng.uniform(0.1, 0.9, (120, 1))).astype(float)
        ps.append(gap_null(encode({"hit": x}), [rate("hit")], rounds=99, seed=seed)["hit"].p_value)
    ps = np.array(ps)
    assert kstest(ps, "uniform").pvalue > 0.001
    assert 1 <= (ps < 0.05).sum() <= 22  # Binomial(200, .05): mean 10, 99.9% within [1, 22]


def test_planted_ten_point_difference_is_detected() -> None:
    """817 items; one persona answers correctly 60% of the time, another 70%."""
    rng = np.random.default_rng(7)
    x = np.column_stack([rng.random(817) < 0.6, rng.random(817) < 0.7]).astype(float)
    res = gap_null(encode({"hit": x}, personas=["base", "planted"]), [rate("hit")], seed=1)["hit"]
    assert res.p_value < 0.05 and res.top_persona == "planted"
    assert res.gap > res.chance_p95
    # the same difference among 20 exchangeable personas is still found, with the right ends
    many = (rng.random((817, 20)) < 0.6).astype(float)
    many[:, 7] = rng.random(817) < 0.7
    res = permutation_gap(many, rounds=999, seed=2)
    assert res.p_value < 0.05 and res.top_persona == "7"


def test_control_gap_and_table() -> None:
    rng = np.random.default_rng(4)
    x = (rng.random((100, 5)) < 0.5).astype(float)
    personas = ["p1", "p2", "ctl1", "ctl2", "ctl3"]
    res = gap_null(encode({"hit": x}, personas=personas), [rate("hit")], controls=["ctl1", "ctl2",
                   "ctl3", "ctl4"], rounds=99)["hit"]
    means = x.mean(axis=0)
    assert res.control_gap == pytest.approx(means[2:].max() - means[2:].min()) and res.n_control == 3
    assert res.gap == pytest.approx(means.max() - means.min())
    table = gap_table({"hit": res})
    assert "null" not in table.columns and table.loc[0, "p_value"] == res.p_value
    assert control_gap(pd.Series({"a": 0.5, "b": np.nan}), ["a", "b"]) == (pytest.approx(np.nan, nan_ok=True), 1)


def test_degenerate_cases() -> None:
    one = gap_null(encode({"hit": np.ones((10, 1))}), [rate("hit")], rounds=9)["hit"]
    assert np.isnan(one.gap) and "a gap needs at least two" in one.reason
    same = gap_null(encode({"hit": np.ones((10, 4))}), [rate("hit")], rounds=9)["hit"]
    assert same.gap == 0 and same.p_value == 1.0 and same.chance_p95 == 0
    with pytest.raises(PersonalibError, match="positive"):
        gap_null(encode({"hit": np.ones((3, 2))}), [rate("hit")], rounds=0)


def test_seeded_and_p_value_rule() -> None:
    x = (np.random.default_rng(1).random((50, 6)) < 0.5).astype(float)
    out = encode({"hit": x})
    a, b = (gap_null(out, [rate("hit")], rounds=99, seed=s)["hit"] for s in (3, 3))
    np.testing.assert_array_equal(a.null, b.null)
    c = gap_null(out, [rate("hit")], rounds=99, seed=4)["hit"]
    assert not np.array_equal(a.null, c.null)
    assert p_value(0.3, np.array([0.1, 0.3, 0.5])) == pytest.approx(3 / 4)


def test_describe_gap() -> None:
    res = GapNull("accuracy", 0.3856, "a", "b", 0.07, 0.098, 0.001, 0.04, 30, 999, 0, 817, 193)
    assert describe_gap(res) == "gap 38.6 p.p.; by chance 9.8 p.p. (95th percentile); p = 0.001"
