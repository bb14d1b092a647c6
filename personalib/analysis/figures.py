"""The shared figures of the reports (METHODS 5-6 figures): persona score distributions coloured
by category with the no-persona and control personas marked, heatmaps, bars with a baseline.

Each function returns a matplotlib Figure, or None after a note when there is nothing to draw, so
a notebook cell never shows an empty or broken plot.

Labels carry names users chose (persona categories, personas, models), so text is drawn as typed:
importing this module turns matplotlib's mathtext off (`text.parse_math`), and a `$` in a name is
a dollar sign, never a formula that could fail to parse and break the report.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from personalib.analysis.show import note

plt.rcParams["text.parse_math"] = False  # every label literal: see the module docstring

EMPTY_CATEGORY = "empty"
CONTROL_CATEGORY = "control"


def category_palette(categories: list[str]) -> dict[str, object]:
    """Stable colours per persona category; control grey, the no-persona condition black."""
    regular = sorted(c for c in set(categories) if c not in (EMPTY_CATEGORY, CONTROL_CATEGORY))
    colours = sns.color_palette("tab20", max(len(regular), 1))
    palette: dict[str, object] = dict(zip(regular, colours))
    palette[CONTROL_CATEGORY] = (0.6, 0.6, 0.6)
    palette[EMPTY_CATEGORY] = (0.0, 0.0, 0.0)
    return palette


MARK_STYLES: dict[str, dict[str, object]] = {
    "top": {"marker": "^", "color": "#1b7837", "offset": 0.36, "label": "top persona, 95% interval"},
    "no persona": {"marker": "D", "color": "black", "offset": 0.42, "label": "no persona, 95% interval"},
    "bottom": {"marker": "v", "color": "#b2182b", "offset": 0.48, "label": "bottom persona, 95% interval"},
    "control": {"marker": "o", "color": (0.45, 0.45, 0.45), "offset": -0.42,
                "label": "control personas, 95% intervals"},
}
"""How `persona_strip` draws the intervals of marked personas: beside the dots of each x."""


def _interval_marks(ax: plt.Axes, marks: pd.DataFrame, order: list[str], x: str) -> None:
    """Error bars (95% intervals) of the marked personas of one panel, beside each strip: the top,
    bottom and no-persona ones to the right, the control personas (spread a little) to the left."""
    for role, style in MARK_STYLES.items():
        part = marks[(marks["role"] == role) & marks[x].isin(order)].dropna(subset=["value"])
        if part.empty:
            continue
        pos = np.array([order.index(v) for v in part[x]], dtype=float) + float(style["offset"])
        if role == "control":  # one thin bar each, spread over a narrow band
            rank = part.groupby(x, sort=False).cumcount().to_numpy()
            size = part.groupby(x, sort=False)[x].transform("size").to_numpy()
            pos = pos + (rank / np.maximum(size - 1, 1) - 0.5) * 0.1
        low = (part["value"] - part["low"]).clip(lower=0).fillna(0).to_numpy()
        high = (part["high"] - part["value"]).clip(lower=0).fillna(0).to_numpy()
        small = role == "control"
        ax.errorbar(pos, part["value"], yerr=[low, high], fmt=str(style["marker"]),
                    color=style["color"], ms=3 if small else 5, lw=0.7 if small else 1.2,
                    capsize=0 if small else 2.5, alpha=0.6 if small else 1.0, zorder=6,
                    label=str(style["label"]))


def persona_strip(scores: pd.DataFrame, *, value: str = "value", x: str = "dataset",
                  col: str | None = "model", category: str = "category", title: str = "",
                  ylabel: str = "score", marks: pd.DataFrame | None = None) -> Figure | None:
    """One dot per persona and `x` (dataset, measure, attitude), coloured by persona category;
    the no-persona condition is a black diamond and the control personas grey (METHODS 5 figures).

    `scores`: long table with columns `x`, `value`, `category` and `col` (one panel per value).
    `marks` (optional): the 95% intervals of the top, bottom, no-persona and control personas
    (columns `col`, `x`, `role` in MARK_STYLES, `value`, `low`, `high`), drawn as error bars
    beside each strip.
    """
    data = scores.dropna(subset=[value]) if value in scores else scores.iloc[:0]
    if data.empty:
        note(f"{title or ylabel}: no defined scores to plot")
        return None
    data = data.assign(**{x: data[x].astype(str), category: data[category].astype(str)})
    panels = list(dict.fromkeys(data[col].astype(str))) if col else [None]
    order = list(dict.fromkeys(data[x]))
    palette = category_palette(list(data[category].unique()))
    width = max(3.5, (0.65 if marks is None else 1.0) * len(order) + 2.0)
    ncols = min(len(panels), 3)
    nrows = -(-len(panels) // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(width * ncols, 4.2 * nrows), squeeze=False,
                             sharey=True)
    axes = list(grid.flat)[: len(panels)]
    for ax in list(grid.flat)[len(panels):]:
        ax.set_visible(False)
    for ax, panel in zip(axes, panels):
        part = data if panel is None else data[data[col].astype(str) == panel]
        regular = part[part[category] != EMPTY_CATEGORY]
        sns.stripplot(data=regular, x=x, y=value, hue=category, order=order, palette=palette,
                      jitter=0.25, size=5, alpha=0.8, ax=ax, legend=True)
        empty = part[part[category] == EMPTY_CATEGORY]
        if not empty.empty:
            ax.scatter([order.index(v) for v in empty[x]], empty[value], marker="D", s=60,
                       color="black", zorder=5, label="no persona")
        if marks is not None and not marks.empty:
            own = marks if panel is None or col not in marks else marks[marks[col].astype(str) == panel]
            _interval_marks(ax, own.assign(**{x: own[x].astype(str)}), order, x)
        ax.set_title(str(panel) if panel is not None else "")
        ax.set_xlabel("")
        ax.set_ylabel(ylabel)
        ax.tick_params(axis="x", rotation=30)
    seen: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    handles, labels = list(seen.values()), list(seen)
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False,
               title="persona category")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def heatmap(matrix: pd.DataFrame, *, title: str = "", center: float | None = 0.0,
            vmin: float | None = -1.0, vmax: float | None = 1.0, cmap: str = "vlag",
            fmt: str = ".2f", ax: plt.Axes | None = None) -> Figure | None:
    """An annotated heatmap (correlation matrices, p-value tables); NaN cells left blank."""
    values = matrix.apply(pd.to_numeric, errors="coerce")
    if values.empty or values.isna().all().all():
        note(f"{title or 'heatmap'}: every entry is undefined, nothing to plot")
        return None
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(2.5 + 0.8 * values.shape[1], 1.8 + 0.5 * values.shape[0]))
    else:
        fig = ax.figure
    sns.heatmap(values, annot=True, fmt=fmt, center=center, vmin=vmin, vmax=vmax, cmap=cmap,
                ax=ax, cbar=own, annot_kws={"fontsize": 8})
    ax.set_title(title)
    if own:
        fig.tight_layout()
    return fig


def bars(table: pd.DataFrame, *, x: str, y: str, title: str = "", baseline: float | None = None,
         baseline_label: str = "baseline", hue: str | None = None) -> Figure | None:
    """Bars of `y` per `x` (optionally grouped by `hue`), with a dashed horizontal baseline."""
    data = table.dropna(subset=[y]) if y in table else table.iloc[:0]
    if data.empty:
        note(f"{title or y}: no defined values to plot")
        return None
    fig, ax = plt.subplots(figsize=(max(5.0, 0.7 * data[x].nunique() + 3.5), 3.8))
    sns.barplot(data=data, x=x, y=y, hue=hue, ax=ax)
    handles: list = []
    labels: list[str] = []
    if ax.get_legend() is not None:  # seaborn's hue legend: keep its patches, move it outside
        handles = list(ax.get_legend().legend_handles)
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        ax.get_legend().remove()
    if baseline is not None and np.isfinite(baseline):
        handles.append(ax.axhline(baseline, ls="--", color="black", lw=1, label=baseline_label))
        labels.append(baseline_label)
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_title(title)
    ax.set_xlabel("")
    ax.tick_params(axis="x", rotation=30)
    plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
    fig.tight_layout()
    return fig


def std_ratio_figure(ratios: pd.DataFrame, *, hue: str, panel: str | None = None,
                     hue_order: list[str] | None = None, title: str = "{panel}",
                     suptitle: str = "") -> Figure | None:
    """Bars of std ratios (`stats.std_ratios`: a category's std over the control personas' std,
    METHODS 6) per persona category, one colour per `hue` value and one panel per `panel` value;
    the dashed line at 1 is the control personas' own spread. The one std-ratio figure of RQ1,
    RQ2 and RQ4."""
    data = ratios.dropna(subset=["ratio"]) if "ratio" in ratios else ratios.iloc[:0]
    if data.empty:
        note("std ratios: none is defined (a category needs two scored personas and the control "
             "personas a non-zero spread), nothing to plot")
        return None
    data = data.assign(**{hue: data[hue].astype(str)})
    panels = list(dict.fromkeys(data[panel].astype(str))) if panel else [None]
    cats = list(dict.fromkeys(data["category"].astype(str)))
    present = list(dict.fromkeys(data[hue]))
    hues = [h for h in (hue_order or present) if h in present]
    width = max(4.5, 0.35 * len(cats) * len(hues) / 2 + 2.0)
    fig, axes = plt.subplots(len(panels), 1, figsize=(width + 1.8, 3.4 * len(panels)), squeeze=False,
                             sharey=True)
    handles: list = []
    labels: list[str] = []
    for ax, name in zip(axes[:, 0], panels):
        part = data if name is None else data[data[panel].astype(str) == name]
        sns.barplot(data=part, x="category", y="ratio", hue=hue, order=cats, hue_order=hues, ax=ax)
        ax.axhline(1.0, ls="--", color="black", lw=1, label="control std (ratio 1)")
        ax.set_title(title.format(panel=name) if name is not None else title.replace("{panel}", "").strip(": "))
        ax.set_xlabel("persona category")
        ax.set_ylabel("std / control std")
        ax.tick_params(axis="x", rotation=30)
        plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
        handles, labels = ax.get_legend_handles_labels()
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0 - 1.7 / (width + 1.8), 0.95),
               frameon=False, title=hue)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout(rect=(0, 0, 1.0 - 1.8 / (width + 1.8), 1))
    return fig
