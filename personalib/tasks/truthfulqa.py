"""TruthfulQA MC1 items with the study's seeded option shuffle (METHODS 3).

Source: HF `truthfulqa/truthful_qa`, config multiple_choice, split validation (817 questions), or a
local `data_files=` JSONL/JSON/Parquet in the same schema: `question`, `mc1_targets` {`choices`,
`labels`}, `mc2_targets` (not used). Only MC1 is asked.

Shuffle (faithful to the study): one RNG seeded with 42 ONCE, then for each question in file order
an index array `arange(n_options)` is shuffled with numpy's legacy `shuffle` and choices and labels
are reordered by it. A private `np.random.RandomState(42)` draws exactly what the study's
`np.random.seed(42)` + `np.random.shuffle` drew, without touching numpy's global state. The shuffle
of a question depends on every question before it, so a subset file gets other option orders than
the same questions inside the full file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personalib.tasks.base import Task, bad_row, check_count, finish_items, read_records, resolve_file
from personalib.tasks.spec import LETTERS, TaskSpec

SHUFFLE_SEED = 42


def mc1_options(path: Path, row: int, record: dict[str, Any]) -> tuple[list[str], list[int]]:
    """Choices and 0/1 labels of a row's `mc1_targets`, checked: same lengths, 2..26 options,
    exactly one label 1."""
    targets = record["mc1_targets"]
    if not isinstance(targets, dict) or "choices" not in targets or "labels" not in targets:
        raise bad_row(path, row, "field mc1_targets must be an object with `choices` and `labels`")
    choices = [str(choice) for choice in targets["choices"]]
    try:
        labels = [int(label) for label in targets["labels"]]
    except (TypeError, ValueError):
        raise bad_row(path, row, "field mc1_targets.labels must be a list of 0/1") from None
    if len(choices) != len(labels):
        raise bad_row(path, row, f"mc1_targets has {len(choices)} choices but {len(labels)} labels")
    if not 2 <= len(choices) <= len(LETTERS):
        raise bad_row(path, row, f"mc1_targets has {len(choices)} choices (2 to {len(LETTERS)} allowed)")
    if sorted(labels) != [0] * (len(labels) - 1) + [1]:
        raise bad_row(path, row, "mc1_targets.labels must contain exactly one 1 (the correct answer)")
    return choices, labels


def build_items(spec: TaskSpec, records: list[dict[str, Any]], path: Path) -> pd.DataFrame:
    """TruthfulQA items (METHODS 3): shuffled MC1 options, gold letter, the spec's item id and
    prompt template."""
    rng = np.random.RandomState(SHUFFLE_SEED)
    rows = []
    for row, record in enumerate(records):
        choices, labels = mc1_options(path, row, record)
        order = np.arange(len(choices))
        rng.shuffle(order)
        options = [choices[i] for i in order]
        gold = LETTERS[[labels[i] for i in order].index(1)]
        question = str(record[spec.fields["question"]])
        rows.append({"dataset": spec.name, "item_id": spec.item_key(row=row),
                     "prompt": spec.render(options, question=question),
                     "n_options": len(options), "gold": gold, "options": options, "question": question})
    return finish_items(rows, ["question"])


class TruthfulQA(Task):
    """TruthfulQA MC1 (817 questions; the demo has its own 12)."""

    def _build(self) -> pd.DataFrame:
        path = resolve_file(self, "data_files")
        records = read_records(path, (self.spec.fields["question"], "mc1_targets"))
        check_count(len(records), self.expected_rows, self.row_unit, path)
        return build_items(self.spec, records, path)
