"""MMLU items: exact prompt, gold letter, subject -> field map, the GPT-4 subsample (ids and order),
row-count checks and malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from personalib.errors import PersonalibError
from personalib.tasks import load_task
from personalib.tasks.mmlu_subjects import FIELDS, SUBJECTS, subject_field, subsample_size, total_rows

ROWS = [
    {"question": "What is 2 + 2?", "subject": "elementary_mathematics", "choices": ["3", "4", "5", "22"], "answer": 1},
    {"question": "Who wrote the demo constitution?", "subject": "professional_law",
     "choices": ["Nobody", "A committee", "The reader", "A robot"], "answer": 3},
    {"question": "Which bone is in the arm?", "subject": "anatomy",
     "choices": ["Femur", "Humerus", "Tibia", "Patella"], "answer": 1},
    {"question": "A fixture question?", "subject": "high_school_psychology",
     "choices": ["yes", "no", "maybe", "later"], "answer": 0},
    {"question": "Another fixture question?", "subject": "college_computer_science",
     "choices": ["w", "x", "y", "z"], "answer": 2},
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def local_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "test.jsonl", ROWS)


def test_subject_table_is_the_standard_57_subject_map() -> None:
    assert len(SUBJECTS) == 57 and total_rows() == 14042 and subsample_size() == 10219
    assert {field for _, field, _ in SUBJECTS.values()} == set(FIELDS)
    counts = pd.Series([field for _, field, _ in SUBJECTS.values()]).value_counts().to_dict()
    assert counts == {"STEM": 18, "humanities": 13, "social sciences": 12, "other": 14}
    expert = ["college_computer_science", "computer_security", "high_school_computer_science", "machine_learning",
              "international_law", "jurisprudence", "professional_law", "high_school_psychology",
              "professional_psychology", "anatomy", "clinical_knowledge", "college_medicine", "human_aging",
              "medical_genetics", "nutrition", "professional_medicine", "virology"]
    assert [subject_field(s) for s in expert] == ["STEM"] * 4 + ["humanities"] * 3 + ["social sciences"] * 2 + ["other"] * 8
    assert subject_field("astrology") is None


def test_items_prompt_gold_and_field(local_file: Path) -> None:
    items = load_task("mmlu", data_files=local_file, allow_partial=True).items()
    assert items["item_id"].tolist() == ["0", "1", "2", "3", "4"]
    assert items.loc[0, "prompt"] == ("Question: What is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 22\n\n"
                                      "Please provide only the letter that corresponds to your answer.")
    assert items["gold"].tolist() == ["B", "D", "B", "A", "C"]
    assert items["field"].tolist() == ["STEM", "humanities", "other", "social sciences", "STEM"]
    assert items["options"].tolist()[2] == ["Femur", "Humerus", "Tibia", "Patella"]
    assert str(items["in_subsample"].dtype) == "boolean" and items["in_subsample"].isna().all()


def test_subsample_keeps_the_ids_in_file_order(local_file: Path, tmp_path: Path) -> None:
    ids = tmp_path / "sampled_ids.json"
    ids.write_text("[4, 0, 2]")
    full = load_task("mmlu", data_files=local_file, sampled_ids=ids, allow_partial=True).items()
    assert full["in_subsample"].tolist() == [True, False, True, False, True]
    sub = load_task("mmlu", data_files=local_file, sampled_ids=ids, subsample=True, allow_partial=True)
    assert sub.items()["item_id"].tolist() == ["4", "0", "2"] and sub.n_prompts == 3


@pytest.mark.parametrize(("content", "message"), [
    ("[0, 5]", r"row indices outside 0..4"),
    ("[1, 1]", "repeated row indices"),
    ('{"a": [1]}', "expected a JSON list of row indices"),
    ("[0, ", "not valid JSON"),
])
def test_bad_subsample_files(local_file: Path, tmp_path: Path, content: str, message: str) -> None:
    ids = tmp_path / "sampled_ids.json"
    ids.write_text(content)
    with pytest.raises(PersonalibError, match=message):
        load_task("mmlu", data_files=local_file, sampled_ids=ids, subsample=True, allow_partial=True).items()


def test_row_counts_of_full_data_and_subsample_are_verified(local_file: Path, tmp_path: Path) -> None:
    with pytest.raises(PersonalibError, match=r"5 rows, but the source declares 14042.*allow_partial"):
        load_task("mmlu", data_files=local_file).items()
    full = tmp_path / "full.parquet"
    rows = [ROWS[k % 5] for k in range(14042)]
    pd.DataFrame(rows).to_parquet(full)
    ids = tmp_path / "sampled_ids.json"
    ids.write_text(json.dumps(list(range(0, 14042, 2))))
    task = load_task("mmlu", data_files=full, sampled_ids=ids, subsample=True)
    assert task.n_prompts == 10219                       # declared until loaded
    with pytest.raises(PersonalibError, match="7021 subsample rows, but the source declares 10219"):
        task.items()
    assert len(load_task("mmlu", data_files=full, sampled_ids=ids).items()) == 14042


@pytest.mark.parametrize(("change", "message"), [
    ({"subject": "astrology"}, "unknown MMLU subject 'astrology'"),
    ({"answer": 4}, "field answer 4 is not an index into the 4 choices"),
    ({"answer": "B"}, "field answer must be an integer"),
    ({"choices": ["only one"]}, "field choices has 1 options"),
])
def test_malformed_rows_name_file_row_and_field(tmp_path: Path, change: dict, message: str) -> None:
    rows = [dict(row) for row in ROWS]
    rows[3].update(change)
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(PersonalibError, match=message) as info:
        load_task("mmlu", data_files=path, allow_partial=True).items()
    assert f"{path}: row 3" in str(info.value)


def test_demo_subsample_and_expert_subjects() -> None:
    items = load_task("mmlu", demo=True).items()
    assert len(items) == 16 and items["subject"].isin(["professional_law", "anatomy",
                                                        "high_school_psychology", "college_computer_science"]).sum() == 4
    assert items["in_subsample"].sum() == 10
    assert load_task("mmlu", demo=True, subsample=True).items()["in_subsample"].all()
