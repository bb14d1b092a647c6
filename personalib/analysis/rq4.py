"""RQ4: do personas change how often a model refuses to answer? (METHODS 4-6)

A refusal is a hedge whose answer could not be extracted (METHODS 4); the refusal rate of a task
is the mean over its items and the average rate the mean over the six tasks (attitudes,
offensiveness, racism, TruthfulQA, MMLU, BBQ), computed by `metrics.refusal_rates`. This module
turns a `Study` into RQ4's tables and figures: rates per persona and task, the most-refused
personas, Cochran's Q on per-item refusals, cross-model consistency of the refusal rankings, std
ratios against the control personas and near-synonymous persona pairs (METHODS 6). The rates
are computed once per report (`refusal_table`, one model at a time) and the other functions take
them. Every function works for one model or several and on degenerate data (no refusals at all,
absent datasets) and returns a `Result`: what cannot be computed is said in a `reason` column or in
its notes, never raised.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from personalib import DATASETS, metrics, stats
from personalib.analysis import uncertainty as uncert
from personalib.analysis.data import Study
from personalib.analysis.figures import EMPTY_CATEGORY, persona_strip, std_ratio_figure
from personalib.analysis.result import Result
from personalib.metrics.refusals import TASKS, refusal_task
from personalib.reports.keynumbers import key_name
from personalib.tasks import registry

AVERAGE = "average"
EMPTY = "empty"
LABELS = {**{name: registry.display_name(name) for name in registry.study_names()},
          "offensiveness": "offensiveness", "racism": "racism", AVERAGE: "average"}
_PARTIAL = "average refusal rate undefined for "
_NONE_REFUSED = "no persona refused anything"
SCORES = {"attitudes": ("attitudes", "refusal_rate"), "offensiveness": ("toxicity", "refusal_offensiveness"),
          "racism": ("toxicity", "refusal_racism"), "truthfulqa": ("truthfulqa", "refusal_rate"),
          "mmlu": ("mmlu", "refusal_rate"), "bbq": ("bbq", "refusal_rate")}
SPEC: uncert.Spec = {LABELS[task]: SCORES[task] for task in TASKS}
"""The study scores (`personalib.stats.study_scores`) behind each refusal task's label."""
COMBOS = {LABELS[AVERAGE]: [LABELS[t] for t in TASKS]}


def absent_notes(study: Study) -> list[str]:
    """One note per study dataset without generations in this store (METHODS 3)."""
    return [f"no {LABELS[d]} generations in this store: its refusal rate is not computed"
            for d in DATASETS if d not in study.datasets]


def _model_rates(study: Study, model: str) -> tuple[pd.DataFrame, list[str]]:
    """`metrics.refusal_rates` of one model, with the fallback average when tasks are missing."""
    rows = study.model_rows(model, DATASETS, [*metrics.KEYS, "dataset", "refusal", "measure"])
    wide = metrics.refusal_rates(rows)
    raw = metrics.notes_of(wide)
    wide.attrs = {}
    present = [t for t in TASKS if wide[t].notna().any()]
    notes = [f"{model}: {n}" for n in raw if not n.startswith(_PARTIAL) and not n.startswith("no ")]
    partial = sum(n.startswith(_PARTIAL) for n in raw)
    if partial:
        notes.append(f"{model}: average refusal rate undefined for {partial} persona(s) lacking "
                     "generations of some of the six tasks")
    if present and wide[AVERAGE].isna().all():
        missing = [LABELS[t] for t in TASKS if t not in present]
        wide[AVERAGE] = wide[present].mean(axis=1)
        notes.append(f"{model}: the average over the six tasks (METHODS 4) is undefined (no "
                     f"generations for {', '.join(missing)}); 'average' here is the mean over the "
                     f"{len(present)} task(s) present: {', '.join(LABELS[t] for t in present)}")
    return wide, notes


def refusal_table(study: Study) -> Result:
    """Per model x persona: category, each task's refusal rate and the average (METHODS 4-5;
    `metrics.refusal_rates` per model). Tasks without generations in any model are left out.
    Computed once per report; the other functions of this module take it."""
    parts, notes = [], absent_notes(study)
    for model in study.models_present:
        wide, own = _model_rates(study, model)
        parts.append(wide)
        notes += own
    if not parts:
        return Result(pd.DataFrame(columns=["model", "persona_set", "persona", "category", AVERAGE]),
                      (*notes, "no generations to analyse"))
    table = study.with_categories(pd.concat(parts).reset_index().astype({k: str for k in metrics.KEYS}), at=3)
    tasks = [t for t in TASKS if table[t].notna().any()]
    return Result(table[["model", "persona_set", "persona", "category", *tasks, AVERAGE]], tuple(notes))


def average_rates(rates: Result, *, include_empty: bool = True) -> Result:
    """Tidy per-persona average refusal rate: model, persona, category, value (the input of the
    METHODS 6 statistics); `include_empty=False` drops the no-persona condition."""
    wide = rates.table
    out = wide[["model", "persona", "category"]].assign(value=wide[AVERAGE].astype(float))
    if not include_empty:
        out = out[out["category"] != EMPTY_CATEGORY]
    return Result(out.reset_index(drop=True), rates.notes)


def long_rates(rates: Result) -> Result:
    """Per model x persona x task (and `average`): the refusal rate, long, for the strip figure."""
    wide = rates.table
    cols = [c for c in wide.columns if c in (*TASKS, AVERAGE)]
    long = wide.melt(id_vars=["model", "persona", "category"], value_vars=cols, var_name="task",
                     value_name="value")
    long["task"] = long["task"].map(LABELS)
    return Result(long, rates.notes)


def _nothing_refused(avg: pd.DataFrame) -> list[str]:
    """Models whose personas all have an average refusal rate of exactly 0."""
    per_model = avg.dropna(subset=["value"]).groupby("model", sort=False)["value"]
    return [m for m, v in per_model if len(v) and (v == 0).all()]


def summary(rates: Result, study: Study) -> Result:
    """Per model: personas, mean / min / max average refusal rate, the most-refused persona
    (`stats.score_gap`), the no-persona rate and the largest synonym-pair difference
    (`stats.refusal_pairs`) (METHODS 5-6), with a `reason` where one is undefined."""
    avg_result = average_rates(rates)
    avg = avg_result.table
    cols = ["model", "personas", "mean_rate", "min_rate", "max_rate", "max_persona",
            "no_persona_rate", "synonym_pair", "synonym_diff", "reason"]
    if avg.empty:
        return Result(pd.DataFrame(columns=cols), avg_result.notes)
    gap = stats.score_gap(avg.dropna(subset=["value"])).set_index("model")
    pairs = stats.refusal_pairs(avg)
    zero = _nothing_refused(avg)
    rows, notes = [], list(avg_result.notes)
    for model in study.models_present:
        own = avg[avg["model"] == model]
        reasons = []
        g = gap.loc[model] if model in gap.index else None
        if model in zero:
            reasons.append(f"{model}: {_NONE_REFUSED}: there is no most-refused persona")
        elif g is None or pd.isna(g["top_value"]):
            reasons.append(f"{model}: no defined average refusal rate")
        elif isinstance(g["reason"], str):
            reasons.append(f"{model}: {g['reason']}")
        empty = own.loc[own["persona"] == EMPTY, "value"]
        if empty.empty:
            notes.append(f"{model}: the no-persona condition is not in the data")
        syn = pairs[(pairs["model"] == model) & (pairs["kind"] == "synonym")].dropna(subset=["abs_diff"])
        if syn.empty:
            notes.append(f"{model}: no synonym pair has both personas in the data")
        top = g is not None and model not in zero and pd.notna(g["top_value"]) and g["gap"] > 0
        rows.append({
            "model": model, "personas": int(own["value"].notna().sum()),
            "mean_rate": own["value"].mean(), "min_rate": own["value"].min(),
            "max_rate": own["value"].max(), "max_persona": g["top_persona"] if top else None,
            "no_persona_rate": float(empty.iloc[0]) if len(empty) else np.nan,
            "synonym_pair": f"{syn.iloc[0]['persona_a']} / {syn.iloc[0]['persona_b']}" if len(syn) else None,
            "synonym_diff": float(syn.iloc[0]["abs_diff"]) if len(syn) else np.nan,
            "reason": "; ".join(reasons) or None})
    return Result(pd.DataFrame(rows, columns=cols), tuple(notes))


def task_summary(rates: Result) -> Result:
    """Per model and task (and the average): mean rate over personas, highest rate and its
    persona (`stats.score_gap`), the no-persona rate (METHODS 5)."""
    long = long_rates(rates).table.dropna(subset=["value"])
    cols = ["model", "task", "mean_rate", "max_rate", "max_persona", "no_persona_rate", "reason"]
    if long.empty:
        return Result(pd.DataFrame(columns=cols), ("no refusal rate to summarise",))
    gap = stats.score_gap(long, by=("model", "task")).set_index(["model", "task"])
    rows = []
    for (model, task), part in long.groupby(["model", "task"], sort=False):
        g = gap.loc[(model, task)]
        none = bool((part["value"] == 0).all())
        empty = part.loc[part["persona"] == EMPTY, "value"]
        rows.append({"model": model, "task": task, "mean_rate": part["value"].mean(),
                     "max_rate": part["value"].max(),
                     "max_persona": None if none or g["gap"] == 0 else g["top_persona"],
                     "no_persona_rate": float(empty.iloc[0]) if len(empty) else np.nan,
                     "reason": f"{model}, {task}: {_NONE_REFUSED}" if none else None})
    return Result(pd.DataFrame(rows, columns=cols))


def uncertainty(study: Study, rounds: int = uncert.ROUNDS) -> uncert.Uncertainty:
    """The 95% intervals and permutation nulls of every task's refusal rate for every model
    (`analysis.uncertainty`: computed once per model x dataset and cached)."""
    return uncert.collect(study, list(DATASETS), rounds=rounds)


def score_intervals(unc: uncert.Uncertainty) -> Result:
    """Per model, task (and the average) and persona: the 95% interval of the refusal rate
    (Wilson for a task's rate; for the average over the tasks the model has, the percentile
    interval of the mean of the tasks' bootstrap values)."""
    table = uncert.interval_table(unc, SPEC, COMBOS, partial=True).rename(columns={"dataset": "task"})
    return Result(table, unc.notes)


def gap_table(rates: Result, unc: uncert.Uncertainty | None = None) -> Result:
    """Per model and task (and the average): the most and least refused persona and the gap
    between them (`stats.score_gap`, METHODS 6); with `unc`, the gap expected by chance (95th
    percentile of the within-item permutation null), its p-value and the control personas' gap."""
    long = long_rates(rates).table.dropna(subset=["value"])
    cols = ["model", "task", "n_personas", "top_persona", "top_value", "bottom_persona",
            "bottom_value", "gap", "reason"]
    if long.empty:
        return Result(pd.DataFrame(columns=cols), ("no refusal rate to compare",))
    gaps = stats.score_gap(long, by=("model", "task"))[cols]
    notes = []
    if unc is not None and not unc.empty:
        chance = uncert.gap_table(uncert.gap_nulls(unc, SPEC, COMBOS, partial=True))
        chance = chance.rename(columns={"dataset": "task"})[["model", "task", "chance_gap", "p_value", "control_gap"]]
        gaps = gaps.merge(chance, on=["model", "task"], how="left")
        gaps = gaps[[c for c in gaps.columns if c != "reason"] + ["reason"]]
        notes.append(f"chance_gap: the 95th percentile of the gap when each item's answers are "
                     f"shuffled among the personas ({unc.rounds} rounds; the average's items are "
                     "those of its tasks); p_value: the share of shuffles with a gap at least as "
                     "large; control_gap: the gap among the control personas")
    return Result.of(gaps, notes)


def distribution_figure(rates: Result, intervals: Result | None = None,
                        gaps: Result | None = None) -> Figure | None:
    """Refusal rate of every persona per task and on average, one panel per model, coloured by
    category, no persona as a black diamond (METHODS 6 figures; `figures.persona_strip`); with
    `intervals` and `gaps`, the 95% intervals of the most and least refused, the no-persona and
    the control personas beside each strip."""
    long = long_rates(rates).table
    marks = None
    if intervals is not None and gaps is not None and not long.empty:
        categories = dict(zip(long["persona"].astype(str), long["category"].astype(str)))
        marks = uncert.marks(intervals.table, gaps.table, categories, by=("model", "task"))
    return persona_strip(long, value="value", x="task", col="model", ylabel="refusal rate",
                         title="Refusal rate per persona, per task and averaged over the tasks",
                         marks=marks)


def most_refused(rates: Result, k: int = 5) -> Result:
    """The k most and k least refused personas per model by average rate (`stats.top_bottom`);
    a model where nobody refused anything is left out with a note (METHODS 6)."""
    avg = average_rates(rates).table
    zero = _nothing_refused(avg)
    keep = avg[~avg["model"].isin(zero)].dropna(subset=["value"])
    out = stats.top_bottom(keep, k=k).rename(columns={"value": "average_rate"})
    out["end"] = out["end"].map({"top": "most refused", "bottom": "least refused"})
    notes = [f"{m}: {_NONE_REFUSED}: every average refusal rate is 0, so there is no most-refused "
             "persona" for m in zero]
    return Result.of(out, notes)


def cochran_table(study: Study) -> Result:
    """Cochran's Q per model and dataset on the items x personas matrix of per-item refusals
    (`metrics.per_item(..., "refusal")`, `stats.cochrans_q_table`; METHODS 6), one model at a time."""
    results = []
    for dataset in study.datasets:
        for model in study.models_present:
            if not study.has(dataset, model):
                continue
            part = metrics.per_item(study.rows(dataset, model), dataset, "refusal")
            part = part.assign(dataset=dataset, refusal=part["refusal"].astype(float))
            res = stats.cochrans_q_table(part, values="refusal").astype({"model": str})
            if part["refusal"].sum() == 0:
                res["reason"] = (f"{model}, {LABELS[dataset]}: {_NONE_REFUSED} "
                                 "(no item refused): Cochran's Q is undefined")
            results.append(res)
    cols = ["model", "dataset", "statistic", "dof", "p_value", "effect_size", "n", "k", "reason"]
    if not results:
        return Result(pd.DataFrame(columns=cols), tuple(absent_notes(study)))
    res = pd.concat(results, ignore_index=True)
    notes = [f"{r.model}, {r.dataset}: {r.note}" for r in res.itertuples() if isinstance(r.note, str)]
    res["dataset"] = res["dataset"].map(LABELS)
    return Result(res[cols].reset_index(drop=True), tuple(notes))


def consistency_table(rates: Result) -> Result:
    """Kendall tau-b consistency of the average-refusal ranking between models within each
    category (`stats.cross_model_consistency`, consistent when mean tau >= .5; METHODS 6). With
    fewer than two models: an empty table and a note."""
    models = list(dict.fromkeys(rates.table["model"])) if not rates.table.empty else []
    if len(models) < 2:
        return Result(pd.DataFrame(), (
            f"{'only one model (' + models[0] + ')' if models else 'no model with generations'}: "
            "cross-model consistency of the refusal rankings needs at least two",))
    avg = average_rates(rates, include_empty=False).table.dropna(subset=["value"])
    res = stats.cross_model_consistency(avg)
    return Result.of(res.drop(columns=["metric"]))


def std_ratio_table(rates: Result) -> Result:
    """Per model and category: std (ddof=1) of the average refusal rate over the category's
    personas divided by the control personas' std (`stats.std_ratios`; METHODS 6). The
    no-persona condition, a single persona, is left out."""
    avg = average_rates(rates, include_empty=False).table.dropna(subset=["value"])
    cols = ["model", "category", "n", "std", "control_std", "ratio", "reason"]
    if avg.empty:
        return Result(pd.DataFrame(columns=cols), ("no average refusal rate to compare",))
    res = stats.std_ratios(avg)
    for i, row in res.iterrows():
        if isinstance(row["reason"], str) and row["reason"].startswith("control std is 0") and \
                row["model"] in _nothing_refused(avg):
            res.loc[i, "reason"] = f"{row['model']}: {_NONE_REFUSED}: every std is 0, ratio undefined"
    return Result.of(res[cols])


def ratio_figure(ratios: Result) -> Figure | None:
    """Bars of the std ratio per category and model, with the control level 1 dashed (METHODS 6
    figures; `figures.std_ratio_figure`)."""
    return std_ratio_figure(ratios.table, hue="model",
                            title="Spread of average refusal rates per category relative to control")


def pair_table(rates: Result, control_top: int = 3) -> Result:
    """Near-synonymous persona pairs (`stats.refusal_pairs` on the average rate: the study's
    synonym pairs and every pair of control personas, METHODS 6): all synonym pairs and the
    `control_top` control pairs with the largest difference per model."""
    avg = average_rates(rates).table
    cols = ["model", "kind", "persona_a", "persona_b", "rate_a", "rate_b", "diff", "abs_diff", "reason"]
    if avg.empty:
        return Result(pd.DataFrame(columns=cols), ("no average refusal rate to compare",))
    pairs = stats.refusal_pairs(avg)
    control = pairs[pairs["kind"] == "control"]
    shown = pd.concat([pairs[pairs["kind"] == "synonym"],
                       control.groupby("model", sort=False).head(control_top)])
    order = {m: i for i, m in enumerate(dict.fromkeys(avg["model"]))}
    shown = shown.sort_values(["model", "kind"], key=lambda s: s.map(order) if s.name == "model"
                              else s.map({"synonym": 0, "control": 1}), kind="stable")
    notes = [f"{m}: {len(c)} control pairs in all; the {min(control_top, len(c))} most different shown"
             for m, c in control.groupby("model", sort=False)]
    if control.empty:
        notes.append("fewer than two control personas: no control pairs to compare")
    return Result(shown[cols].reset_index(drop=True), tuple(notes))


def all_pairs(rates: Result) -> Result:
    """Every synonym and control pair's refusal-rate difference (`stats.refusal_pairs`)."""
    avg = average_rates(rates).table
    return Result.of(stats.refusal_pairs(avg) if not avg.empty else pd.DataFrame())


def synonym_tests(study: Study, pairs: tuple[tuple[str, str], ...] = stats.SYNONYM_PAIRS) -> Result:
    """McNemar's test of each near-synonym pair named in advance (METHODS 6: a black / an african
    american person, a gay / a homosexual person) on each task's per-item refusals (the items
    both personas answered; exact binomial test of the discordant items), Holm-adjusted over all
    pairs and tasks of a model (`stats.mcnemar_pairs`, `stats.pairwise.holm`)."""
    names = {p for pair in pairs for p in pair}
    parts = []
    for model in study.models_present:
        tests = []
        for dataset in study.datasets:
            if not study.has(dataset, model):
                continue
            rows = study.rows(dataset, model)
            rows = rows[rows["persona"].astype(str).isin(names)]
            task = refusal_task(rows).to_numpy() if len(rows) else np.array([], dtype=object)
            for name in ("offensiveness", "racism") if dataset == "toxicity" else (dataset,):
                own = rows[task == name][["item_id", "persona", "refusal"]]
                long = pd.DataFrame({"item_id": own["item_id"].astype(str), "persona": own["persona"].astype(str),
                                     "refusal": own["refusal"].astype(float)})
                tests.append(stats.mcnemar_pairs(long, pairs, value="refusal").assign(model=model, task=LABELS[name]))
        if tests:
            parts.append(stats.holm(pd.concat(tests, ignore_index=True)))
    cols = ["model", "task", "persona_a", "persona_b", "n_items", "rate_a", "rate_b", "only_a",
            "only_b", "p_value", "p_holm", "reject", "reason"]
    if not parts:
        return Result(pd.DataFrame(columns=cols), ("no generations to test",))
    return Result(pd.concat(parts, ignore_index=True)[cols])


def key_numbers(summary_: Result, gaps: Result | None = None) -> dict[str, object]:
    """The recorded key numbers per model from `summary`: mean rate, max persona and rate,
    no-persona rate, largest synonym-pair difference and pair; with `gaps` (from `gap_table(rates,
    unc)`), the average refusal rate's gap, chance gap, permutation p-value and control gap."""
    out: dict[str, object] = {}
    for row in summary_.table.itertuples(index=False):
        for name in ("mean_rate", "max_rate", "max_persona", "no_persona_rate", "synonym_diff",
                     "synonym_pair"):
            value = getattr(row, name)
            out[key_name(row.model, name)] = None if value is None or pd.isna(value) else value
    table = gaps.table if gaps is not None else pd.DataFrame()
    if "chance_gap" in table:
        for row in table[table["task"] == LABELS[AVERAGE]].itertuples(index=False):
            for name, value in (("refusal_gap", row.gap), ("refusal_chance_gap", row.chance_gap),
                                ("refusal_gap_p", row.p_value), ("refusal_control_gap", row.control_gap)):
                out[key_name(row.model, name)] = None if pd.isna(value) else float(value)
    return out


def headline_text(summary_: Result, gaps: Result | None = None) -> str:
    """One line per model joined by " | ": the range and mean of the average refusal rate and the
    most-refused persona (and, with `gaps`, the gap expected by chance), or in words why they are
    undefined (never "nan")."""
    table = gaps.table if gaps is not None else pd.DataFrame()
    chance = {}
    if "chance_gap" in table:
        for _, row in table[table["task"] == LABELS[AVERAGE]].iterrows():
            if pd.notna(row["gap"]) and row["gap"] > 0:
                chance[row["model"]] = f"; gap {100 * row['gap']:.1f} p.p., {uncert.chance_text(row)}"
    parts = []
    for r in summary_.table.itertuples(index=False):
        if pd.isna(r.max_rate):
            parts.append(f"{r.model}: no defined refusal rate")
        elif r.max_rate == 0:
            parts.append(f"{r.model}: {_NONE_REFUSED} (0% for all {r.personas} personas)")
        else:
            who = "no persona (empty)" if r.max_persona == EMPTY else r.max_persona
            top = f"most refused: {who} ({r.max_rate:.1%})" if r.max_persona else "all personas equal"
            none = f"; no persona {r.no_persona_rate:.1%}" if pd.notna(r.no_persona_rate) else ""
            parts.append(f"{r.model}: refusal rates {r.min_rate:.1%}-{r.max_rate:.1%} across "
                         f"{r.personas} personas (mean {r.mean_rate:.1%}){chance.get(r.model, '')}; "
                         f"{top}{none}")
    return " | ".join(parts) or "no generations to analyse: refusal rates undefined"
