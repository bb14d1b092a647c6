"""Store keys: what determines a generation, hashed (METHODS 2 decoding).

A generation is determined by the backend model id and revision, the exact input (the prompt
rendered once through the chat template, or the chat messages sent to an API) and the decoding
parameters. Its store key is the sha256 of the canonical JSON of those four, so that the same
request is stored once however often, wherever and by whichever worker it is run.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any

from personalib.canonical import canonical_json
from personalib.errors import PersonalibError

__all__ = ["canonical_json", "normalize_decoding", "request_key", "settings_fingerprint", "shard_of", "parse_shard"]

_DECODING_TYPES: dict[str, type] = {
    "max_new_tokens": int,
    "temperature": float,
    "top_p": float,
    "seed": int,
}


def normalize_decoding(decoding: Any) -> dict[str, Any]:
    """Decoding parameters as a plain dict with fixed types (`temperature` 0 and 0.0 hash alike).

    Accepts `personalib.backends.base.Decoding`, any dataclass, a pydantic model or a mapping.
    """
    if dataclasses.is_dataclass(decoding) and not isinstance(decoding, type):
        raw = dataclasses.asdict(decoding)
    elif hasattr(decoding, "model_dump"):
        raw = decoding.model_dump()
    elif isinstance(decoding, Mapping):
        raw = dict(decoding)
    else:
        raise PersonalibError(f"decoding parameters must be a mapping or dataclass, got {decoding!r}")
    out: dict[str, Any] = {}
    for name, value in raw.items():
        cast = _DECODING_TYPES.get(name)
        if value is None or cast is None or isinstance(value, bool):
            out[name] = value
            continue
        try:
            out[name] = cast(value)
        except (TypeError, ValueError) as exc:
            raise PersonalibError(f"decoding parameter {name}={value!r} is not a {cast.__name__}") from exc
    return out


def request_key(model_id: str, revision: str | None, payload: Any, decoding: Any) -> str:
    """sha256 (hex) of the canonical JSON of (model id, revision, payload, decoding).

    `payload` is the rendered prompt (`{"prompt": text}`) or the messages (`{"messages": [...]}`)
    exactly as sent. Rule: docs/DESIGN.md "Store".
    """
    if not model_id:
        raise PersonalibError("request_key needs a model id (params field `model_id`)")
    doc = {
        "model_id": model_id,
        "revision": revision,
        "payload": payload,
        "decoding": normalize_decoding(decoding),
    }
    return hashlib.sha256(canonical_json(doc).encode("utf-8")).hexdigest()


def settings_fingerprint(
    model_id: str, revision: str | None, decoding: Any, *, placement: str, prompt_format: str, interface: str
) -> str:
    """The settings a generation was made with, as a short fingerprint stored with every row.

    Settings are what, besides the persona and the item, decides an answer: the model id and
    revision, the decoding parameters, the persona placement and prompt format as configured
    (METHODS 2), and the interface (`local`: the hf backend renders the chat template itself;
    `api`: an OpenAI-protocol server such as vLLM applies its own). The analysis takes, per persona
    and item, only answers whose fingerprint is that of the profile's current settings, so a rerun
    with other settings never mixes two answer sets. Imported release rows carry `released`.
    """
    doc = {
        "model_id": model_id,
        "revision": revision,
        "decoding": normalize_decoding(decoding),
        "placement": placement,
        "prompt_format": prompt_format,
        "interface": interface,
    }
    return "s" + hashlib.sha256(canonical_json(doc).encode("utf-8")).hexdigest()[:16]


def parse_shard(text: str) -> tuple[int, int]:
    """`"I/N"` (0 <= I < N, as SLURM_ARRAY_TASK_ID with `--array=0-(N-1)`) -> (I, N)."""
    try:
        index_text, count_text = text.split("/")
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise PersonalibError(f"--shard {text!r}: expected I/N with integers, e.g. 0/4") from None
    if count < 1 or not 0 <= index < count:
        raise PersonalibError(f"--shard {text!r}: need N >= 1 and 0 <= I < N (shards are numbered from 0)")
    return index, count


def shard_of(key: str, n_shards: int) -> int:
    """The shard (0..n_shards-1) a key belongs to: its first 60 bits modulo N.

    Keys are sha256 digests, so this partition is uniform, deterministic and the same on every
    machine (`--shard I/N`, SLURM array jobs).
    """
    return int(key[:15], 16) % n_shards
