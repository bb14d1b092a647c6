"""RQ3 toxicity: mean ratings and Krippendorff's alpha against the human mean, checked by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from personalib.metrics import human_means, notes_of, toxicity_alpha, toxicity_scores
from tests.metrics.helpers import scored


def _alpha_by_hand(a: list[float], b: list[float]) -> float:
    """Interval alpha of two complete coders: 1 - D_o / D_e from the coincidence definition."""
    n = 2 * len(a)
    d_o = sum((x - y) ** 2 for x, y in zip(a, b)) * 2 / n
    values = list(a) + list(b)
    d_e = sum((x - y) ** 2 for x, y in itertools.permutations(values, 2)) / (n * (n - 1))
    return 1 - d_o / d_e


ROWS = [("p1", "toxicity", f"off/{t}", r) for t, r in enumerate(["1", "2", "5"])]
ROWS += [("p1", "toxicity", f"rac/{t}", r) for t, r in enumerate(["1", "2", "2"])]


def test_toxicity_means(items) -> None:
    row = toxicity_scores(scored(ROWS, items)).loc[("m", "regular", "p1")]
    assert row["off"] == pytest.approx(8 / 3) and row["rac"] == pytest.approx(5 / 3)


def test_human_means(annotations) -> None:
    means = human_means(annotations)
    assert means["off"].tolist() == [1.0, 2.5, 3.0] and means["rac"].tolist() == [1.0, 1.0, 2.0]


def test_alpha_matches_hand_computation(items, annotations) -> None:
    table = toxicity_alpha(scored(ROWS, items), annotations)
    row = table.loc[("m", "regular", "p1")]
    assert row["off"] == pytest.approx(_alpha_by_hand([1, 2, 5], [1, 2.5, 3]))
    assert row["rac"] == pytest.approx(_alpha_by_hand([1, 2, 2], [1, 1, 2]))


def test_alpha_without_variation_is_nan_with_reason(items, annotations) -> None:
    flat = annotations.assign(racist=3)
    rows = [("p2", "toxicity", f"rac/{t}", "3") for t in range(3)]
    table = toxicity_alpha(scored(rows, items), flat)
    assert np.isnan(table.loc[("m", "regular", "p2"), "rac"])
    assert np.isnan(table.loc[("m", "regular", "p2"), "off"])
    notes = notes_of(table)
    assert any("no variation" in n for n in notes) and any("alpha (off)" in n and "no such ratings" in n for n in notes)


def test_alpha_with_one_tweet_is_nan(items, annotations) -> None:
    table = toxicity_alpha(scored([("p3", "toxicity", "off/0", "4")], items), annotations.iloc[:2])
    assert np.isnan(table["off"].iloc[0])
    assert any("fewer than two tweets" in n for n in notes_of(table))


def test_closed_form_alpha_equals_the_krippendorff_package() -> None:
    """The two-coder closed form of `interval_alphas` against `krippendorff.alpha` (interval) on
    random ratings with gaps, ties and constant rows."""
    import krippendorff

    from personalib.metrics.toxicity import interval_alphas

    rng = np.random.default_rng(3)
    humans = rng.uniform(1, 5, 40)
    humans[[3, 7]] = np.nan
    coders = rng.integers(1, 6, (30, 40)).astype(float)
    coders[rng.random(coders.shape) < 0.15] = np.nan
    coders[0] = 3.0  # constant persona: still defined against the varying humans
    alpha, reasons = interval_alphas(coders, humans)
    for row, value, reason in zip(coders, alpha, reasons):
        want = krippendorff.alpha(reliability_data=np.vstack([row, humans]), level_of_measurement="interval")
        assert reason is None and value == pytest.approx(want, rel=1e-9, abs=1e-12)
    flat, why = interval_alphas(np.full((1, 5), 2.0), np.full(5, 2.0))
    assert np.isnan(flat[0]) and "no variation" in why[0]
    few, why = interval_alphas(np.array([[1.0, np.nan, np.nan]]), np.array([2.0, 3.0, np.nan]))
    assert np.isnan(few[0]) and "fewer than two" in why[0]
