"""Run planning: which requests a generation run sends (METHODS 1-3).

A run's plan is model x dataset x persona set x persona x item. Each planned entry gets its store
key (`personalib.store.request_key`) from the exact input the backend will see: for a local (hf)
model the conversation rendered once with the model's own tokenizer (METHODS 2: chat template
applied once, persona placement resolved once per model), for an API model the chat messages.
`--shard I/N` keeps the entries whose key falls in shard I (`personalib.store.shard_of`). What
is planned (models, datasets, persona sets, items) is `personalib.plan.Plan`; keys are made here
only when a run records what it sends, or when a sharded dry run needs them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from personalib import canonical
from personalib.backends.base import Decoding, Request
from personalib.params import ModelParams
from personalib.personas import Persona
from personalib.store import canonical_json, normalize_decoding, request_key, shard_of
from personalib.tasks.registry import load_items

__all__ = ["PLAN_COLUMNS", "RequestMaker", "load_items", "plan_entries"]

_CANONICAL = canonical.ENCODER  # the store key's canonical JSON encoder, built once

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
