"""The one plan of a run, shared by `plan`, `generate --dry-run` and `generate` (METHODS 1-3).

`build_plan` checks a run's choices once (the profile's models, `--models`, `--datasets`,
`--persona-sets`, `--limit`) and returns a lazy `Plan`: model x dataset x persona set x persona x
item. Building it reads the params and the persona sets only. Item tables are read on first use
(`Plan.items`), passing the plan's `offline` to `personalib.tasks.load_task`: True reads local
files and the cache only and downloads nothing; None lets the environment's offline switches
decide (`personalib.sources.fetch`). Nothing in the environment is changed. Counts fall back
to the tasks' declared counts (`Task.n_prompts`: TruthfulQA 817, MMLU 14,042 or the GPT-4
subsample, BBQ 58,492 or the subsample, attitudes 837, toxicity 1,252) where the items are not
read (`Plan.dataset_items`). Request keys are never made here: `personalib.runplan.plan_entries`
makes them when a run records what it sends (or a sharded dry run needs them).

API estimate (`Plan.estimate`, the only one): any set of entries, given as how many of them each
persona and each item has (the whole grid, the stored grid's missing entries, a shard's entries).
Input tokens per request: persona statement + prompt + the conversation overhead, counted as in
`personalib.tokens`; output tokens: the upper bound max_new_tokens. Prices: params `api`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from personalib.backends.base import Decoding
from personalib.errors import ConfigError, SourceMissingError
from personalib.params import DatasetSpec, ModelParams, Profile, effective_decoding, load_model
from personalib.personas import BUILTIN_SETS, Persona, load_persona_set, persona_set_name
from personalib.prompts import persona_statement
from personalib.tasks import registry
from personalib.tasks.registry import load_items
from personalib.sources import ChecksumError
from personalib.tokens import TokenCounter, cost_usd, input_tokens, request_overhead, token_counter

__all__ = ["DatasetItems", "Estimate", "Plan", "PlannedModel", "build_plan"]


@dataclass(frozen=True)
class PlannedModel:
    """One model of a plan: as the profile lists it (`ref`), its params, effective decoding and
    dataset sources (the profile's, with its `model_datasets` overrides, `--datasets` applied)."""

    ref: str
    params: ModelParams
    decoding: Decoding
    specs: dict[str, DatasetSpec]


@dataclass(frozen=True)
class DatasetItems:
    """One dataset source's item count, where it comes from, and the items when they were read."""

    n_items: int
    origin: str
    items: pd.DataFrame | None


@dataclass(frozen=True)
class Estimate:
    """API estimate of sending some entries (module doc); input tokens None when the prompts
    were not read, costs None without prices."""

    requests: int
    input_tokens: float | None
    output_tokens: float
    usd_output: float | None
    usd: float | None
    method: str


@dataclass(frozen=True)
class _TokenParts:
    statements: np.ndarray  # tokens of each persona statement, in `Plan.personas` order
    prompts: np.ndarray | None  # tokens of each item prompt; None when the items are not read
    per_request: float  # `personalib.tokens.request_overhead`
    method: str


@dataclass
class Plan:
    """A run's plan (module doc): persona sets, models; items, counts and estimates on demand."""

    profile: Profile
    persona_sets: dict[str, list[Persona]]
    models: dict[str, PlannedModel]
    offline: bool | None
    limit: int | None = None
    _items: dict[tuple[str, str], pd.DataFrame | SourceMissingError] = field(default_factory=dict, repr=False)
    _counters: dict[str, TokenCounter] = field(default_factory=dict, repr=False)
    _parts: dict[tuple[str, str, str], _TokenParts] = field(default_factory=dict, repr=False)

    @property
    def personas(self) -> list[Persona]:
        """Every persona of the plan, set by set (the order of `p_index` in planned entries)."""
        return [p for members in self.persona_sets.values() for p in members]

    def items(self, model: PlannedModel, dataset: str) -> pd.DataFrame:
        """The items `model` is asked on `dataset` (limits applied), read once per source; raises
        SourceMissingError when an offline plan finds them neither local nor cached."""
        spec = model.specs[dataset]
        token = (dataset, spec.model_dump_json())
        if token not in self._items:
            try:
                self._items[token] = load_items(dataset, spec, self.limit, offline=self.offline)
            except ChecksumError:
                raise  # a wrong file is an error, not an absent one
            except SourceMissingError as exc:
                self._items[token] = exc
        found = self._items[token]
        if isinstance(found, SourceMissingError):
            raise found
        return found

    def read_items(self) -> None:
        """Read every item table of the plan now (a run checks them before it writes anything)."""
        for model in self.models.values():
            for dataset in model.specs:
                self.items(model, dataset)

    def dataset_items(self, model: PlannedModel, dataset: str, *, read: bool) -> DatasetItems:
        """Item count of one dataset source and its origin: from the items where they are read
        (`read`, demo or local files, or already read) and at hand, else the declared count."""
        spec = model.specs[dataset]
        items = None
        if read or spec.demo or spec.files:
            try:
                items = self.items(model, dataset)
            except SourceMissingError:
                items = None
        bounds = [b for b in (spec.limit, self.limit) if b is not None]
        if items is not None:
            origin = "demo items" if spec.demo else "local files" if spec.files else "cached source"
            n_items = len(items)
            limited = bool(bounds) and min(bounds) == n_items
        else:
            from personalib.tasks import load_task  # the task registry imports heavy optional readers

            declared = load_task(dataset, **spec.task_kwargs()).n_prompts
            origin, n_items = "declared count", min([declared, *bounds])
            limited = n_items < declared
        if limited:
            origin += f", limit {min(bounds)}"
        if spec.subsample:
            origin += ", GPT-4 subsample"
        return DatasetItems(n_items=n_items, origin=origin, items=items)

    def counter(self, model: PlannedModel) -> TokenCounter:
        """The token counter of `model` (`personalib.tokens.token_counter`), made once."""
        if model.ref not in self._counters:
            self._counters[model.ref] = token_counter(model.params)
        return self._counters[model.ref]

    def estimate(self, model: PlannedModel, dataset: str, placement: str, per_persona: np.ndarray,
                 per_item: np.ndarray | None = None) -> Estimate:
        """API estimate of sending entries of `model` on `dataset` (module doc): `per_persona[p]`
        entries of persona p (`personas` order), `per_item[i]` of item i; input tokens need the
        items (None when they are not at hand)."""
        parts = self._token_parts(model, dataset, placement)
        n = int(per_persona.sum())
        n_output = float(n * model.decoding.max_new_tokens)
        n_input = None
        if parts.prompts is not None and per_item is not None:
            n_input = input_tokens(parts.statements, parts.prompts, parts.per_request, per_persona, per_item)
        return Estimate(requests=n, input_tokens=n_input, output_tokens=n_output,
                        usd_output=cost_usd(model.params, 0.0, n_output),
                        usd=cost_usd(model.params, n_input, n_output), method=parts.method)

    def _token_parts(self, model: PlannedModel, dataset: str, placement: str) -> _TokenParts:
        key = (model.ref, dataset, placement)
        if key not in self._parts:
            counter = self.counter(model)
            try:
                prompts = self.items(model, dataset)["prompt"].tolist()
            except SourceMissingError:
                prompts = None
            self._parts[key] = _TokenParts(
                statements=_counts(counter, [persona_statement(p) for p in self.personas]),
                prompts=None if prompts is None else _counts(counter, prompts),
                per_request=request_overhead(model.params, counter, placement),
                method=counter.method,
            )
        return self._parts[key]


def _counts(counter: TokenCounter, texts: list[str]) -> np.ndarray:
    return np.asarray(counter.count_many(texts) if texts else [], float)


def build_plan(
    profile: Profile, *, offline: bool | None, models: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None, persona_sets: Sequence[str] | None = None,
    limit: int | None = None,
) -> Plan:
    """The plan of `profile` (module doc), restricted to some of its `models`, `datasets` and
    `persona_sets` (all when None), with the first `limit` items of each dataset. `offline=True`:
    item tables are read from local files and the cache only, never downloaded; None: downloads as
    the environment allows (`PERSONALIB_OFFLINE`, `HF_HUB_OFFLINE`); False: downloads allowed."""
    sets = select_persona_sets(profile, persona_sets)
    chosen = {}
    for ref in choose_models(profile, models):
        params = load_model(ref)
        chosen[ref] = PlannedModel(ref, params, effective_decoding(params, profile),
                                   select_datasets(profile, ref, datasets))
    return Plan(profile=profile, persona_sets=sets, models=chosen, offline=offline, limit=limit)


def choose_models(profile: Profile, models: Sequence[str] | None) -> list[str]:
    """The profile's models, or `models` when given (each must be one of the profile's)."""
    if not models:
        return list(profile.models)
    unknown = [m for m in models if m not in profile.models]
    if unknown:
        raise ConfigError(
            f"--models: {', '.join(unknown)} not in profile {profile.name!r} "
            f"(its models: {', '.join(profile.models)})"
        )
    return list(dict.fromkeys(models))


def select_datasets(profile: Profile, model: str, names: Sequence[str] | None) -> dict[str, DatasetSpec]:
    """The profile's dataset sources for `model` (as the profile lists it, with its `model_datasets`
    overrides), restricted to `names` (all when None)."""
    specs = profile.datasets_for(model)
    if names is None:
        return specs
    known = registry.names()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"--datasets: unknown dataset(s) {', '.join(unknown)}; known: {', '.join(known)}")
    absent = [n for n in names if n not in specs]
    if absent:
        raise ConfigError(
            f"--datasets: profile {profile.name!r} has no source for {', '.join(absent)} "
            f"(its datasets: {', '.join(specs)}); add it under `datasets:` in the profile"
        )
    return {n: specs[n] for n in dict.fromkeys(names)}


def select_persona_sets(profile: Profile, names: Sequence[str] | None) -> dict[str, list[Persona]]:
    """Set name -> personas: the profile's sets (its `personas` filter applied), or `names`.

    A name is one of the profile's persona sets (as listed there, or its set name), a built-in set
    (`regular`, `empty`, `control`) or the path of a persona-set YAML file (METHODS 1).
    """
    sets = profile.load_personas()
    if names is None:
        return sets
    listed = {name: persona_set_name(ref) for name, ref in zip(profile.persona_sets, profile.persona_set_refs())}
    chosen: dict[str, list[Persona]] = {}
    for name in dict.fromkeys(names):
        set_name = listed.get(name, name)
        if set_name in sets:
            chosen[set_name] = sets[set_name]
        elif name in BUILTIN_SETS or Path(name).is_file():
            personas = load_persona_set(name if name in BUILTIN_SETS else Path(name))
            chosen[personas[0].set_name] = personas
        else:
            raise ConfigError(
                f"--persona-sets: unknown persona set {name!r}; use one of the profile's "
                f"({', '.join(profile.persona_sets)}), a built-in set ({', '.join(BUILTIN_SETS)}) "
                "or the path of a persona-set YAML file"
            )
    return chosen
