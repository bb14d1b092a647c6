"""MMLU items, full test split and the study's GPT-4 subsample (METHODS 3).

Source: HF `cais/mmlu`, config all, split test (14,042 rows), or `data_files=` a local
JSONL/JSON/Parquet with the same schema (`question`, `subject`, `choices` [4 texts], `answer` 0-3).
Prompt: the multiple-choice prompt with the choices in their given order; gold = letter of `answer`.
`field` comes from the standard subject map (`personalib.tasks.mmlu_subjects`); an unknown subject
is an error.

Subsample: the study's `data/mmlu/sampled_ids.json` (ascending row indices into all/test, at most
250 per subject, 10,219 rows) or `sampled_ids=`. With `subsample=True` only those rows are kept, in
the file's order. `in_subsample` marks them in the full table; it is <NA> where the ids are not
available (partial/custom data without `sampled_ids=`, or the study file cannot be fetched).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from personalib.errors import PersonalibError
from personalib.tasks.base import (
    Task, bad_row, check_count, finish_items, load_json, read_records, resolve_file, subsample_file,
)
from personalib.tasks.mmlu_subjects import subject_field
from personalib.tasks.spec import LETTERS, TaskSpec

EXTRA_COLUMNS = ["question", "subject", "field", "in_subsample"]


def read_sampled_ids(path: Path, n_rows: int) -> list[int]:
    """Row indices of the subsample file: a JSON list of distinct integers in 0..n_rows-1."""
    ids = load_json(path)
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise PersonalibError(f"{path}: expected a JSON list of row indices (integers)")
    if len(set(ids)) != len(ids):
        raise PersonalibError(f"{path}: repeated row indices")
    outside = [i for i in ids if not 0 <= i < n_rows]
    if outside:
        raise PersonalibError(f"{path}: row indices outside 0..{n_rows - 1}, e.g. {outside[:3]}; "
                              "the ids do not belong to this MMLU file")
    return ids


def parse_row(spec: TaskSpec, path: Path, row: int, record: dict[str, Any]) -> dict[str, Any]:
    """One MMLU item; a PersonalibError names the file, row and field when malformed."""
    subject = str(record["subject"])
    field = subject_field(subject)
    if field is None:
        raise bad_row(path, row, f"unknown MMLU subject {subject!r} (not one of the 57 subjects)")
    choices = [str(choice) for choice in record["choices"]]
    if not 2 <= len(choices) <= len(LETTERS):
        raise bad_row(path, row, f"field choices has {len(choices)} options")
    try:
        answer = int(record["answer"])
    except (TypeError, ValueError):
        raise bad_row(path, row, f"field answer must be an integer, not {record['answer']!r}") from None
    if not 0 <= answer < len(choices):
        raise bad_row(path, row, f"field answer {answer} is not an index into the {len(choices)} choices")
    question = str(record["question"])
    return {"dataset": spec.name, "item_id": spec.item_key(row=row),
            "prompt": spec.render(choices, question=question), "n_options": len(choices),
            "gold": LETTERS[answer], "options": choices,
            "question": question, "subject": subject, "field": field}


class MMLU(Task):
    """MMLU all/test (14,042 rows; GPT-4 subsample 10,219; demo: 16 rows)."""

    def _build(self) -> pd.DataFrame:
        path = resolve_file(self, "data_files")
        records = read_records(path, ("question", "subject", "choices", "answer"))
        check_count(len(records), self.expected_rows, self.row_unit, path)
        rows = [parse_row(self.spec, path, row, record) for row, record in enumerate(records)]
        ids_path = subsample_file(self)
        ids = read_sampled_ids(ids_path, len(rows)) if ids_path else None
        chosen = set(ids or ())
        for number, row in enumerate(rows):
            row["in_subsample"] = number in chosen if ids is not None else pd.NA
        if self.subsample:
            assert ids is not None
            rows = [rows[i] for i in ids]
            if not (self.is_demo or self.allow_partial):
                check_count(len(rows), self.subsample_prompts, "subsample rows", "MMLU sampled_ids.json")
        frame = finish_items(rows, EXTRA_COLUMNS)
        frame["in_subsample"] = frame["in_subsample"].astype("bool" if ids is not None else "boolean")
        return frame

