"""Canonical JSON: one text per value, the input of every content hash the package takes.

Sorted keys, no whitespace, raw Unicode (`ensure_ascii=False`) and no NaN or infinity. Store keys
and settings fingerprints (`personalib.store.keys`) hash this text, so it must never change: a
change would make every stored generation look new.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["ENCODER", "canonical_json"]

_OPTIONS: dict[str, Any] = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False, "allow_nan": False}

ENCODER = json.JSONEncoder(**_OPTIONS)
"""The canonical encoder, built once (`json.dumps` with options builds one per call); for hot loops."""


def canonical_json(obj: Any, *, default: Callable[[Any], Any] | None = None) -> str:
    """`obj` as canonical JSON (module doc). `default` turns values JSON has no type for (paths,
    dates) into ones it has; without it they raise TypeError, as do NaN and infinity."""
    if default is None:
        return ENCODER.encode(obj)
    return json.JSONEncoder(**_OPTIONS, default=default).encode(obj)
