"""95% intervals for per-persona scores: Wilson for a single rate, a seeded bootstrap over items for
composite scores (MMLU's mean of subject accuracies, BBQ accuracy and bias; METHODS 5).

- `wilson_interval(successes, n)`: the Wilson score interval of a proportion (vectorised; checked
  against statsmodels' `proportion_confint(method="wilson")`).
- `bootstrap_scores(outcomes, scores)`: per round, items are drawn with replacement *within each
  stratum* (MMLU subject, BBQ category x condition), keeping each stratum's size, so every
  resample has the design of the data; the same draw is applied to all personas of the model at
  once (the items x personas matrix), so the intervals of two personas are computed on the same
  resampled items. One round is a weight vector over items (how often each item was drawn); the
  per-stratum class counts of every persona are then one matrix product.
- `score_intervals(outcomes, scores)`: the tidy table: per score and persona the value and the
  interval (Wilson for `rate` scores, bootstrap percentile interval for `composite` ones).

Seeds: the draws of stratum s come from `numpy.random.default_rng([seed, s])`, consumed in
batches of `batch` rounds, so the same seed, data and batch size give the same intervals.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm
from threadpoolctl import threadpool_limits

from personalib.errors import PersonalibError
from personalib.stats.composite import Score, evaluate, score_values
from personalib.stats.outcomes import Outcomes
from personalib.stats.result import quiet

ROUNDS = 999
BATCH = 64
CHUNK_BYTES = 32 * 2**20  # the class indicator matrices of one product, at most


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise PersonalibError(f"confidence must be between 0 and 1 (e.g. 0.95); got {confidence}")
    return float(norm.ppf(1 - (1 - confidence) / 2))


def wilson_interval(successes: np.ndarray | float, n: np.ndarray | float,
                    confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of successes / n (Wilson 1927): centre (p + z^2/2n) / (1 + z^2/n),
    half-width z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n). NaN where n is 0."""
    z = _z(confidence)
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    if np.any(k < 0) or np.any(k > n):
        raise PersonalibError("wilson_interval needs 0 <= successes <= n")
    with quiet():
        p = np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)
        nn = np.where(n > 0, n, np.nan)
        denom = 1 + z**2 / nn
        centre = (p + z**2 / (2 * nn)) / denom
        half = z * np.sqrt(p * (1 - p) / nn + z**2 / (4 * nn**2)) / denom
    return centre - half, centre + half


def _class_counts(codes: np.ndarray, weights: np.ndarray, n_classes: int) -> np.ndarray:
    """weights (rounds x items) applied to an items x personas class matrix: counts per round,
    class and persona. One matrix product per block of items over the indicator matrices of all
    classes but the most frequent, whose count is the total weight minus the others."""
    b, (n, p) = weights.shape[0], codes.shape
    present = np.bincount(codes.ravel(), minlength=n_classes)
    major = int(np.argmax(present))
    others = np.array([c for c in np.flatnonzero(present) if c != major], dtype=codes.dtype)
    out = np.zeros((b, n_classes, p), np.float64)
    if others.size:
        w = weights.astype(np.float32)
        step = max(1, CHUNK_BYTES // (4 * others.size * p))
        acc = np.zeros((b, others.size * p), np.float32)
        for lo in range(0, n, step):
            block = codes[lo:lo + step]
            indicators = (block[:, None, :] == others[None, :, None]).astype(np.float32)
            acc += w[:, lo:lo + step] @ indicators.reshape(len(block), -1)
        out[:, others, :] = acc.reshape(b, others.size, p)
    out[:, major, :] = weights.sum(axis=1, keepdims=True) - out.sum(axis=1)
    return out


def _bootstrap(outcomes: Outcomes, scores: Sequence[Score], rounds: int, seed: int,
               batch: int) -> dict[str, np.ndarray]:
    strata = [np.flatnonzero(outcomes.strata == s) for s in range(len(outcomes.stratum_labels))]
    rngs = [np.random.default_rng([seed, s]) for s in range(len(strata))]
    out = {s.name: np.empty((rounds, outcomes.n_personas)) for s in scores}
    for start in range(0, rounds, batch):
        b = min(batch, rounds - start)
        counts = np.zeros((b, len(strata), outcomes.n_classes, outcomes.n_personas))
        for s, (idx, rng) in enumerate(zip(strata, rngs, strict=True)):
            if idx.size == 0:
                continue
            draws = rng.integers(0, idx.size, size=(b, idx.size))
            flat = (np.arange(b)[:, None] * idx.size + draws).ravel()
            weights = np.bincount(flat, minlength=b * idx.size).reshape(b, idx.size)
            counts[:, s] = _class_counts(outcomes.codes[idx], weights, outcomes.n_classes)
        for name, values in evaluate(scores, counts, outcomes).items():
            out[name][start:start + b] = values
    return out


def bootstrap_scores(outcomes: Outcomes, scores: Sequence[Score], *, rounds: int = ROUNDS,
                     seed: int = 0, batch: int = BATCH) -> dict[str, np.ndarray]:
    """Each score's values in `rounds` stratified bootstrap resamples of the items (rounds x
    personas). See the module docstring for the resampling scheme and the seeds. Scores that
    need different outcomes are resampled separately on just those outcomes (fewer classes),
    with the same draws, so all scores see the same resampled items."""
    if rounds < 1 or batch < 1:
        raise PersonalibError(f"rounds and batch must be positive; got {rounds}, {batch}")
    groups: dict[tuple[str, ...], list[Score]] = {}
    for score in scores:
        groups.setdefault(tuple(sorted(set(score.needs))), []).append(score)
    out: dict[str, np.ndarray] = {}
    with threadpool_limits(limits=1, user_api="blas"):  # many small products: threads only contend
        for needs, group in groups.items():
            out.update(_bootstrap(outcomes.select(needs), group, rounds, seed, batch))
    return {s.name: out[s.name] for s in scores}


def _binary(outcomes: Outcomes, name: str) -> bool:
    values = outcomes.class_values[:, outcomes._index(name)]
    return bool(np.isin(values[~np.isnan(values)], (0.0, 1.0)).all())


def score_intervals(outcomes: Outcomes, scores: Sequence[Score], *, confidence: float = 0.95,
                    rounds: int = ROUNDS, seed: int = 0, batch: int = BATCH) -> pd.DataFrame:
    """Per score and persona: `value`, `low`, `high` (the `confidence` interval), `method`
    (`wilson` for a rate of a 0/1 outcome, `bootstrap` otherwise) and `n_items` (items with a value
    of the score's first outcome). Undefined values and intervals are NaN."""
    _z(confidence)
    rest = [s for s in scores if not _wilson(outcomes, s)]
    boot = bootstrap_scores(outcomes, rest, rounds=rounds, seed=seed, batch=batch) if rest else {}
    return interval_table(outcomes, scores, boot, confidence=confidence)


def _wilson(outcomes: Outcomes, score: Score) -> bool:
    return score.kind == "rate" and _binary(outcomes, score.needs[0])


def interval_table(outcomes: Outcomes, scores: Sequence[Score], boot: dict[str, np.ndarray], *,
                   confidence: float = 0.95) -> pd.DataFrame:
    """The table of `score_intervals` from bootstrap samples already drawn (`bootstrap_scores`;
    needed for every score that does not get a Wilson interval): a rate of a 0/1 outcome gets the
    Wilson interval of its successes over its items (of its stratum, for a one-stratum rate), any
    other score the percentile interval of its bootstrap values."""
    _z(confidence)
    observed = score_values(outcomes, scores)
    totals = outcomes.counts()
    alpha = (1 - confidence) / 2
    frames = []
    for score in scores:
        values = outcomes.class_values[:, outcomes._index(score.needs[0])]
        has = ~np.isnan(values)
        mine = totals[score.covers(outcomes.stratum_labels)]
        n = np.einsum("scp,c->p", mine, has.astype(np.float64))
        wilson = _wilson(outcomes, score)
        if wilson:
            k = np.einsum("scp,c->p", mine, np.where(has, values, 0.0))
            low, high = wilson_interval(k, n, confidence)
        elif score.name not in boot:
            raise PersonalibError(f"no bootstrap values for score {score.name!r}: draw them with "
                                  "bootstrap_scores first")
        else:
            with quiet():
                low, high = np.nanquantile(boot[score.name], [alpha, 1 - alpha], axis=0)
        frames.append(pd.DataFrame({
            "score": score.name, "persona": list(outcomes.personas), "value": observed[score.name],
            "low": low, "high": high, "method": "wilson" if wilson else "bootstrap",
            "n_items": n.astype(int)}))
    return pd.concat(frames, ignore_index=True)


__all__ = ["BATCH", "ROUNDS", "bootstrap_scores", "interval_table", "score_intervals", "wilson_interval"]
