"""Uncertainty of the reports' per-persona scores and top-bottom gaps (docs/statistics.md).

For each model x dataset of a study, `draws` computes once, from the model's scored rows
(`stats.study_outcomes`, one model x dataset at a time), every study score of the dataset
(`stats.study_scores`: accuracy, BBQ bias and its parts, unknown frequency, refusal rates):

- its 95% interval per persona (Wilson for a rate, the stratified bootstrap over items for a
  composite score such as MMLU's mean of subject accuracies or BBQ bias);
- its bootstrap values and its values under the within-item permutation null (rounds x
  personas), so that scores combined over datasets (the overall score, the average refusal rate)
  get an interval and a null too: items of different datasets are resampled and permuted
  independently, so the mean of the datasets' draws is a draw of the combined score.

The result is cached beside the outcome tables (`<outcome cache>/uncertainty/<model>/<dataset>/`),
keyed by the assembled outcome file (its name is the digest of the answers it holds), the parsing
mode, the item columns the scores use, the rounds, the seed and `VERSION`; a rerun of a report,
and the other reports of the same store, read it instead of recomputing.

`collect(study, datasets)` gathers the draws of every model; `interval_table` and `gap_table` turn
them into the reports' tidy tables for named scores ("TruthfulQA" = the truthfulqa accuracy) and
combinations of them ("overall" = the mean of three).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from personalib import stats
from personalib.analysis.data import Study
from personalib.files import atomic_write
from personalib.outcomes.cache import cache_root, digest
from personalib.stats import intervals as stat_intervals
from personalib.stats.permutation import GapNull, gap_result, permutation_nulls
from personalib.stats.result import quiet
from personalib.store import Store
from personalib.tasks import registry

ROUNDS = 999
SEED = 2024
CONFIDENCE = 0.95
VERSION = 2
"""Version of the cached draws: raise it when what they hold or how they are computed changes."""
ITEM_COLUMNS = ("item_id", "gold", "n_options", "subject", "category", "context_condition",
                "target_loc", "unknown_loc", "measure")
"""Item columns the study scores depend on (through the scored rows): part of the cache key."""
CONTROL = "control"

Spec = Mapping[str, tuple[str, str]]
"""Report label -> (dataset, study score name), e.g. {"TruthfulQA": ("truthfulqa", "accuracy")}."""


@dataclass(frozen=True)
class Draws:
    """One model x dataset: per score the observed values, the interval and its method, the
    items per persona, and the bootstrap and permutation-null values (rounds x personas)."""

    model: str
    dataset: str
    personas: tuple[str, ...]
    rounds: int
    seed: int
    n_items: int
    observed: dict[str, np.ndarray]
    low: dict[str, np.ndarray]
    high: dict[str, np.ndarray]
    method: dict[str, str]
    n: dict[str, np.ndarray]
    boot: dict[str, np.ndarray]
    null: dict[str, np.ndarray]


@dataclass(frozen=True)
class Uncertainty:
    """The draws of every model x dataset of a study, its control personas and what is left out."""

    draws: dict[tuple[str, str], Draws] = field(default_factory=dict)
    controls: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    rounds: int = ROUNDS
    notes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.draws


def _seeds(seed: int, dataset: str) -> tuple[int, int]:
    """Independent bootstrap and permutation seeds per dataset (so the draws of different
    datasets, combined into the overall score, are independent)."""
    state = np.random.SeedSequence([seed, registry.names().index(dataset)]).generate_state(2)
    return int(state[0]), int(state[1])


def _items_digest(items: pd.DataFrame) -> str:
    cols = [c for c in ITEM_COLUMNS if c in items.columns]
    hashed = pd.util.hash_pandas_object(items[cols].astype(str), index=False).to_numpy()
    return digest(cols, hashed.tobytes().hex())


def cache_path(study: Study, model: str, dataset: str, rounds: int, seed: int) -> Path:
    """Where the draws of `model` x `dataset` are cached (module doc: what the key holds)."""
    assembled, items = study.sources[(model, dataset)]
    key = digest(VERSION, assembled.path.name, study.parsing, _items_digest(items), rounds, seed,
                 CONFIDENCE)
    return cache_root(Store(study.store)) / "uncertainty" / quote(model, safe="") / dataset / f"{key}.npz"


def _save(draws: Draws, path: Path) -> None:
    """Write the draws atomically; a cache that cannot be written is skipped (recomputed next time)."""
    arrays: dict[str, np.ndarray] = {"personas": np.array(draws.personas, dtype=str)}
    for kind in ("observed", "low", "high", "n", "boot", "null"):
        for name, values in getattr(draws, kind).items():
            arrays[f"{kind}/{name}"] = values
    meta = {"model": draws.model, "dataset": draws.dataset, "rounds": draws.rounds,
            "seed": draws.seed, "n_items": draws.n_items, "method": draws.method}
    arrays["meta"] = np.array(json.dumps(meta))
    try:
        atomic_write(path, lambda out: np.savez_compressed(out, **arrays))
    except OSError:
        return


def _load(path: Path) -> Draws | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            parts: dict[str, dict[str, np.ndarray]] = {k: {} for k in ("observed", "low", "high", "n", "boot", "null")}
            for key in data.files:
                kind, _, name = key.partition("/")
                if kind in parts:
                    parts[kind][name] = data[key]
            personas = tuple(str(p) for p in data["personas"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # unreadable: recomputed
        return None
    return Draws(meta["model"], meta["dataset"], personas, int(meta["rounds"]), int(meta["seed"]),
                 int(meta["n_items"]), method=dict(meta["method"]), **parts)


def compute_draws(rows: pd.DataFrame, model: str, dataset: str, *, rounds: int = ROUNDS,
                  seed: int = SEED) -> Draws:
    """The draws of one model x dataset from its scored rows (no cache)."""
    added = dataset not in registry.study_names()
    outcomes = stats.study_outcomes(rows, dataset, added=added)
    scores = stats.study_scores(dataset, outcomes.stratum_labels, added=added)
    boot_seed, null_seed = _seeds(seed, dataset)
    boot = stat_intervals.bootstrap_scores(outcomes, scores, rounds=rounds, seed=boot_seed)
    table = stat_intervals.interval_table(outcomes, scores, boot, confidence=CONFIDENCE)
    null = permutation_nulls(outcomes, scores, rounds=rounds, seed=null_seed)
    by = {name: part for name, part in table.groupby("score", sort=False)}
    names = [s.name for s in scores]
    return Draws(
        model, dataset, outcomes.personas, rounds, seed, outcomes.n_items,
        observed={k: by[k]["value"].to_numpy(float) for k in names},
        low={k: by[k]["low"].to_numpy(float) for k in names},
        high={k: by[k]["high"].to_numpy(float) for k in names},
        method={k: str(by[k]["method"].iloc[0]) for k in names},
        n={k: by[k]["n_items"].to_numpy(np.int64) for k in names},
        boot={k: v.astype(np.float32) for k, v in boot.items()},  # for percentiles: float32 is plenty
        null=null)  # float64: a p-value counts null gaps equal to the observed one, so no rounding


def draws(study: Study, model: str, dataset: str, *, rounds: int = ROUNDS,
          seed: int = SEED) -> Draws | None:
    """The draws of `model` x `dataset` (None without generations), from the cache when there."""
    if not study.has(dataset, model):
        return None
    path = cache_path(study, model, dataset, rounds, seed)
    cached = _load(path) if path.exists() else None
    if cached is not None:
        return cached
    result = compute_draws(study.rows(dataset, model), model, dataset, rounds=rounds, seed=seed)
    _save(result, path)
    return result


def collect(study: Study, datasets: Sequence[str], *, rounds: int = ROUNDS,
            seed: int = SEED) -> Uncertainty:
    """The draws of every model of the study on each of `datasets` it has, one model x dataset
    at a time (module doc)."""
    found: dict[tuple[str, str], Draws] = {}
    for model in study.models_present:
        for dataset in datasets:
            got = draws(study, model, dataset, rounds=rounds, seed=seed)
            if got is not None:
                found[(model, dataset)] = got
    categories = study.persona_categories()
    controls = tuple(p for p, c in categories.items() if c == CONTROL)
    notes = []
    if not controls:
        notes.append("no control personas in this study: the gap among control personas (the "
                     "empirical reference for a top-bottom gap) is undefined")
    return Uncertainty(found, controls, tuple(study.models_present), rounds, tuple(notes))


def _frame(draw: Draws, kind: str, score: str) -> pd.DataFrame | pd.Series:
    values = getattr(draw, kind)[score]
    if values.ndim == 2:
        return pd.DataFrame(values.astype(np.float64), columns=list(draw.personas))
    return pd.Series(values.astype(np.float64), index=list(draw.personas))


def _components(unc: Uncertainty, model: str, spec: Spec, labels: Sequence[str]) -> list[tuple[Draws, str]]:
    return [(unc.draws[(model, spec[lab][0])], spec[lab][1]) for lab in labels
            if (model, spec[lab][0]) in unc.draws and spec[lab][1] in unc.draws[(model, spec[lab][0])].observed]


def _combined(parts: list[tuple[Draws, str]], kind: str) -> pd.DataFrame | pd.Series:
    """The mean over datasets of one kind of value (observed, boot, null), aligned by persona; a
    persona without a value in one of them gets NaN."""
    frames = [_frame(d, kind, score) for d, score in parts]
    total = frames[0]
    for other in frames[1:]:
        total = total.add(other)  # aligned on personas; NaN where either lacks the persona
    return total / len(frames)


def _entries(unc: Uncertainty, spec: Spec, combos: Mapping[str, Sequence[str]], partial: bool):
    """(model, label, parts, combined) for every score of `spec` and combination the models have;
    a combination needs every member unless `partial` (then: the members the model has)."""
    for model in unc.models:
        for label in spec:
            parts = _components(unc, model, spec, [label])
            if parts:
                yield model, label, parts, False
        for label, members in combos.items():
            parts = _components(unc, model, spec, members)
            if parts and (partial or len(parts) == len(members)):
                yield model, label, parts, True


def interval_table(unc: Uncertainty, spec: Spec, combos: Mapping[str, Sequence[str]] | None = None,
                   *, partial: bool = False) -> pd.DataFrame:
    """Per model, label and persona: the score `value` and its 95% interval `low`-`high`, the
    `method` (wilson, bootstrap; `bootstrap` for a combination of labels in `combos`: the
    percentile interval of the mean of its datasets' bootstrap values; see `_entries` for
    `partial`)."""
    alpha = (1 - CONFIDENCE) / 2
    frames = []
    for model, label, parts, combined in _entries(unc, spec, combos or {}, partial):
        if not combined:
            draw, score = parts[0]
            frames.append(pd.DataFrame({
                "model": model, "dataset": label, "persona": list(draw.personas),
                "value": draw.observed[score], "low": draw.low[score], "high": draw.high[score],
                "method": draw.method[score]}))
            continue
        observed = _combined(parts, "observed")
        boot = _combined(parts, "boot")
        with quiet():
            low, high = np.nanquantile(boot.to_numpy(), [alpha, 1 - alpha], axis=0)
        frames.append(pd.DataFrame({
            "model": model, "dataset": label, "persona": list(boot.columns),
            "value": observed.reindex(boot.columns).to_numpy(), "low": low, "high": high,
            "method": "bootstrap"}))
    columns = ["model", "dataset", "persona", "value", "low", "high", "method"]
    if not frames:
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True)[columns]
    undefined = out["value"].isna()
    out.loc[undefined, ["low", "high"]] = np.nan
    return out


GAP_COLUMNS = ["model", "dataset", "gap", "chance_mean", "chance_gap", "p_value", "control_gap",
               "n_control", "rounds", "reason"]


def gap_nulls(unc: Uncertainty, spec: Spec, combos: Mapping[str, Sequence[str]] | None = None,
              *, partial: bool = False) -> dict[tuple[str, str], GapNull]:
    """(model, label) -> the GapNull of that score (`stats.gap_result`): the observed gap, the
    null gaps' mean and 95th percentile, the p-value and the control personas' gap."""
    out = {}
    for model, label, parts, _ in _entries(unc, spec, combos or {}, partial):
        observed = _combined(parts, "observed")
        null = _combined(parts, "null")
        personas = list(null.columns)
        out[(model, label)] = gap_result(label, observed.reindex(personas).to_numpy(), null.to_numpy(),
                                         personas, unc.controls, unc.rounds, parts[0][0].seed,
                                         sum(d.n_items for d, _ in parts))
    return out


def gap_table(nulls: Mapping[tuple[str, str], GapNull]) -> pd.DataFrame:
    """Tidy table of `gap_nulls`: model, dataset (the label), gap, chance_mean, chance_gap (the
    95th percentile of the null gaps), p_value, control_gap, n_control, rounds, reason."""
    rows = [{"model": model, "dataset": label, "gap": g.gap, "chance_mean": g.chance_mean,
             "chance_gap": g.chance_p95, "p_value": g.p_value, "control_gap": g.control_gap,
             "n_control": g.n_control, "rounds": g.rounds, "reason": g.reason}
            for (model, label), g in nulls.items()]
    return pd.DataFrame(rows, columns=GAP_COLUMNS)


def marks(intervals: pd.DataFrame, ends: pd.DataFrame, categories: Mapping[str, str], *,
          by: Sequence[str] = ("model", "dataset")) -> pd.DataFrame:
    """The personas whose intervals a figure draws (`figures.persona_strip(marks=...)`): per group
    of `by`, the top and bottom persona of `ends` (columns `by`, `top_persona`, `bottom_persona`,
    e.g. `stats.score_gap`), the no-persona condition and every control persona, each with its
    `value`, `low`, `high` from `intervals` and its `role`."""
    columns = [*by, "persona", "role", "value", "low", "high"]
    if intervals.empty:
        return pd.DataFrame(columns=columns)
    role = intervals["persona"].map(lambda p: "no persona" if p == "empty"
                                    else "control" if categories.get(p) == CONTROL else None)
    parts = [intervals.assign(role=role).dropna(subset=["role"])]
    for end in ("top", "bottom"):
        chosen = ends[[*by, f"{end}_persona"]].dropna().rename(columns={f"{end}_persona": "persona"})
        parts.append(intervals.merge(chosen, on=[*by, "persona"]).assign(role=end))
    return pd.concat(parts, ignore_index=True)[columns]


def p_text(p: float, rounds: int | None = None) -> str:
    """A permutation p-value at its resolution (1/(rounds + 1) is the smallest it can be; three
    decimals for the reports' 999 rounds)."""
    digits = max(1, int(np.ceil(np.log10(rounds + 1)))) if rounds else 3
    return f"{p:.{digits}f}"


def chance_text(row: Mapping[str, object], scale: float = 100.0, unit: str = "p.p.", digits: int = 1) -> str:
    """"by chance 9.8 p.p. (95th percentile); p = 0.001; control personas 4.1 p.p." for a row with
    `chance_gap`, `p_value` and `control_gap` (and `rounds` if known), or why it is undefined."""
    if pd.isna(row.get("chance_gap")):
        reason = row.get("reason")
        return "chance gap undefined" + (f" ({reason})" if isinstance(reason, str) else "")
    rounds = row.get("rounds")
    unit = f" {unit}" if unit else ""
    text = (f"by chance {float(row['chance_gap']) * scale:.{digits}f}{unit} (95th percentile); "
            f"p = {p_text(float(row['p_value']), int(rounds) if pd.notna(rounds) else None)}")
    if pd.notna(row.get("control_gap")):
        text += f"; control personas {float(row['control_gap']) * scale:.{digits}f}{unit}"
    return text


__all__ = ["CONFIDENCE", "GAP_COLUMNS", "ROUNDS", "SEED", "VERSION", "Draws", "Uncertainty",
           "cache_path", "chance_text", "collect", "compute_draws", "draws", "gap_nulls", "gap_table",
           "interval_table", "marks", "p_text"]
