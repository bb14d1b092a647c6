"""A small invented profile for the claim computations: 9 personas (two regular categories, no
persona, three control personas), three models, per-persona scores chosen by hand."""

from __future__ import annotations

import pandas as pd

from personalib.claims import ClaimData

PERSONAS = [("regular", "r1", "race"), ("regular", "r2", "race"), ("regular", "r3", "race"),
            ("regular", "g1", "gender"), ("regular", "g2", "gender"), ("empty", "empty", "empty"),
            ("control", "c1", "control"), ("control", "c2", "control"), ("control", "c3", "control")]
MODELS = ("m1", "m2", "m3")
# truthfulqa accuracy: a base per persona plus a shift per model (same order in every model)
BASE = {"r1": 0.70, "r2": 0.50, "r3": 0.40, "g1": 0.65, "g2": 0.45, "empty": 0.60,
        "c1": 0.58, "c2": 0.61, "c3": 0.59}
SHIFT = {"m1": 0.0, "m2": -0.1, "m3": 0.05}


def personas() -> pd.DataFrame:
    return pd.DataFrame([{"persona_set": s, "persona": p, "text": p, "category": c}
                         for s, p, c in PERSONAS])


def scores(extra: list[dict] | None = None) -> pd.DataFrame:
    rows = [{"model": m, "persona_set": s, "persona": p, "category": c, "metric": "truthfulqa",
             "value": BASE[p] + SHIFT[m]} for m in MODELS for s, p, c in PERSONAS]
    return pd.DataFrame(rows + (extra or []))


def data(table: pd.DataFrame | None = None, models: tuple[str, ...] = MODELS,
         items: dict | None = None) -> ClaimData:
    table = scores() if table is None else table
    datasets = {m: frozenset({"truthfulqa"}) for m in models}
    return ClaimData(table, personas(), items or {}, models, datasets)
