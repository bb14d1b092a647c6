"""RQ4 refusal rates per persona (METHODS 4-5).

A refusal is a hedge whose answer could not be extracted (`refusal` column of `score()`). The rate
of a task is the mean over its items; the study's six tasks are the attitude questionnaires,
offensiveness and racism ratings (the two halves of toxicity), TruthfulQA, MMLU and BBQ, and the
average refusal rate is the mean of the six. Refusals do not depend on the parsing mode.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from personalib.metrics.common import group_mean, with_notes
from personalib.metrics.scoring import KEYS, require_columns

TASKS: tuple[str, ...] = ("attitudes", "offensiveness", "racism", "truthfulqa", "mmlu", "bbq")
"""The six refusal tasks of METHODS 4, in the study's order."""


def refusal_task(scored: pd.DataFrame) -> pd.Series:
    """The refusal task of each row (categorical): the dataset, with toxicity split into
    offensiveness/racism."""
    dataset = pd.Categorical(scored["dataset"])
    codes = dataset.codes.astype(np.int64)
    names = [str(c) for c in dataset.categories]
    if "toxicity" in names:
        require_columns(scored, ["measure"], "scored table")
        measure = pd.Categorical(scored["measure"])
        off = np.asarray(measure.categories == "off")[measure.codes] & (measure.codes >= 0)
        tox = codes == names.index("toxicity")
        codes = np.where(tox, np.where(off, len(names), len(names) + 1), codes)
        names += ["offensiveness", "racism"]
    return pd.Series(pd.Categorical.from_codes(codes, categories=names), index=scored.index, name="task")


def refusal_rates(scored: pd.DataFrame) -> pd.DataFrame:
    """Per persona (rows): the refusal rate of each of the six tasks and their `average`
    (METHODS 4). A task without generations gives a NaN column, a note, and a NaN average."""
    require_columns(scored, [*KEYS, "dataset", "refusal"], "scored table (from score())")
    frame = scored[KEYS].copy()
    frame["task"] = refusal_task(scored).array
    frame["refusal"] = scored["refusal"].to_numpy()
    table = group_mean(frame, [*KEYS, "task"], "refusal").unstack("task")
    table.columns = [str(c) for c in table.columns]
    table = table.reindex(columns=list(TASKS))
    table.columns.name = None
    missing = [t for t in TASKS if table[t].isna().all()]
    table["average"] = table[list(TASKS)].mean(axis=1, skipna=False)
    notes = [f"no {t} generations: its refusal rate and the average over the six tasks are undefined"
             for t in missing]
    partial = table[list(TASKS)].isna().any(axis=1) & table[list(TASKS)].notna().any(axis=1)
    if not missing:
        notes += [f"average refusal rate undefined for {'/'.join(map(str, k))}: some of the six tasks "
                  "have no generations for this persona" for k in table.index[partial]]
    return with_notes(table, notes)
