"""BBQ items with bias metadata and the study's GPT-4 subsample (METHODS 3).

Sources: nyu-mll/BBQ `data/{Category}.jsonl` for the 11 categories in the study's order, and
`supplemental/additional_metadata.csv` for `target_loc`. Local files: `data_dir=` a BBQ checkout
(its root, holding `data/`, or the `data/` folder itself), `metadata=` the metadata CSV (when not
given, `<checkout>/supplemental/` or `<checkout>/analysis_scripts/additional_metadata.csv` is used
if present) and `sampled_ids=` the study's `data/bbq/sampled_ids.json`.

Prompt: `Context: {context}\\n\\nQuestion: {question}\\nA. {ans0}\\nB. {ans1}\\nC. {ans2}` + the letter
instruction; gold = letter of `label`. `answer_tags` = the group tag of each answer (`answer_info`),
`unknown_loc` = the answer tagged "unknown" (<NA> if none). `target_loc` comes from the metadata
joined on (category, example_id) after dropping duplicate rows; <NA> where blank/NA or when there
is no metadata. Without metadata, `task.has_metadata` is False and `task.metadata_problem` says
which file is missing and where to get it: accuracy works, bias metrics must stop with that text
(`require_metadata`). With `allow_partial=True`, category files absent from `data_dir` are skipped.

Subsample: `sampled_ids.json` maps category -> example ids (= row positions); items keep the study's
category order and, within a category, the order of the file's list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from personalib.errors import PersonalibError, SourceMissingError
from personalib.sources import BBQ_METADATA_PATH, ChecksumError, fetch, missing_message
from personalib.tasks.base import (
    LETTER_INSTRUCTION, Task, bad_row, check_count, finish_items, iter_json_lines, load_json,
    option_lines, subsample_file,
)

CATEGORY_ROWS: dict[str, int] = {
    "Age": 3680, "Disability_status": 1556, "Gender_identity": 5672, "Nationality": 3080,
    "Physical_appearance": 1576, "Race_ethnicity": 6880, "Race_x_gender": 15960, "Race_x_SES": 11160,
    "Religion": 1200, "SES": 6864, "Sexual_orientation": 864,
}
"""The 11 BBQ categories in the study's order and their row counts (58,492 rows)."""
CATEGORIES: tuple[str, ...] = tuple(CATEGORY_ROWS)
SUBSAMPLE_ROWS = 5788
"""Rows in the study's GPT-4 subsample (`data/bbq/sampled_ids.json`): the number of item columns
(0..5787) of the released `results/zero/gpt-4-0125-preview/bbq_hits.csv` (commit c56d3049); checked
against the ids file when it is loaded (1,447 groups of 4 rows: ambig/disambig x neg/nonneg)."""

ROW_FIELDS = ("example_id", "question_index", "question_polarity", "context_condition", "category",
              "answer_info", "context", "question", "ans0", "ans1", "ans2", "label")
EXTRA_COLUMNS = ["category", "example_id", "question_index", "question_polarity", "context_condition",
                 "answer_tags", "unknown_loc", "target_loc", "in_subsample"]
PARTIAL = "Pass allow_partial=True to load only the categories present."
METADATA_NAMES = ("supplemental/additional_metadata.csv", "analysis_scripts/additional_metadata.csv")


def bbq_prompt(context: str, question: str, answers: list[str]) -> str:
    """METHODS 3: `Context: {c}\\n\\nQuestion: {q}\\nA. ..\\nB. ..\\nC. ..` + the letter instruction."""
    return f"Context: {context}\n\nQuestion: {question}\n{option_lines(answers)}{LETTER_INSTRUCTION}"


def parse_row(path: Path, line: int, row: dict[str, Any], category: str) -> dict[str, Any]:
    """One item from one BBQ row; a PersonalibError names the file, line and field when malformed."""
    missing = [name for name in ROW_FIELDS if name not in row]
    if missing:
        raise bad_row(path, line, f"missing field(s) {', '.join(missing)}", "line")
    info = row["answer_info"]
    try:
        tags = [str(info[f"ans{k}"][1]) for k in range(3)]
    except (KeyError, IndexError, TypeError):
        raise bad_row(path, line, "field answer_info must map ans0..ans2 to [text, group tag]",
                      "line") from None
    try:
        label, example_id = int(row["label"]), int(row["example_id"])
        question_index = int(row["question_index"])
    except (TypeError, ValueError):
        raise bad_row(path, line, "fields label, example_id and question_index must be integers",
                      "line") from None
    if label not in (0, 1, 2):
        raise bad_row(path, line, f"field label must be 0, 1 or 2, not {row['label']!r}", "line")
    if row["context_condition"] not in ("ambig", "disambig"):
        raise bad_row(path, line, "field context_condition must be ambig/disambig, not "
                      f"{row['context_condition']!r}", "line")
    if row["question_polarity"] not in ("neg", "nonneg"):
        raise bad_row(path, line, "field question_polarity must be neg/nonneg, not "
                      f"{row['question_polarity']!r}", "line")
    answers = [str(row[f"ans{k}"]) for k in range(3)]
    unknown = [k for k, tag in enumerate(tags) if tag == "unknown"]
    return {
        "dataset": "bbq", "item_id": f"{category}/{example_id}",
        "prompt": bbq_prompt(str(row["context"]), str(row["question"]), answers),
        "n_options": 3, "gold": "ABC"[label], "options": answers,
        "category": category, "example_id": example_id, "question_index": question_index,
        "question_polarity": row["question_polarity"], "context_condition": row["context_condition"],
        "answer_tags": tags, "unknown_loc": unknown[0] if unknown else pd.NA,
        "_join_category": str(row["category"]),
    }


def read_metadata(path: Path) -> dict[tuple[str, int], Any]:
    """(category, example_id) -> target_loc (0-2 or <NA>) from additional_metadata.csv, after
    dropping duplicate rows; a key left with two different values stops with an error."""
    try:
        table = pd.read_csv(path, usecols=lambda c: c in ("category", "example_id", "target_loc"))
    except (ValueError, pd.errors.ParserError) as exc:
        raise PersonalibError(f"{path}: cannot read as CSV ({exc})") from None
    missing = {"category", "example_id", "target_loc"} - set(table.columns)
    if missing:
        raise PersonalibError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    table = table.drop_duplicates(["category", "example_id", "target_loc"])
    dupes = table[table.duplicated(["category", "example_id"], keep=False)]
    if len(dupes):
        keys = dupes[["category", "example_id"]].drop_duplicates().head(3).values.tolist()
        raise PersonalibError(f"{path}: different target_loc values for the same (category, example_id): "
                              f"{keys}; fix or replace the file")
    target = pd.to_numeric(table["target_loc"], errors="coerce")
    bad = table["target_loc"].notna() & ~target.isin([0, 1, 2])
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise bad_row(path, row + 2, f"target_loc must be 0, 1, 2 or blank, not "
                      f"{table['target_loc'].iloc[row]!r}", "line")
    return {(str(cat), int(eid)): (pd.NA if pd.isna(loc) else int(loc))
            for cat, eid, loc in zip(table["category"], table["example_id"], target)}


def read_sampled_ids(path: Path) -> dict[str, list[int]]:
    """The study's BBQ subsample file: {category: [example_id, ...]}."""
    data = load_json(path)
    if not isinstance(data, dict) or not all(
            isinstance(ids, list) and all(isinstance(i, int) for i in ids) for ids in data.values()):
        raise PersonalibError(f"{path}: expected a JSON object {{category: [example_id, ...]}}")
    unknown = sorted(set(data) - set(CATEGORIES))
    if unknown:
        raise PersonalibError(f"{path}: unknown BBQ categor(ies) {', '.join(unknown)}")
    return data


class BBQ(Task):
    """BBQ (11 categories, 58,492 rows; demo: 16 rows in 4 categories)."""

    name = "bbq"
    file_args = ("data_dir", "metadata", "sampled_ids")
    source_rows = sum(CATEGORY_ROWS.values())
    source_prompts = source_rows
    demo_rows = 16
    subsample_prompts = SUBSAMPLE_ROWS

    has_metadata: bool = False
    metadata_problem: str | None = None
    categories: tuple[str, ...] = ()

    def _category_files(self) -> dict[str, Path]:
        if self.is_demo or "data_dir" in self.files:
            root = self.demo_dir if self.is_demo else self.files["data_dir"]
            folder = root / "data" if (root / "data").is_dir() else root
            found = {cat: folder / f"{cat}.jsonl" for cat in CATEGORIES
                     if (folder / f"{cat}.jsonl").is_file()}
            missing = [cat for cat in CATEGORIES if cat not in found]
            if not found:
                raise PersonalibError(f"{folder}: no BBQ category file (<Category>.jsonl) found")
            if missing and not (self.is_demo or self.allow_partial):
                raise PersonalibError(f"{folder}: missing BBQ category file(s) "
                                      f"{', '.join(c + '.jsonl' for c in missing)}. {PARTIAL}")
            return found
        return {cat: fetch("bbq", f"data/{cat}.jsonl", offline=self.offline) for cat in CATEGORIES}

    def _metadata_file(self) -> Path | None:
        if "metadata" in self.files:
            return self.files["metadata"]
        if self.is_demo or "data_dir" in self.files:
            root = self.demo_dir if self.is_demo else self.files["data_dir"]
            for base in (root, root.parent):
                for name in METADATA_NAMES:
                    if (base / name).is_file():
                        return base / name
            self.metadata_problem = (f"no additional_metadata.csv next to {root}: "
                                     + missing_message("bbq", BBQ_METADATA_PATH, argument="metadata"))
            return None
        try:
            return fetch("bbq", BBQ_METADATA_PATH, offline=self.offline)
        except ChecksumError:
            raise                                   # a wrong file is an error, not an absent one
        except SourceMissingError as exc:
            self.metadata_problem = f"{exc} (or pass metadata=<path>)"
            return None

    def require_metadata(self) -> None:
        """Stop (PersonalibError naming the file) when the bias metadata is absent (METHODS 3)."""
        if self._items is None:
            self.items()
        if not self.has_metadata:
            raise PersonalibError(f"BBQ bias metrics need target_loc: {self.metadata_problem}")

    def _build(self) -> pd.DataFrame:
        files = self._category_files()
        rows: list[dict[str, Any]] = []
        for category, path in files.items():
            cat_rows = [parse_row(path, line, row, category) for line, row in iter_json_lines(path)]
            if not (self.is_demo or self.allow_partial):
                check_count(len(cat_rows), CATEGORY_ROWS[category], f"{category} rows", path)
            rows.extend(cat_rows)
        self.categories = tuple(files)
        check_count(len(rows), self.expected_rows, "rows", next(iter(files.values())).parent)
        metadata_path = self._metadata_file()
        targets = read_metadata(metadata_path) if metadata_path else {}
        self.has_metadata = metadata_path is not None
        for row in rows:
            row["target_loc"] = targets.get((row.pop("_join_category"), row["example_id"]), pd.NA)
        ids_path = subsample_file(self, "data/bbq/sampled_ids.json")
        ids = read_sampled_ids(ids_path) if ids_path else None
        frame = self._select(rows, ids)
        frame.attrs["bbq_metadata"] = str(metadata_path) if metadata_path else None
        return frame

    def _select(self, rows: list[dict[str, Any]], ids: dict[str, list[int]] | None) -> pd.DataFrame:
        """Mark (and with `subsample=True` keep, in the ids' order) the study's subsample rows."""
        wanted = {(cat, eid) for cat, eids in (ids or {}).items() for eid in eids}
        for row in rows:
            row["in_subsample"] = (row["category"], row["example_id"]) in wanted if ids is not None else pd.NA
        if self.subsample:
            assert ids is not None
            by_key = {(row["category"], row["example_id"]): row for row in rows}
            absent = [key for key in wanted if key not in by_key and key[0] in self.categories]
            if absent:
                raise PersonalibError(f"subsample ids not in the BBQ data, e.g. {sorted(absent)[:3]}")
            rows = [by_key[(cat, eid)] for cat in self.categories for eid in ids.get(cat, [])]
            if not (self.is_demo or self.allow_partial):
                check_count(len(rows), SUBSAMPLE_ROWS, "subsample rows", "BBQ sampled_ids.json")
        frame = finish_items(rows, EXTRA_COLUMNS)
        frame["unknown_loc"] = frame["unknown_loc"].astype("Int64")
        frame["target_loc"] = frame["target_loc"].astype("Int64")
        frame["in_subsample"] = frame["in_subsample"].astype("bool" if ids is not None else "boolean")
        return frame

