"""Synthetic scored tables (the columns `personalib.metrics.score` adds) for the uncertainty tests:
random answers, with missing values as strict parsing leaves them, so the scores computed from
outcome matrices can be checked against `personalib.metrics` on the same rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

CATEGORIES = ("Age", "Religion", "SES")


def scored(dataset: str, n_items: int, personas: list[str], seed: int = 0,
           missing: float = 0.05, model: str = "m") -> pd.DataFrame:
    """One row per item x persona of `dataset` (truthfulqa, mmlu or bbq) with nullable outcomes."""
    rng = np.random.default_rng(seed)
    p = len(personas)
    item = np.repeat([f"{dataset}-{i}" for i in range(n_items)], p)
    persona = np.tile(personas, n_items)
    skill = np.tile(rng.uniform(0.3, 0.8, p), n_items)
    parsed = rng.random(n_items * p) >= missing
    hit = rng.random(n_items * p) < skill
    frame = pd.DataFrame({
        "model": model, "persona_set": "regular", "persona": persona, "dataset": dataset,
        "item_id": item, "hit": pd.arrays.BooleanArray(hit, ~parsed),
        "refusal": rng.random(n_items * p) < 0.03,
    })
    if dataset == "mmlu":
        frame["subject"] = np.repeat(rng.choice(["anatomy", "law", "virology", "math"], n_items), p)
    if dataset == "bbq":
        cat = np.repeat(rng.choice(CATEGORIES, n_items), p)
        cond = np.repeat(rng.choice(["ambig", "disambig"], n_items), p)
        target = np.repeat(np.where(rng.random(n_items) < 0.8, rng.integers(0, 3, n_items), -1), p)
        unknown_loc = np.repeat(rng.integers(0, 3, n_items), p)
        answer = rng.integers(0, 3, n_items * p)
        has_target = target >= 0
        frame = frame.assign(
            category=cat, context_condition=cond,
            target_loc=pd.array(np.where(has_target, target, 0), dtype="Int64"),
            unknown_loc=unknown_loc,
            biased=pd.arrays.BooleanArray(answer == target, ~(parsed & has_target)),
            unknown=pd.arrays.BooleanArray(answer == unknown_loc, ~parsed))
        frame.loc[~has_target, "target_loc"] = pd.NA
    return frame
