"""RQ3: how the personas' attitudes correlate with each other and with their toxicity ratings,
next to the human annotators' correlations (METHODS 6).

`associations(study)` computes the humans' and each model's Pearson matrices (attitudes x
attitudes, attitudes x annotations, one model at a time) and the study's random baseline;
`similarity` their cosine similarity with the humans'; `correlation_figure` and
`similarity_figure` draw them. Importable from `personalib.analysis.rq3`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from personalib import metrics, stats
from personalib.analysis.data import Study
from personalib.analysis.figures import bars, heatmap
from personalib.analysis.result import Result
from personalib.analysis.show import note
from personalib.errors import PersonalibError

COMPARISONS = {"attitudes": "attitudes x attitudes", "annotations": "attitudes x annotations"}
DATASET_NAMES = {"attitudes": "attitude questionnaire", "toxicity": "toxicity"}


def missing(study: Study, dataset: str) -> str | None:
    """A note when the store has no generations of `dataset` ("attitudes", "toxicity"), else None."""
    name = DATASET_NAMES.get(dataset, dataset)
    return None if dataset in study.datasets else f"no {name} generations in this store: nothing to compute"


@dataclass
class Associations:
    """Human and per-model Pearson matrices (attitudes x attitudes, attitudes x annotations), the
    random baseline's, and the notes on what could not be computed (METHODS 6)."""

    attitudes: dict[str, stats.CorrelationResult] = field(default_factory=dict)
    annotations: dict[str, stats.CorrelationResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    n_random: int = 0


HUMANS, RANDOM = "humans", "random baseline"


def _persona_index(frame: pd.DataFrame) -> pd.Index:
    return pd.Index(frame["persona_set"].astype(str) + "/" + frame["persona"].astype(str), name="persona")


def associations(study: Study) -> Associations:
    """Humans' and each model's correlation matrices and the study's random baseline with as many
    rows as the most personas any model scored (193 in the study; METHODS 6)."""
    out = Associations()
    for dataset, lost in (("attitudes", "no model correlations"),
                          ("toxicity", "no attitude x annotation correlations for the models")):
        if missing(study, dataset):
            out.notes.append(f"no {DATASET_NAMES[dataset]} generations in this store: {lost}")
    ann = study.annotations
    if ann is None or ann.empty:
        out.notes.append("no human annotations (largeScale.csv) in this study: there is no human "
                         "matrix to compare the models with")
    elif "toxicity" in study.items:
        try:
            people = stats.human_attitudes(ann)
            out.attitudes[HUMANS] = stats.attitude_correlations(people)
            means = stats.human_annotation_means(ann, study.items["toxicity"])
            out.annotations[HUMANS] = stats.attitude_annotation_correlations(people, means)
        except PersonalibError as exc:
            out.notes.append(f"human correlations not computed: {exc}")
    if missing(study, "attitudes"):
        return out
    for model in [m for m in study.models_present if study.has("attitudes", m)]:
        scores = metrics.attitude_scores(study.rows("attitudes", model))
        own = scores.xs(model, level="model").reset_index()
        absent = [a for a in stats.ATTITUDES if a not in own.columns or own[a].isna().all()]
        if absent:
            out.notes.append(f"{model}: no scores for {', '.join(absent)} (no generations for "
                             "their statements): their correlations are undefined")
        att = own.set_index(_persona_index(own)).reindex(columns=list(stats.ATTITUDES))
        out.attitudes[model] = stats.attitude_correlations(att)
        out.n_random = max(out.n_random, len(att))
        tox = study.rows("toxicity", model)
        if not tox.empty:
            ratings = tox.assign(persona=_persona_index(tox), rating=tox["rating"].astype(float))
            means = stats.persona_annotation_means(ratings, study.items["toxicity"])
            out.annotations[model] = stats.attitude_annotation_correlations(att, means)
    if out.n_random:
        out.attitudes[RANDOM] = stats.attitude_correlations(stats.random_attitudes(out.n_random))
        out.annotations[RANDOM] = stats.attitude_annotation_correlations(
            stats.random_attitudes(out.n_random), stats.random_annotation_means(out.n_random))
    return out


def correlation_figure(assoc: Associations, kind: str = "attitudes") -> Figure | None:
    """Side-by-side heatmaps of the humans', each model's and the random baseline's Pearson
    matrices (`kind` "attitudes" 7 x 7 or "annotations" 7 x 6; METHODS 6 figures)."""
    mats = getattr(assoc, kind)
    drawable = {k: v for k, v in mats.items() if not v.r.isna().all().all()}
    if skipped := [k for k in mats if k not in drawable]:
        note(f"{COMPARISONS[kind]}: every correlation is undefined for {', '.join(skipped)} "
             f"({'; '.join(mats[k].reason or '' for k in skipped)})")
    notes = [f"{k}: {v.reason}" for k, v in drawable.items() if v.reason]
    if notes:
        note(f"{COMPARISONS[kind]}, undefined correlations (blank cells): " + "; ".join(notes))
    if not drawable:
        note(f"{COMPARISONS[kind]}: no correlation matrix to draw")
        return None
    ncols = min(len(drawable), 2)
    nrows = -(-len(drawable) // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(7.2 * ncols, 5.6 * nrows), squeeze=False)
    axes = list(grid.flat)
    for ax, (name, res) in zip(axes, drawable.items()):
        heatmap(res.r, title=name, ax=ax)
        ax.tick_params(axis="x", rotation=35, labelsize=8)
        ax.tick_params(axis="y", rotation=0, labelsize=8)
        plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
    for ax in axes[len(drawable):]:
        ax.set_visible(False)
    fig.suptitle(f"Pearson correlations, {COMPARISONS[kind]} (blank: undefined)")
    fig.tight_layout()
    return fig


def similarity(assoc: Associations) -> Result:
    """Cosine similarity of each model's and the random baseline's matrix with the humans': the 21
    upper-triangle entries of the attitude matrix, all 42 of the attitude x annotation matrix."""
    frames = []
    for kind, part in (("attitudes", "upper"), ("annotations", "full")):
        mats = getattr(assoc, kind)
        if HUMANS not in mats or len(mats) < 2:
            continue
        models = {k: v for k, v in mats.items() if k not in (HUMANS, RANDOM)}
        sim = stats.similarity_table(mats[HUMANS], models, mats.get(RANDOM),
                                     part=part)  # type: ignore[arg-type]
        frames.append(sim.assign(comparison=COMPARISONS[kind]))
    if not frames:
        return Result(pd.DataFrame(), tuple(assoc.notes) or ("no matrices to compare",))
    out = pd.concat(frames, ignore_index=True)
    return Result.of(out[["comparison", "model", "cosine", "n_entries", "reason"]])


def similarity_figure(sim: Result, comparison: str) -> Figure | None:
    """Bars of each model's cosine similarity with the humans, the random baseline dashed."""
    sim = sim.table
    part = sim[sim["comparison"] == comparison] if not sim.empty else sim
    if part.empty:
        note(f"{comparison}: no cosine similarity to plot")
        return None
    base = part.loc[part["model"] == RANDOM, "cosine"]
    baseline = float(base.iloc[0]) if len(base) else None
    fig = bars(part[part["model"] != RANDOM], x="model", y="cosine", baseline=baseline,
               baseline_label=RANDOM, title=f"Similarity with humans, {comparison}")
    if fig is not None:
        ax = fig.axes[0]
        ax.set_ylim(-1, 1)
        ax.set_ylabel("cosine similarity with humans")
        fig.set_size_inches(max(6.0, 0.9 * len(part) + 4.0), 4.0)
        for bars_ in ax.containers:
            ax.bar_label(bars_, fmt="%.2f", fontsize=8)
        if ax.get_legend() is not None:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        fig.tight_layout()
    return fig


__all__ = ["COMPARISONS", "HUMANS", "RANDOM", "Associations", "associations", "correlation_figure",
           "similarity", "similarity_figure"]
