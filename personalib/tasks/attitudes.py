"""Attitude questionnaire items (Sap et al. 2022 questionnaires as used by the study; METHODS 3).

Sources (original study repository at the pinned commit, or `questions=` / `paraphrases=`):

- `attitude_questions.json`: a list of dimensions, each {attitude, instruction, statements, scale,
  reverse (indices into statements), instruction_type (index into the paraphrase lists)};
- `att_augment.json`: one entry per instruction type, each `[{"generated_text": "1. ...\\n2. ..."}]`:
  numbered lines; the leading number token is dropped (text split on " ", first token removed, as
  the study did). The study has 30 lines per type; other files may have any number N >= 1.

Each statement (statement-major, questionnaire order) is asked with variant 0 = its own instruction
and variants 1..N = the paraphrases of its instruction type in file order: item_id
"<statement>/<variant>", prompt `{instruction}\\n\\n{statement}\\n\\n{scale}` + the number instruction.
`reverse` marks reverse-scored statements (scored 6 - x in METHODS 5). The study: 27 statements x 31
variants = 837 prompts; variant k+1 of statement s is prompt s*30+k of the study's attitudes_extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from personalib.errors import PersonalibError
from personalib.tasks.base import Task, bad_row, check_count, finish_items, load_json, resolve_file
from personalib.tasks.spec import TaskSpec

QUESTION_FIELDS = ("attitude", "instruction", "statements", "scale", "reverse", "instruction_type")
EXTRA_COLUMNS = ["attitude", "statement_index", "variant", "statement", "reverse", "instruction_type",
                 "instruction"]
STUDY_PARAPHRASES = 30


def read_questionnaire(path: Path) -> list[dict[str, Any]]:
    """The questionnaire file, checked field by field (errors name the file, entry and field)."""
    data = load_json(path)
    if not isinstance(data, list) or not data:
        raise PersonalibError(f"{path}: expected a non-empty JSON list of attitude dimensions")
    for number, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise bad_row(path, number, "expected an object", "entry")
        missing = [name for name in QUESTION_FIELDS if name not in entry]
        if missing:
            raise bad_row(path, number, f"missing field(s) {', '.join(missing)}", "entry")
        statements = entry["statements"]
        if not isinstance(statements, list) or not statements or not all(
                isinstance(s, str) and s.strip() for s in statements):
            raise bad_row(path, number, "field statements must be a non-empty list of non-empty texts",
                          "entry")
        for name in ("attitude", "instruction", "scale"):
            if not isinstance(entry[name], str) or not entry[name].strip():
                raise bad_row(path, number, f"field {name} must be a non-empty text", "entry")
        reverse = entry["reverse"]
        if not isinstance(reverse, list) or not all(
                isinstance(i, int) and 0 <= i < len(statements) for i in reverse):
            raise bad_row(path, number, f"field reverse must list statement indices 0..{len(statements) - 1}",
                          "entry")
        if not isinstance(entry["instruction_type"], int) or entry["instruction_type"] < 0:
            raise bad_row(path, number, "field instruction_type must be an integer >= 0", "entry")
    return data


def read_paraphrases(path: Path) -> list[list[str]]:
    """Instruction paraphrases per instruction type (leading number token dropped, METHODS 3)."""
    data = load_json(path)
    if not isinstance(data, list) or not data:
        raise PersonalibError(f"{path}: expected a JSON list with one entry per instruction type")
    result = []
    for number, entry in enumerate(data):
        try:
            text = entry[0]["generated_text"]
        except (KeyError, IndexError, TypeError):
            raise bad_row(path, number, 'expected [{"generated_text": "<numbered lines>"}]',
                          "entry") from None
        if not isinstance(text, str):
            raise bad_row(path, number, "field generated_text must be a text", "entry")
        lines = [" ".join(line.split(" ")[1:]) for line in text.split("\n")]
        empty = [k + 1 for k, line in enumerate(lines) if not line.strip()]
        if empty:
            raise bad_row(path, number, f"generated_text line(s) {empty} hold no paraphrase after the "
                          "number token (expected one numbered paraphrase per line, no blank lines)", "entry")
        result.append(lines)
    return result


def build_items(spec: TaskSpec, questions: list[dict[str, Any]], paraphrases: list[list[str]],
                path: Path) -> pd.DataFrame:
    """Attitude items, statement-major: variant 0 = own instruction, then the paraphrases."""
    rows = []
    statement_index = 0
    for number, entry in enumerate(questions):
        kind = entry["instruction_type"]
        if kind >= len(paraphrases):
            raise bad_row(path, number, f"instruction_type {kind} has no paraphrase list "
                          f"(the paraphrase file has {len(paraphrases)})", "entry")
        instructions = [entry["instruction"], *paraphrases[kind]]
        for position, statement in enumerate(entry["statements"]):
            for variant, instruction in enumerate(instructions):
                rows.append({
                    "dataset": spec.name,
                    "item_id": spec.item_key(statement_index=statement_index, variant=variant),
                    "prompt": spec.render(instruction=instruction, text=statement, scale=entry["scale"]),
                    "n_options": pd.NA, "gold": pd.NA, "options": None,
                    "attitude": entry["attitude"], "statement_index": statement_index,
                    "variant": variant, "statement": statement,
                    "reverse": position in entry["reverse"], "instruction_type": kind,
                    "instruction": instruction,
                })
            statement_index += 1
    return finish_items(rows, EXTRA_COLUMNS)


class Attitudes(Task):
    """27 statements x 31 instruction variants (837 prompts); demo: 10 statements x 4 variants."""

    def _build(self) -> pd.DataFrame:
        questions_path = resolve_file(self, "questions")
        paraphrase_path = resolve_file(self, "paraphrases")
        questions = read_questionnaire(questions_path)
        paraphrases = read_paraphrases(paraphrase_path)
        n_statements = sum(len(entry["statements"]) for entry in questions)
        check_count(n_statements, self.expected_rows, self.row_unit, questions_path)
        if self.expected_rows == self.source_rows:
            for kind, lines in enumerate(paraphrases):
                check_count(len(lines), STUDY_PARAPHRASES, f"paraphrases for instruction type {kind}",
                            paraphrase_path)
        return build_items(self.spec, questions, paraphrases, questions_path)
