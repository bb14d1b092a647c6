"""`python -m personalib status`: stored, planned, missing and duplicate entries of a store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from personalib.__main__ import main
from personalib.store import Store, request_key

_PLAN = ("key", "model", "persona_set", "persona", "dataset", "item_id")


def _entries(model: str, dataset: str, persona_set: str, n: int) -> list[dict]:
    return [
        {
            "key": request_key(f"org/{model}", None, {"prompt": f"{dataset} {persona_set} {i}"}, {}),
            "model": model,
            "persona_set": persona_set,
            "persona": "empty",
            "dataset": dataset,
            "item_id": str(i),
        }
        for i in range(n)
    ]


def _store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "store")
    mmlu = _entries("tiny", "mmlu", "regular", 6)
    bbq = _entries("tiny", "bbq", "control", 4)
    store.write_plan(mmlu + bbq)
    rows = [dict(e, text="A", run_id="r", origin="generated") for e in mmlu[:5] + bbq]
    store.append(rows)
    store.append(rows[:2])  # a racing worker stored two entries again
    store.write_manifest({"run_id": "r", "status": "completed", "models": [{"name": "tiny"}]})
    return store


def test_status_json_totals_and_breakdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _store(tmp_path)
    assert main(["status", "--store", str(store.path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["stored"], summary["missing"], summary["duplicates"], summary["planned"]) == (9, 1, 2, 10)
    groups = {(g["model"], g["dataset"], g["persona_set"]): g for g in summary["groups"]}
    assert groups[("tiny", "mmlu", "regular")] == {
        "model": "tiny", "dataset": "mmlu", "persona_set": "regular",
        "stored": 5, "planned": 6, "missing": 1, "duplicates": 2,
    }  # fmt: skip
    assert groups[("tiny", "bbq", "control")]["missing"] == 0
    assert summary["runs"][0]["run_id"] == "r" and summary["runs"][0]["models"] == ["tiny"]


def test_status_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _store(tmp_path)
    assert main(["status", "--store", str(store.path)]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "mmlu" in out and "regular" in out
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.split()[1:] == ["9", "10", "1", "2"]


def test_status_names_a_corrupt_part(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _store(tmp_path)
    victim = store.parts()[0]
    victim.write_bytes(victim.read_bytes()[:40])
    assert main(["status", "--store", str(store.path), "--json"]) == 0
    captured = capsys.readouterr()
    assert victim.name in captured.err and "corrupt" in captured.err
    summary = json.loads(captured.out)
    assert summary["corrupt_dir"] == [victim.name]
    assert summary["stored"] < 9


def test_status_without_a_store_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--store", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "no generation store" in err and "nowhere" in err
    assert not (tmp_path / "nowhere").exists()
