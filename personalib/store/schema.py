"""The store's row schema (docs/DESIGN.md "Store rows") and conversion of rows to Arrow."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from personalib.errors import StoreError

__all__ = [
    "ROW_SCHEMA", "PLAN_SCHEMA", "REQUIRED", "ORIGINS", "ADDED_IN_FORMAT_2", "RELEASED_SETTINGS",
    "to_row_table", "to_plan_table", "schema_problem",
]  # fmt: skip

ROW_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("model", pa.string()),
        ("model_id", pa.string()),
        ("revision", pa.string()),
        ("persona_set", pa.string()),
        ("persona", pa.string()),
        ("dataset", pa.string()),
        ("item_id", pa.string()),
        ("text", pa.string()),
        ("finish_reason", pa.string()),
        ("n_input_tokens", pa.int64()),
        ("n_output_tokens", pa.int64()),
        ("system_fingerprint", pa.string()),
        ("run_id", pa.string()),
        ("origin", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("settings", pa.string()),
    ]
)

# Columns that parts written before store format 2 lack (read back as null; `upgrade` fills them).
ADDED_IN_FORMAT_2: tuple[str, ...] = ("settings",)
RELEASED_SETTINGS = "released"
"""The settings fingerprint of every generation imported from the original study's release."""

# Columns a row must have a non-null value for; the others may be null (and may be left out).
REQUIRED: tuple[str, ...] = ("key", "model", "persona_set", "persona", "dataset", "item_id", "text", "run_id", "origin")
ORIGINS: frozenset[str] = frozenset({"generated", "imported"})

# What a run planned (written before it sends anything, read by `status` for "missing").
PLAN_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("model", pa.string()),
        ("persona_set", pa.string()),
        ("persona", pa.string()),
        ("dataset", pa.string()),
        ("item_id", pa.string()),
    ]
)


def _frame(rows: Any) -> pd.DataFrame:
    if isinstance(rows, pa.Table):
        return rows.to_pandas()
    if isinstance(rows, pd.DataFrame):
        return rows
    if isinstance(rows, Iterable):
        return pd.DataFrame([dict(r) if isinstance(r, Mapping) else _not_a_row(r) for r in rows])
    raise StoreError(f"rows must be a DataFrame, an Arrow table or an iterable of dicts, got {type(rows).__name__}")


def _not_a_row(value: Any) -> dict:
    raise StoreError(f"a store row must be a dict of column -> value, got {type(value).__name__}: {value!r:.80}")


def _conform(frame: pd.DataFrame, schema: pa.Schema, required: tuple[str, ...], what: str) -> pa.Table:
    unknown = [c for c in frame.columns if c not in schema.names]
    if unknown:
        raise StoreError(f"{what}: unknown column(s) {unknown}; allowed: {schema.names}")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise StoreError(f"{what}: missing required column(s) {missing}")
    for column in required:
        if frame[column].isna().any():
            first = int(frame[column].isna().to_numpy().argmax())
            raise StoreError(f"{what}: column {column!r} is empty in row {first}")
    arrays = []
    for field in schema:
        if field.name in frame.columns:
            values = frame[field.name]
            if pa.types.is_string(field.type):
                values = values.astype(object).where(values.notna(), None)
            try:
                arrays.append(pa.array(values, type=field.type, from_pandas=True))
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
                raise StoreError(f"{what}: column {field.name!r} cannot be stored as {field.type}: {exc}") from exc
        else:
            arrays.append(pa.nulls(len(frame), type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def to_row_table(rows: Any, *, now: datetime | None = None) -> pa.Table:
    """Rows (DataFrame, Arrow table or dicts) -> an Arrow table in ROW_SCHEMA.

    Missing optional columns become null; a missing `created_at` becomes `now` (UTC). Unknown
    columns, empty required values and an `origin` other than generated/imported are errors.
    An Arrow table already in ROW_SCHEMA is checked and kept as it is (the fast path of bulk
    imports).
    """
    if isinstance(rows, pa.Table) and rows.schema.equals(ROW_SCHEMA):
        for column in (*REQUIRED, "created_at"):
            if rows.column(column).null_count:
                raise StoreError(f"store rows: column {column!r} has {rows.column(column).null_count} empty value(s)")
        bad = set(pc.unique(rows.column("origin")).to_pylist()) - ORIGINS
        if bad:
            raise StoreError(f"store rows: origin must be one of {sorted(ORIGINS)}, got {sorted(bad)}")
        return rows
    frame = _frame(rows)
    if "created_at" not in frame.columns or frame["created_at"].isna().any():
        stamp = pd.Timestamp(now or datetime.now(timezone.utc))
        if "created_at" in frame.columns:
            stamps = pd.to_datetime(frame["created_at"], utc=True).astype("datetime64[us, UTC]")
            frame = frame.assign(created_at=stamps.fillna(stamp))
        else:
            frame = frame.assign(created_at=stamp)
    table = _conform(frame, ROW_SCHEMA, REQUIRED, "store rows")
    bad = set(table.column("origin").to_pylist()) - ORIGINS
    if bad:
        raise StoreError(f"store rows: origin must be one of {sorted(ORIGINS)}, got {sorted(bad)}")
    return table


def to_plan_table(rows: Any) -> pa.Table:
    """Planned requests (key, model, persona_set, persona, dataset, item_id) -> Arrow PLAN_SCHEMA."""
    return _conform(_frame(rows), PLAN_SCHEMA, tuple(PLAN_SCHEMA.names), "plan rows")


def schema_problem(schema: pa.Schema, expected: pa.Schema = ROW_SCHEMA) -> str | None:
    """Why a part's schema cannot be read as `expected` (missing column, other type), or None.

    The columns added in store format 2 may be missing (a part written before it)."""
    for field in expected:
        index = schema.get_field_index(field.name)
        if index < 0 and field.name in ADDED_IN_FORMAT_2:
            continue
        if index < 0:
            return f"column {field.name!r} is missing"
        if not schema.field(index).type.equals(field.type):
            return f"column {field.name!r} has type {schema.field(index).type}, expected {field.type}"
    return None
