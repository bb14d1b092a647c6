"""Is a top-bottom gap larger than chance? A permutation null with persona labels shuffled within
items, and the gap among the control personas as the empirical reference.

The gap of a score is its maximum minus its minimum over the personas. The best and the worst
persona are picked after looking, so even personas that behave identically show a gap; the null
distribution of the gap answers "how large would it be by chance". Under the null hypothesis the
personas are exchangeable within each item: for every item, the personas' answers are permuted
(each item independently, uniformly over all orderings), the score of every persona is
recomputed and the gap taken. With `rounds` permutations the p-value is
(1 + #{null gaps >= observed gap}) / (1 + rounds), exact for any number of rounds.

Two implementations, one null:

- `gap_null(outcomes, scores)`: the fast, exact engine for the study's scores (functions of the
  per-stratum class counts, `personalib.stats.composite`). Per item, only the cells that differ
  from the item's most frequent answer move: a partial Fisher-Yates shuffle draws a uniformly
  random ordered set of k positions for the k minority cells, and every other position gets the
  majority answer, which is exactly a uniform permutation of the item's answers. Items answered
  alike by every persona do not change and cost nothing. Rounds run in batches and items in
  blocks, so memory stays bounded (about `batch` x `block` x personas bytes) whatever the size of
  the dataset. All scores of one dataset share the permutations.
- `permutation_gap(matrix, score)`: any score that is a function of the (permuted) items x
  personas matrix (default: the column means), by `numpy.random.Generator.permuted` per round;
  simple and general, for small matrices and for checking the engine.

`control_gap` gives the empirical reference: max - min of the score over the control personas.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from personalib.errors import PersonalibError
from personalib.stats.composite import Score, evaluate, score_values
from personalib.stats.outcomes import Outcomes
from personalib.stats.result import quiet

ROUNDS = 999
BATCH = 16
BLOCK = 4096
NULL_QUANTILE = 0.95


@dataclass(frozen=True)
class GapNull:
    """A top-bottom gap, its permutation null and the control personas' gap."""

    score: str
    gap: float
    top_persona: str | None
    bottom_persona: str | None
    chance_mean: float
    chance_p95: float
    p_value: float
    control_gap: float
    n_control: int
    rounds: int
    seed: int
    n_items: int
    n_personas: int
    reason: str | None = None
    null: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)

    def as_dict(self) -> dict[str, object]:
        """The fields without the null sample (one row of a tidy table)."""
        out = asdict(self)
        del out["null"]
        return out


def gaps(values: np.ndarray) -> np.ndarray:
    """max - min over the last axis of the defined (non-NaN) values; NaN with fewer than two."""
    ok = ~np.isnan(values)
    with quiet():
        hi = np.where(ok, values, -np.inf).max(axis=-1)
        lo = np.where(ok, values, np.inf).min(axis=-1)
    return np.where(ok.sum(axis=-1) >= 2, hi - lo, np.nan)


def p_value(observed: float, null: np.ndarray) -> float:
    """(1 + #{null >= observed}) / (1 + rounds); ties within 1e-12 (relative) count as >=."""
    if np.isnan(observed):
        return float("nan")
    tol = 1e-12 * max(1.0, abs(observed))
    return float((1 + np.sum(null >= observed - tol)) / (1 + null.size))


def control_gap(values: Mapping[str, float] | pd.Series, controls: Sequence[str]) -> tuple[float, int]:
    """The gap (max - min) of a score among the control personas that have a value, and how many
    there are; NaN with fewer than two."""
    series = pd.Series(values, dtype=float) if not isinstance(values, pd.Series) else values.astype(float)
    got = series.reindex([c for c in controls if c in series.index]).dropna()
    return (float(got.max() - got.min()) if len(got) >= 2 else float("nan")), int(len(got))


@dataclass(frozen=True)
class _Plan:
    """What moves under the permutation: the active items (not all alike) sorted by their number
    of minority cells, and per minority cell its item, rank in the item, class and stratum."""

    base: np.ndarray        # strata x classes: items with that majority class (every column)
    k: np.ndarray           # minority cells per active item, descending
    entry_item: np.ndarray  # per minority cell: index into the active items
    entry_rank: np.ndarray  # its rank within the item (0..k-1)
    entry_class: np.ndarray
    entry_major: np.ndarray
    entry_stratum: np.ndarray


def _plan(outcomes: Outcomes) -> _Plan:
    codes, c = outcomes.codes, outcomes.n_classes
    n, p = codes.shape
    per_class = np.stack([(codes == k).sum(axis=1) for k in range(c)], axis=1)
    major = per_class.argmax(axis=1)
    k = p - per_class[np.arange(n), major]
    base = np.bincount(outcomes.strata * c + major, minlength=len(outcomes.stratum_labels) * c)
    active = np.flatnonzero(k > 0)
    active = active[np.argsort(-k[active], kind="stable")]
    minority = codes[active] != major[active][:, None].astype(codes.dtype)
    item, col = np.nonzero(minority)
    starts = np.concatenate([[0], np.cumsum(k[active])[:-1]])
    return _Plan(
        base=base.reshape(-1, c), k=k[active], entry_item=item,
        entry_rank=np.arange(item.size) - starts[item], entry_class=codes[active][item, col],
        entry_major=major[active][item], entry_stratum=outcomes.strata[active][item])


def _permuted_counts(plan: _Plan, outcomes: Outcomes, rounds: int, rng: np.random.Generator,
                     block: int) -> np.ndarray:
    """Class counts (rounds x strata x classes x personas) of `rounds` within-item permutations."""
    s, c, p = plan.base.shape[0], plan.base.shape[1], outcomes.n_personas
    counts = np.empty((rounds, s, c, p), np.int64)
    counts[...] = plan.base[None, :, :, None]
    dtype = np.uint8 if p <= 256 else np.int32
    for lo in range(0, plan.k.size, block):
        hi = min(lo + block, plan.k.size)
        k, n = plan.k[lo:hi], hi - lo
        perm = np.empty((rounds * n, p), dtype)  # row b * n + i: round b, item lo + i
        perm[...] = np.arange(p, dtype=dtype)
        flat_perm = perm.reshape(-1)
        row_start = (np.arange(rounds)[:, None] * n + np.arange(n)[None, :]) * p
        # partial Fisher-Yates: step t swaps position t with a uniform position in [t, p), in
        # every item with more than t minority cells (a prefix, as items are sorted by k)
        for t, n_t in enumerate(np.searchsorted(-k, -np.arange(int(k[0])), side="left")):
            start = row_start[:, :n_t]
            here = start + t
            there = start + rng.integers(t, p, size=start.shape)
            moved = flat_perm[here]
            flat_perm[here] = flat_perm[there]
            flat_perm[there] = moved
        e0, e1 = np.searchsorted(plan.entry_item, [lo, hi])
        cells = (plan.entry_item[e0:e1] - lo) * p + plan.entry_rank[e0:e1]
        to_class = (plan.entry_stratum[e0:e1] * c + plan.entry_class[e0:e1]) * p
        from_major = (plan.entry_stratum[e0:e1] * c + plan.entry_major[e0:e1]) * p
        for b in range(rounds):
            cols = flat_perm[b * n * p:(b + 1) * n * p][cells]
            flat = counts[b].reshape(-1)
            flat += np.bincount(to_class + cols, minlength=flat.size)
            flat -= np.bincount(from_major + cols, minlength=flat.size)
    return counts


def permutation_nulls(outcomes: Outcomes, scores: Sequence[Score], *, rounds: int = ROUNDS,
                      seed: int = 0, batch: int = BATCH, block: int = BLOCK) -> dict[str, np.ndarray]:
    """Each score's per-persona values under `rounds` within-item permutations (rounds x
    personas). Seeded by `numpy.random.default_rng(seed)`, consumed in batches of `batch` rounds
    and blocks of `block` items: the same seed, data, batch and block give the same null."""
    if rounds < 1 or batch < 1 or block < 1:
        raise PersonalibError(f"rounds, batch and block must be positive; got {rounds}, {batch}, {block}")
    rng = np.random.default_rng(seed)
    plan = _plan(outcomes)
    out = {s.name: np.empty((rounds, outcomes.n_personas)) for s in scores}
    for start in range(0, rounds, batch):
        b = min(batch, rounds - start)
        counts = _permuted_counts(plan, outcomes, b, rng, block)
        for name, values in evaluate(scores, counts, outcomes).items():
            out[name][start:start + b] = values
    return out


def gap_result(name: str, observed: np.ndarray, null: np.ndarray, personas: Sequence[str],
               controls: Sequence[str], rounds: int, seed: int, n_items: int) -> GapNull:
    """The GapNull of one score from its observed per-persona values and its per-persona values
    under the permutations (rounds x personas, `permutation_nulls`); also for a score combined
    from several datasets' nulls (the overall score: the mean of three datasets' permuted scores,
    permuted independently per item, is a draw of the joint within-item permutation)."""
    gap = float(gaps(observed))
    with quiet():
        null_gaps = gaps(null)
    ctrl, n_ctrl = control_gap(pd.Series(observed, index=list(personas)), controls)
    common = dict(score=name, control_gap=ctrl, n_control=n_ctrl, rounds=rounds, seed=seed,
                  n_items=n_items, n_personas=len(personas))
    if np.isnan(gap):
        n_def = int((~np.isnan(observed)).sum())
        return GapNull(gap=gap, top_persona=None, bottom_persona=None, chance_mean=np.nan,
                       chance_p95=np.nan, p_value=np.nan, null=null_gaps, **common,
                       reason=f"{n_def} persona(s) with a value: a gap needs at least two")
    order = pd.Series(observed, index=list(personas)).dropna()
    order = order.iloc[np.lexsort((order.index.to_numpy(), -order.to_numpy()))]
    finite = null_gaps[~np.isnan(null_gaps)]
    mean, p95 = ((float(finite.mean()), float(np.quantile(finite, NULL_QUANTILE))) if finite.size
                 else (np.nan, np.nan))
    return GapNull(gap=gap, top_persona=str(order.index[0]), bottom_persona=str(order.index[-1]),
                   chance_mean=mean, chance_p95=p95,
                   p_value=p_value(gap, finite) if finite.size else np.nan, null=null_gaps, **common)


def gap_null(outcomes: Outcomes, scores: Sequence[Score], *, controls: Sequence[str] = (),
             rounds: int = ROUNDS, seed: int = 0, batch: int = BATCH,
             block: int = BLOCK) -> dict[str, GapNull]:
    """The top-bottom gap of each score, its within-item permutation null (mean and 95th
    percentile of the null gaps), the p-value and the gap among `controls` (persona names)."""
    observed = score_values(outcomes, scores)
    nulls = permutation_nulls(outcomes, scores, rounds=rounds, seed=seed, batch=batch, block=block)
    return {s.name: gap_result(s.name, observed[s.name], nulls[s.name], outcomes.personas, controls,
                            rounds, seed, outcomes.n_items) for s in scores}


def gap_table(results: Mapping[str, GapNull] | Sequence[GapNull]) -> pd.DataFrame:
    """Tidy table of gap nulls: one row per score, the GapNull fields without the null sample."""
    rows = list(results.values()) if isinstance(results, Mapping) else list(results)
    columns = [f for f in GapNull.__dataclass_fields__ if f != "null"]
    return pd.DataFrame([r.as_dict() for r in rows], columns=columns)


def permutation_gap(matrix: np.ndarray | pd.DataFrame,
                    score: Callable[[np.ndarray], np.ndarray] | None = None, *,
                    controls: Sequence[str] = (), rounds: int = ROUNDS, seed: int = 0,
                    name: str = "score") -> GapNull:
    """Gap null for any per-persona score computed from the items x personas matrix: `score`
    maps a (permuted) matrix to one value per persona (default: column means over the items with
    a value). Each round permutes every row independently (`Generator.permuted`); the row order,
    and so any item structure the score uses (strata, subjects), is kept."""
    personas = [str(c) for c in matrix.columns] if isinstance(matrix, pd.DataFrame) else None
    x = np.asarray(matrix, dtype=np.float64)
    if x.ndim != 2:
        raise PersonalibError(f"permutation_gap needs an items x personas matrix; got shape {x.shape}")
    personas = personas or [str(j) for j in range(x.shape[1])]
    func = score or _column_means
    rng = np.random.default_rng(seed)
    observed = np.asarray(func(x), dtype=np.float64)
    null = np.stack([np.asarray(func(rng.permuted(x, axis=1)), dtype=np.float64) for _ in range(rounds)])
    return gap_result(name, observed, null, personas, controls, rounds, seed, x.shape[0])


def _column_means(x: np.ndarray) -> np.ndarray:
    ok = ~np.isnan(x)
    with quiet():
        return np.where(ok.any(axis=0), np.where(ok, x, 0).sum(axis=0) / ok.sum(axis=0), np.nan)


def describe_gap(result: GapNull, scale: float = 100.0, unit: str = "p.p.") -> str:
    """The headline sentence: "gap 38.6 p.p.; by chance 9.8 p.p. (95th percentile); p = 0.001"."""
    if result.reason:
        return f"gap undefined: {result.reason}"
    digits = max(1, int(np.ceil(np.log10(result.rounds + 1))))  # the p-value's resolution
    p = f"{result.p_value:.{digits}f}"
    return (f"gap {result.gap * scale:.1f} {unit}; by chance {result.chance_p95 * scale:.1f} {unit} "
            f"(95th percentile); p = {p}")


__all__ = ["BATCH", "BLOCK", "ROUNDS", "GapNull", "control_gap", "describe_gap", "gap_null",
           "gap_result", "gap_table", "gaps", "p_value", "permutation_gap", "permutation_nulls"]
