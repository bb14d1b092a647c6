"""RQ1 task performance per persona (METHODS 5): TruthfulQA, MMLU, BBQ accuracy and the overall score.

- TruthfulQA: accuracy over its items (817 in the study).
- MMLU: the mean of the per-subject accuracies.
- BBQ: accuracy per category and context condition; per condition the mean over the categories
  (11 in the study); BBQ accuracy = mean(ambiguous, disambiguated).
- Overall = mean of the three.
- Any other multiple-choice dataset a project adds (`personalib.tasks.registry`): accuracy over its
  items, in its own column; it is not part of the overall score.

Every function takes the table from `score()` and returns values indexed by `KEYS` (model,
persona_set, persona). In strict mode unparsed answers are missing and left out of the means.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from personalib.metrics.common import group_mean, nan_notes, notes_of, with_notes
from personalib.metrics.scoring import KEYS, require_columns, rows_of
from personalib.tasks import registry
from personalib.tasks.bbq import CATEGORIES as BBQ_CATEGORIES

CONDITIONS: tuple[str, ...] = ("ambig", "disambig")
NO_ANSWER = "no parsed answer (strict mode leaves unparsed answers out)"


def choice_accuracy(scored: pd.DataFrame, dataset: str) -> pd.Series:
    """Share of a multiple-choice dataset's items answered with the gold letter, per persona."""
    label = f"{registry.display_name(dataset)} accuracy"
    acc = group_mean(rows_of(scored, dataset, label), KEYS, "hit").rename(dataset)
    return with_notes(acc, nan_notes(acc, label, NO_ANSWER))


def truthfulqa_accuracy(scored: pd.DataFrame) -> pd.Series:
    """Share of TruthfulQA items answered with the gold letter, per persona (METHODS 5)."""
    return choice_accuracy(scored, "truthfulqa")


def mmlu_subject_accuracy(scored: pd.DataFrame) -> pd.DataFrame:
    """Per persona (rows) and MMLU subject (columns): the share of hits."""
    part = rows_of(scored, "mmlu", "MMLU accuracy")
    require_columns(part, ["subject"], "scored table")
    return group_mean(part, [*KEYS, "subject"], "hit").unstack("subject")


def mmlu_accuracy(scored: pd.DataFrame) -> pd.Series:
    """MMLU score per persona: the mean of its per-subject accuracies (METHODS 5)."""
    subjects = mmlu_subject_accuracy(scored)
    acc = subjects.mean(axis=1, skipna=True).rename("mmlu")
    notes = nan_notes(acc, "MMLU accuracy", NO_ANSWER)
    gaps = subjects.isna() & acc.notna().to_numpy()[:, None]
    for key, row in gaps.iterrows():
        if row.any():
            notes.append(f"MMLU accuracy of {'/'.join(map(str, key))} leaves out {int(row.sum())} "
                         "subject(s) without a parsed answer")
    return with_notes(acc, notes)


def bbq_condition_accuracy(scored: pd.DataFrame) -> pd.DataFrame:
    """Per persona, category and context condition: the share of hits (rows: KEYS + category;
    columns: `ambig`, `disambig`)."""
    part = rows_of(scored, "bbq", "BBQ accuracy")
    require_columns(part, ["category", "context_condition"], "scored table")
    return group_mean(part, [*KEYS, "category", "context_condition"], "hit").unstack("context_condition")


def bbq_accuracy(scored: pd.DataFrame) -> pd.DataFrame:
    """BBQ accuracy per persona (METHODS 5): `acc_ambig`, `acc_disambig` (each the mean over
    categories) and `bbq` = their mean."""
    per_cat = bbq_condition_accuracy(scored).reindex(columns=list(CONDITIONS))
    table = per_cat.groupby(level=KEYS, observed=True).mean()
    table.columns = [f"acc_{c}" for c in CONDITIONS]
    table["bbq"] = table[["acc_ambig", "acc_disambig"]].mean(axis=1, skipna=False)
    notes = []
    for cond in CONDITIONS:
        notes += nan_notes(table[f"acc_{cond}"], f"BBQ {cond} accuracy",
                           f"no parsed answer on {cond} items (or none of them in the data)")
    present = set(per_cat.index.get_level_values("category"))
    missing = [c for c in BBQ_CATEGORIES if c not in present]
    if missing:
        notes.append(f"BBQ accuracy averages over the {len(present)} categories present; "
                     f"missing: {', '.join(missing)}")
    return with_notes(table, notes)


def performance_scores(scored: pd.DataFrame) -> pd.DataFrame:
    """Per persona: `truthfulqa`, `mmlu`, `bbq` and `overall` (mean of the three; METHODS 5), then
    the accuracy of each other multiple-choice dataset present (one column each, named by dataset).

    A study dataset absent from `scored` gives a NaN column and a note, and then `overall` is NaN.
    """
    parts, notes = {}, []
    for name, func in (("truthfulqa", truthfulqa_accuracy), ("mmlu", mmlu_accuracy),
                       ("bbq", lambda s: bbq_accuracy(s)["bbq"])):
        if (scored["dataset"] == name).any():
            parts[name] = func(scored)
            notes += notes_of(parts[name])
        else:
            notes.append(f"no {name} generations: the {name} score and the overall score are undefined")
    study = len(parts)
    present = set(scored["dataset"].astype(str).unique()) if len(scored) else set()
    added = [n for n in registry.choice_names() if n not in registry.study_names() and n in present]
    for name in added:
        parts[name] = choice_accuracy(scored, name)
        notes += notes_of(parts[name])
    table = pd.DataFrame(parts) if parts else pd.DataFrame(
        index=pd.MultiIndex.from_frame(scored[KEYS].drop_duplicates()))
    for name in ("truthfulqa", "mmlu", "bbq"):
        if name not in table:
            table[name] = np.nan
    extra = table[added]
    table = table[["truthfulqa", "mmlu", "bbq"]]
    table["overall"] = table.mean(axis=1, skipna=False)
    if study == 3:
        notes += nan_notes(table["overall"], "overall score", "one of the three dataset scores is undefined")
    return with_notes(pd.concat([table, extra], axis=1) if added else table, notes)
