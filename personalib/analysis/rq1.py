"""RQ1 task performance: how much do personas move TruthfulQA, MMLU and BBQ accuracy (METHODS 5-6)?

Every function takes a `Study` (or the per-persona scores `persona_scores` computes from one),
works one model at a time (a full-size model's 14.56 M answers fit in memory, seven do not) for one
model or several, and returns a `Result`: the table and, in plain words, what it cannot compute
(a dataset absent from the store, one persona per category, identical answers, a single model).

    scores = rq1.persona_scores(study)       # model, persona, category, dataset, value
    unc = rq1.uncertainty(study)             # intervals and permutation nulls (cached)
    rq1.with_intervals(scores, rq1.score_intervals(unc))   # + low, high (95%)
    rq1.gap_table(scores, unc)               # best / worst / no-persona, the gap and its chance gap
    rq1.cochran_table(study)                 # Cochran's Q on per-item hits (and its effect size)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from personalib import metrics, stats
from personalib.analysis import uncertainty as uncert
from personalib.analysis.data import Study
from personalib.analysis.figures import CONTROL_CATEGORY, EMPTY_CATEGORY, persona_strip, std_ratio_figure
from personalib.analysis.result import Result
from personalib.reports.keynumbers import key_name
from personalib.tasks import registry

TASKS: dict[str, str] = {n: registry.display_name(n) for n in registry.study_names() if registry.spec(n).is_choice}
"""Dataset -> label of the three RQ1 tasks of the study (METHODS 5)."""
OVERALL = "overall"
NO_PERSONA = "empty"
SCORE_COLUMNS = ["model", "persona_set", "persona", "category", "dataset", "value"]
_NEEDED = ["model", "persona_set", "persona", "dataset", "item_id", "hit", "subject", "category",
           "context_condition"]
COMBOS = {OVERALL: list(TASKS.values())}
"""The overall score: the mean of the study's three tasks (METHODS 5), whatever else is added."""


def all_tasks(study: Study | None = None) -> dict[str, str]:
    """Dataset -> label of the RQ1 tasks: the study's three, then every other multiple-choice
    dataset of the registry (only those with generations in `study`, when given)."""
    added = {n: registry.display_name(n) for n in registry.choice_names()
             if n not in TASKS and (study is None or n in study.datasets)}
    return {**TASKS, **added}


def metric_names() -> tuple[str, ...]:
    """The score columns in report order: the study's three tasks, overall, then added datasets."""
    return (*TASKS.values(), OVERALL, *(lab for n, lab in all_tasks().items() if n not in TASKS))


def score_spec() -> uncert.Spec:
    """The study score behind each task label (`personalib.stats.study_scores`)."""
    return {label: (dataset, "accuracy") for dataset, label in all_tasks().items()}


def __getattr__(name: str) -> object:
    """`METRICS` and `SPEC` follow the registry (a project's added datasets included)."""
    if name == "METRICS":
        return metric_names()
    if name == "SPEC":
        return score_spec()
    raise AttributeError(name)


def absent_tasks(study: Study) -> list[str]:
    """Notes for each study RQ1 dataset with no generation in the store (or for one of the models)."""
    notes = []
    for name, lab in TASKS.items():
        have = [m for m in study.models_present if study.has(name, m)]
        if not have:
            notes.append(f"no {lab} generations in this store: {lab} accuracy and the overall score "
                         "(mean of the three tasks) are not computed")
        else:
            notes += [f"{m}: no {lab} generations, so its {lab} and overall scores are undefined"
                      for m in study.models_present if m not in have]
    return notes


def persona_scores(study: Study) -> Result:
    """Tidy per-persona scores (METHODS 5): TruthfulQA accuracy, MMLU mean of subject accuracies,
    BBQ mean(ambiguous, disambiguated) accuracy and the overall mean of the three, per model.

    Columns `SCORE_COLUMNS`; `dataset` is one of `METRICS`. Undefined scores are dropped; the
    notes say why they are undefined (one note per absent dataset, not one per persona).
    """
    parts, notes = [], absent_tasks(study)
    tasks = all_tasks(study)
    for model in study.models_present:
        if not any(study.has(d, model) for d in tasks):
            continue
        present = [d for d in tasks if d in TASKS or study.has(d, model)]
        table = metrics.performance_scores(study.model_rows(model, present, _NEEDED))
        notes += [n for n in metrics.notes_of(table) if not n.startswith("no ")]
        table.attrs = {}
        parts.append(table.rename(columns={**tasks}))
    if not parts:
        return Result(pd.DataFrame(columns=SCORE_COLUMNS), tuple(notes))
    wide = pd.concat(parts)
    long = wide.melt(ignore_index=False, var_name="dataset", value_name="value").reset_index()
    long = study.with_categories(long.astype({k: str for k in metrics.KEYS}))
    long = long.dropna(subset=["value"])[SCORE_COLUMNS].reset_index(drop=True)
    rank = {"_m": long["model"].map({m: i for i, m in enumerate(study.models_present)}),
            "_d": long["dataset"].map({d: i for i, d in enumerate(metric_names())})}
    long = long.assign(**rank).sort_values(["_m", "_d", "persona"], kind="stable")
    long = long.drop(columns=list(rank)).reset_index(drop=True)
    long.attrs = {}
    return Result(long, tuple(notes))


def uncertainty(study: Study, rounds: int = uncert.ROUNDS) -> uncert.Uncertainty:
    """The 95% intervals and permutation nulls of the three tasks' accuracies for every model
    (`analysis.uncertainty`: computed once per model x dataset and cached with the outcomes)."""
    return uncert.collect(study, list(all_tasks(study)), rounds=rounds)


def score_intervals(unc: uncert.Uncertainty) -> Result:
    """Per model, dataset (and overall) and persona: the 95% interval of the score (Wilson for
    TruthfulQA accuracy, a rate; the stratified bootstrap over items for MMLU, BBQ and overall)."""
    return Result(uncert.interval_table(unc, score_spec(), COMBOS), unc.notes)


def with_intervals(scores: Result, intervals: Result) -> Result:
    """The tidy scores with the interval's `low` and `high` (NaN where none is defined)."""
    bounds = intervals.table[["model", "dataset", "persona", "low", "high"]]
    table = scores.table.drop(columns=["low", "high"], errors="ignore")
    return Result(table.merge(bounds, on=["model", "dataset", "persona"], how="left"), scores.notes)


def wide_scores(scores: Result) -> pd.DataFrame:
    """One row per model and persona, one column per task and overall (for a full score table),
    each followed by its interval (`<dataset> low`, `<dataset> high`) when the scores have one."""
    if scores.table.empty:
        return pd.DataFrame(columns=["model", "persona", "category", *metric_names()])
    index = ["model", "persona", "category"]
    wide = scores.table.pivot_table(index=index, columns="dataset", values="value", aggfunc="first")
    present = [m for m in metric_names() if m in wide.columns]
    if "low" not in scores.table.columns:
        return wide.reindex(columns=present).reset_index()
    bounds = {k: scores.table.pivot_table(index=index, columns="dataset", values=k, aggfunc="first",
                                          dropna=False) for k in ("low", "high")}
    columns = {}
    for metric in present:
        columns[metric] = wide[metric]
        for k, table in bounds.items():
            columns[f"{metric} {k}"] = table[metric] if metric in table.columns else np.nan
    return pd.DataFrame(columns).reset_index()


def score_figure(scores: Result, intervals: Result | None = None, gaps: Result | None = None, *,
                 title: str = "Task performance per persona") -> Figure | None:
    """Persona score distributions per dataset and overall, one panel per model, coloured by persona
    category; control personas grey, no persona a black diamond (METHODS 6 figures); with
    `intervals` and `gaps`, the 95% intervals of the best, worst, no-persona and control personas
    beside each strip."""
    marks = None
    if intervals is not None and gaps is not None and not scores.table.empty:
        categories = dict(zip(scores.table["persona"], scores.table["category"]))
        marks = uncert.marks(intervals.table, gaps.table, categories)
    return persona_strip(scores.table, value="value", x="dataset", col="model", title=title,
                         ylabel="accuracy (share of correct answers)", marks=marks)


CHANCE_COLUMNS = ["chance_gap", "p_value", "control_gap"]


def gap_table(scores: Result, unc: uncert.Uncertainty | None = None) -> Result:
    """Per model and dataset: best and worst persona, their scores, the top-bottom gap
    (`stats.score_gap`, METHODS 6) and the no-persona score and rank for comparison; with `unc`,
    the gap expected by chance (`chance_gap`: 95th percentile of the within-item permutation
    null), its `p_value` and the gap among the control personas (`control_gap`)."""
    cols = ["model", "dataset", "n_personas", "top_persona", "top_value", "bottom_persona",
            "bottom_value", "gap", *(CHANCE_COLUMNS if unc is not None else []), "no_persona",
            "no_persona_rank", "reason"]
    table = scores.table
    if table.empty:
        return Result(pd.DataFrame(columns=cols), scores.notes)
    gaps = stats.score_gap(table, value="value", by=("model", "dataset"))
    empty = table[table["persona"] == NO_PERSONA].set_index(["model", "dataset"])["value"]
    ranks = table.assign(rank=table.groupby(["model", "dataset"])["value"].rank(ascending=False, method="min"))
    empty_rank = ranks[ranks["persona"] == NO_PERSONA].set_index(["model", "dataset"])["rank"]
    key = pd.MultiIndex.from_frame(gaps[["model", "dataset"]])
    gaps["no_persona"] = empty.reindex(key).to_numpy()
    gaps["no_persona_rank"] = empty_rank.reindex(key).to_numpy()
    notes = (["the no-persona condition (empty) was not run: no baseline score"]
             if gaps["no_persona"].isna().all() else [])
    if unc is not None:
        chance = uncert.gap_table(uncert.gap_nulls(unc, score_spec(), COMBOS))
        gaps = gaps.merge(chance[["model", "dataset", *CHANCE_COLUMNS]], on=["model", "dataset"], how="left")
        notes.append(CHANCE_NOTE.format(rounds=unc.rounds))
    return Result.of(gaps[cols], notes)


CHANCE_NOTE = ("chance_gap: the 95th percentile of the gap when the personas' answers are shuffled "
               "within each item ({rounds} rounds; a top-bottom gap over many personas is large "
               "even when they do not differ); p_value: the share of shuffles with a gap at least "
               "as large; control_gap: the gap among the control personas, paraphrases of "
               "\"a helpful assistant\"")


def top_bottom_table(scores: Result, k: int = 5) -> Result:
    """The k best and k worst personas per model and dataset (`stats.top_bottom`, ties by stem),
    side by side: row `rank` r holds the r-th best and the r-th worst persona with their scores."""
    cols = ["model", "dataset", "rank", "top", "top_value", "top_category", "bottom", "bottom_value",
            "bottom_category"]
    if scores.table.empty:
        return Result(pd.DataFrame(columns=cols))
    long = stats.top_bottom(scores.table, value="value", k=k, by=("model", "dataset"))
    ends = [long[long["end"] == end].drop(columns="end").rename(columns={
        "persona": end, "value": f"{end}_value", "category": f"{end}_category"})
        for end in ("top", "bottom")]
    return Result(ends[0].merge(ends[1], on=["model", "dataset", "rank"], how="left")[cols])


def cochran_table(study: Study) -> Result:
    """Cochran's Q per model and dataset over the items x personas matrix of per-item hits
    (`metrics.per_item`, `stats.cochrans_q_table`; METHODS 6), one model at a time. Absent
    datasets: a note."""
    parts = []
    for model in study.models_present:
        for name, lab in all_tasks(study).items():
            if not study.has(name, model):
                continue
            hits = metrics.per_item(study.rows(name, model), name, "hit")
            hits["hit"] = hits["hit"].astype("Float64").to_numpy(np.float64, na_value=np.nan)
            q = stats.cochrans_q_table(hits.assign(dataset=lab), values="hit", by=("model", "dataset"))
            parts.append(q)
    cols = ["model", "dataset", "statistic", "dof", "p_value", "n", "k", "reason", "note"]
    if not parts:
        return Result(pd.DataFrame(columns=cols), tuple(absent_tasks(study)))
    q = pd.concat(parts, ignore_index=True).rename(columns={"n": "n_items", "k": "n_personas"})
    order = {lab: i for i, lab in enumerate(all_tasks(study).values())}
    q = q.sort_values(["dataset", "model"], key=lambda s: s.map(order) if s.name == "dataset" else s.map(
        {m: i for i, m in enumerate(study.models_present)}), kind="stable", ignore_index=True)
    return Result.of(q.drop(columns=["measure", "test"]), absent_tasks(study))


def consistency_table(scores: Result) -> Result:
    """Kendall tau-b cross-model consistency of persona rankings within each persona category and
    dataset, with the consensus ranking (`stats.cross_model_consistency`, METHODS 6). Needs at
    least two models; otherwise an empty table whose note says so."""
    cols = ["dataset", "category", "n_models", "n_personas", "mean_tau", "consistent", "ranking",
            "reason"]
    table = scores.table
    models = sorted(table["model"].unique()) if not table.empty else []
    if len(models) < 2:
        which = f" ({models[0]})" if models else ""
        return Result(pd.DataFrame(columns=cols), (
            f"only one model{which} in this report: cross-model consistency needs at least two",))
    out = stats.cross_model_consistency(table, value="value", metric="dataset")
    out = out.rename(columns={"metric": "dataset"})
    order = {d: i for i, d in enumerate(metric_names())}
    out = out.sort_values(["dataset", "category"], key=lambda s: s.map(order)
                          if s.name == "dataset" else s, kind="stable")
    return Result.of(out[cols].reset_index(drop=True))


def consistent_rankings(consistency: Result) -> Result:
    """The rows of `consistency_table` whose ranking is consistent across models (mean tau >= .5)."""
    table = consistency.table
    if table.empty:
        return Result(table)
    keep = table["consistent"].fillna(False).astype(bool)
    return Result(table[keep].drop(columns=["reason"]).reset_index(drop=True))


def expert_tables(study: Study) -> tuple[Result, Result]:
    """Expert-persona ranks on MMLU (`metrics.expert_ranks` per group and scope, and
    `metrics.expert_member_ranks` per member; METHODS 5), one model at a time; groups without a
    member in the data are left out with a note. Without MMLU generations both are empty."""
    models = [m for m in study.models_present if study.has("mmlu", m)]
    if not models:
        msg = ("no MMLU generations in this store: expert-persona ranks are not computed",)
        return Result(pd.DataFrame(), msg), Result(pd.DataFrame(), msg)
    group_parts, member_parts, notes = [], [], []
    for model in models:
        rows = study.rows("mmlu", model)
        table = metrics.expert_ranks(rows)
        notes += metrics.notes_of(table)
        table.attrs = {}
        group_parts.append(table)
        member_parts.append(metrics.expert_member_ranks(rows))
    groups = pd.concat(group_parts, ignore_index=True)
    groups = groups[groups["members"] > 0].reset_index(drop=True)
    if groups.empty:
        notes = ["none of the expert personas (METHODS 5: technology, law, psychology, healthcare) "
                 "is in the data"]
    return Result(groups, tuple(notes)), Result(pd.concat(member_parts, ignore_index=True))


def std_ratio_table(scores: Result) -> Result:
    """Per model, dataset and persona category: std (ddof=1) of the persona scores divided by the
    control personas' std (`stats.std_ratios`, METHODS 6); the `empty` category is left out."""
    cols = ["model", "dataset", "category", "n", "std", "control_std", "ratio", "reason"]
    table = scores.table
    part = table[table["category"] != EMPTY_CATEGORY] if not table.empty else table
    if part.empty:
        return Result(pd.DataFrame(columns=cols))
    if not (part["category"] == CONTROL_CATEGORY).any():
        return Result(pd.DataFrame(columns=cols), (
            "no control personas in the data: std ratios against the control personas are undefined",))
    return Result.of(stats.std_ratios(part, value="value", by=("model", "dataset"))[cols])


def ratio_figure(ratios: Result) -> Figure | None:
    """Bars of the std ratios per persona category, one colour per dataset and one panel per
    model; the dashed line at 1 is the control personas' own spread (METHODS 6 figures)."""
    return std_ratio_figure(ratios.table, hue="dataset", panel="model", hue_order=list(metric_names()),
                            title="{panel}: std of persona scores / std of control personas")


def key_numbers(gaps: Result, cochran: Result) -> dict[str, object]:
    """Per model and dataset: best, worst and no-persona score, the gap (with its chance gap,
    permutation p-value and control gap when `gap_table` had them), Cochran's Q and p (NaN where
    undefined; the record API writes it as null)."""
    out: dict[str, object] = {}
    for row in gaps.table.itertuples(index=False):
        for name, val in (("best", row.top_value), ("best_persona", row.top_persona),
                          ("worst", row.bottom_value), ("worst_persona", row.bottom_persona),
                          ("no_persona", row.no_persona), ("gap", row.gap),
                          ("n_personas", int(row.n_personas))):
            out[key_name(row.model, row.dataset, name)] = val
        for name, column in (("chance_gap", "chance_gap"), ("gap_p", "p_value"),
                             ("control_gap", "control_gap")):
            if hasattr(row, column):
                out[key_name(row.model, row.dataset, name)] = getattr(row, column)
    for row in cochran.table.itertuples(index=False):
        out[key_name(row.model, row.dataset, "cochran_q")] = row.statistic
        out[key_name(row.model, row.dataset, "cochran_p")] = row.p_value
    return out


def headline_text(gaps: Result, scores: Result) -> str:
    """One line: the largest top-bottom gap of the overall score in p.p. and its model (METHODS 6)
    with its chance gap, p-value and control gap when `gaps` has them, or, when the overall score
    is undefined, why and the largest per-dataset gap instead."""
    gaps, scores = gaps.table, scores.table
    n = scores.groupby("model")["persona"].nunique() if not scores.empty else pd.Series(dtype=int)
    overall = gaps[(gaps["dataset"] == OVERALL) & gaps["gap"].notna()] if not gaps.empty else gaps
    if not overall.empty:
        ranked = overall.sort_values(["gap", "model"], ascending=[False, True], kind="stable")
        best = ranked.iloc[0]
        base = f"; no persona {best['no_persona']:.2f}" if pd.notna(best["no_persona"]) else ""
        chance = f"; {uncert.chance_text(best)}" if "chance_gap" in best.index else ""
        text = (f"Largest top-bottom gap in overall task score: {best['model']} "
                f"{100 * best['gap']:.1f} p.p. ({best['bottom_persona']} {best['bottom_value']:.2f} "
                f"to {best['top_persona']} {best['top_value']:.2f}, {int(best['n_personas'])} "
                f"personas{base}){chance}")
        others = [f"{r.model} {100 * r.gap:.1f} p.p." for r in ranked.iloc[1:].itertuples(index=False)]
        return text + (f"; next: {', '.join(others[:3])}" if others else "")
    missing = [lab for lab in TASKS.values() if scores.empty or lab not in set(scores["dataset"])]
    lead = (f"Overall task score undefined (no {', '.join(missing)} generations)" if missing
            else "Overall task score undefined")
    defined = gaps[gaps["gap"].notna()] if not gaps.empty else gaps
    if defined.empty:
        return lead + f"; no dataset has two scored personas ({int(n.max()) if len(n) else 0} at most)"
    best = defined.loc[defined["gap"].idxmax()]
    if best["gap"] == 0:
        return (lead + f"; {best['model']}: every persona has the same {best['dataset']} accuracy "
                f"({best['top_value']:.2f}, {int(best['n_personas'])} personas), gap 0")
    chance = f"; {uncert.chance_text(best)}" if "chance_gap" in best.index else ""
    return (lead + f"; largest gap {best['model']} {best['dataset']} {100 * best['gap']:.1f} p.p. "
            f"({best['bottom_value']:.2f}-{best['top_value']:.2f}, {int(best['n_personas'])} "
            f"personas){chance}")
