"""Builders for the metrics tests: generations tables and small invented items tables."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from personalib.metrics import score

def generations(rows: list[tuple[str, str, str, str]], model: str = "m",
                persona_set: str = "regular") -> pd.DataFrame:
    """A generations table from (persona, dataset, item_id, text) tuples."""
    return pd.DataFrame([{"model": model, "persona_set": "empty" if p == "empty" else persona_set,
                          "persona": p, "dataset": d, "item_id": i, "text": t} for p, d, i, t in rows])


def mc_items(dataset: str, ids: list[str], n: list[int], gold: list[str], **extra: list) -> pd.DataFrame:
    frame = pd.DataFrame({"dataset": dataset, "item_id": ids, "prompt": [f"q{i}" for i in ids],
                          "n_options": pd.array(n, dtype="Int64"), "gold": gold,
                          "options": [[f"opt{k}" for k in range(m)] for m in n], **extra})
    return frame


def bbq_frame(rows: list[dict]) -> pd.DataFrame:
    """BBQ items from dicts with category, example_id, condition, polarity, tags, target, label."""
    letters = "ABC"
    frame = pd.DataFrame({
        "dataset": "bbq",
        "item_id": [f"{r['category']}/{r['example_id']}" for r in rows],
        "prompt": "p",
        "n_options": pd.array([3] * len(rows), dtype="Int64"),
        "gold": [letters[r["label"]] for r in rows],
        "options": [r.get("options", [f"The {t} one" for t in r["tags"]]) for r in rows],
        "category": [r["category"] for r in rows],
        "example_id": [r["example_id"] for r in rows],
        "question_index": "1",
        "question_polarity": [r.get("polarity", "neg") for r in rows],
        "context_condition": [r["condition"] for r in rows],
        "answer_tags": [r["tags"] for r in rows],
        "unknown_loc": pd.array([r["tags"].index("unknown") for r in rows], dtype="Int64"),
        "target_loc": pd.array([r.get("target") for r in rows], dtype="Int64"),
        "in_subsample": False,
    })
    return frame


def scored(rows: list[tuple[str, str, str, str]], items: dict, mode: str = "faithful", **kw) -> pd.DataFrame:
    return score(generations(rows, **kw), items, mode=mode)  # type: ignore[arg-type]


def truthfulqa_reference_items(reference_dir: Path, tmp_path: Path) -> pd.DataFrame:
    """TruthfulQA items (n_options, gold) from the study-ordered v0 file of the reference data,
    converted to the HF schema and loaded with the tasks API (seeded shuffle included)."""
    from personalib.tasks import load_task

    records = json.loads((reference_dir / "truthfulqa" / "v0" / "mc_task.json").read_text())
    path = tmp_path / "validation.jsonl"
    with path.open("w") as fh:
        for rec in records:
            mc1 = {"choices": list(rec["mc1_targets"]), "labels": list(rec["mc1_targets"].values())}
            mc2 = {"choices": list(rec["mc2_targets"]), "labels": list(rec["mc2_targets"].values())}
            fh.write(json.dumps({"question": rec["question"], "mc1_targets": mc1, "mc2_targets": mc2}) + "\n")
    return load_task("truthfulqa", data_files=path).items()
