"""Any multiple-choice dataset in the Hugging Face schema, read from its task file alone.

Each record (a row of a JSONL, JSON or Parquet file) holds a question, a list of choices and the
0-based index of the correct choice, in the record fields the spec names (`fields: {question: ...,
choices: ..., answer: ...}`). Item ids follow the spec's scheme (`{row}` = 0-based row number, or
any record field); the prompt is the spec's template with `{question}` and `{options}` (`A. text`
lines, METHODS 3); gold is the letter of the answer. The columns the spec carries (`columns`) are
copied from the record fields of the same name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from personalib.tasks.base import Task, bad_row, check_count, finish_items, read_records, resolve_file
from personalib.tasks.spec import LETTERS, TaskSpec


def parse_row(spec: TaskSpec, path: Path, row: int, record: dict[str, Any]) -> dict[str, Any]:
    """One item; a PersonalibError names the file, row and field when malformed."""
    question_field, choices_field, answer_field = (spec.fields[k] for k in ("question", "choices", "answer"))
    choices = record[choices_field]
    if isinstance(choices, str) or not hasattr(choices, "__len__") or not 2 <= len(choices) <= len(LETTERS):
        raise bad_row(path, row, f"field {choices_field} must be a list of 2 to {len(LETTERS)} choices")
    choices = [str(choice) for choice in choices]
    try:
        answer = int(record[answer_field])
    except (TypeError, ValueError):
        raise bad_row(path, row, f"field {answer_field} must be an integer, "
                      f"not {record[answer_field]!r}") from None
    if not 0 <= answer < len(choices):
        raise bad_row(path, row, f"field {answer_field} {answer} is not an index into the "
                      f"{len(choices)} choices")
    question = str(record[question_field])
    try:
        item_id = spec.item_key(row=row, **{k: v for k, v in record.items() if k != "row"})
    except KeyError as exc:
        raise bad_row(path, row, f"item_id scheme {spec.item_id!r} names field {exc}, "
                      "which the record lacks") from None
    return {"dataset": spec.name, "item_id": item_id, "prompt": spec.render(choices, question=question),
            "n_options": len(choices), "gold": LETTERS[answer], "options": choices,
            **{column: record[column] for column in spec.columns.all()}}


class ChoiceTask(Task):
    """A multiple-choice dataset described by its task file alone (module docstring)."""

    def _build(self) -> pd.DataFrame:
        spec = self.spec
        path = resolve_file(self, next(iter(spec.file_args)))
        fields = [spec.fields[k] for k in ("question", "choices", "answer")]
        records = read_records(path, [*fields, *spec.columns.all()])
        check_count(len(records), self.expected_rows, self.row_unit, path)
        rows = [parse_row(spec, path, row, record) for row, record in enumerate(records)]
        frame = finish_items(rows, spec.columns.all())
        for column in spec.columns.numeric:
            frame[column] = frame[column].astype("Int64")
        for column in spec.columns.boolean:
            frame[column] = frame[column].astype("boolean")
        return frame
