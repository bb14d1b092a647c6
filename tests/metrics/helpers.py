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


def released_sample(reference_dir: Path, tmp_path: Path, models: list[str],
                    persona_sets: list[str]) -> tuple[Path, Path, int]:
    """The released reference sample imported into a store under `tmp_path`, and a `released`
    profile for it with local item files (no network): (profile path, store path, rows imported)."""
    import yaml

    from personalib.release import import_release
    from personalib.store import Store

    truthfulqa_reference_items(reference_dir, tmp_path)  # writes tmp_path/validation.jsonl
    data = reference_dir / "original-release" / "data"
    summary = import_release(reference_dir / "original-release", Store(tmp_path / "store"))
    profile = {
        "name": "released-sample", "models": list(models),
        "datasets": {"truthfulqa": {"files": {"data_files": str(tmp_path / "validation.jsonl")}},
                     "attitudes": {"files": {"questions": str(data / "attitude_questions.json"),
                                             "paraphrases": str(data / "att_augment.json")}}},
        "persona_sets": list(persona_sets), "store": str(tmp_path / "store"),
        "reports": str(tmp_path / "reports"), "generations": "released",
    }
    path = tmp_path / "released-sample.yaml"
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return path, tmp_path / "store", summary.rows
