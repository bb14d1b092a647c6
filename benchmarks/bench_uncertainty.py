"""Uncertainty statistics for one full-size model: intervals and permutation nulls (issue 11).

One model of the study answers TruthfulQA (817 items), MMLU (14,042 items in 57 subjects) and BBQ
(58,492 items in 11 categories x 2 context conditions) as 193 personas. This benchmark builds
synthetic per-item answers at those sizes and times, per dataset, everything the reports need
for every score of the dataset (accuracy; refusal rate; for BBQ also bias and unknown frequency):

- `encode`: the answers as an items x personas outcome-class matrix;
- intervals: Wilson for rates, the stratified bootstrap (999 rounds) for composite scores;
- nulls: the within-item permutation null of the top-bottom gap (999 rounds, all scores of the
  dataset sharing the permutations), with the gap among the 30 control personas.

Synthetic answers: each item has a modal answer (right with probability .7) and an instability
q ~ Beta(.5, 4) (mean 11%); each persona leaves the modal answer with probability q times its own
factor (uniform .5-1.5) for a uniformly chosen other option; .5% of answers are refusals. About
one answer in nine differs from its item's modal answer, and few items are answered alike by all
193 personas, which is what the permutation engine's cost depends on.

Baseline, in the same run: the plain permutation (`permutation_gap`, numpy `Generator.permuted`
per round over the whole items x personas matrix, column means) on BBQ accuracy, a few rounds,
scaled to 999. Prints wall and CPU seconds per dataset and in total, and the peak RSS.

The report path (`--report`): what a report does for one full-size model, from its scored rows
(one row per generation, categorical labels as `Study.rows` gives them: 14.56 M rows in all)
through `analysis.uncertainty.compute_draws` (outcome matrix, every study score's interval,
bootstrap and permutation null, 999 rounds, the attitude and toxicity refusal tasks included),
then writing and reading the cached draws; peak RSS includes the scored rows.

    python -m benchmarks uncertainty            # full size (the study's sizes, 999 rounds)
    python -m benchmarks uncertainty --quick    # 1/20 of the items, 199 rounds
    python -m benchmarks uncertainty --report   # the report path, full size
"""

from __future__ import annotations

import resource
import sys
import time

import numpy as np

from personalib.stats import (
    encode,
    gap_null,
    permutation_gap,
    score_intervals,
    study_scores,
)

PERSONAS = 193
CONTROLS = 30
MMLU_SUBJECTS = 57
BBQ_CATEGORIES = 11
SIZES = {"truthfulqa": 817, "mmlu": 14_042, "bbq": 58_492}
OPTIONS = {"truthfulqa": 4, "mmlu": 4, "bbq": 3}
BASELINE_ROUNDS = 5


def _answers(rng: np.random.Generator, n: int, options: int) -> tuple[np.ndarray, np.ndarray]:
    """items x personas option indices (a modal answer per item, persona-dependent deviations)
    and each item's modal answer."""
    modal = rng.integers(0, options, n).astype(np.int8)
    q = (rng.beta(0.5, 4, n)[:, None] * rng.uniform(0.5, 1.5, PERSONAS)[None, :]).astype(np.float32)
    leave = rng.random((n, PERSONAS), dtype=np.float32) < q
    other = (modal[:, None] + rng.integers(1, options, (n, PERSONAS), dtype=np.int8)) % options
    return np.where(leave, other, modal[:, None]).astype(np.int8), modal


def _flag(mask: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """A 0/1 float32 outcome matrix, NaN outside `rows` (items where it is defined)."""
    out = mask.astype(np.float32)
    if rows is not None:
        out[~rows] = np.nan
    return out


def synthetic(dataset: str, n: int, seed: int = 0):
    """Outcomes (`personalib.stats.Outcomes`) of one synthetic model on one dataset."""
    rng = np.random.default_rng(seed)
    options = OPTIONS[dataset]
    answers, modal = _answers(rng, n, options)
    gold = np.where(rng.random(n) < 0.7, modal, (modal + 1) % options)
    values = {"hit": _flag(answers == gold[:, None]),
              "refusal": _flag(rng.random((n, PERSONAS), dtype=np.float32) < 0.005)}
    strata = None
    if dataset == "mmlu":
        strata = rng.integers(0, MMLU_SUBJECTS, n).astype(str)
    if dataset == "bbq":
        category = rng.integers(0, BBQ_CATEGORIES, n).astype(str)
        condition = np.where(rng.random(n) < 0.5, "ambig", "disambig")
        strata = list(zip(category, condition, strict=True))
        target = np.where(rng.random(n) < 0.8, rng.integers(0, 3, n), -1)
        unknown_loc = rng.integers(0, 3, n)
        has = target >= 0
        values["biased"] = _flag(answers == target[:, None], has)
        values["unknown_b"] = _flag(answers == unknown_loc[:, None], has)
        values["hit_b"] = _flag(answers == gold[:, None], has)
    personas = [f"p{j}" for j in range(PERSONAS - CONTROLS)] + [f"ctl{j}" for j in range(CONTROLS)]
    return encode(values, strata, personas=personas)


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


REPORT_SIZES = {**SIZES, "attitudes": 837, "toxicity": 1252}


def scored_rows(dataset: str, n: int, seed: int = 0):
    """Synthetic scored rows of one model (`Study.rows` columns the uncertainty needs), from the
    synthetic outcomes: categorical persona and item labels, nullable 0/1 outcomes."""
    import pandas as pd

    base = "truthfulqa" if dataset in ("attitudes", "toxicity") else dataset
    out = synthetic(base, n, seed)
    p = out.n_personas
    item_ids = [f"{dataset}/{i}" for i in range(n)]
    frame = {"model": pd.Categorical.from_codes(np.zeros(n * p, np.int8), ["synthetic"]),
             "dataset": pd.Categorical.from_codes(np.zeros(n * p, np.int8), [dataset]),
             "persona": pd.Categorical.from_codes(np.tile(np.arange(p), n), list(out.personas)),
             "item_id": pd.Categorical.from_codes(np.repeat(np.arange(n), p), item_ids)}
    for name in ("hit", "refusal", "biased", "unknown_b"):
        if name in out.names:
            values = out.matrix(name).reshape(-1)
            frame[name] = pd.arrays.BooleanArray(values == 1, np.isnan(values))
    strata = np.repeat(out.strata, p)
    labels = np.array(out.stratum_labels, dtype=object)
    if dataset == "mmlu":
        frame["subject"] = pd.Categorical.from_codes(strata, [str(x) for x in labels])
    if dataset == "bbq":
        cats, conds = sorted({a for a, _ in labels}), ["ambig", "disambig"]
        cat_code = np.array([cats.index(a) for a, _ in labels])
        cond_code = np.array([conds.index(b) for _, b in labels])
        frame["category"] = pd.Categorical.from_codes(cat_code[strata], cats)
        frame["context_condition"] = pd.Categorical.from_codes(cond_code[strata], conds)
        target = ~np.isnan(out.matrix("biased").reshape(-1))
        frame["target_loc"] = pd.arrays.IntegerArray(np.zeros(n * p, np.int64), ~target)
        frame["unknown"] = frame.pop("unknown_b")
    if dataset in ("attitudes", "toxicity"):  # ratings 1-5: the hit pattern spread over the scale
        rating = (np.nan_to_num(out.matrix("hit").reshape(-1)) * 2 + np.tile(np.arange(p) % 3, n) + 1)
        frame["value" if dataset == "attitudes" else "rating"] = pd.array(rating.astype(np.int64), dtype="Int64")
    if dataset == "attitudes":
        frame["attitude"] = pd.Categorical.from_codes(np.repeat(np.arange(n) % 7, p), [f"a{k}" for k in range(7)])
    if dataset == "toxicity":
        frame["measure"] = pd.Categorical.from_codes(np.repeat(np.arange(n) % 2, p), ["off", "rac"])
    return pd.DataFrame(frame)


def report_path(quick: bool) -> None:
    """The report path for one synthetic full-size model (module doc)."""
    import tempfile
    from pathlib import Path

    from personalib.analysis import uncertainty

    scale, rounds = (20, 199) if quick else (1, 999)
    print(f"report path: one model, {PERSONAS} personas, {rounds} rounds")
    print(f"{'dataset':<11}{'rows':>11}{'draws s':>9}{'cpu s':>8}{'save s':>8}{'load s':>8}")
    total = [0.0, 0.0]
    with tempfile.TemporaryDirectory() as tmp:
        for dataset, size in REPORT_SIZES.items():
            rows = scored_rows(dataset, max(size // scale, 20))
            start = _clock()
            draws = uncertainty.compute_draws(rows, "synthetic", dataset, rounds=rounds)
            wall, cpu = _since(start)
            path = Path(tmp) / f"{dataset}.npz"
            t0 = _clock()
            uncertainty._save(draws, path)
            save = _since(t0)[0]
            t0 = _clock()
            uncertainty._load(path)
            load = _since(t0)[0]
            total[0] += wall
            total[1] += cpu
            print(f"{dataset:<11}{len(rows):>11,}{wall:>9.1f}{cpu:>8.1f}{save:>8.2f}{load:>8.2f}")
            del rows
    print(f"{'total':<22}{total[0]:>9.1f}{total[1]:>8.1f}")
    print(f"peak RSS: {_peak_rss_mb():.0f} MB (scored rows of one dataset at a time, draws)")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    quick = "--quick" in argv
    if "--report" in argv:
        report_path(quick)
        return
    scale, rounds = (20, 199) if quick else (1, 999)
    controls = [f"ctl{j}" for j in range(CONTROLS)]
    print(f"RSS after imports: {_peak_rss_mb():.0f} MB")
    print(f"{'quick: 1/20 of the items, ' if quick else ''}{PERSONAS} personas, {rounds} rounds")
    print(f"{'dataset':<11}{'items':>7}{'moving':>9}{'encode':>8}{'intervals':>11}{'nulls':>8}"
          f"{'wall s':>8}{'cpu s':>8}   headline (accuracy)")
    total_wall = total_cpu = 0.0
    baseline_outcomes = None
    for dataset, size in SIZES.items():
        n = max(size // scale, 20)
        start = _clock()
        outcomes = synthetic(dataset, n)
        t_encode = _since(start)[0]
        modal = np.stack([(outcomes.codes == c).sum(axis=1) for c in range(outcomes.n_classes)]).max(axis=0)
        moving = 1 - modal.sum() / outcomes.codes.size  # answers that differ from their item's mode
        scores = study_scores(dataset)
        t0 = _clock()
        score_intervals(outcomes, scores, rounds=rounds, seed=1)
        t_int = _since(t0)[0]
        t0 = _clock()
        nulls = gap_null(outcomes, scores, controls=controls, rounds=rounds, seed=2)
        t_null = _since(t0)[0]
        wall, cpu = _since(start)
        total_wall += wall
        total_cpu += cpu
        acc = nulls["accuracy"]
        print(f"{dataset:<11}{n:>7}{moving:>9.1%}{t_encode:>8.1f}{t_int:>11.1f}{t_null:>8.1f}"
              f"{wall:>8.1f}{cpu:>8.1f}   gap {100 * acc.gap:.1f}, chance p95 "
              f"{100 * acc.chance_p95:.1f}, control gap {100 * acc.control_gap:.1f} p.p.")
        if dataset == "bbq":
            baseline_outcomes = outcomes
    print(f"{'total':<11}{'':>43}{total_wall:>8.1f}{total_cpu:>8.1f}")
    print(f"peak RSS: {_peak_rss_mb():.0f} MB (synthetic answers, encoding and statistics)")

    hits = baseline_outcomes.matrix("hit")
    start = _clock()
    permutation_gap(hits, rounds=BASELINE_ROUNDS, seed=3)
    base_wall = _since(start)[0] / BASELINE_ROUNDS * rounds
    start = _clock()
    gap_null(baseline_outcomes, study_scores("bbq")[:1], rounds=BASELINE_ROUNDS * 4, seed=3)
    fast_wall = _since(start)[0] / (BASELINE_ROUNDS * 4) * rounds
    print(f"baseline (BBQ accuracy null, {rounds} rounds, scaled from {BASELINE_ROUNDS}): plain "
          f"Generator.permuted {base_wall:.1f} s vs engine {fast_wall:.1f} s "
          f"({base_wall / fast_wall:.1f}x)")


if __name__ == "__main__":
    main()
