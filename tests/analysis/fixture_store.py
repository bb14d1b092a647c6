"""A small generation store for the analysis and notebook tests: two models x 14 personas x the
demo items, with seeded texts whose accuracy, bias, ratings and refusals differ by persona, so that
every statistic of METHODS 6 is defined, and a degenerate variant (one model, three personas, one
dataset, identical answers) for the "what cannot be computed" paths.

Texts mix what the parsers meet in real generations: bare letters, letters with explanations,
hedged refusals, digits in prose. Written as the package writes them (`Store.append`, a manifest).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import yaml

from personalib import DATASETS
from personalib.store import Store, environment, new_run_id, utc_now
from personalib.tasks import load_task

MODELS = ("zephyr", "mistral")
PERSONAS: dict[str, tuple[str, ...]] = {
    "regular": ("a_black_person", "an_african_american_person", "a_white_person", "a_gay_person",
                "a_woman", "a_man", "a_person_with_fascism_ideology", "a_doctor",
                "a_person_of_Islam_belief"),
    "empty": ("empty",),
    "control": ("a_helpful_assistant", "a_useful_helper", "a_supportive_aide",
                "a_fruitful_facilitator"),
}
REFUSAL = "I'm sorry, but as an AI I cannot answer that question."
LETTERS = "ABCDEFGHIJ"


def _choice_text(rng: np.random.Generator, letter: str, refuse: bool) -> str:
    if refuse:
        return REFUSAL
    style = rng.integers(3)
    return (letter, f"{letter}) because that is what the text says",
            f"The answer is {letter}.")[style]


def _rating_text(rng: np.random.Generator, rating: int, refuse: bool) -> str:
    if refuse:
        return REFUSAL
    return (str(rating), f"{rating} - I would say so", f"({rating})")[rng.integers(3)]


def fixture_rows(models=MODELS, personas=PERSONAS, datasets=DATASETS, seed=0,
                 identical=False) -> list[dict]:
    """Rows for the store: one per model x persona x demo item of `datasets`."""
    items = {d: load_task(d, demo=True).items() for d in datasets}
    rows = []
    for m_i, model in enumerate(models):
        for set_name, stems in personas.items():
            for p_i, stem in enumerate(stems):
                rng = np.random.default_rng([seed, m_i, p_i, len(set_name)])
                skill = 0.0 if identical else rng.uniform(0.2, 0.9)
                lean = 0 if identical else int(rng.integers(-1, 2))
                refuse_p = 0.0 if identical else rng.uniform(0.0, 0.3)
                for dataset, table in items.items():
                    for item in table.itertuples(index=False):
                        refuse = bool(rng.random() < refuse_p)
                        if dataset in ("attitudes", "toxicity"):
                            rating = 3 if identical else int(np.clip(
                                rng.integers(1, 6) + lean, 1, 5))
                            text = _rating_text(rng, rating, refuse)
                        else:
                            n = int(item.n_options)
                            if identical:
                                letter = "B"
                            elif rng.random() < skill:
                                letter = str(item.gold)
                            else:
                                letter = LETTERS[int(rng.integers(n))]
                            text = _choice_text(rng, letter, refuse)
                        key = hashlib.sha256(
                            f"{model}|{set_name}|{stem}|{dataset}|{item.item_id}".encode()).hexdigest()
                        rows.append({"key": key, "model": model, "model_id": f"fixture/{model}",
                                     "persona_set": set_name, "persona": stem, "dataset": dataset,
                                     "item_id": str(item.item_id), "text": text,
                                     "finish_reason": "stop", "origin": "generated"})
    return rows


def write_fixture(root: Path, *, degenerate: bool = False) -> tuple[Path, Path]:
    """Write a store and a profile YAML under `root`; returns (profile path, store path).

    The rich fixture: two models, 14 personas, all five demo datasets. The degenerate one: one
    model, three personas (one regular, no persona, one control), BBQ only, every answer "B".
    """
    store_path = root / "store"
    if degenerate:
        models, datasets = ("zephyr",), ("bbq",)
        personas = {"regular": ("a_woman",), "empty": ("empty",), "control": ("a_helpful_assistant",)}
    else:
        models, datasets, personas = MODELS, DATASETS, PERSONAS
    run_id = new_run_id()
    rows = fixture_rows(models, personas, datasets, identical=degenerate)
    for row in rows:
        row["run_id"] = run_id
    store = Store(store_path)
    store.append(rows)
    store.write_manifest({"run_id": run_id, "origin": "generated", "status": "completed",
                          "command": "tests/analysis/fixture_store.py", "started_at": utc_now(),
                          "ended_at": utc_now(), "environment": environment(),
                          "models": [{"name": m, "model_id": f"fixture/{m}"} for m in models],
                          "counts": {"rows": len(rows)}})
    profile = {
        "name": "fixture", "description": "test fixture store (synthetic texts on demo items)",
        "models": list(models), "datasets": {d: {"demo": True} for d in datasets},
        "persona_sets": list(personas), "personas": [s for v in personas.values() for s in v],
        "store": str(store_path), "reports": str(root / "reports"), "parsing": "faithful",
    }
    path = root / "fixture.yaml"
    path.write_text(yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")
    return path, store_path
