"""RQ3: how much do the answers to one attitude statement move with the wording of its
instruction? (the paper's Figure 8)

Each of the 27 attitude statements is asked with its own instruction and 30 paraphrases of it
(31 variants, METHODS 3). Per model, statement and variant, `variant_means` averages the
reverse-scored rating (`value`, METHODS 5: reverse items 6 - x, scored once; the original's
variability figure reversed them twice, METHODS 7) over the personas; `paraphrase_spread`
summarises, per statement, how those 31 means spread (standard deviation, range) and how much one
persona's own 31 answers spread on average; `paraphrase_figure` draws the 31 means of every
statement as a box per statement, one panel per model. Computed one model at a time.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from personalib.analysis.data import Study
from personalib.analysis.result import Result
from personalib.analysis.show import note

NO_ATTITUDES = "no attitude questionnaire generations in this store: nothing to compute"


def _rows(study: Study, model: str) -> pd.DataFrame:
    rows = study.rows("attitudes", model)
    return pd.DataFrame({
        "persona": rows["persona"].astype(str), "attitude": rows["attitude"].astype(str),
        "statement_index": rows["statement_index"].astype("Int64").to_numpy(np.int64, na_value=-1),
        "variant": rows["variant"].astype("Int64").to_numpy(np.int64, na_value=-1),
        "value": rows["value"].astype("Float64").to_numpy(np.float64, na_value=np.nan)})


def variant_means(study: Study) -> Result:
    """Per model, statement and instruction variant: the mean reverse-scored rating over the
    personas (`value`) and the number of personas with a rating (`personas`)."""
    parts = []
    for model in study.models_present:
        if not study.has("attitudes", model):
            continue
        frame = _rows(study, model)
        grouped = frame.groupby(["attitude", "statement_index", "variant"], sort=False)["value"]
        table = pd.DataFrame({"value": grouped.mean(), "personas": grouped.count()}).reset_index()
        parts.append(table.assign(model=model))
    cols = ["model", "attitude", "statement_index", "variant", "value", "personas"]
    if not parts:
        return Result(pd.DataFrame(columns=cols), (NO_ATTITUDES,))
    out = pd.concat(parts, ignore_index=True)[cols]
    return Result(out.sort_values(["model", "statement_index", "variant"], key=lambda s: s.map(
        {m: i for i, m in enumerate(study.models_present)}) if s.name == "model" else s,
        kind="stable", ignore_index=True))


def paraphrase_spread(study: Study, means: Result) -> Result:
    """Per model and statement: the `variants` asked, the mean over them of the personas' mean
    rating, its standard deviation (ddof = 1) and range over the variants, and `within_persona_std`,
    the mean over personas of the std of one persona's own ratings over the variants."""
    table = means.table
    cols = ["model", "attitude", "statement_index", "statement", "variants", "mean", "std", "min",
            "max", "range", "within_persona_std"]
    if table.empty:
        return Result(pd.DataFrame(columns=cols), means.notes)
    texts = _statement_texts(study)
    rows = []
    for model, part in table.groupby("model", sort=False):
        frame = _rows(study, model)
        within = (frame.groupby(["statement_index", "persona"])["value"].std(ddof=1)
                  .groupby(level="statement_index").mean())
        for (attitude, statement), own in part.groupby(["attitude", "statement_index"], sort=False):
            values = own["value"].dropna()
            rows.append({"model": model, "attitude": attitude, "statement_index": int(statement),
                         "statement": texts.get(int(statement)), "variants": len(own),
                         "mean": values.mean(), "std": values.std(ddof=1) if len(values) > 1 else np.nan,
                         "min": values.min(), "max": values.max(), "range": values.max() - values.min(),
                         "within_persona_std": within.get(statement, np.nan)})
    notes = list(means.notes)
    out = pd.DataFrame(rows, columns=cols)
    if (out["variants"] < 2).any():
        notes.append("statements asked with a single instruction variant have no spread")
    return Result(out, tuple(notes))


def _statement_texts(study: Study) -> dict[int, str]:
    """Statement index -> its text (from the attitude items), shortened for a table."""
    items = study.items.get("attitudes")
    if items is None or "statement" not in items:
        return {}
    first = items.drop_duplicates("statement_index")
    return {int(i): (t if len(t) <= 70 else t[:67] + "...")
            for i, t in zip(first["statement_index"], first["statement"].astype(str))}


def paraphrase_figure(means: Result) -> Figure | None:
    """One box per statement of its 31 variant means (the personas' mean rating per instruction
    variant), coloured by attitude, one panel per model (the paper's Figure 8)."""
    table = means.table.dropna(subset=["value"]) if not means.table.empty else means.table
    if table.empty:
        note(means.notes[0] if means.notes else NO_ATTITUDES)
        return None
    models = list(dict.fromkeys(table["model"]))
    order = sorted(table["statement_index"].unique())
    palette = dict(zip(list(dict.fromkeys(table["attitude"])),
                       sns.color_palette("tab10", table["attitude"].nunique())))
    fig, axes = plt.subplots(len(models), 1, figsize=(max(6.0, 0.38 * len(order) + 3.0), 3.2 * len(models)),
                             squeeze=False, sharey=True)
    for ax, model in zip(axes[:, 0], models):
        part = table[table["model"] == model].assign(statement=lambda d: d["statement_index"].astype(int))
        sns.boxplot(data=part, x="statement", y="value", hue="attitude", order=order, palette=palette,
                    dodge=False, fliersize=2, linewidth=0.8, ax=ax)
        ax.set_title(f"{model}: the personas' mean rating per instruction variant")
        ax.set_xlabel("attitude statement (index)")
        ax.set_ylabel("rating (1-5, reverse-scored)")
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    handles = [plt.Line2D([], [], marker="s", ls="", color=c, label=a) for a, c in palette.items()]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, title="attitude")
    fig.tight_layout()
    return fig


__all__ = ["paraphrase_figure", "paraphrase_spread", "variant_means"]
