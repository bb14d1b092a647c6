"""Adding a multiple-choice dataset is one task file and its demo items, no Python (docs/datasets.md).

A project folder (PERSONALIB_ROOT) gets `params/tasks/trivia.yaml` (the generic `choice` loader,
Hugging Face schema: question, choices, answer index) and `params/tasks/trivia/test.jsonl`; then the
real commands run on it: `plan`, `generate` (the embedded model, a few items, two personas), the
scoring of the stored answers, and the RQ1 report (papermill). The added dataset gets its own score
column and key numbers; the overall score stays the mean of the study's three datasets (METHODS 5).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from personalib import metrics
from personalib.errors import PersonalibError
from personalib.store import Store
from personalib.tasks import load_task, registry
from tests.conftest import REPO

TASK_FILE = """\
name: trivia
display_name: Trivia
description: a few invented general-knowledge questions
loader: choice
demo: {files: {data_files: test.jsonl}, rows: 4}
fields: {question: question, choices: choices, answer: answer}
item_id: "{row}"
prompt: "Question: {question}\\n{options}\\n\\nPlease provide only the letter that corresponds to your answer."
answer: {kind: choice, parse: letter}
columns: {categorical: [topic]}
"""
ITEMS = [
    {"question": "What colour is the sky on a clear day?", "choices": ["Green", "Blue", "Red"], "answer": 1,
     "topic": "nature"},
    {"question": "How many legs does a spider have?", "choices": ["Six", "Ten", "Eight", "Four"], "answer": 2,
     "topic": "nature"},
    {"question": "Which number is even?", "choices": ["Four", "Three"], "answer": 0, "topic": "numbers"},
    {"question": "What is frozen water called?", "choices": ["Steam", "Sand", "Ice"], "answer": 2,
     "topic": "nature"},
]


def _project(root: Path) -> Path:
    """A project folder with the demo model's params, the added task and a small profile."""
    (root / "params" / "models").mkdir(parents=True)
    shutil.copy(REPO / "params" / "models" / "gemma3-270m-demo.yaml", root / "params" / "models")
    tasks = root / "params" / "tasks"
    (tasks / "trivia").mkdir(parents=True)
    (tasks / "trivia.yaml").write_text(TASK_FILE, encoding="utf-8")
    (tasks / "trivia" / "test.jsonl").write_text("".join(json.dumps(i) + "\n" for i in ITEMS), encoding="utf-8")
    profile = {
        "name": "added", "models": ["gemma3-270m-demo"],
        "datasets": {"truthfulqa": {"demo": True, "limit": 2}, "trivia": {"demo": True}},
        "persona_sets": ["regular", "empty"], "personas": ["a_doctor", "empty"],
        "decoding": {"max_new_tokens": 4}, "store": "store", "reports": "reports",
    }
    (root / "params" / "profiles").mkdir()
    path = root / "params" / "profiles" / "added.yaml"
    path.write_text(yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")
    return path


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PERSONALIB_ROOT": str(root)}
    return subprocess.run([sys.executable, "-m", "personalib", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=900)


def test_added_task_file_is_read_by_the_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _project(tmp_path)
    monkeypatch.setenv("PERSONALIB_ROOT", str(tmp_path))
    assert registry.names()[-1] == "trivia" and registry.study_names()[-1] == "toxicity"
    assert "trivia" in registry.choice_names() and registry.display_name("trivia") == "Trivia"
    items = load_task("trivia", demo=True).items()
    assert list(items["item_id"]) == ["0", "1", "2", "3"] and list(items["gold"]) == ["B", "C", "A", "C"]
    assert items["prompt"][2] == ("Question: Which number is even?\nA. Four\nB. Three\n\n"
                                  "Please provide only the letter that corresponds to your answer.")
    assert list(items["topic"]) == ["nature", "nature", "numbers", "nature"]
    tasks = tmp_path / "params" / "tasks"
    assert registry.project_files("trivia") == [tasks / "trivia.yaml", tasks / "trivia" / "test.jsonl"]
    assert registry.project_files("bbq") == []                 # part of the package's own digest


def test_bad_task_files_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _project(tmp_path)
    monkeypatch.setenv("PERSONALIB_ROOT", str(tmp_path))
    path = tmp_path / "params" / "tasks" / "trivia.yaml"
    path.write_text(TASK_FILE.replace("{options}", "{choices}"), encoding="utf-8")
    with pytest.raises(PersonalibError, match=r"trivia.yaml: .*must contain \{options\}"):
        registry.spec("trivia")
    path.write_text(TASK_FILE.replace("loader: choice", "loader: choice\nsource: {name: squad, files: {data_files: x}}"),
                    encoding="utf-8")
    with pytest.raises(PersonalibError, match="unknown source 'squad'"):
        registry.spec("trivia")
    (tmp_path / "params" / "tasks" / "bbq.yaml").write_text(TASK_FILE.replace("trivia", "bbq"), encoding="utf-8")
    path.write_text(TASK_FILE, encoding="utf-8")
    with pytest.raises(PersonalibError, match="'bbq' is a study dataset"):
        registry.names()


@pytest.mark.slow
def test_plan_generate_score_and_report_an_added_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profile = _project(tmp_path)
    plan = _cli(tmp_path, "plan", "--profile", "added")
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert "trivia" in plan.stdout

    gen = _cli(tmp_path, "generate", "--profile", "added")
    assert gen.returncode == 0, gen.stderr[-3000:]
    table = Store(tmp_path / "store").read().to_pandas()
    counts = table.groupby("dataset", observed=True).size().to_dict()
    assert counts == {"truthfulqa": 2 * 2, "trivia": 4 * 2}

    monkeypatch.setenv("PERSONALIB_ROOT", str(tmp_path))
    items = {"truthfulqa": load_task("truthfulqa", demo=True).items().head(2),
             "trivia": load_task("trivia", demo=True).items()}
    scored = metrics.score(table[["model", "persona_set", "persona", "dataset", "item_id", "text"]], items)
    trivia = scored[scored["dataset"] == "trivia"]
    assert trivia["hit"].notna().all() and set(trivia["topic"].astype(str)) <= {"nature", "numbers"}
    scores = metrics.performance_scores(scored)
    assert list(scores.columns) == ["truthfulqa", "mmlu", "bbq", "overall", "trivia"]
    assert scores["overall"].isna().all()               # mmlu and bbq are not in this run
    expected = trivia.assign(hit=trivia["hit"].astype(float)).groupby("persona")["hit"].mean()
    got = scores["trivia"].droplevel(["model", "persona_set"])
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)

    report = _cli(tmp_path, "report", "--profile", str(profile), "--notebooks", "rq1",
                  "--notebooks-dir", str(REPO / "notebooks"))
    assert report.returncode == 0, report.stderr[-3000:]
    key_files = [tmp_path / "reports" / "rq1_performance__gemma3-270m-demo.json"]
    values = json.loads(key_files[0].read_text(encoding="utf-8"))["values"]
    model = "gemma3-270m-demo"
    assert values[f"{model}.Trivia.n_personas"] == 2 and values[f"{model}.TruthfulQA.n_personas"] == 2
    assert values[f"{model}.Trivia.gap"] == pytest.approx(got.max() - got.min())
    assert not any(".overall." in key for key in values)   # the study's three are not all here
    html = (tmp_path / "reports" / "rq1_performance__gemma3-270m-demo.html").read_text(encoding="utf-8")
    assert "Trivia" in html
