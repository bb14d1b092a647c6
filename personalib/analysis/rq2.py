"""RQ2 social bias: how personas move BBQ bias and the share of "unknown" answers (METHODS 5-6).

Every function takes a `Study` (or the per-persona scores `bias_scores` computes from one), works
one model at a time, for one model or several, and returns a `Result` (or a figure): what cannot
be computed on degenerate data is said in its notes or a `reason` column, never raised.

The scored BBQ rows' `category` is the item's BBQ category, which s_DIS / s_AMB average over
(METHODS 5); the persona's category is `persona_category` (`study.persona_categories()`). The
tables per BBQ category (the paper's Table 7 and the bias breakdown) are in
`personalib.analysis.bbq_tables`, importable from here.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from personalib import metrics, stats
from personalib.analysis import uncertainty as uncert
from personalib.analysis.bbq_tables import (  # noqa: F401  (the per-category tables of RQ2)
    category_accuracy,
    category_bias,
    category_bias_figure,
    category_bias_summary,
    group_rank_table,
    group_ranks,
)
from personalib.analysis.data import Study
from personalib.analysis.figures import persona_strip, std_ratio_figure
from personalib.analysis.result import Result
from personalib.analysis.show import note
from personalib.errors import PersonalibError
from personalib.metrics import KEYS
from personalib.metrics.bias import METADATA_HINT
from personalib.reports.keynumbers import key_name

MEASURES: dict[str, str] = {"s_dis": "s_DIS", "s_amb": "s_AMB", "bias": "bias (mean)",
                            "unknown_freq": "unknown frequency"}
"""Per-persona BBQ measures (METHODS 5) and their display names."""
NO_BBQ = "no BBQ generations in this store: the bias analysis of RQ2 cannot be computed"
SCORE_COLUMNS = [*KEYS, "category", *MEASURES]
SPEC: uncert.Spec = {MEASURES["s_dis"]: ("bbq", "s_dis"), MEASURES["s_amb"]: ("bbq", "s_amb"),
                     MEASURES["bias"]: ("bbq", "bbq_bias"), MEASURES["unknown_freq"]: ("bbq", "unknown_freq")}
"""The study scores (`personalib.stats.study_scores("bbq")`) behind each measure's display name."""


def _models(study: Study) -> list[str]:
    return [m for m in study.models_present if study.has("bbq", m)]


def has_bbq(study: Study) -> bool:
    """True when the study has BBQ generations with bias targets (METHODS 3 metadata); otherwise
    says once, in a note, why the RQ2 analysis cannot be computed, and returns False."""
    if not study.has("bbq"):
        note(NO_BBQ)
        return False
    items = study.items.get("bbq")
    if items is None or "target_loc" not in items or not items["target_loc"].notna().any():
        note(METADATA_HINT)
        return False
    return True


def bias_scores(study: Study) -> Result:
    """One row per model x persona: persona `category`, `s_dis`, `s_amb`, `bias` = mean of the two,
    `unknown_freq` (METHODS 5, via `metrics.bbq_bias`, one model at a time); the metric's notes
    say what is undefined."""
    if not _models(study):
        return Result(pd.DataFrame(columns=SCORE_COLUMNS), (NO_BBQ,))
    parts, notes = [], []
    for model in _models(study):
        try:
            table = metrics.bbq_bias(study.rows("bbq", model))
        except PersonalibError as exc:  # no bias targets: the metadata file was not loaded
            return Result(pd.DataFrame(columns=SCORE_COLUMNS), (str(exc),))
        notes += metrics.notes_of(table)
        parts.append(table.reset_index().astype({k: str for k in KEYS}))
    out = pd.concat(parts, ignore_index=True)
    out.attrs = {}
    return Result(study.with_categories(out, at=3)[SCORE_COLUMNS], tuple(notes))


def long_scores(scores: Result | pd.DataFrame, measures: list[str] | None = None) -> pd.DataFrame:
    """The per-persona table melted to `measure`, `value` (display names of MEASURES)."""
    scores = scores.table if isinstance(scores, Result) else scores
    measures = measures or list(MEASURES)
    long = scores.melt(id_vars=[*KEYS, "category"], value_vars=measures, var_name="measure")
    long["measure"] = long["measure"].map(MEASURES)
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    return long


def uncertainty(study: Study, rounds: int = uncert.ROUNDS) -> uncert.Uncertainty:
    """The 95% intervals and permutation nulls of BBQ bias, s_DIS, s_AMB and unknown frequency
    for every model (`analysis.uncertainty`: computed once per model and cached)."""
    return uncert.collect(study, ["bbq"] if has_targets(study) else [], rounds=rounds)


def has_targets(study: Study) -> bool:
    """True when the BBQ items carry bias targets (the METHODS 3 metadata was loaded)."""
    items = study.items.get("bbq")
    return bool(study.has("bbq") and items is not None and "target_loc" in items
                and items["target_loc"].notna().any())


def score_intervals(unc: uncert.Uncertainty) -> Result:
    """Per model, measure (display name) and persona: the 95% interval of the score (the
    stratified bootstrap over items for bias, s_DIS and s_AMB; Wilson for unknown frequency)."""
    table = uncert.interval_table(unc, SPEC).rename(columns={"dataset": "measure"})
    return Result(table, unc.notes)


def with_intervals(scores: Result, intervals: Result) -> Result:
    """The per-persona table with `<measure>_low` and `<measure>_high` after each measure."""
    table = scores.table.copy()
    if table.empty or intervals.table.empty:
        return scores
    names = {label: key for key, label in MEASURES.items()}
    bounds = intervals.table.assign(key=intervals.table["measure"].map(names))
    for key in MEASURES:
        part = bounds[bounds["key"] == key].set_index(["model", "persona"])
        index = pd.MultiIndex.from_frame(table[["model", "persona"]].astype(str))
        at = table.columns.get_loc(key) + 1
        for end in ("high", "low"):
            table.insert(at, f"{key}_{end}", part[end].reindex(index).to_numpy() if len(part) else np.nan)
    return Result(table, scores.notes)


def _marks(long: pd.DataFrame, intervals: Result | None, x: str) -> pd.DataFrame | None:
    """The interval marks (top, bottom, no persona, controls) of the measures in `long`."""
    if intervals is None or intervals.table.empty or long.empty:
        return None
    ends = stats.score_gap(long.dropna(subset=["value"]), by=("model", "measure"))
    categories = dict(zip(long["persona"].astype(str), long["category"].astype(str)))
    shown = intervals.table[intervals.table["measure"].isin(set(long["measure"]))]
    marks = uncert.marks(shown, ends, categories, by=("model", "measure"))
    return marks.assign(x=marks["model"]) if x == "x" else marks


def bias_figure(scores: Result, intervals: Result | None = None) -> Figure | None:
    """Per-persona s_DIS, s_AMB and their mean, one panel per model, coloured by persona category,
    no persona a black diamond (METHODS 6 figures); 0 = unbiased, 1 = always the stereotype. With
    `intervals`, the 95% intervals of the most and least biased, the no-persona and the control
    personas beside each strip."""
    if scores.table.empty:
        note(NO_BBQ)
        return None
    long = long_scores(scores, ["s_dis", "s_amb", "bias"])
    fig = persona_strip(long, x="measure", marks=_marks(long, intervals, "measure"),
                        title="BBQ bias per persona (METHODS 5)", ylabel="bias score (-1 to 1)")
    if fig is not None:
        for ax in fig.axes:
            if ax.get_visible() and ax.get_ylabel():
                ax.axhline(0.0, color="black", lw=0.8, ls=":")
    return fig


def unknown_figure(scores: Result, intervals: Result | None = None) -> Figure | None:
    """Per-persona share of "unknown" answers per model (METHODS 5; dotted line at the ideal .5),
    with the 95% intervals of the marked personas when `intervals` are given."""
    if scores.table.empty:
        note(NO_BBQ)
        return None
    long = long_scores(scores, ["unknown_freq"]).assign(x=lambda d: d["model"].astype(str))
    fig = persona_strip(long, x="x", col=None, title='Share of "unknown" BBQ answers per persona',
                        ylabel="unknown frequency", marks=_marks(long, intervals, "x"))
    if fig is not None:
        ax = fig.axes[0]
        ax.axhline(0.5, color="black", lw=0.8, ls=":")
        ax.set_xlabel("model")
    return fig


def _tidy(scores: pd.DataFrame, value: str) -> pd.DataFrame:
    return scores[["model", "persona", "category", value]].dropna(subset=[value])


def top_bottom(scores: Result, value: str = "bias", k: int = 5) -> Result:
    """The k most and least biased personas per model (`stats.top_bottom`, ties by stem)."""
    if scores.table.empty:
        return Result(pd.DataFrame(columns=["model", "end", "rank", "persona", value]), (NO_BBQ,))
    return Result.of(stats.top_bottom(_tidy(scores.table, value), value=value, k=k))


CHANCE_COLUMNS = ["chance_gap", "p_value", "control_gap"]


def gaps(scores: Result, unc: uncert.Uncertainty | None = None) -> Result:
    """Top-bottom gap of bias and of unknown frequency per model (`stats.score_gap`, METHODS 6);
    with `unc`, the gap expected by chance (95th percentile of the within-item permutation null),
    its p-value and the gap among the control personas."""
    table = scores.table
    if table.empty:
        return Result(pd.DataFrame(columns=["model", "measure", "gap"]), (NO_BBQ,))
    parts = []
    for value in ("bias", "unknown_freq"):
        gap = stats.score_gap(table[["model", "persona", value]], value=value)
        parts.append(gap.assign(measure=MEASURES[value]))
    out = pd.concat(parts, ignore_index=True)
    out = out[["model", "measure", *[c for c in out.columns if c not in ("model", "measure")]]]
    notes = []
    if unc is not None and not unc.empty:
        spec = {MEASURES[k]: SPEC[MEASURES[k]] for k in ("bias", "unknown_freq")}
        chance = uncert.gap_table(uncert.gap_nulls(unc, spec)).rename(columns={"dataset": "measure"})
        out = out.merge(chance[["model", "measure", *CHANCE_COLUMNS]], on=["model", "measure"], how="left")
        out = out[[c for c in out.columns if c != "reason"] + ["reason"]]
        notes.append(CHANCE_NOTE.format(rounds=unc.rounds))
    return Result.of(out, notes)


CHANCE_NOTE = ("chance_gap: the 95th percentile of the gap when the personas' answers are shuffled "
               "within each BBQ item ({rounds} rounds); p_value: the share of shuffles with a gap "
               "at least as large; control_gap: the gap among the control personas")


def cochran(study: Study) -> Result:
    """Cochran's Q per model over the items x personas matrix of per-item `biased` (items with a
    bias target) and `unknown` answers (METHODS 6, `stats.cochrans_q_table`), one model at a time."""
    if not _models(study):
        return Result(pd.DataFrame(columns=["model", "measure", "p_value"]), (NO_BBQ,))
    parts = []
    for model in _models(study):
        rows = study.rows("bbq", model)
        for measure in ("biased", "unknown"):
            part = rows[rows["target_loc"].notna()] if measure == "biased" else rows
            long = metrics.per_item(part, "bbq", measure) if len(part) else part
            if long.empty:
                continue
            long[measure] = long[measure].astype("Float64").to_numpy(np.float64, na_value=np.nan)
            parts.append(stats.cochrans_q_table(long, values=measure, by=("model",)))
    if not parts:
        return Result(pd.DataFrame(columns=["model", "measure", "p_value"]),
                      ("no BBQ item has a bias target: Cochran's Q on biased answers is undefined",))
    out = pd.concat(parts, ignore_index=True).astype({"model": str})
    return Result.of(out.sort_values(["model", "measure"], kind="stable", ignore_index=True))


def consistency(scores: Result) -> Result | None:
    """Kendall tau-b cross-model consistency of bias and unknown-frequency rankings within each
    persona category (METHODS 6); None after a note with fewer than two models."""
    table = scores.table
    n_models = table["model"].nunique() if not table.empty else 0
    if n_models < 2:
        note(NO_BBQ if table.empty else f"only one model ({', '.join(table['model'].unique())}): "
             "cross-model consistency of rankings needs at least two")
        return None
    long = long_scores(table[table["category"] != "empty"], ["bias", "unknown_freq"])
    return Result.of(stats.cross_model_consistency(long, metric="measure"))


def std_ratios(scores: Result) -> Result:
    """Per model and category, the std of bias and of unknown frequency divided by the control
    personas' std (METHODS 6 disparity; the original built this figure from accuracy, METHODS 7)."""
    if scores.table.empty:
        return Result(pd.DataFrame(columns=["model", "measure", "category", "ratio"]), (NO_BBQ,))
    long = long_scores(scores, ["bias", "unknown_freq"])
    return Result.of(stats.std_ratios(long, by=("model", "measure")))


def ratio_figure(ratios: Result) -> Figure | None:
    """Std ratios per category (bars), one panel per measure, one bar colour per model; the dashed
    line at 1 is the control personas' spread (`figures.std_ratio_figure`)."""
    return std_ratio_figure(ratios.table, hue="model", panel="measure", title="{panel}",
                            suptitle="Spread of BBQ bias and unknown frequency relative to control personas")


def _mapping_notes(study: Study) -> list[str]:
    """Which mapped personas (METHODS 5 self-bias) are absent, and which present personas have
    no BBQ group."""
    mapping = metrics.load_group_mapping()
    present = study.present_personas()
    absent = sorted(set(mapping) - present)
    regular = sorted(p for p in present if p not in mapping
                     and study.persona_categories().get(p) not in ("control", "empty"))
    out = []
    if absent:
        out.append(f"{len(absent)} of the {len(mapping)} personas mapped to a BBQ group are not in "
                   f"these data: {', '.join(absent)}")
    if regular:
        out.append(f"{len(regular)} persona(s) in the data have no BBQ group, so no self-bias: "
                   f"{', '.join(regular)}")
    return out


def self_bias(study: Study) -> Result:
    """Self-accuracy and self-bias of the personas whose demographic is a BBQ group, with their
    ranks among all personas of the model and their whole-BBQ ranks (METHODS 5,
    `metrics.self_bias`), one model at a time."""
    if not _models(study):
        return Result(pd.DataFrame(columns=[*KEYS, "self_bias"]), (NO_BBQ,))
    parts, notes = [], []
    for model in _models(study):
        try:
            table = metrics.self_bias(study.rows("bbq", model), study.items["bbq"])
        except PersonalibError as exc:
            return Result(pd.DataFrame(columns=[*KEYS, "self_bias"]), (str(exc),))
        own = metrics.notes_of(table)
        unexplained = [f"{r.model}/{r.persona}" for r in table[table["self_bias"].isna()].itertuples()
                       if not any(r.persona in n and "self-bias" in n for n in own)]
        if unexplained:
            own.append(f"self-bias undefined for {', '.join(unexplained)}: on the persona's own items s_DIS "
                       "or s_AMB is 0/0 (every answer 'unknown' in a context condition)")
        notes += own
        table.attrs = {}
        parts.append(table)
    table = pd.concat(parts, ignore_index=True)
    ranks = [c for c in table.columns if c.endswith("_rank")]
    table = table.astype({c: "Int64" for c in ranks})
    return Result(table, (*notes, *_mapping_notes(study)))


def self_differences(study: Study, kind: str = "accuracy") -> Result:
    """Companion table (a) `kind="accuracy"`: self-accuracy minus all personas' accuracy, or (b)
    `kind="own_group"`: own-group answer rate minus all personas', on the persona's items, by
    context condition x question polarity (METHODS 5); one row per persona, one column per cell."""
    if not _models(study):
        return Result(pd.DataFrame(columns=[*KEYS, "group"]), (NO_BBQ,))
    fn = metrics.self_accuracy_differences if kind == "accuracy" else metrics.own_group_differences
    parts, notes = [], []
    for model in _models(study):
        long = fn(study.rows("bbq", model), study.items["bbq"])
        notes += metrics.notes_of(long)
        if not long.empty:
            parts.append(long)
    if not parts:
        return Result(pd.DataFrame(columns=[*KEYS, "group"]), tuple(notes))
    long = pd.concat(parts, ignore_index=True)
    long = long.assign(cell=long["context_condition"].astype(str) + " / "
                       + long["question_polarity"].astype(str))
    index = [*KEYS, "group", "cell"]
    long = long.astype({c: str for c in index})
    wide = long.set_index(index)["difference"].unstack("cell")
    wide.columns.name = None
    return Result(wide.reset_index(), tuple(notes))


def summary(scores: Result, cochran_table: Result, gap_table: Result | None = None) -> Result:
    """Key numbers per model: personas scored, mean / min / max / range of bias, no-persona bias,
    mean unknown frequency, Cochran's Q p-values (biased, unknown); with `gap_table` (from
    `gaps(scores, unc)`), the chance gap, p-value and control gap of bias and unknown frequency."""
    chance = gap_table.table if gap_table is not None else pd.DataFrame()
    scores, cochran_table = scores.table, cochran_table.table
    out = []
    for model, sub in scores.groupby("model", sort=False):
        bias = pd.to_numeric(sub["bias"], errors="coerce").dropna()
        empty = pd.to_numeric(sub.loc[sub["category"] == "empty", "bias"], errors="coerce").dropna()
        row = {"model": model, "n_personas": len(bias),
               "mean_bias": bias.mean() if len(bias) else np.nan,
               "min_bias": bias.min() if len(bias) else np.nan,
               "max_bias": bias.max() if len(bias) else np.nan,
               "bias_range": bias.max() - bias.min() if len(bias) >= 2 else np.nan,
               "no_persona_bias": empty.iloc[0] if len(empty) else np.nan,
               "mean_unknown_freq": pd.to_numeric(sub["unknown_freq"], errors="coerce").mean()}
        for measure in ("biased", "unknown"):
            hit = cochran_table[(cochran_table["model"] == model) & (cochran_table["measure"] == measure)]
            row[f"cochran_p_{measure}"] = float(hit["p_value"].iloc[0]) if len(hit) else np.nan
        if "chance_gap" in chance:
            for key, name in (("bias", "bias"), ("unknown_freq", "unknown")):
                hit = chance[(chance["model"] == model) & (chance["measure"] == MEASURES[key])]
                for column, suffix in (("chance_gap", "chance_gap"), ("p_value", "gap_p"),
                                       ("control_gap", "control_gap")):
                    row[f"{name}_{suffix}"] = float(hit[column].iloc[0]) if len(hit) else np.nan
        out.append(row)
    columns = ["model", "n_personas", "mean_bias", "min_bias", "max_bias", "bias_range",
               "no_persona_bias", "mean_unknown_freq", "cochran_p_biased", "cochran_p_unknown"]
    if "chance_gap" in chance:
        columns += [f"{n}_{s}" for n in ("bias", "unknown") for s in ("chance_gap", "gap_p", "control_gap")]
    return Result(pd.DataFrame(out, columns=columns))


def key_numbers(table: Result) -> dict[str, float | int | None]:
    """The summary as flat record keys `<model>.<number>` (`key_name`); NaN becomes None (JSON
    null)."""
    out: dict[str, float | int | None] = {}
    for row in table.table.to_dict("records"):
        model = row.pop("model")
        for name, value in row.items():
            out[key_name(model, name)] = None if pd.isna(value) else value
    return out


def headline_text(result: Result, gap_table: Result | None = None) -> str:
    """One line per study: per model the most and least biased persona, the gap (with its chance
    gap, p-value and control gap when `gap_table` has them) and the no-persona bias; says in
    words when bias is undefined."""
    scores = result.table
    if scores.empty:
        return (result.notes or (NO_BBQ,))[0]
    parts = []
    for model, sub in scores.groupby("model", sort=False):
        gap = stats.score_gap(sub[["model", "persona", "bias"]], value="bias").iloc[0]
        empty = sub.loc[sub["category"] == "empty", "bias"].dropna()
        none = f"; no persona {empty.iloc[0]:.2f}" if len(empty) else ""
        gap = gap.replace({"empty": "no persona"})
        if pd.isna(gap["gap"]):
            parts.append(f"{model}: BBQ bias is defined for only {gap['n_personas']} persona(s), "
                         "so there is no gap")
        elif gap["gap"] == 0:
            parts.append(f"{model}: all {gap['n_personas']} personas have the same BBQ bias "
                         f"({gap['top_value']:.2f})")
        else:
            chance = ""
            if gap_table is not None and "chance_gap" in gap_table.table:
                hit = gap_table.table[(gap_table.table["model"] == model)
                                      & (gap_table.table["measure"] == MEASURES["bias"])]
                if len(hit):
                    chance = f"; {uncert.chance_text(hit.iloc[0], scale=1.0, unit='', digits=2)}"
            parts.append(f"{model}: BBQ bias highest for {gap['top_persona']} ({gap['top_value']:.2f}), "
                         f"lowest for {gap['bottom_persona']} ({gap['bottom_value']:.2f}), gap "
                         f"{gap['gap']:.2f} across {gap['n_personas']} personas{chance}{none}")
    return " | ".join(parts)
