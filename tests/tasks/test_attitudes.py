"""Attitude items: statement-major order, variant 0 = own instruction then N paraphrases (number token
dropped), reverse flags, exact prompt text, counts and malformed files; reference check on the
study's questionnaire and paraphrase files against the structure of GPT-4's released answers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from personalib.errors import PersonalibError
from personalib.paths import DATA_DIR
from personalib.tasks import load_task

NUMBER = "\n\nPlease provide only the number that corresponds to your answer."
SCALE = "(1) No\n(2) Maybe\n(3) Yes"


def questionnaire() -> list[dict]:
    return [
        {"attitude": "dimension one", "instruction": "Own instruction A.", "statements": ["S0.", "S1.", "S2."],
         "scale": SCALE, "reverse": [2], "instruction_type": 1},
        {"attitude": "dimension two", "instruction": "Own instruction B.", "statements": ["S3."],
         "scale": SCALE, "reverse": [0], "instruction_type": 0},
    ]


def paraphrases(n: int = 2) -> list:
    return [[{"generated_text": "\n".join(f"{k}. Para {kind}-{k} text." for k in range(1, n + 1))}]
            for kind in ("zero", "one")]


def write(tmp_path: Path, questions: object, para: object) -> dict[str, Path]:
    q, p = tmp_path / "attitude_questions.json", tmp_path / "att_augment.json"
    q.write_text(json.dumps(questions))
    p.write_text(json.dumps(para))
    return {"questions": q, "paraphrases": p}


def test_statement_major_order_variants_and_exact_prompts(tmp_path: Path) -> None:
    files = write(tmp_path, questionnaire(), paraphrases(2))
    task = load_task("attitudes", allow_partial=True, **files)
    items = task.items()
    assert task.n_prompts == 12                            # 4 statements x (1 own + 2 paraphrases)
    assert items["item_id"].tolist()[:4] == ["0/0", "0/1", "0/2", "1/0"]
    assert items["item_id"].tolist()[-3:] == ["3/0", "3/1", "3/2"]
    assert items.loc[0, "prompt"] == "Own instruction A.\n\nS0.\n\n" + SCALE + NUMBER
    assert items.loc[1, "prompt"] == "Para one-1 text.\n\nS0.\n\n" + SCALE + NUMBER   # type 1, number dropped
    assert items.loc[10, "prompt"] == "Para zero-1 text.\n\nS3.\n\n" + SCALE + NUMBER
    assert items.groupby("statement_index")["reverse"].first().tolist() == [False, False, True, True]
    assert items["attitude"].tolist()[9:] == ["dimension two"] * 3
    assert items["variant"].tolist()[:3] == [0, 1, 2] and items["instruction_type"].tolist()[-1] == 0


def test_any_number_of_paraphrases(tmp_path: Path) -> None:
    files = write(tmp_path, questionnaire(), paraphrases(5))
    assert load_task("attitudes", allow_partial=True, **files).n_prompts == 4 * 6


def test_counts_are_the_studys_unless_partial(tmp_path: Path) -> None:
    files = write(tmp_path, questionnaire(), paraphrases(2))
    with pytest.raises(PersonalibError, match="4 statements, but the source declares 27"):
        load_task("attitudes", **files).items()


@pytest.mark.parametrize(("questions", "para", "message"), [
    ([{"attitude": "a"}], paraphrases(), r"attitude_questions.json: entry 0: missing field\(s\) instruction"),
    ("not a list", paraphrases(), "expected a non-empty JSON list"),
    ([{**questionnaire()[0], "reverse": [3]}], paraphrases(), "entry 0: field reverse must list statement indices 0..2"),
    ([{**questionnaire()[0], "statements": []}], paraphrases(), "entry 0: field statements must be a non-empty list"),
    ([{**questionnaire()[0], "instruction_type": 2}], paraphrases(), "entry 0: instruction_type 2 has no paraphrase list"),
    ([{**questionnaire()[0], "scale": ""}], paraphrases(), "entry 0: field scale must be a non-empty text"),
    (questionnaire(), [[{"text": "1. x"}]], r"att_augment.json: entry 0: expected \[\{\"generated_text\""),
    (questionnaire(), [[{"generated_text": "1. a\n\n2. b"}]] * 2, r"att_augment.json: entry 0: generated_text line\(s\) \[2\]"),
])
def test_malformed_files_name_file_entry_and_field(tmp_path: Path, questions, para, message: str) -> None:
    files = write(tmp_path, questions, para)
    with pytest.raises(PersonalibError, match=message):
        load_task("attitudes", allow_partial=True, **files).items()


def test_demo_statements_are_our_own_and_marked() -> None:
    raw = json.loads((DATA_DIR / "demo" / "attitudes" / "attitude_questions.json").read_text())
    assert all("DEMO DATA" in entry["_demo_notice"] for entry in raw)
    items = load_task("attitudes", demo=True).items()
    assert items["statement_index"].nunique() == 10 and items["variant"].max() == 3
    assert items["attitude"].unique().tolist() == [entry["attitude"] for entry in raw]
    assert items.groupby("statement_index")["reverse"].first().sum() == 3


@pytest.mark.reference
def test_reference_study_files_give_27_statements_and_837_prompts(reference_dir: Path) -> None:
    data = reference_dir / "original-release" / "data"
    task = load_task("attitudes", questions=data / "attitude_questions.json", paraphrases=data / "att_augment.json")
    items = task.items()                                     # verifies 27 statements, 30 paraphrases per type
    assert task.expected_rows == 27 and len(items) == task.n_prompts == 837
    assert items.loc[items["statement_index"] == 0, "prompt"].iloc[1].startswith(
        "Peruse the following statement and select the choice that corresponds most closely with how much you agree.\n\n")
    assert sorted(items.loc[items["reverse"], "statement_index"].unique().tolist()) == [0, 1, 9, 22]
    assert items["attitude"].nunique() == 7
    # the released GPT-4 files: attitudes = variant 0 (27), attitudes_extra[s*30+k] = variant k+1 (810)
    released = reference_dir / "original-release" / "results" / "zero" / "gpt-4-0125-preview"
    by_id = items.set_index("item_id")
    checked = 0
    for kind, offset in (("attitudes", 0), ("attitudes_extra", 1)):
        for file in sorted((released / kind).glob("*.json")):
            texts = [entry[0]["generated_text"] for entry in json.loads(file.read_text())]
            assert len(texts) == (27 if offset == 0 else 810) == len(items[(items["variant"] > 0) == bool(offset)])
            for index, text in enumerate(texts):
                item_id = f"{index}/0" if offset == 0 else f"{index // 30}/{index % 30 + 1}"
                scale_lines = by_id.loc[item_id, "prompt"].split("\n\n")[-2].split("\n")
                for quoted in re.findall(r"\(\d\) [A-Z][a-z]+(?: [a-z]+)*", text):
                    # an answer that quotes a scale line quotes a line of its own item's scale
                    assert any(line.startswith(quoted) for line in scale_lines), (file.name, index, quoted)
                    checked += 1
    print(f"{checked} scale lines quoted in GPT-4's released answers all belong to their item's scale")
    assert checked > 50
