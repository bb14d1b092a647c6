"""Recompute each claim check and compare it with the paper: reproduced, differs, differs because
of a listed deviation from the original analysis (METHODS 7), or not computable (and why).

- value and ratio: reproduced when |recomputed - paper| is within the tolerance (`decimals`:
  equal at the paper's printed precision);
- count and rank: equal integers (or equal mappings of integers, or the same name);
- ordering: the same list of names in the same order, the same name, or the same truth value.

A check whose claim names a deviation (`deviation:`) and differs is reported as differing because
of that deviation. A check is not computable when the profile lacks a model, dataset, persona set,
persona or extra file it needs (said in those words), when its computation raises
`NotComputable`, or when the package has no computation for it yet (`pending`).

When a check is not computable only because the profile lacks the claim's models, its `own`
readings say what the profile's own models give: for a claim about a named model (its
computation takes a `model`), the same computation for each of the profile's models; for a claim
about all the study's models, the computation over the profile's models. They are shown, never
compared with the paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from personalib.claims.data import ClaimData, NotComputable
from personalib.claims.schema import Check, Claim, Needs, resolve
from personalib.deviations import DEVIATIONS
from personalib.errors import PersonalibError

REPRODUCED = "reproduced"
DIFFERS = "differs"
DEVIATION = "differs because of a deviation"
NOT_COMPUTABLE = "not computable"
STATUSES: tuple[str, ...] = (REPRODUCED, DIFFERS, DEVIATION, NOT_COMPUTABLE)


@dataclass(frozen=True)
class Verdict:
    """One check of one claim: the paper's value, the recomputed one and the status."""

    claim: str
    part: str
    kind: str
    reading: str | None
    paper: Any
    value: Any
    difference: float | None
    status: str
    reason: str | None = None
    own: tuple[tuple[str, Any, str | None], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def missing_needs(needs: Needs, data: ClaimData) -> str | None:
    """Why the profile cannot serve `needs` (None when it can)."""
    absent = [m for m in needs.models if m not in data.models]
    if absent:
        noun = "model" if len(absent) == 1 else "models"
        return f"{noun} {', '.join(absent)} not in this profile"
    for model in needs.models:
        lacking = [d for d in needs.datasets if d not in data.datasets.get(model, frozenset())]
        if lacking:
            return f"no {', '.join(lacking)} generations for {model} in this profile"
    if not needs.models:
        for dataset in needs.datasets:
            if not any(dataset in have for have in data.datasets.values()):
                return f"no {dataset} generations in this profile"
    sets = set(data.personas["persona_set"]) if len(data.personas) else set()
    lacking = [s for s in needs.persona_sets if s not in sets]
    if lacking:
        return f"persona set(s) {', '.join(lacking)} not in this profile"
    if needs.personas != "all":
        people = set(data.personas["persona"]) if len(data.personas) else set()
        absent = [p for p in needs.personas if p not in people]
        if absent:
            return f"persona(s) {', '.join(absent)} not in this profile"
    if "bbq-metadata" in needs.extra:
        bbq = data.items.get("bbq")
        if bbq is None or "target_loc" not in bbq or not bbq["target_loc"].notna().any():
            return "the BBQ bias metadata (additional_metadata.csv) is not loaded"
    if "human-annotations" in needs.extra and data.annotations is None:
        return "the human annotations (largeScale.csv) are not loaded"
    return None


def compare(check: Check, value: Any) -> tuple[bool, float | None]:
    """(equal within the check's tolerance, numeric difference recomputed - paper or None)."""
    paper = check.paper
    if check.kind in ("value", "ratio"):
        diff = float(value) - float(paper)
        return abs(diff) <= check.tolerance.bound, diff
    if check.kind in ("count", "rank") and isinstance(paper, int | float) and not isinstance(paper, bool):
        diff = float(value) - float(paper)
        return diff == 0, diff
    if isinstance(paper, dict):
        return dict(value) == paper, None
    if isinstance(paper, list):
        return [str(v) for v in value] == paper, None
    return value == paper, None


def _deviation_text(ident: str) -> str:
    dev = next(d for d in DEVIATIONS if d.id == ident)
    return f"{ident} (METHODS {dev.methods}): {dev.fault}"


def _run(check: Check, data: ClaimData, args: dict[str, Any]) -> tuple[Any, str | None]:
    """(value, None) or (None, why it is not computable)."""
    try:
        return resolve(check.compute.function)(data, **args), None  # type: ignore[union-attr]
    except (NotComputable, PersonalibError) as exc:
        return None, str(exc)


def own_readings(claim: Claim, check: Check, data: ClaimData) -> tuple[tuple[str, Any, str | None], ...]:
    """What the profile's own models give for a check that lacks the claim's models (module doc):
    (label, value, reason) per model, or one over all of them."""
    needed = {*claim.needs.models, *check.needs.models}
    if check.compute is None or not data.models or needed <= set(data.models):
        return ()
    reason = (missing_needs(claim.needs.model_copy(update={"models": ()}), data)
              or missing_needs(check.needs.model_copy(update={"models": ()}), data))
    args = dict(check.compute.args)
    reading = data.for_reading()
    pool = f" ({len(data.personas)} personas)" if data.restricted else ""
    if "model" in args:
        readings = []
        for model in data.models:
            value, why = (None, reason) if reason else _run(check, reading, {**args, "model": model})
            readings.append((model + pool, value, why))
        return tuple(readings)
    label = f"over {', '.join(data.models)}{pool}"
    value, why = (None, reason) if reason else _run(check, reading, args)
    return ((label, value, why),)


def evaluate_check(claim: Claim, check: Check, data: ClaimData) -> Verdict:
    """Recompute one check on the profile's data and compare it with the paper."""
    base = dict(claim=claim.id, part=check.part, kind=check.kind, reading=check.reading,
                paper=check.paper)
    reason = missing_needs(claim.needs, data) or missing_needs(check.needs, data)
    if reason is None and check.compute is None:
        reason = f"no computation in personalib yet: {check.pending}"
    if reason is None:
        value, reason = _run(check, data, dict(check.compute.args))  # type: ignore[union-attr]
    if reason is not None:
        return Verdict(**base, value=None, difference=None, status=NOT_COMPUTABLE, reason=reason,
                       own=own_readings(claim, check, data))
    same, diff = compare(check, value)
    if same:
        return Verdict(**base, value=value, difference=diff, status=REPRODUCED)
    if claim.deviation:
        return Verdict(**base, value=value, difference=diff, status=DEVIATION,
                       reason=_deviation_text(claim.deviation))
    return Verdict(**base, value=value, difference=diff, status=DIFFERS)


def evaluate(claims: Sequence[Claim], data: ClaimData) -> list[Verdict]:
    """Every check of every claim, in file order."""
    return [evaluate_check(claim, check, data) for claim in claims for check in claim.checks]


def verdict_table(verdicts: Sequence[Verdict]) -> pd.DataFrame:
    """One row per check: claim, part, kind, reading, paper, value, difference, status, reason,
    own (the profile's own models' readings, a list of (label, value, reason))."""
    columns = list(Verdict.__dataclass_fields__)
    table = pd.DataFrame([v.as_dict() for v in verdicts], columns=columns).astype(object)
    return table.where(table.notna(), None)


__all__ = ["DEVIATION", "DIFFERS", "NOT_COMPUTABLE", "REPRODUCED", "STATUSES", "Verdict", "compare",
           "evaluate", "evaluate_check", "missing_needs", "own_readings", "verdict_table"]
