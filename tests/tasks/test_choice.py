"""personalib.tasks.choice: the generic multiple-choice loader, read from a task file alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from personalib.errors import PersonalibError
from personalib.tasks import load_task
from tests.tasks.test_added_dataset import ITEMS, _project


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _project(tmp_path)
    monkeypatch.setenv("PERSONALIB_ROOT", str(tmp_path))
    return tmp_path


def _file(folder: Path, records: list[dict]) -> Path:
    path = folder / "local.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_local_files_in_the_hub_schema(project: Path) -> None:
    path = _file(project, ITEMS[:3])
    task = load_task("trivia", data_files=path)          # the task file declares no source row count
    assert task.expected_rows is None and task.n_prompts == 3
    items = task.items()
    assert list(items["n_options"]) == [3, 4, 2] and items["options"][1] == ["Six", "Ten", "Eight", "Four"]


@pytest.mark.parametrize(("change", "message"), [
    ({"answer": 3}, "row 1: field answer 3 is not an index into the 3 choices"),
    ({"answer": "b"}, "row 1: field answer must be an integer, not 'b'"),
    ({"choices": "Blue"}, "row 1: field choices must be a list of 2 to 26 choices"),
    ({"choices": ["only"]}, "row 1: field choices must be a list"),
])
def test_malformed_records_name_file_row_and_field(project: Path, change: dict, message: str) -> None:
    path = _file(project, [ITEMS[1], {**ITEMS[0], **change}])
    with pytest.raises(PersonalibError, match=f"local.jsonl: {message}"):
        load_task("trivia", data_files=path, allow_partial=True).items()


def test_missing_field(project: Path) -> None:
    record = {k: v for k, v in ITEMS[0].items() if k != "topic"}
    with pytest.raises(PersonalibError, match="row 0: missing field.*topic"):
        load_task("trivia", data_files=_file(project, [record]), allow_partial=True).items()
