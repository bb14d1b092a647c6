"""The generation store: every generation once, keyed, in atomic Parquet parts.

Layout of a store folder:

    format.json                                          {"format": 2} (absent: format 1)
    parts/part-<time>-<host>-<pid>-<uuid>-h<hash>.parquet generations (docs/DESIGN.md "Store rows")
    plans/plan-<digest>.parquet                          what runs planned (key, model, persona set, ...)
    manifests/<run_id>.json                              one per run (see personalib.store.manifest)
    corrupt/                                             parts that failed a check, set aside
    outcomes/                                            scored outcomes per part (personalib.outcomes)

Format 2 (written by this version): every part's name carries the hash of its bytes and every
row its settings fingerprint (`settings`); parts carry Parquet page checksums. A format-1 store
(written before) stays readable (its rows' `settings` read as null); `python -m personalib
upgrade --store PATH` brings it to format 2 (personalib.store.upgrade).

Any number of workers may append at once: parts never collide, and an entry stored twice by two
racing workers is kept once on read (the earliest `created_at`) and counted as a duplicate.

An entry is a key (the request, `request_key`) with its labels (`ROW_IDENTITY`): the generation
engine sends a request once even when it is planned under two labels (the same prompt for two
identical items, or one persona in two persona sets) and stores one row per label, so that the
analysis table is complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from personalib.errors import StoreError
from personalib.store.keyindex import KeyIndex
from personalib.store.manifest import scrub
from personalib.store.parts import (
    CorruptPart,
    check_part,
    list_parts,
    part_hash,
    set_aside,
    stale_temp_files,
    verify_part,
    write_atomic,
    write_json_atomic,
    write_part,
)
from personalib.store.schema import PLAN_SCHEMA, ROW_SCHEMA, to_plan_table, to_row_table

__all__ = ["Store", "GENERATION_COLUMNS", "PROVENANCE_COLUMNS", "ROW_IDENTITY", "STORE_FORMAT", "dedup_first", "parquet_format"]

log = logging.getLogger("personalib.store")

STORE_FORMAT = 2
"""The store format this version writes (module docstring)."""


def parquet_format() -> ds.ParquetFileFormat:
    """Parquet reading with every data page's checksum verified (parts written with checksums)."""
    return ds.ParquetFileFormat(
        default_fragment_scan_options=ds.ParquetFragmentScanOptions(page_checksum_verification=True)
    )

# What one stored entry is: a request (key) for one labelled prompt. Reads keep one row per identity.
ROW_IDENTITY: tuple[str, ...] = ("key", "model", "persona_set", "persona", "dataset", "item_id")

GENERATION_COLUMNS: tuple[str, ...] = ("model", "persona_set", "persona", "dataset", "item_id", "text")
"""The columns every generations table has (docs/DESIGN.md "Generations table"), from the store or
the release importer: what scoring needs (`personalib.metrics.score`)."""
PROVENANCE_COLUMNS: tuple[str, ...] = ("finish_reason", "origin", "key")
"""What `Store.generations` adds to `GENERATION_COLUMNS`: how and under which key a text was made."""


def dedup_first(table: pa.Table) -> pa.Table:
    """One row per stored entry (`ROW_IDENTITY`): the earliest `created_at` (ties: first read).

    Two workers racing on the same request store it twice with the same identity; one is kept.
    Rows that share a key but label different items (the same request planned for two personas
    sets or two identical items) are distinct entries and are all kept.
    """
    if table.num_rows == 0 or pc.count_distinct(table.column("key")).as_py() == table.num_rows:
        return table
    if "created_at" in table.column_names:
        table = table.take(pc.sort_indices(table, sort_keys=[("created_at", "ascending")]))
    return _first_rows(table, [c for c in ROW_IDENTITY if c in table.column_names])


def _first_rows(table: pa.Table, columns: list[str]) -> pa.Table:
    """The first row of each distinct combination of `columns`, in table order."""
    numbered = table.append_column("__row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    first = numbered.select([*columns, "__row"]).group_by(columns, use_threads=False).aggregate([("__row", "min")])
    return table.take(pa.array(np.sort(first.column("__row_min").to_numpy())))


def _filter(
    models: Sequence[str] | None,
    datasets: Sequence[str] | None,
    persona_sets: Sequence[str] | None,
    keys: Sequence[str] | None = None,
) -> Any:
    expr = None
    for column, values in (("model", models), ("dataset", datasets), ("persona_set", persona_sets), ("key", keys)):
        if values is None:
            continue
        term = pc.field(column).isin(list(values))
        expr = term if expr is None else expr & term
    return expr


class Store:
    """A generation store folder (created on first write).

    `read_only=True` (for a store this process cannot write, e.g. `status` on a read-only mount)
    reports a corrupt part in `set_aside` with `moved_to` None and skips it, without moving it.

    `rows_per_part` bounds the size of each part: one `append` call is one atomic part unless it
    holds more rows than that (the default, 100,000, keeps any one released file of the study in
    one part; the generation engine sends chunks far smaller).
    """

    def __init__(self, path: str | Path, *, rows_per_part: int = 100_000, read_only: bool = False) -> None:
        if rows_per_part < 1:
            raise StoreError(f"rows_per_part must be >= 1, got {rows_per_part}")
        self.path = Path(path)
        self.rows_per_part = rows_per_part
        self.parts_dir = self.path / "parts"
        self.plans_dir = self.path / "plans"
        self.manifests_dir = self.path / "manifests"
        self.corrupt_dir = self.path / "corrupt"
        self.outcomes_dir = self.path / "outcomes"
        self.set_aside: list[CorruptPart] = []  # corrupt parts this object found and moved
        # read_only: a corrupt part is reported and skipped, never moved (the store cannot change)
        self.read_only = read_only
        self._left_in_place: set[Path] = set()
        self._verified: set[str] = set()  # part names whose content hash this object checked

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def exists(self) -> bool:
        """True when the folder holds parts, plans or manifests."""
        return any(d.is_dir() for d in (self.parts_dir, self.plans_dir, self.manifests_dir))

    @property
    def format_file(self) -> Path:
        return self.path / "format.json"

    def format(self) -> int:
        """The store's format: `format.json`'s, else 1 for a store written before format 2, else
        (a store not written yet) the format this version writes."""
        try:
            return int(json.loads(self.format_file.read_text(encoding="utf-8"))["format"])
        except FileNotFoundError:
            return 1 if self.exists() else STORE_FORMAT
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{self.format_file} is unreadable ({exc}); it should hold "
                             f'{{"format": {STORE_FORMAT}}}') from exc

    def _mark_format(self) -> None:
        """A new store records that it is written in the current format (before its first part)."""
        if not self.exists() and not self.format_file.exists():
            write_json_atomic(json.dumps({"format": STORE_FORMAT}) + "\n", self.format_file)

    # -- writing ---------------------------------------------------------------------------
    def append(self, rows: Any) -> list[Path]:
        """Store rows as atomic parts of at most `rows_per_part` rows each; returns their paths.

        Rows follow docs/DESIGN.md "Store rows" (`created_at` defaults to now). Nothing is
        deduplicated here: callers skip stored keys first; racing duplicates are dropped on read.
        """
        table = to_row_table(rows)
        self._mark_format()
        written = []
        for start in range(0, table.num_rows, self.rows_per_part):
            written.append(write_part(table.slice(start, self.rows_per_part), self.parts_dir))
        return written

    def write_plan(self, rows: Any) -> str:
        """Record planned requests (PLAN_SCHEMA); returns the plan's digest (same plan, same file)."""
        table = to_plan_table(rows)
        self._mark_format()
        keys = sorted(table.column("key").to_pylist())
        digest = hashlib.sha256("\n".join(keys).encode("ascii")).hexdigest()
        target = self.plans_dir / f"plan-{digest[:32]}.parquet"
        if table.num_rows and not target.exists():
            write_atomic(table, target)
        return digest[:32]

    def read_plan(self, digest: str) -> pa.Table:
        """The plan `write_plan` returned `digest` for, in its written order."""
        path = self.plans_dir / f"plan-{digest}.parquet"
        try:
            return pq.read_table(path, schema=PLAN_SCHEMA, page_checksum_verification=True)
        except (FileNotFoundError, pa.ArrowException, OSError) as exc:
            raise StoreError(f"the run's plan {path} cannot be read ({exc}); rerun the command to plan again") from exc

    def write_manifest(self, manifest: dict[str, Any]) -> Path:
        """Write (or update) `manifests/<run_id>.json` atomically; secrets are scrubbed first."""
        run_id = manifest.get("run_id")
        if not run_id or "/" in str(run_id) or str(run_id).startswith("."):
            raise StoreError(f"a manifest needs a plain `run_id` (no '/'), got {run_id!r}")
        text = json.dumps(scrub(manifest), indent=2, sort_keys=True, default=str)
        return write_json_atomic(text + "\n", self.manifests_dir / f"{run_id}.json")

    def clean_temp(self, older_than_s: float = 86_400.0) -> list[Path]:
        """Delete temp files left by crashed writers older than `older_than_s`; returns them."""
        removed = []
        for directory in (self.parts_dir, self.plans_dir, self.manifests_dir):
            for path in stale_temp_files(directory, older_than_s):
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    # -- reading ---------------------------------------------------------------------------
    def parts(self, *, verify: bool = False) -> list[Path]:
        """Readable parts; a part failing the footer/schema check (and with `verify`, its content
        hash: `verify_part`) is reported and set aside."""
        good = []
        for path in list_parts(self.parts_dir):
            if path in self._left_in_place:
                continue
            reason = check_part(path, ROW_SCHEMA)
            if reason is None and verify:
                reason = self._verify(path)
            if reason is None:
                if path.exists():
                    good.append(path)
            else:
                self.put_aside(path, reason)
        return good

    def _verify(self, path: Path) -> str | None:
        if path.name in self._verified:
            return None
        reason = verify_part(path)
        if reason is None:
            self._verified.add(path.name)
        return reason

    def verify(self) -> list[CorruptPart]:
        """Check every part's content hash (and footer); set aside and return the bad ones.
        Parts written before format 2 have no hash to check (`unverifiable`)."""
        before = len(self.set_aside)
        self.parts(verify=True)
        return self.set_aside[before:]

    def unverifiable(self) -> list[Path]:
        """Parts without a content hash in their name (written before store format 2)."""
        return [p for p in list_parts(self.parts_dir) if part_hash(p) is None]

    def put_aside(self, path: Path, reason: str) -> None:
        """Move a corrupt part to `corrupt/`, or with `read_only` skip it where it is."""
        if self.read_only:
            log.warning("corrupt store part %s: %s; left in place (read-only store) and skipped", path, reason)
            self._left_in_place.add(path)
            self.set_aside.append(CorruptPart(name=path.name, reason=reason, moved_to=None))
        else:
            self.set_aside.append(set_aside(path, self.corrupt_dir, reason))

    def _plan_files(self) -> list[Path]:
        return [p for p in list_parts(self.plans_dir, "plan-*.parquet") if _ok(p, PLAN_SCHEMA)]

    def _scan(
        self, files: Callable[[], list[Path]], schema: pa.Schema, columns: Sequence[str] | None, expr: Any
    ) -> pa.Table:
        for _attempt in range(3):
            paths = files()
            if not paths:
                return schema.empty_table().select(list(columns) if columns else schema.names)
            try:
                dataset = ds.dataset([str(p) for p in paths], schema=schema, format=parquet_format())
                return dataset.to_table(columns=list(columns) if columns else None, filter=expr)
            except FileNotFoundError:
                continue  # another reader set a part aside meanwhile: list again
            except (pa.ArrowException, OSError):
                self._find_unreadable(paths, schema)
        raise StoreError(f"could not read the store at {self.path}: parts keep changing or failing; try again")

    def _find_unreadable(self, paths: Iterable[Path], schema: pa.Schema) -> None:
        for path in paths:
            try:
                pq.read_table(path, schema=schema, page_checksum_verification=True)
            except FileNotFoundError:
                continue
            except (pa.ArrowException, OSError) as exc:
                self.put_aside(path, f"unreadable data ({exc})")

    def read(
        self,
        columns: Sequence[str] | None = None,
        *,
        models: Sequence[str] | None = None,
        datasets: Sequence[str] | None = None,
        persona_sets: Sequence[str] | None = None,
        keys: Sequence[str] | None = None,
        dedup: bool = True,
    ) -> pa.Table:
        """Stored rows, optionally filtered by model/dataset/persona set/key.

        With `dedup` (the default) one row per entry (`ROW_IDENTITY`), the earliest stored;
        without it every row, racing duplicates included (for counting them).
        """
        expr = _filter(models, datasets, persona_sets, keys)
        # texts are read back only from parts whose content hash was checked (format 2)
        parts = (lambda: self.parts(verify=True)) if columns is None or "text" in columns else self.parts
        if not dedup:
            return self._scan(parts, ROW_SCHEMA, columns, expr)
        wanted = list(columns) if columns else list(ROW_SCHEMA.names)
        scan = wanted + [c for c in (*ROW_IDENTITY, "created_at") if c not in wanted]
        return dedup_first(self._scan(parts, ROW_SCHEMA, scan, expr)).select(wanted)

    def read_raw(self, columns: Sequence[str] | None = None, **filters: Sequence[str] | None) -> pa.Table:
        """Every stored row, duplicates included: `read(columns, dedup=False, **filters)`."""
        return self.read(columns, dedup=False, **filters)

    def stored_keys(self, model: str | None = None, dataset: str | None = None) -> set[str]:
        """The set of stored keys (optionally of one model and/or dataset)."""
        return set(self._keys(model, dataset).to_pylist())

    def key_index(self, model: str | None = None, dataset: str | None = None) -> KeyIndex:
        """Stored keys as a compact `KeyIndex` (use this for full-size stores)."""
        return KeyIndex(self._keys(model, dataset))

    def _keys(self, model: str | None, dataset: str | None) -> pa.ChunkedArray:
        table = self.read_raw(
            ["key"], models=[model] if model else None, datasets=[dataset] if dataset else None
        )
        return table.column("key")

    def generations(
        self,
        *,
        models: Sequence[str] | None = None,
        datasets: Sequence[str] | None = None,
        persona_sets: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The analysis long table (docs/DESIGN.md "Generations table") with its provenance columns,
        one row per stored entry."""
        table = self.read([*GENERATION_COLUMNS, *PROVENANCE_COLUMNS], models=models, datasets=datasets, persona_sets=persona_sets)
        return table.to_pandas()

    def planned(self) -> pa.Table:
        """Every entry any run planned (union of the plans, one row per identity)."""
        table = self._scan(self._plan_files, PLAN_SCHEMA, None, None)
        return _first_rows(table, list(ROW_IDENTITY)) if table.num_rows else table

    def manifests(self) -> list[dict[str, Any]]:
        """Every run manifest, oldest first (an unreadable one is logged and skipped)."""
        out = []
        if not self.manifests_dir.is_dir():
            return out
        for path in sorted(self.manifests_dir.glob("*.json")):
            try:
                out.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, RecursionError) as exc:
                log.warning("manifest %s is unreadable (%s); skipped", path, exc)
        return sorted(out, key=lambda m: (str(m.get("started_at", "")), str(m.get("run_id", ""))))


def _ok(path: Path, schema: pa.Schema) -> bool:
    reason = check_part(path, schema)
    if reason is not None:
        log.warning("store file %s is unreadable (%s); ignored", path, reason)
    return reason is None
