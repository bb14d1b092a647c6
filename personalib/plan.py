"""Dry-run plan of a profile: prompts per model, dataset and persona set, and for
API models input/output token and cost estimates. Nothing is generated and nothing is downloaded.

Counts: prompts = personas (of each persona set, after the profile's `personas` filter) x items
(each dataset's source for that model, `model_datasets` overrides and `limit` applied). Item counts
come from the tasks' declared source counts (`Task.n_prompts`: TruthfulQA 817, MMLU 14,042 or the
GPT-4 subsample, BBQ 58,492 or the subsample, attitudes 837, toxicity 1,252) unless the items are
read: demo data, local files, or when token estimates need the prompt texts and the source is
already in the cache (downloads are switched off unless `fetch=True`). Tokens: `personalib.tokens`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from personalib.errors import ConfigError, SourceMissingError
from personalib.params import DatasetSpec, ModelParams, Profile, effective_decoding, load_model
from personalib.personas import Persona
from personalib.prompts import Placement, persona_statement, resolve_placement
from personalib.sources import OFFLINE_ENV, ChecksumError
from personalib.tasks import load_task
from personalib.tokens import (
    TokenCounter,
    conversation_overhead,
    cost_usd,
    input_tokens,
    token_counter,
)

ROW_COLUMNS: tuple[str, ...] = (
    "model", "dataset", "persona_set", "personas", "items", "prompts", "items_from",
    "input_tokens", "output_tokens", "usd_output", "usd",
)
"""Plan rows. Tokens and costs only where estimated (API models, or all with tokens=True); output
tokens and `usd_output` are upper bounds (max_new_tokens per prompt); `usd` needs input tokens."""


@dataclass(frozen=True)
class DatasetItems:
    """One dataset source's item count, and its prompt texts when they were read."""

    n_items: int
    origin: str
    prompts: tuple[str, ...] | None
    missing_text: bool = False


@dataclass
class ModelPlan:
    """One model's part of the plan: its placement, token method and totals."""

    model: ModelParams
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
class Plan:
    """The whole plan: one row per model x dataset x persona set (`ROW_COLUMNS`), model totals."""

    profile: Profile
    rows: pd.DataFrame
    models: dict[str, ModelPlan]
    persona_sets: dict[str, int]
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
                "display_name": mp.model.display_name, "backend": mp.model.backend,
                "model_id": mp.model.model_id, "placement": mp.placement,
                "personas": mp.personas, "items": mp.items, "prompts": mp.prompts,
                "max_new_tokens": mp.max_new_tokens, "token_method": mp.token_method,
                "input_tokens": _round(mp.input_tokens), "output_tokens": _round(mp.output_tokens),
                "usd_output": _cents(mp.usd_output), "usd": _cents(mp.usd),
            }
            for name, mp in self.models.items()
        }
        costs = [m.usd for m in self.models.values() if m.model.is_api]
        return {
            "profile": self.profile.name, "generations": self.profile.generations,
            "persona_sets": self.persona_sets, "rows": rows, "models": models,
            "total": {"prompts": int(sum(m.prompts for m in self.models.values())),
                      "usd": _cents(sum(costs)) if costs and None not in costs else None},
            "notes": self.notes,
        }


def build_plan(
    profile: Profile, *, models: Sequence[str] | None = None, fetch: bool = False,
    tokens: bool = False,
) -> Plan:
    """Plan `profile` (module doc). `models` restricts to some of its models; token estimates are
    made for API models, and for every model when `tokens` is True; `fetch` allows downloading the
    data sources needed for them."""
    chosen = _choose_models(profile, models)
    personas = profile.load_personas()
    notes: list[str] = []
    if profile.generations == "released":
        notes.append("generations: released: a run sends nothing; the counts are those of the "
                     "released generations that `import-release` maps onto the items")
    cache: dict[tuple[str, str, bool], DatasetItems] = {}
    rows: list[dict[str, Any]] = []
    plans: dict[str, ModelPlan] = {}
    for name in chosen:
        model = load_model(name)
        wants_tokens = model.is_api or tokens
        counter = token_counter(model) if wants_tokens else None
        placement = _placement(model, counter, notes) if counter else None
        overhead = conversation_overhead(model, counter, placement) if counter and placement else 0.0
        max_new = effective_decoding(model, profile).max_new_tokens
        model_rows = []
        n_items = 0
        for dataset, spec in profile.datasets_for(name).items():
            key = (dataset, spec.model_dump_json(), wants_tokens)
            if key not in cache:
                cache[key] = _dataset_items(dataset, spec, wants_tokens, fetch)
            items = cache[key]
            n_items += items.n_items
            for set_name, members in personas.items():
                model_rows.append(_row(model, dataset, set_name, members, items, counter, placement,
                                       overhead, max_new))
        rows.extend(model_rows)
        plans[name] = _model_plan(model, placement, counter, max_new, personas, n_items, model_rows)
    uncounted = list(dict.fromkeys(d for (d, _, _), items in cache.items() if items.missing_text))
    if uncounted:
        notes.append(f"input tokens not counted for {', '.join(uncounted)}: the data is not in the "
                     "cache; rerun with --fetch to download it, or give local files in the profile")
    frame = pd.DataFrame(rows, columns=list(ROW_COLUMNS))
    return Plan(profile=profile, rows=frame, models=plans,
                persona_sets={k: len(v) for k, v in personas.items()}, notes=notes)


def _choose_models(profile: Profile, models: Sequence[str] | None) -> list[str]:
    if not models:
        return list(profile.models)
    unknown = [m for m in models if m not in profile.models]
    if unknown:
        raise ConfigError(
            f"--models: {', '.join(unknown)} not in profile {profile.name!r} "
            f"(its models: {', '.join(profile.models)})"
        )
    return list(dict.fromkeys(models))


def _placement(model: ModelParams, counter: TokenCounter, notes: list[str]) -> Placement:
    if model.prompt_format == "completion":
        return "completion"
    try:
        return resolve_placement(model, None if model.is_api else counter.tokenizer)
    except ConfigError:
        fallback: Placement = "user"
        notes.append(f"{model.name}: persona placement cannot be resolved without the model's "
                     f"tokenizer; tokens counted as for {fallback!r} placement")
        return fallback


@contextmanager
def _downloads(allowed: bool) -> Iterator[None]:
    """Switch the sources' downloads off (PERSONALIB_OFFLINE=1) unless `allowed`."""
    if allowed:
        yield
        return
    before = os.environ.get(OFFLINE_ENV)
    os.environ[OFFLINE_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(OFFLINE_ENV, None)
        else:
            os.environ[OFFLINE_ENV] = before


def _dataset_items(dataset: str, spec: DatasetSpec, need_text: bool, fetch: bool) -> DatasetItems:
    """Item count (and prompts when read) of one dataset source, limit applied."""
    task = load_task(dataset, **spec.task_kwargs())
    local = task.is_demo or bool(spec.files)
    prompts: tuple[str, ...] | None = None
    if need_text or local:
        try:
            with _downloads(fetch):
                prompts = tuple(task.items()["prompt"])
        except ChecksumError:
            raise
        except SourceMissingError:
            prompts = None
    if prompts is not None:
        origin = "demo items" if task.is_demo else ("local files" if spec.files else "cached source")
        n_items = len(prompts)
    else:
        origin = "declared count"
        n_items = task.n_prompts
    if spec.limit is not None and spec.limit < n_items:
        n_items = spec.limit
        prompts = prompts[: spec.limit] if prompts is not None else None
        origin += f", limit {spec.limit}"
    if spec.subsample:
        origin += ", GPT-4 subsample"
    return DatasetItems(n_items=n_items, origin=origin, prompts=prompts,
                        missing_text=need_text and prompts is None)


def _row(
    model: ModelParams, dataset: str, set_name: str, members: list[Persona], items: DatasetItems,
    counter: TokenCounter | None, placement: Placement | None, overhead: float, max_new: int,
) -> dict[str, Any]:
    n_prompts = len(members) * items.n_items
    n_in = n_out = None
    if counter is not None:
        n_out = float(n_prompts * max_new)
        if items.prompts is not None and placement is not None:
            statements = [persona_statement(p) for p in members]
            n_in = input_tokens(counter, statements, items.prompts, placement, overhead)
    return {
        "model": model.name, "dataset": dataset, "persona_set": set_name, "personas": len(members),
        "items": items.n_items, "prompts": n_prompts, "items_from": items.origin,
        "input_tokens": n_in, "output_tokens": n_out,
        "usd_output": cost_usd(model, 0.0, n_out), "usd": cost_usd(model, n_in, n_out),
    }


def _model_plan(
    model: ModelParams, placement: str | None, counter: TokenCounter | None, max_new: int,
    personas: dict[str, list[Persona]], n_items: int, rows: list[dict[str, Any]],
) -> ModelPlan:
    def total(column: str) -> float | None:
        values = [r[column] for r in rows]
        return None if counter is None or None in values else float(sum(values))

    return ModelPlan(
        model=model, placement=placement, token_method=counter.method if counter else None,
        max_new_tokens=max_new, personas=sum(len(v) for v in personas.values()), items=n_items,
        prompts=sum(r["prompts"] for r in rows), input_tokens=total("input_tokens"),
        output_tokens=total("output_tokens"), usd_output=total("usd_output"), usd=total("usd"),
    )


def _round(value: float | None) -> int | None:
    return None if value is None or pd.isna(value) else int(round(value))


def _cents(value: float | None) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 2)
