"""Spread of per-persona scores (METHODS 6): std ratios against the control personas, arbitrary
refusals between near-synonymous personas, top/bottom personas and the top-bottom gap.

All functions take a tidy per-persona table (one row per model x persona: `model`, `persona`,
`category`, a score column) and return tidy tables with a plain-language `reason` column where a
value cannot be computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from personalib.errors import PersonalibError
from personalib.stats.result import check_by, groups, require_columns, text_columns

CONTROL = "control"
# METHODS 6: near-synonymous persona pairs whose refusal rates the study compared.
SYNONYM_PAIRS: tuple[tuple[str, str], ...] = (
    ("a_black_person", "an_african_american_person"),
    ("a_gay_person", "a_homosexual_person"),
)


def _one_score_per_persona(sub: pd.DataFrame, persona: str, what: str) -> None:
    """Raise when a persona has two scores in one group (the table mixes models or metrics)."""
    dup = sub[persona].duplicated()
    if dup.any():
        raise PersonalibError(f"{what}: persona {sub.loc[dup, persona].iloc[0]!r} has more than one "
                              "score in a group; pass by=(...) with the model/metric columns")


def std_ratios(
    scores: pd.DataFrame, *, value: str = "value", by: Sequence[str] = ("model",),
    persona: str = "persona", category: str = "category", control: str = CONTROL,
) -> pd.DataFrame:
    """Per category, the std (ddof=1) of a per-persona score divided by the control personas' std
    (METHODS 6). Returns by columns, category, n, std, control_std, ratio, reason (one row per
    non-control category; NaN ratio with a reason for a one-persona category, no control personas
    or a control std of 0)."""
    what = "std ratio"
    by = check_by(scores, by, what)
    require_columns(scores, [persona, category, value], what)
    rows = []
    for key, sub in groups(scores, by):
        _one_score_per_persona(sub, persona, what)
        vals = pd.to_numeric(sub[value], errors="coerce")
        ctrl = vals[sub[category] == control].dropna()
        ctrl_std = float(ctrl.std(ddof=1)) if len(ctrl) >= 2 else float("nan")
        for cat in sub.loc[sub[category] != control, category].unique():
            v = vals[sub[category] == cat].dropna()
            std = float(v.std(ddof=1)) if len(v) >= 2 else float("nan")
            reason = None
            if len(v) < 2:
                reason = f"category '{cat}' has {len(v)} scored persona(s): std needs at least two"
            elif len(ctrl) < 2:
                reason = (f"{len(ctrl)} scored control persona(s): the control std needs at least "
                          "two, so the ratio is undefined")
            elif ctrl_std == 0:
                reason = "control std is 0 (all control personas scored the same): ratio undefined"
            ratio = std / ctrl_std if reason is None else float("nan")
            rows.append({**key, "category": cat, "n": len(v), "std": std,
                         "control_std": ctrl_std, "ratio": ratio, "reason": reason})
    cols = [*by, "category", "n", "std", "control_std", "ratio", "reason"]
    return text_columns(pd.DataFrame(rows, columns=cols), ["reason"])


def refusal_pairs(
    rates: pd.DataFrame, *, value: str = "value", by: Sequence[str] = ("model",),
    persona: str = "persona", category: str = "category",
    pairs: Sequence[tuple[str, str]] = SYNONYM_PAIRS, control: str = CONTROL,
) -> pd.DataFrame:
    """Refusal-rate differences for near-synonymous personas (METHODS 6): the given `pairs` (the
    study's two by default) and every pair of control personas. Columns: by columns, kind
    (`synonym` / `control`), persona_a, persona_b, rate_a, rate_b, diff (a - b), abs_diff, reason;
    sorted by abs_diff, largest first, within each group. A pair with a persona absent from the
    data is kept with NaN and a reason."""
    what = "refusal pairs"
    by = check_by(rates, by, what)
    require_columns(rates, [persona, category, value], what)
    out = []
    for key, sub in groups(rates, by):
        _one_score_per_persona(sub, persona, what)
        rate = pd.to_numeric(sub[value], errors="coerce").set_axis(sub[persona].to_numpy())
        controls = sorted(sub.loc[sub[category] == control, persona])
        wanted = [("synonym", a, b) for a, b in pairs]
        wanted += [("control", a, b) for a, b in combinations(controls, 2)]
        rows = []
        for kind, a, b in wanted:
            ra, rb = (float(rate.get(p, np.nan)) for p in (a, b))
            missing = [p for p in (a, b) if p not in rate.index]
            reason = None
            if missing:
                noun = "persona" if len(missing) == 1 else "personas"
                reason = f"{noun} {' and '.join(map(repr, missing))} not in the data"
            elif np.isnan(ra) or np.isnan(rb):
                reason = "no refusal rate for one of the two personas"
            rows.append({**key, "kind": kind, "persona_a": a, "persona_b": b, "rate_a": ra,
                         "rate_b": rb, "diff": ra - rb, "abs_diff": abs(ra - rb), "reason": reason})
        out.extend(sorted(rows, key=lambda r: (np.isnan(r["abs_diff"]), -np.nan_to_num(r["abs_diff"]))))
    cols = [*by, "kind", "persona_a", "persona_b", "rate_a", "rate_b", "diff", "abs_diff", "reason"]
    return text_columns(pd.DataFrame(out, columns=cols), ["reason"])


def _ranked(sub: pd.DataFrame, value: str, persona: str) -> pd.DataFrame:
    """Scored rows by value, highest first, ties by persona stem."""
    scored = sub.assign(_v=pd.to_numeric(sub[value], errors="coerce")).dropna(subset=["_v"])
    return scored.sort_values(["_v", persona], ascending=[False, True], kind="stable")


def top_bottom(
    scores: pd.DataFrame, *, value: str = "value", k: int = 5, by: Sequence[str] = ("model",),
    persona: str = "persona",
) -> pd.DataFrame:
    """The k highest and k lowest scoring personas per group (ties by persona stem). Columns: by
    columns, end (`top` / `bottom`), rank (1 = most extreme), persona, the score, and `category`
    when present. With fewer than 2k personas the two lists overlap."""
    if k < 1:
        raise PersonalibError(f"top_bottom: k must be at least 1; got {k}")
    by = check_by(scores, by, "top/bottom personas")
    require_columns(scores, [persona, value], "top/bottom personas")
    extra = ["category"] if "category" in scores.columns and "category" not in by else []
    rows = []
    for key, sub in groups(scores, by):
        ranked = _ranked(sub, value, persona)
        for end, part in (("top", ranked.head(k)), ("bottom", ranked.iloc[::-1].head(k))):
            for rank, (_, row) in enumerate(part.iterrows(), start=1):
                rows.append({**key, "end": end, "rank": rank, "persona": row[persona],
                             value: row["_v"], **{c: row[c] for c in extra}})
    return pd.DataFrame(rows, columns=[*by, "end", "rank", "persona", value, *extra])


def score_gap(
    scores: pd.DataFrame, *, value: str = "value", by: Sequence[str] = ("model",),
    persona: str = "persona",
) -> pd.DataFrame:
    """Top-bottom gap per group: best and worst persona, their scores and the difference
    (METHODS 6 RQ1/RQ2). NaN with a reason when fewer than two personas have a score; a gap of 0
    notes that all personas scored the same."""
    by = check_by(scores, by, "score gap")
    require_columns(scores, [persona, value], "score gap")
    rows = []
    for key, sub in groups(scores, by):
        _one_score_per_persona(sub, persona, "score gap")
        ranked = _ranked(sub, value, persona)
        row = {**key, "n_personas": len(ranked), "top_persona": None, "top_value": np.nan,
               "bottom_persona": None, "bottom_value": np.nan, "gap": np.nan, "reason": None}
        if len(ranked) < 2:
            row["reason"] = f"{len(ranked)} scored persona(s): a gap needs at least two"
        else:
            top, bottom = ranked.iloc[0], ranked.iloc[-1]
            row.update(top_persona=top[persona], top_value=float(top["_v"]),
                       bottom_persona=bottom[persona], bottom_value=float(bottom["_v"]),
                       gap=float(top["_v"] - bottom["_v"]))
            if row["gap"] == 0:
                row["reason"] = "all personas have the same score: no top or bottom persona"
        rows.append(row)
    cols = [*by, "n_personas", "top_persona", "top_value", "bottom_persona", "bottom_value", "gap",
            "reason"]
    return text_columns(pd.DataFrame(rows, columns=cols), ["reason"])


__all__ = ["CONTROL", "SYNONYM_PAIRS", "refusal_pairs", "score_gap", "std_ratios", "top_bottom"]
