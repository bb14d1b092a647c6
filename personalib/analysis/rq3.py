"""RQ3: attitudes and toxicity annotations of personas, and how they relate to humans' (METHODS 5-6).

Attitude scores and toxicity ratings come from `personalib.metrics` (reverse scoring applied once,
in `score()`), the tests and associations from `personalib.stats`; this module only selects the
study's rows (one model at a time), arranges the results for the report as `Result`s and says in
words what cannot be computed (no attitude or toxicity generations, no human annotations, one
model, constant ratings).
"""

from __future__ import annotations


import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from personalib import metrics, stats
from personalib.analysis import uncertainty as uncert
from personalib.analysis.associations import (  # noqa: F401  (the human correlations, importable from here)
    COMPARISONS,
    DATASET_NAMES,
    HUMANS,
    RANDOM,
    Associations,
    associations,
    correlation_figure,
    missing,
    similarity,
    similarity_figure,
)
from personalib.analysis.data import Study
from personalib.analysis.figures import heatmap, persona_strip
from personalib.analysis.paraphrases import (  # noqa: F401  (Figure 8, importable from here)
    paraphrase_figure,
    paraphrase_spread,
    variant_means,
)
from personalib.analysis.result import Result
from personalib.analysis.show import note
from personalib.reports.keynumbers import key_name

ALPHA = 0.05
MEASURE_NAMES = {"off": "offensiveness", "rac": "racism"}


def _per_model(study: Study, dataset: str, metric) -> Result:
    """A per-persona metric of `dataset` computed one model at a time, with persona categories."""
    parts, notes = [], []
    for model in study.models_present:
        if study.has(dataset, model):
            table = metric(study.rows(dataset, model))
            notes += metrics.notes_of(table)
            parts.append(table.reset_index().astype({k: str for k in metrics.KEYS}))
    if not parts:
        return Result(pd.DataFrame(), (missing(study, dataset),))
    out = pd.concat(parts, ignore_index=True)
    out.attrs = {}
    return Result(study.with_categories(out), tuple(notes))


def attitude_table(study: Study) -> Result:
    """Per model and persona: the seven attitude scores (mean reverse-scored rating over
    statements x variants, METHODS 5) and the persona category; empty with a note when absent."""
    reason = missing(study, "attitudes")
    return Result(pd.DataFrame(), (reason,)) if reason else _per_model(study, "attitudes", metrics.attitude_scores)


def attitude_long(scores: Result) -> Result:
    """`attitude_table` as one row per model x persona x attitude (columns attitude, value)."""
    table = scores.table
    if table.empty:
        empty = pd.DataFrame(columns=["model", "persona_set", "persona", "category", "attitude", "value"])
        return Result(empty, scores.notes)
    dims = [c for c in table.columns if c not in (*metrics.KEYS, "category")]
    long = table.melt(id_vars=[*metrics.KEYS, "category"], value_vars=dims, var_name="attitude",
                      value_name="value")
    return Result(long, scores.notes)


def uncertainty(study: Study, rounds: int = uncert.ROUNDS) -> uncert.Uncertainty:
    """The permutation nulls of the attitude scores and mean toxicity ratings of every model
    (`analysis.uncertainty`: computed once per model x dataset and cached)."""
    return uncert.collect(study, [d for d in ("attitudes", "toxicity") if d in study.datasets], rounds=rounds)


def chance_gaps(unc: uncert.Uncertainty, dataset: str) -> Result:
    """Per model and attitude (`dataset="attitudes"`) or toxicity measure: the range of the
    personas' scores expected by chance (95th percentile of the within-item permutation null),
    its p-value and the control personas' range."""
    by = "attitude" if dataset == "attitudes" else "measure"
    spec = {MEASURE_NAMES.get(name.removeprefix("score:"), name.removeprefix("score:")): (dataset, name)
            for (_, d), draw in unc.draws.items() if d == dataset
            for name in draw.observed if name.startswith("score:")}
    table = uncert.gap_table(uncert.gap_nulls(unc, spec)).rename(columns={"dataset": by})
    return Result(table, unc.notes)


def spread_summary(long: Result, by: str, chance: Result | None = None) -> Result:
    """Per model and `by` (attitude, measure): the personas' range of scores, the lowest and highest
    persona, the no-persona score and the control personas' mean (METHODS 6 figures); with
    `chance` (`chance_gaps`), the range expected by chance, its p-value and the control range."""
    rows = []
    for (model, key), part in long.table.dropna(subset=["value"]).groupby(["model", by], sort=False):
        ordered = part.sort_values(["value", "persona"], kind="stable")
        empty = part.loc[part["category"] == "empty", "value"]
        control = part.loc[part["category"] == "control", "value"]
        rows.append({"model": model, by: key, "personas": len(part),
                     "lowest": ordered["persona"].iloc[0], "min": ordered["value"].iloc[0],
                     "highest": ordered["persona"].iloc[-1], "max": ordered["value"].iloc[-1],
                     "range": ordered["value"].iloc[-1] - ordered["value"].iloc[0],
                     "no persona": empty.iloc[0] if len(empty) else np.nan,
                     "control mean": control.mean() if len(control) else np.nan})
    out = pd.DataFrame(rows)
    if chance is None or chance.table.empty or out.empty:
        return Result(out, long.notes)
    cols = ["chance_gap", "p_value", "control_gap"]
    out = out.merge(chance.table[["model", by, *cols]], on=["model", by], how="left")
    return Result(out, (*long.notes, f"chance_gap: the 95th percentile of the range when each prompt's answers "
                                    f"are shuffled among the personas ({int(chance.table['rounds'].max())} rounds); "
                                    "p_value: the share of shuffles with a range at least as large; "
                                    "control_gap: the range among the control personas"))


def attitude_figure(scores: Result) -> Figure | None:
    """Strip plot of the attitude scores, one dot per persona and attitude, per model, coloured by
    category, no persona a black diamond, control grey (METHODS 5; METHODS 6 figures)."""
    if scores.table.empty:
        note("; ".join(scores.notes) or "no attitude scores to plot")
        return None
    return persona_strip(attitude_long(scores).table, x="attitude", col="model", ylabel="attitude score (1-5)",
                         title="Attitude scores per persona (reverse items scored 6 - x)")


def _tests_per_model(study: Study, dataset: str, test) -> Result:
    reason = missing(study, dataset)
    if reason:
        return Result(pd.DataFrame(), (reason,))
    parts = [test(study.rows(dataset, m)) for m in study.models_present if study.has(dataset, m)]
    out = pd.concat(parts, ignore_index=True).astype({"model": str})
    return Result.of(out)


def attitude_friedman(study: Study) -> Result:
    """Friedman per model, family (regular = regular + empty, control) and attitude; blocks are
    statements, each persona's value the mean over the instruction variants (METHODS 6)."""
    return _tests_per_model(study, "attitudes", lambda rows: stats.friedman_attitudes(rows, value="value"))


def friedman_wide(tests: Result) -> Result:
    """The Friedman results as one row per model and attitude with the regular and control p-values
    and effect sizes (Kendall's W) side by side; the reasons of undefined tests are kept, prefixed
    by their family."""
    table = tests.table
    if table.empty:
        return tests
    rows = []
    for (model, attitude), part in table.groupby(["model", "attitude"], sort=False):
        row: dict[str, object] = {"model": model, "attitude": attitude, "statements": int(part["n"].max())}
        for res in part.itertuples(index=False):
            row.update({f"p ({res.family})": res.p_value, f"W ({res.family})": res.effect_size,
                        f"k ({res.family})": res.k})
        reasons = [f"{r.family}: {r.reason}" for r in part.itertuples() if isinstance(r.reason, str)]
        rows.append({**row, "reason": "; ".join(reasons) or None})
    return Result(pd.DataFrame(rows), tests.notes)


def significant_counts(tests: Result, alpha: float = ALPHA) -> Result:
    """Per model and family: attitudes tested (defined p-value) and those with p < `alpha`."""
    table = tests.table
    if table.empty:
        return Result(pd.DataFrame(columns=["model", "family", "tested", "significant"]))
    flags = table.assign(tested=table["p_value"].notna(), significant=table["p_value"] < alpha)
    return Result(flags.groupby(["model", "family"], sort=False)[["tested", "significant"]].sum().reset_index())


def attitude_consistency(scores: Result) -> Result:
    """Kendall tau-b cross-model consistency of the persona ranking per category and attitude
    (METHODS 6); empty with a note when fewer than two models scored attitudes."""
    long = attitude_long(scores).table
    n_models = long["model"].nunique()
    if n_models < 2:
        why = "no attitude scores" if n_models == 0 else "only one model"
        return Result(pd.DataFrame(), (
            f"{why}: cross-model consistency of attitude rankings needs at least two models",))
    out = stats.cross_model_consistency(long, metric="attitude").rename(columns={"metric": "attitude"})
    single = out["n_personas"] < 2
    notes = []
    if single.any():
        cats = ", ".join(dict.fromkeys(out.loc[single, "category"].astype(str)))
        notes.append(f"categories with a single persona have no ranking to compare and are left out: {cats}")
    return Result.of(out[~single].reset_index(drop=True), notes)


def consistency_figure(consistency: Result) -> Figure | None:
    """Heatmap of the mean Kendall tau per category (rows) and attitude (columns); consistent
    when >= .5 (METHODS 6). None after a note when there is nothing to compare."""
    table = consistency.table
    if table.empty:
        note("; ".join(consistency.notes) or "no cross-model consistency to draw")
        return None
    matrix = table.pivot(index="category", columns="attitude", values="mean_tau")
    matrix = matrix.reindex(columns=list(dict.fromkeys(table["attitude"])))
    if matrix.isna().all().all():
        note("cross-model consistency: every mean tau is undefined (see the reasons below)")
        return None
    fig, ax = plt.subplots(figsize=(2.5 + 1.1 * matrix.shape[1], 1.6 + 0.45 * matrix.shape[0]))
    heatmap(matrix, title="Cross-model consistency of attitude rankings (mean Kendall tau-b)", ax=ax)
    ax.set_xlabel("")
    ax.set_ylabel("persona category")
    plt.setp(ax.get_xticklabels(), rotation=35, ha="right", rotation_mode="anchor")
    plt.setp(ax.get_yticklabels(), rotation=0)
    fig.tight_layout()
    return fig


def consistent_rankings(consistency: Result) -> Result:
    """The categories and attitudes whose persona ranking is consistent across models (mean tau
    >= .5), with the consensus ranking, highest score first."""
    table = consistency.table
    if table.empty:
        return Result(pd.DataFrame())  # consistency_figure has said why
    keep = table["consistent"].fillna(False).astype(bool)
    reasons = [str(r) for r in table["reason"].dropna().unique()]
    out = table.loc[keep, ["category", "attitude", "n_models", "n_personas", "mean_tau", "ranking"]]
    return Result(out, tuple(reasons))


def toxicity_table(study: Study) -> Result:
    """Per model and persona: mean offensiveness and racism rating (METHODS 5), and Krippendorff's
    alpha (interval) of each against the per-tweet human mean when annotations are there, one
    model at a time."""
    reason = missing(study, "toxicity")
    if reason:
        return Result(pd.DataFrame(), (reason,))
    humans = study.annotations is not None and not study.annotations.empty

    def per_model(rows: pd.DataFrame) -> pd.DataFrame:
        means = metrics.toxicity_scores(rows)
        if not humans:
            return means
        alpha = metrics.toxicity_alpha(rows, study.annotations)
        joined = means.join(alpha.add_prefix("alpha_"))
        joined.attrs = {"notes": [*metrics.notes_of(means), *metrics.notes_of(alpha)]}
        return joined

    out = _per_model(study, "toxicity", per_model)
    if not humans:
        out = out.plus("no human toxicity annotations in this study: Krippendorff's alpha is not computed")
    return out


def toxicity_long(table: Result, prefix: str = "") -> Result:
    """Long table (model, persona, category, measure, value) of the `prefix`ed measure columns;
    it carries the toxicity table's notes (shown once, with the ratings)."""
    frame = table.table
    cols = {f"{prefix}{m}": MEASURE_NAMES[m] for m in MEASURE_NAMES if f"{prefix}{m}" in frame.columns}
    notes = table.notes if not prefix or not cols else ()
    if not cols:
        return Result(pd.DataFrame(columns=["model", "persona", "category", "measure", "value"]), notes)
    long = frame.rename(columns=cols).melt(id_vars=[*metrics.KEYS, "category"],
                                           value_vars=list(cols.values()), var_name="measure",
                                           value_name="value")
    return Result(long, notes)


def toxicity_figure(table: Result, *, alpha: bool = False) -> Figure | None:
    """Strip plot per model of the mean toxicity ratings (or, `alpha=True`, of the alpha with the
    human mean), one dot per persona, coloured by category (METHODS 6 figures)."""
    long = toxicity_long(table, "alpha_" if alpha else "")
    if long.table.empty:
        note("; ".join(long.notes) or "no toxicity ratings to plot")
        return None
    ylabel, title = (("Krippendorff's alpha vs human mean", "Agreement of each persona with the human "
                      "annotators (interval alpha)") if alpha else
                     ("mean rating (1-5)", "Mean toxicity ratings per persona"))
    return persona_strip(long.table, x="measure", col="model", ylabel=ylabel, title=title)


def toxicity_friedman(study: Study) -> Result:
    """Friedman per model and measure: blocks = tweets, groups = all personas (METHODS 6)."""
    return _tests_per_model(study, "toxicity", stats.friedman_toxicity)


def alpha_summary(table: Result) -> Result:
    """Per model and measure: mean, min and max alpha over the personas with a defined alpha."""
    long = toxicity_long(table, "alpha_").table
    grouped = long.groupby(["model", "measure"], sort=False)["value"]
    out = grouped.agg(personas="count", mean_alpha="mean", min_alpha="min", max_alpha="max").reset_index()
    out["reason"] = [None if n else "alpha is undefined for every persona" for n in out["personas"]]
    return Result(out)


def key_numbers(counts: Result, alpha: Result, sim: Result) -> dict[str, object]:
    """The report's key numbers: per model attitudes with Friedman p < .05 (regular / control),
    mean alpha per measure, cosine similarities with humans and the random baseline's."""
    counts, alpha, sim = counts.table, alpha.table, sim.table
    out: dict[str, object] = {}
    for row in counts.itertuples(index=False):
        out[key_name(row.model, f"friedman_significant_{row.family}")] = int(row.significant)
    for row in alpha.itertuples(index=False) if not alpha.empty else []:
        out[key_name(row.model, f"mean_alpha_{row.measure}")] = row.mean_alpha
    for row in sim.itertuples(index=False) if not sim.empty else []:
        kind = "attitudes" if row.comparison == COMPARISONS["attitudes"] else "annotations"
        out[key_name(row.model, f"cosine_{kind}")] = row.cosine
    return out


def headline_text(sim: Result, counts: Result, models: list[str]) -> str:
    """One line: the model whose attitude correlations are most like the humans' (cosine, with the
    random baseline); otherwise the Friedman counts; otherwise what is missing, in words."""
    sim, counts = sim.table, counts.table
    att = sim[sim["comparison"] == COMPARISONS["attitudes"]] if not sim.empty else sim
    defined = att.dropna(subset=["cosine"]) if not att.empty else att
    real = defined[defined["model"] != RANDOM] if not defined.empty else defined
    if not real.empty:
        best = real.sort_values("cosine", ascending=False, kind="stable").iloc[0]
        base = defined.loc[defined["model"] == RANDOM, "cosine"]
        base_txt = f"random baseline {base.iloc[0]:.2f}" if len(base) else "no random baseline"
        others = "".join(f"; {r.model} {r.cosine:.2f}" for r in real.itertuples() if r.model != best["model"])
        if len(real) > 1:
            return (f"{best['model']}: attitude correlations most similar to humans' (cosine "
                    f"{best['cosine']:.2f}{others}; {base_txt})")
        return (f"{best['model']}: cosine similarity of its attitude correlations with humans' "
                f"{best['cosine']:.2f} ({base_txt})")
    if not counts.empty:
        parts = [f"{r.model} {r.family} {int(r.significant)} of {int(r.tested)}"
                 for r in counts.itertuples() if int(r.tested) > 0]
        if not parts:
            return ("Attitude correlations with humans undefined and no Friedman test defined "
                    f"({', '.join(models)}: too few statements, or the same score from every "
                    "persona; see the notes)")
        return ("Attitude correlations with humans undefined; attitudes with Friedman p < .05: "
                + ", ".join(parts))
    return f"{', '.join(models) or 'no model'}: no attitude generations in this store, RQ3 not computed"
