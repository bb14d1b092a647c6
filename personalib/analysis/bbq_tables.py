"""RQ2 per BBQ category: persona-group accuracy ranks (the paper's Table 7) and the bias breakdown.

- `category_accuracy(study)`: per model, persona and BBQ category, the BBQ accuracy on that
  category's items, mean(ambiguous accuracy, disambiguated accuracy) (METHODS 5 restricted to one
  category; A07: the paper does not say, this is the METHODS 5 definition), and `overall`, the
  METHODS 5 BBQ accuracy over all categories;
- `group_ranks(accuracy)`: Table 7. Each persona is ranked among all personas of the model (1 =
  most accurate, ties share the best rank) on each category and overall; per group, the mean rank
  of its members and the best member's rank. The groups are the personas of the persona ->
  BBQ-group mapping (`personalib/data/bbq_persona_groups.yaml`, METHODS 5) by persona category:
  religion (5), sexual orientation (4), ethnicity (6), gender (3), the sizes the paper's means
  imply (A07), next to no persona. Across models (the paper's table) the accuracies are first
  averaged over the models (personas scored by every model), then ranked;
- `category_bias(study)`: per model, persona and BBQ category, s_DIS, s_AMB and their mean
  (METHODS 5 before the average over categories), and `category_bias_summary` /
  `category_bias_figure` to read it.

Everything is computed one model at a time from `study.rows("bbq", model)`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from personalib import metrics
from personalib.analysis.data import Study, persona_table
from personalib.analysis.figures import heatmap
from personalib.analysis.result import Result
from personalib.errors import PersonalibError

GROUPS: dict[str, tuple[str, str]] = {
    "religious": ("religion", "Religion"),
    "sexuality": ("sexual orientation", "Sexual_orientation"),
    "race": ("ethnicity", "Race_ethnicity"),
    "gender": ("gender", "Gender_identity"),
}
"""Persona category -> (group label, its own BBQ category) of Table 7."""
TABLE7_CATEGORIES = ("Religion", "Sexual_orientation", "Race_ethnicity", "Gender_identity")
OVERALL = "overall"
ACROSS = "all models (mean)"
NO_PERSONA = "empty"
_NO_BBQ = "no BBQ generations in this store: the per-category tables are not computed"


def _models(study: Study) -> list[str]:
    return [m for m in study.models_present if study.has("bbq", m)]


def category_accuracy(study: Study) -> Result:
    """Per model and persona (rows): the BBQ accuracy on each BBQ category's items (columns, the
    categories of the data in the study's order) and `overall` (METHODS 5)."""
    parts = []
    for model in _models(study):
        rows = study.rows("bbq", model)
        frame = pd.DataFrame({"persona": rows["persona"].astype(str), "bbq_category": rows["category"].astype(str),
                              "condition": rows["context_condition"].astype(str),
                              "hit": rows["hit"].astype("Float64").to_numpy(np.float64, na_value=np.nan)})
        cond = frame.groupby(["persona", "bbq_category", "condition"], sort=False)["hit"].mean().unstack("condition")
        per_cat = cond.reindex(columns=["ambig", "disambig"]).mean(axis=1, skipna=False).unstack("bbq_category")
        overall = metrics.bbq_accuracy(rows)["bbq"].droplevel(["model", "persona_set"])
        per_cat[OVERALL] = overall.reindex(per_cat.index.astype(str)).to_numpy()
        parts.append(per_cat.assign(model=model).reset_index())
    if not parts:
        return Result(pd.DataFrame(columns=["model", "persona", OVERALL]), (_NO_BBQ,))
    table = pd.concat(parts, ignore_index=True)
    order = [c for c in metrics_order() if c in table.columns]
    return Result(table[["model", "persona", *order, OVERALL]])


def metrics_order() -> list[str]:
    """The BBQ categories in the study's order (METHODS 3)."""
    from personalib.tasks.bbq import CATEGORIES

    return list(CATEGORIES)


def _ranks(values: pd.DataFrame) -> pd.DataFrame:
    """Descending ranks per column (1 = most accurate, ties share the best rank)."""
    return values.rank(ascending=False, method="min")


def _cross_model(accuracy: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """The mean accuracy over the models of the personas every model scored."""
    models = accuracy["model"].nunique()
    counts = accuracy.groupby("persona")["model"].nunique()
    keep = counts.index[counts == models]
    dropped = sorted(set(counts.index) - set(keep))
    notes = ([f"{len(dropped)} persona(s) not scored by every model are left out of the cross-model "
              f"ranks: {', '.join(dropped[:5])}{' ...' if len(dropped) > 5 else ''}"] if dropped else [])
    mean = accuracy[accuracy["persona"].isin(keep)].groupby("persona")[columns].mean()
    return mean, notes


def group_members(study: Study) -> dict[str, list[str]]:
    """Table 7 group label -> the mapped personas of that persona category (present or not; the
    category of a persona absent from the study's sets is that of the study's regular set)."""
    regular = persona_table(["regular"])
    categories = {**dict(zip(regular["persona"], regular["category"])), **study.persona_categories()}
    out: dict[str, list[str]] = {label: [] for label, _ in GROUPS.values()}
    for persona in metrics.load_group_mapping():
        group = GROUPS.get(categories.get(persona, ""))
        if group:
            out[group[0]].append(persona)
    return out


def group_ranks(study: Study, accuracy: Result) -> Result:
    """Table 7 (module doc): per scope (each model, and the cross-model mean with two models or
    more), group (and no persona) and column (the four categories of the table and overall):
    `members` ranked, `mean_rank`, `best_rank`, `best_member` and `n_personas` ranked."""
    table = accuracy.table
    cols = ["scope", "group", "members", "column", "mean_rank", "best_rank", "best_member", "n_personas"]
    if table.empty:
        return Result(pd.DataFrame(columns=cols), accuracy.notes)
    columns = [c for c in (*TABLE7_CATEGORIES, OVERALL) if c in table.columns]
    missing = [c for c in TABLE7_CATEGORIES if c not in table.columns]
    notes = list(accuracy.notes)
    if missing:
        notes.append(f"no BBQ items of {', '.join(missing)} in these data: their columns of Table 7 "
                     "are left out")
    scopes = [(m, part.set_index("persona")[columns]) for m, part in table.groupby("model", sort=False)]
    if len(scopes) > 1:
        mean, dropped = _cross_model(table, columns)
        scopes.append((ACROSS, mean))
        notes += dropped
    groups = {"no persona": [NO_PERSONA], **group_members(study)}
    absent = {g: [p for p in people if p not in set(table["persona"])] for g, people in groups.items()}
    notes += [f"Table 7 group {g}: {', '.join(p)} not in these data" for g, p in absent.items() if p]
    rows = []
    for scope, values in scopes:
        ranks = _ranks(values)
        for group, people in groups.items():
            present = [p for p in people if p in ranks.index]
            for column in columns:
                got = ranks.loc[present, column].dropna() if present else pd.Series(dtype=float)
                rows.append({"scope": scope, "group": group, "members": len(got), "column": column,
                             "mean_rank": got.mean() if len(got) else np.nan,
                             "best_rank": got.min() if len(got) else np.nan,
                             "best_member": got.idxmin() if len(got) else None,
                             "n_personas": int(values[column].notna().sum())})
    return Result(pd.DataFrame(rows, columns=cols), tuple(notes))


def group_rank_table(ranks: Result, scope: str | None = None) -> Result:
    """Table 7 as printed: one row per group, one column per category and overall, each cell
    "mean rank (best member's rank)" (one member: its rank), for one scope (default: the
    cross-model mean when there is one, else the only model)."""
    table = ranks.table
    if table.empty:
        return ranks
    scopes = list(dict.fromkeys(table["scope"]))
    scope = scope or (ACROSS if ACROSS in scopes else scopes[0])
    part = table[table["scope"] == scope]

    def cell(row: pd.Series) -> str | None:
        if pd.isna(row["mean_rank"]):
            return None
        mean = f"{row['mean_rank']:.1f}".removesuffix(".0")
        return mean if row["members"] == 1 else f"{mean} ({int(row['best_rank'])})"

    wide = part.assign(cell=part.apply(cell, axis=1)).pivot(index="group", columns="column", values="cell")
    wide = wide.reindex(index=list(dict.fromkeys(part["group"])),
                        columns=[c for c in (*TABLE7_CATEGORIES, OVERALL) if c in wide.columns])
    wide.columns.name = None
    out = wide.reset_index().assign(scope=scope)
    return Result(out[["scope", *[c for c in out.columns if c != "scope"]]], ranks.notes)


def category_bias(study: Study) -> Result:
    """Per model, persona and BBQ category: `s_dis`, `s_amb` and `bias` = their mean (METHODS 5
    per category), with the persona `category`; the metric's notes say where b is 0/0."""
    parts, notes = [], []
    for model in _models(study):
        try:
            per_cat = metrics.category_bias(study.rows("bbq", model))
        except PersonalibError as exc:  # no bias targets: the metadata was not loaded
            return Result(pd.DataFrame(), (str(exc),))
        notes += metrics.notes_of(per_cat)
        s = per_cat["s"].unstack("context_condition").reindex(columns=["disambig", "ambig"])
        s.columns = ["s_dis", "s_amb"]
        s["bias"] = s[["s_dis", "s_amb"]].mean(axis=1, skipna=False)
        frame = s.reset_index().rename(columns={"category": "bbq_category"})
        parts.append(frame.astype({"model": str, "persona_set": str, "persona": str, "bbq_category": str}))
    if not parts:
        return Result(pd.DataFrame(), (_NO_BBQ,))
    table = study.with_categories(pd.concat(parts, ignore_index=True), at=3)
    return Result(table, tuple(notes))


def category_bias_summary(per_category: Result) -> Result:
    """Per model and BBQ category: personas with a bias, the mean, the most and least biased
    persona and their bias, the no-persona bias and the control personas' mean."""
    table = per_category.table
    cols = ["model", "bbq_category", "personas", "mean_bias", "lowest", "min", "highest", "max",
            "no persona", "control mean"]
    if table.empty:
        return Result(pd.DataFrame(columns=cols), per_category.notes)
    rows = []
    for (model, cat), part in table.dropna(subset=["bias"]).groupby(["model", "bbq_category"], sort=False):
        ordered = part.sort_values(["bias", "persona"], kind="stable")
        empty = part.loc[part["category"] == "empty", "bias"]
        control = part.loc[part["category"] == "control", "bias"]
        rows.append({"model": model, "bbq_category": cat, "personas": len(part),
                     "mean_bias": part["bias"].mean(), "lowest": ordered["persona"].iloc[0],
                     "min": ordered["bias"].iloc[0], "highest": ordered["persona"].iloc[-1],
                     "max": ordered["bias"].iloc[-1],
                     "no persona": empty.iloc[0] if len(empty) else np.nan,
                     "control mean": control.mean() if len(control) else np.nan})
    return Result(pd.DataFrame(rows, columns=cols), per_category.notes)


def category_bias_figure(per_category: Result, model: str | None = None) -> Figure | None:
    """Heatmap of the mean bias per persona category (rows) and BBQ category (columns) of one
    model (default: the first), 0 = unbiased (METHODS 5 per category)."""
    table = per_category.table
    if table.empty or "bias" not in table:
        return None
    model = model or str(table["model"].iloc[0])
    part = table[table["model"] == model]
    matrix = part.pivot_table(index="category", columns="bbq_category", values="bias", aggfunc="mean")
    matrix = matrix.reindex(columns=[c for c in metrics_order() if c in matrix.columns])
    return heatmap(matrix, title=f"{model}: mean BBQ bias per persona category and BBQ category",
                   vmin=-1.0, vmax=1.0)


__all__ = ["ACROSS", "GROUPS", "OVERALL", "TABLE7_CATEGORIES", "category_accuracy", "category_bias",
           "category_bias_figure", "category_bias_summary", "group_members", "group_rank_table",
           "group_ranks", "metrics_order"]
