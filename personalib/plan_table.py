"""What the `plan` command shows of a `personalib.plan.Plan`: prompts per model, dataset and persona
set and, for API models (every model with `tokens=True`), input/output token and cost estimates
(`Plan.estimate`). Nothing is generated; an offline plan downloads nothing.

Counts: prompts = personas (of each persona set, after the profile's `personas` filter) x items
(`Plan.dataset_items`: the items where they are read, else the tasks' declared counts). The items
are read for token estimates and for demo data or local files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from personalib.errors import ConfigError
from personalib.plan import DatasetItems, Plan, PlannedModel
from personalib.prompts import Placement, resolve_placement
from personalib.tokens import TokenCounter

__all__ = ["ROW_COLUMNS", "ModelTotals", "PlanTable", "plan_table"]

ROW_COLUMNS: tuple[str, ...] = (
    "model", "dataset", "persona_set", "personas", "items", "prompts", "items_from",
    "input_tokens", "output_tokens", "usd_output", "usd",
)
"""Plan rows. Tokens and costs only where estimated (API models, or all with tokens=True); output
tokens and `usd_output` are upper bounds (max_new_tokens per prompt); `usd` needs input tokens."""


@dataclass
class ModelTotals:
    """One model's part of the plan table: its placement, token method and totals."""

    model: PlannedModel
    placement: str | None
    token_method: str | None
    max_new_tokens: int
    personas: int
    items: int
    prompts: int
    input_tokens: float | None
    output_tokens: float | None
    usd_output: float | None
    usd: float | None


@dataclass
class PlanTable:
    """The plan as a table: one row per model x dataset x persona set (`ROW_COLUMNS`), model totals."""

    plan: Plan
    rows: pd.DataFrame
    models: dict[str, ModelTotals]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: profile, persona sets, rows, per-model totals, grand total, notes."""
        frame = self.rows.copy()
        for column in ("input_tokens", "output_tokens"):
            frame[column] = [_round(v) for v in frame[column]]
        for column in ("usd_output", "usd"):
            frame[column] = [_cents(v) for v in frame[column]]
        rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
        models = {
            name: {
                "display_name": mt.model.params.display_name, "backend": mt.model.params.backend,
                "model_id": mt.model.params.model_id, "placement": mt.placement,
                "personas": mt.personas, "items": mt.items, "prompts": mt.prompts,
                "max_new_tokens": mt.max_new_tokens, "token_method": mt.token_method,
                "input_tokens": _round(mt.input_tokens), "output_tokens": _round(mt.output_tokens),
                "usd_output": _cents(mt.usd_output), "usd": _cents(mt.usd),
            }
            for name, mt in self.models.items()
        }
        costs = [m.usd for m in self.models.values() if m.model.params.is_api]
        profile = self.plan.profile
        return {
            "profile": profile.name, "generations": profile.generations,
            "persona_sets": {k: len(v) for k, v in self.plan.persona_sets.items()}, "rows": rows, "models": models,
            "total": {"prompts": int(sum(m.prompts for m in self.models.values())),
                      "usd": _cents(sum(costs)) if costs and None not in costs else None},
            "notes": self.notes,
        }


def plan_table(plan: Plan, *, tokens: bool = False) -> PlanTable:
    """The table of `plan` (module doc); token estimates for API models, for every model when
    `tokens` is True."""
    notes: list[str] = []
    if plan.profile.generations == "released":
        notes.append("generations: released: a run sends nothing; the counts are those of the "
                     "released generations that `import-release` maps onto the items")
    rows: list[dict[str, Any]] = []
    totals: dict[str, ModelTotals] = {}
    uncounted: list[str] = []
    for name, model in plan.models.items():
        wants_tokens = model.params.is_api or tokens
        placement = _placement(model, plan.counter(model), notes) if wants_tokens else None
        model_rows = []
        n_items = 0
        for dataset in model.specs:
            items = plan.dataset_items(model, dataset, read=wants_tokens)
            if wants_tokens and items.items is None:
                uncounted.append(dataset)
            n_items += items.n_items
            start = 0
            for set_name, members in plan.persona_sets.items():
                span = slice(start, start + len(members))
                start = span.stop
                model_rows.append(_row(plan, model, dataset, set_name, span, items, placement))
        rows.extend(model_rows)
        totals[name] = _totals(plan, model, placement, n_items, model_rows)
    if uncounted:
        notes.append(f"input tokens not counted for {', '.join(dict.fromkeys(uncounted))}: the data is not "
                     "in the cache; rerun with --fetch to download it, or give local files in the profile")
    return PlanTable(plan=plan, rows=pd.DataFrame(rows, columns=list(ROW_COLUMNS)), models=totals, notes=notes)


def _placement(model: PlannedModel, counter: TokenCounter, notes: list[str]) -> Placement:
    if model.params.prompt_format == "completion":
        return "completion"
    try:
        return resolve_placement(model.params, None if model.params.is_api else counter.tokenizer)
    except ConfigError:
        fallback: Placement = "user"
        notes.append(f"{model.params.name}: persona placement cannot be resolved without the model's "
                     f"tokenizer; tokens counted as for {fallback!r} placement")
        return fallback


def _row(plan: Plan, model: PlannedModel, dataset: str, set_name: str, span: slice, items: DatasetItems,
         placement: Placement | None) -> dict[str, Any]:
    n_personas = span.stop - span.start
    row = {
        "model": model.ref, "dataset": dataset, "persona_set": set_name, "personas": n_personas,
        "items": items.n_items, "prompts": n_personas * items.n_items, "items_from": items.origin,
        "input_tokens": None, "output_tokens": None, "usd_output": None, "usd": None,
    }
    if placement is not None:
        per_persona = np.zeros(len(plan.personas))
        per_persona[span] = items.n_items
        per_item = None if items.items is None else np.full(items.n_items, float(n_personas))
        estimate = plan.estimate(model, dataset, placement, per_persona, per_item)
        row.update(input_tokens=estimate.input_tokens, output_tokens=estimate.output_tokens,
                   usd_output=estimate.usd_output, usd=estimate.usd)
    return row


def _totals(plan: Plan, model: PlannedModel, placement: str | None, n_items: int,
            rows: list[dict[str, Any]]) -> ModelTotals:
    def total(column: str) -> float | None:
        values = [r[column] for r in rows]
        return None if placement is None or None in values else float(sum(values))

    return ModelTotals(
        model=model, placement=placement, token_method=plan.counter(model).method if placement else None,
        max_new_tokens=model.decoding.max_new_tokens, personas=len(plan.personas), items=n_items,
        prompts=sum(r["prompts"] for r in rows), input_tokens=total("input_tokens"),
        output_tokens=total("output_tokens"), usd_output=total("usd_output"), usd=total("usd"),
    )


def _round(value: float | None) -> int | None:
    return None if value is None or pd.isna(value) else int(round(value))


def _cents(value: float | None) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 2)
