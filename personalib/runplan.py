"""Run planning: which requests a generation run sends (issue 4 items 1 and 4; METHODS 1-3).

A run's plan is model x dataset x persona set x persona x item. Each planned entry gets its store
key (`personalib.store.request_key`) from the exact input the backend will see: for a local (hf)
model the conversation rendered once with the model's own tokenizer (METHODS 2: chat template
applied once, persona placement resolved once per model), for an API model the chat messages.
`--shard I/N` keeps the entries whose key falls in shard I (`personalib.store.shard_of`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personalib.backends.base import Decoding, Request
from personalib.errors import ConfigError
from personalib.params import DatasetSpec, ModelParams, Profile
from personalib.personas import BUILTIN_SETS, Persona, load_persona_set, persona_set_name
from personalib.store import canonical_json, normalize_decoding, request_key, shard_of
from personalib.tasks import registry
from personalib.tasks.registry import load_items

__all__ = [
    "PLAN_COLUMNS",
    "RequestMaker",
    "estimate_cost",
    "estimate_grid_cost",
    "load_items",
    "plan_entries",
    "select_datasets",
    "select_persona_sets",
]

# `personalib.store.canonical_json` as one reusable encoder (json.dumps builds a new one per call).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)

_string = json.encoder.encode_basestring  # a JSON string literal, as `_CANONICAL` writes one


def _payload_json(payload: dict[str, Any]) -> str:
    """`_CANONICAL.encode(payload)`, written directly for the two shapes the engine sends:
    `{"prompt": str}` and `{"messages": [{"role": str, "content": str}, ...]}` (sorted keys:
    content before role); any other payload goes through the encoder."""
    if len(payload) == 1:
        prompt, messages = payload.get("prompt"), payload.get("messages")
        if type(prompt) is str:
            return '{"prompt":' + _string(prompt) + "}"
        if type(messages) is list:
            parts = []
            for m in messages:
                content, role = (m.get("content"), m.get("role")) if type(m) is dict and len(m) == 2 else (None, None)
                if type(content) is not str or type(role) is not str:
                    break
                parts.append('{"content":' + _string(content) + ',"role":' + _string(role) + "}")
            else:
                return '{"messages":[' + ",".join(parts) + "]}"
    return _CANONICAL.encode(payload)


# The planned-entry table: store identity, plus where the persona and item are in their lists.
PLAN_COLUMNS: tuple[str, ...] = ("key", "model", "persona_set", "persona", "dataset", "item_id", "p_index", "i_index")


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


@dataclass(frozen=True)
class RequestMaker:
    """Builds the exact input of one model for (persona, prompt), and its store key (METHODS 2).

    With a tokenizer (hf backend) the conversation is rendered once and sent as `prompt`; without
    one (API backends) the messages are sent.
    """

    model: ModelParams
    decoding: Decoding
    placement: str
    tokenizer: Any = None
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def payload(self, persona: Persona, prompt: str) -> dict[str, Any]:
        """`{"prompt": rendered}` for a local model, `{"messages": [...]}` for an API model."""
        from personalib import prompts

        messages = prompts.build_messages(persona, prompt, self.placement)
        if self.tokenizer is None:
            return {"messages": [dict(m) for m in messages]}
        return {"prompt": prompts.render(messages, self.tokenizer, self.placement)}

    @property
    def settings(self) -> str:
        """The settings fingerprint stored with every answer of this model and decoding."""
        from personalib.params import settings_for

        if "settings" not in self._cache:
            self._cache["settings"] = settings_for(self.model, self.decoding)
        return self._cache["settings"]

    def key(self, payload: dict[str, Any]) -> str:
        """The store key of a payload: `personalib.store.request_key`, computed without
        re-serialising the parts that are the same for every request of this maker.

        `request_key` hashes the canonical JSON (sorted keys) of {decoding, model_id, payload,
        revision}; that text is the JSON of the fixed parts around the payload's own canonical
        JSON, so only the payload is serialised per request (`_payload_json`; tests/test_runplan.py
        checks the equality).
        """
        parts = self._cache.get("key_parts")
        if parts is None:
            request_key(self.model.model_id, self.model.revision, {}, self.decoding)  # same checks, same errors
            fixed = {"decoding": normalize_decoding(self.decoding), "model_id": self.model.model_id}
            head = canonical_json(fixed)[:-1] + ',"payload":'
            parts = self._cache["key_parts"] = (head, ',"revision":' + canonical_json(self.model.revision) + "}")
        text = parts[0] + _payload_json(payload) + parts[1]
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def request(self, persona: Persona, prompt: str, meta: dict[str, Any] | None = None) -> Request:
        """The backend `Request` for (persona, prompt) with its key."""
        payload = self.payload(persona, prompt)
        messages = tuple(payload["messages"]) if "messages" in payload else None
        return Request(key=self.key(payload), messages=messages, prompt=payload.get("prompt"), meta=meta or {})


def plan_entries(
    maker: RequestMaker,
    dataset: str,
    items: pd.DataFrame,
    personas: Sequence[Persona],
    shard: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """One row per (persona, item) of this dataset with its key (PLAN_COLUMNS), shard applied.

    `p_index`/`i_index` point into `personas`/`items`, so a request can be rebuilt without
    keeping every rendered prompt in memory.
    """
    prompts_ = items["prompt"].tolist()
    item_ids = items["item_id"].astype(str).tolist()
    rows: dict[str, list] = {c: [] for c in PLAN_COLUMNS}
    for p_index, persona in enumerate(personas):
        for i_index, prompt in enumerate(prompts_):
            key = maker.key(maker.payload(persona, prompt))
            if shard is not None and shard_of(key, shard[1]) != shard[0]:
                continue
            rows["key"].append(key)
            rows["persona_set"].append(persona.set_name)
            rows["persona"].append(persona.stem)
            rows["item_id"].append(item_ids[i_index])
            rows["p_index"].append(p_index)
            rows["i_index"].append(i_index)
    n = len(rows["key"])
    rows["model"] = [maker.model.name] * n
    rows["dataset"] = [dataset] * n
    return pd.DataFrame(rows, columns=list(PLAN_COLUMNS))


def _token_parts(maker: RequestMaker, personas: Sequence[Persona], items: pd.DataFrame
                 ) -> tuple[np.ndarray, np.ndarray, float, str]:
    """Token counts of each persona statement and each prompt, the per-request overhead (chat
    template or API framing, and the joiner of a prepended persona) and the counting method."""
    from personalib.prompts import persona_statement
    from personalib.tokens import conversation_overhead, token_counter

    counter = token_counter(maker.model)
    overhead = conversation_overhead(maker.model, counter, maker.placement)
    joiner = 0.0 if maker.placement == "system" else counter.total(["\n\n"])
    statements = np.asarray(counter.count_many([persona_statement(p) for p in personas]), float)
    prompts = np.asarray(counter.count_many(items["prompt"].tolist()), float)
    return statements, prompts, overhead + joiner, counter.method


def _cost(maker: RequestMaker, n_requests: int, n_input: float, method: str) -> dict:
    from personalib.tokens import cost_usd

    n_output = float(n_requests * maker.decoding.max_new_tokens)
    return {"requests": n_requests, "input_tokens": round(n_input), "output_tokens": round(n_output),
            "usd": cost_usd(maker.model, n_input, n_output), "method": method}


def estimate_cost(maker: RequestMaker, personas: Sequence[Persona], items: pd.DataFrame, entries: pd.DataFrame) -> dict:
    """Input/output tokens and USD of sending `entries` once per distinct key (API models).

    Input tokens per request: persona statement + prompt + the conversation overhead, counted as
    in `personalib.tokens` (the model's tokenizer when local, tiktoken when cached, else 4
    characters per token); output tokens: the upper bound max_new_tokens. Prices: params `api`.
    """
    statements, prompts, per_request, method = _token_parts(maker, personas, items)
    sent = entries.drop_duplicates("key")
    n_input = float(statements[sent["p_index"].to_numpy(int)].sum() + prompts[sent["i_index"].to_numpy(int)].sum())
    return _cost(maker, len(sent), n_input + len(sent) * per_request, method)


def estimate_grid_cost(maker: RequestMaker, personas: Sequence[Persona], items: pd.DataFrame,
                       missing: np.ndarray) -> dict:
    """`estimate_cost` of sending every entry of a personas x items boolean matrix `missing`."""
    statements, prompts, per_request, method = _token_parts(maker, personas, items)
    n = int(missing.sum())
    n_input = float(statements @ missing.sum(axis=1) + prompts @ missing.sum(axis=0))
    return _cost(maker, n, n_input + n * per_request, method)
