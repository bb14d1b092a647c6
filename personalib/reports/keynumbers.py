"""Key numbers of a report: recorded by notebook cells, collected by the runner.

A research-question notebook calls `record(key, value)`, `record_table(name, df)` and
`headline(text)`. Each call displays one invisible output of the MIME type `MIME_TYPE`, so the
numbers travel inside the executed notebook itself (no side file, no environment variable, safe
when several reports run at once); `collect(nb)` reads them back and the runner writes them as
JSON/CSV next to the HTML report (METHODS 5-6 results, see docs/reports.md).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from personalib.errors import PersonalibError

MIME_TYPE = "application/vnd.personalib.record+json"
"""MIME type of the outputs that carry recorded values (renderers ignore it: nothing is shown)."""

HEADLINE_KEY = "headline"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_.\-]+")
KEY_SEPARATOR = "."

Scalar = int | float | str | bool | None


class RecordError(PersonalibError):
    """A notebook recorded a key number that cannot be written as JSON/CSV."""


@dataclass
class KeyNumbers:
    """What one executed notebook recorded: its headline, scalar values and tables."""

    headline: str | None = None
    values: dict[str, Scalar] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise RecordError(
            f"{what} name {name!r} is not allowed: use letters, digits, '_', '.', '-' "
            "(it becomes a JSON key and part of a CSV file name)"
        )
    return name


def key_name(*parts: object) -> str:
    """A valid record key built from `parts` (model, dataset, persona set, measure...) joined by
    `.`; safe and deterministic whatever the parts hold, since some are names users chose.

    Letters, digits, `_`, `.` and `-` are kept (`gpt-3.5`, `TruthfulQA` stay as they are); each
    run of other characters becomes `_` (`farm and care` -> `farm_and_care`, `random baseline`
    -> `random_baseline`); an empty part is `_`; a key that would not start with a letter or a
    digit gets a leading `k`.
    """
    if not parts:
        raise RecordError("key_name() needs at least one part")
    key = KEY_SEPARATOR.join(_NOT_IN_NAME.sub("_", str(p)) or "_" for p in parts)
    return key if _NAME.match(key) else "k" + key


def _scalar(key: str, value: Any) -> Scalar:
    """A JSON-safe scalar: numpy/pandas scalars unwrapped, NaN/inf/NA become None (JSON null)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, TypeError):
            pass
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value
    raise RecordError(
        f"record({key!r}, ...): value of type {type(value).__name__} is not a number, string, bool "
        "or None; record a table with record_table() for structured results"
    )


def _emit(payload: dict[str, Any]) -> None:
    from IPython import get_ipython
    from IPython.display import display

    if get_ipython() is None:  # plain Python: nothing collects outputs, so record nothing
        return
    display({MIME_TYPE: payload}, raw=True)


def record(key: str, value: Any) -> None:
    """Record one key number of the report (a scalar; NaN is written as null).

    Recording the same key again replaces the earlier value (last one wins).
    """
    _check_name(key, "key")
    clean = _scalar(key, value)
    _emit({"kind": "value", "key": key, "value": clean})


def headline(text: str) -> None:
    """Record the report's one-line headline, shown next to its link in index.html."""
    if not isinstance(text, str) or not text.strip():
        raise RecordError(f"headline must be a non-empty string, got {text!r}")
    line = " ".join(text.split())
    _emit({"kind": "value", "key": HEADLINE_KEY, "value": line})


def _table_payload(name: str, table: pd.DataFrame | pd.Series) -> dict[str, Any]:
    if isinstance(table, pd.Series):
        table = table.to_frame(name=table.name if table.name is not None else "value")
    if not isinstance(table, pd.DataFrame):
        raise RecordError(
            f"record_table({name!r}, ...): expected a pandas DataFrame or Series, "
            f"got {type(table).__name__}"
        )
    if not isinstance(table.index, pd.RangeIndex) or any(n is not None for n in table.index.names):
        table = table.reset_index()
    table = table.copy()
    table.columns = [" / ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in table.columns]
    if len(set(table.columns)) != len(table.columns):
        raise RecordError(f"record_table({name!r}, ...): column names repeat: {list(table.columns)}")
    split = json.loads(table.to_json(orient="split", index=False, date_format="iso"))
    return {"kind": "table", "key": name, "columns": split["columns"], "data": split["data"]}


def record_table(name: str, table: pd.DataFrame | pd.Series) -> None:
    """Record a table of the report (written as `<report>__<name>.csv`).

    A non-default index is kept as columns; NaN cells are written as empty (null).
    """
    _check_name(name, "table")
    _emit(_table_payload(name, table))


def collect(nb: Any) -> KeyNumbers:
    """Read back every value, table and headline a notebook recorded, in cell order."""
    found = KeyNumbers()
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            payload = (output.get("data") or {}).get(MIME_TYPE)
            if not payload:
                continue
            if isinstance(payload, str):  # some writers store JSON MIME data as text
                payload = json.loads(payload)
            key = payload["key"]
            if payload["kind"] == "table":
                found.tables[key] = pd.DataFrame(payload["data"], columns=payload["columns"])
            elif key == HEADLINE_KEY:
                found.headline = None if payload["value"] is None else str(payload["value"])
            else:
                found.values[key] = payload["value"]
    return found
