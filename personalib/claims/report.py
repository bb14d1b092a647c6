"""The claims scorecard as the report shows and records it (`notebooks/claims.ipynb`).

`scorecard(claims, verdicts)` is one row per check: the claim's id, where it is in the paper and
what it claims, the part checked and the A-note reading it follows, the paper's value, the value
recomputed from the profile's store, the difference, the status and its reason, the METHODS 7
deviation a claim names, and what the profile's own models give where the claim's models are
not in the profile. Values are written as text at a sensible precision (the paper's printed
precision plus two digits for a value, as they are for counts, ranks and names); the recorded
table keeps the raw values as JSON. `status_counts` and `headline_text` summarise it.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pandas as pd

from personalib.claims.compare import DEVIATION, DIFFERS, NOT_COMPUTABLE, REPRODUCED, STATUSES, Verdict
from personalib.claims.schema import Check, Claim
from personalib.deviations import DEVIATIONS

COLUMNS = ["claim", "where", "claimed", "part", "reading", "kind", "paper", "recomputed", "difference",
           "status", "explanation", "own_models", "deviation"]
MODEL_MISSING = "not in this profile"


def _with_unit(text: str, unit: str | None) -> str:
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}" if unit else text


def format_value(value: Any, digits: int | None = None, unit: str | None = None) -> str | None:
    """A value as text: a float with `digits` decimals (4 significant digits without), names and
    lists of names as written, mappings as `key: value`, the unit after a number; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return _with_unit(f"{value:.{digits}f}" if digits is not None else f"{value:.4g}", unit)
    if isinstance(value, int):
        return _with_unit(str(value), unit)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {format_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _decimals(check: Check) -> int | None:
    """The paper's printed precision of a value or ratio (its tolerance's decimals), else None."""
    if check.tolerance is not None and check.tolerance.decimals is not None:
        return check.tolerance.decimals
    return None


def paper_text(check: Check) -> str | None:
    """The paper's value as printed (at its precision)."""
    return format_value(check.paper, _decimals(check), check.unit)


def recomputed_text(value: Any, check: Check) -> str | None:
    """A recomputed value at the paper's precision plus two digits."""
    digits = _decimals(check)
    return format_value(value, digits + 2 if digits is not None else None, check.unit)


def own_text(verdict: Verdict, check: Check) -> str | None:
    """The profile's own models' readings as one line ("m1: 12.34; m2: not computable (why)")."""
    if not verdict.own:
        return None
    parts = []
    for label, value, reason in verdict.own:
        shown = recomputed_text(value, check)
        parts.append(f"{label}: {shown}" if reason is None and shown is not None
                     else f"{label}: not computable ({reason})")
    return "; ".join(parts)


def _deviation(ident: str | None) -> str | None:
    if ident is None:
        return None
    dev = next(d for d in DEVIATIONS if d.id == ident)
    return f"{ident} (METHODS {dev.methods})"


def scorecard(claims: Sequence[Claim], verdicts: Sequence[Verdict]) -> pd.DataFrame:
    """One row per check (module doc), in the claims file's order."""
    checks = {(c.id, k.part): (c, k) for c in claims for k in c.checks}
    rows = []
    for v in verdicts:
        claim, check = checks[(v.claim, v.part)]
        rows.append({
            "claim": v.claim, "where": claim.where, "claimed": claim.claim, "part": v.part,
            "reading": v.reading, "kind": v.kind,
            "paper": paper_text(check),
            "recomputed": recomputed_text(v.value, check),
            "difference": v.difference, "status": v.status, "explanation": v.reason,
            "own_models": own_text(v, check), "deviation": _deviation(claim.deviation)})
    return pd.DataFrame(rows, columns=COLUMNS)


def record_table(verdicts: Sequence[Verdict]) -> pd.DataFrame:
    """The verdicts with raw values as JSON text (the recorded `claims` table of claims.json)."""
    def raw(value: Any) -> str | None:
        return None if value is None else json.dumps(value, default=str)

    return pd.DataFrame([{"claim": v.claim, "part": v.part, "kind": v.kind, "reading": v.reading,
                          "paper": raw(v.paper), "value": raw(v.value), "difference": v.difference,
                          "status": v.status, "reason": v.reason,
                          "own": raw([list(o) for o in v.own]) if v.own else None}
                         for v in verdicts])


def model_missing(verdict: Verdict) -> bool:
    """True when a check is not computable because the profile lacks a model it needs."""
    reason = verdict.reason or ""
    return (verdict.status == NOT_COMPUTABLE and reason.startswith(("model ", "models "))
            and reason.endswith(MODEL_MISSING))


def status_counts(verdicts: Sequence[Verdict]) -> pd.DataFrame:
    """Checks per status, and of the checks not computable those lacking a model of the profile."""
    counts = Counter(v.status for v in verdicts)
    missing = sum(model_missing(v) for v in verdicts)
    return pd.DataFrame([{"status": s, "checks": counts.get(s, 0),
                          "of which: a model not in this profile": missing if s == NOT_COMPUTABLE else None}
                         for s in STATUSES])


def headline_text(verdicts: Sequence[Verdict]) -> str:
    """"Claims of the paper: 7 of 177 checks reproduced, 0 differ, ..., 170 not computable here
    (160: a model not in this profile)"."""
    counts = Counter(v.status for v in verdicts)
    missing = sum(model_missing(v) for v in verdicts)
    text = (f"Claims of the paper: {counts.get(REPRODUCED, 0)} of {len(verdicts)} checks reproduced, "
            f"{counts.get(DIFFERS, 0)} differ, {counts.get(DEVIATION, 0)} differ because of a listed "
            f"deviation, {counts.get(NOT_COMPUTABLE, 0)} not computable here")
    return text + (f" ({missing}: a model not in this profile)" if missing else "")


__all__ = ["COLUMNS", "format_value", "headline_text", "model_missing", "own_text", "paper_text",
           "record_table", "recomputed_text", "scorecard", "status_counts"]
