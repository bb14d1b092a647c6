"""Crash-safe Parquet generation store with run manifests (docs/DESIGN.md "Store").

`request_key` names a request; `Store` appends rows as atomic parts, reads them back deduplicated,
records what each run planned and its manifest; `summarize` is what `personalib status` prints.
"""

from personalib.store.keyindex import KeyIndex
from personalib.store.keys import (
    canonical_json,
    normalize_decoding,
    parse_shard,
    request_key,
    settings_fingerprint,
    shard_of,
)
from personalib.store.manifest import environment, new_run_id, scrub, utc_now
from personalib.store.parts import CorruptPart
from personalib.store.schema import PLAN_SCHEMA, RELEASED_SETTINGS, ROW_SCHEMA
from personalib.store.store import GENERATION_COLUMNS, ROW_IDENTITY, Store, dedup_first
from personalib.store.summary import corrupt_notices, summarize

__all__ = [
    "GENERATION_COLUMNS",
    "PLAN_SCHEMA",
    "ROW_IDENTITY",
    "RELEASED_SETTINGS",
    "ROW_SCHEMA",
    "CorruptPart",
    "KeyIndex",
    "Store",
    "canonical_json",
    "corrupt_notices",
    "dedup_first",
    "environment",
    "new_run_id",
    "normalize_decoding",
    "parse_shard",
    "request_key",
    "scrub",
    "settings_fingerprint",
    "shard_of",
    "summarize",
    "utc_now",
]
