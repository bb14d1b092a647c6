"""Sending planned requests: skip what is stored, reuse, send, store the answers part by part.

Used by `personalib.generate` (stored keys skipped, shards). An entry is stored under its own label
(`personalib.store.ROW_IDENTITY`); a request stored under another label is copied, not sent; each
distinct request is sent once and its result stored for every label that planned it. Answers are
appended as a part each chunk (or `PART_EVERY_S` seconds) and when the backend stops part way
(bounded failure, Ctrl-C), on a background thread (`personalib.writer`), so a crash loses at most
a chunk, the part being written and the requests in flight.
"""

from __future__ import annotations

import time
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from itertools import islice
from typing import Any

import pandas as pd
import pyarrow as pa
from tqdm import tqdm

from personalib.backends.base import Backend, Request, Result
from personalib.errors import PersonalibError
from personalib.params import ModelParams
from personalib.personas import Persona
from personalib.runplan import RequestMaker
from personalib.store import ROW_IDENTITY, Store
from personalib.writer import PartWriter

__all__ = ["PART_EVERY_S", "STREAMING_PART_ROWS", "Counts", "pending", "reuse", "send"]


PART_EVERY_S = 10.0
"""Results are stored at least this often (seconds) while they arrive, however large the chunk."""

STREAMING_PART_ROWS = 4096
"""Default rows per part for a backend that takes a dataset at once (`openai`): larger parts cost
less per row to write, and one is written at least every `PART_EVERY_S` however slow the server."""

_Entry = namedtuple("_Entry", ["key", "persona_set", "persona", "dataset", "item_id", "p_index", "i_index"])
"""A planned entry on its way to the backend (the columns of `personalib.runplan.PLAN_COLUMNS` it needs)."""


@dataclass
class Counts:
    """Entries of a run: planned = skipped (already stored) + reused + generated + failed + not sent.

    `failed`: sent, but the backend gave no answer (it stopped at its failure bound); entries of a
    chunk cut short by Ctrl-C/SIGTERM, and of datasets a stopped run never reached, are "not sent".
    """

    planned: int = 0
    skipped: int = 0
    reused: int = 0
    generated: int = 0
    failed: int = 0

    def add(self, other: Counts) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    @property
    def to_send(self) -> int:
        """Entries that need a generation (planned, neither stored nor reusable)."""
        return self.planned - self.skipped - self.reused


def pending(store: Store, entries: pd.DataFrame, model: str, dataset: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(entries not stored under their own label, stored rows of those whose request is stored elsewhere)."""
    table = pa.table(
        {c: pa.array(entries[c].tolist(), type=pa.string()) for c in ROW_IDENTITY}
        | {c: pa.array(entries[c].to_numpy(), type=pa.int64()) for c in ("p_index", "i_index")}
    )
    stored = store.read_raw(list(ROW_IDENTITY), models=[model], datasets=[dataset])
    if stored.num_rows:
        distinct = stored.group_by(list(ROW_IDENTITY), use_threads=False).aggregate([])
        table = table.join(distinct, keys=list(ROW_IDENTITY), join_type="left anti")
    todo = table.to_pandas().sort_values(["p_index", "i_index"], kind="stable").reset_index(drop=True)
    if todo.empty:
        return todo, pd.DataFrame()
    hit = store.key_index(model=model).contains(todo["key"].tolist())
    if not hit.any():
        return todo, pd.DataFrame()
    reusable = store.read(models=[model], keys=sorted(set(todo.loc[hit, "key"]))).to_pandas()
    return todo, reusable.drop_duplicates("key")


def _result_row(entry: Any, model: ModelParams, result: Result | dict, run_id: str, origin: str,
                settings: str) -> dict:
    get = result.get if isinstance(result, dict) else lambda name: getattr(result, name)
    return {
        "settings": settings,
        "key": entry.key, "model": model.name, "model_id": model.model_id, "revision": model.revision,
        "persona_set": entry.persona_set, "persona": entry.persona, "dataset": entry.dataset,
        "item_id": entry.item_id, "text": get("text"), "finish_reason": get("finish_reason"),
        "n_input_tokens": get("n_input_tokens"), "n_output_tokens": get("n_output_tokens"),
        "system_fingerprint": get("system_fingerprint"), "run_id": run_id, "origin": origin,
    }  # fmt: skip


def reuse(store: Store, todo: pd.DataFrame, reusable: pd.DataFrame, maker: RequestMaker, run_id: str) -> pd.DataFrame:
    """Store rows for entries whose request is already stored under another label; return the rest."""
    if reusable.empty:
        return todo
    source = {row["key"]: row for row in reusable.to_dict("records")}
    mask = todo["key"].isin(source.keys())
    rows = [
        _result_row(entry, maker.model, source[entry.key], run_id, str(source[entry.key]["origin"]), maker.settings)
        for entry in todo[mask].itertuples(index=False)
    ]
    store.append(rows)
    return todo[~mask].reset_index(drop=True)


def send(
    store: Store,
    backend: Backend,
    maker: RequestMaker,
    todo: pd.DataFrame,
    personas: Sequence[Persona],
    items: pd.DataFrame,
    chunk_size: int,
    run_id: str,
    bar: tqdm,
    counts: Counts,
    on_stored: Callable[[], None] | None = None,
) -> None:
    """Send each distinct request once; store every label's row each `chunk_size` results.

    A backend that `streams` (pulls requests lazily with a bounded number in flight, e.g. `openai`)
    gets every request in one call, so it never runs dry at a chunk's end; any other backend gets
    one call per chunk of `chunk_size` requests. Either way the results are stored as one part
    each `chunk_size` results or `PART_EVERY_S` seconds, whichever comes first, and when the
    backend stops (bounded failure, Ctrl-C); parts are written on a background thread
    (`personalib.writer`), so a crash loses at most a chunk, the part being written and the
    requests in flight. Requests are built lazily: only the ones handed to the backend and not
    answered yet are held (`sent`). `on_stored` is called as parts are stored (e.g. to renew the
    run's heartbeat).
    """
    shared = todo[todo.duplicated("key", keep=False)]  # requests planned under several labels (rare)
    labels = {key: list(group.itertuples(index=False)) for key, group in shared.groupby("key", sort=False)}
    sent: dict[str, Any] = {}  # key -> entry: handed to the backend, not answered yet
    requests = _requests(todo, maker, personas, items["prompt"].tolist(), sent)
    calls = [requests] if getattr(backend, "streams", False) else iter(lambda: list(islice(requests, chunk_size)), [])
    answered: list[tuple[Any, Result]] = []
    writer = PartWriter(store)
    interrupted = False
    due = time.monotonic() + PART_EVERY_S
    try:
        for call in calls:
            stream = backend.generate(call, maker.decoding)
            try:
                for result in stream:
                    entry = sent.pop(result.key)
                    answered.append((entry, result))
                    bar.update(len(labels.get(result.key, (None,))))
                    if len(answered) >= chunk_size or time.monotonic() >= due:
                        _hand_over(writer, maker, answered, labels, run_id, on_stored)
                        due = time.monotonic() + PART_EVERY_S
            finally:  # a stopping run (Ctrl-C, a failed store write) stops the backend now: nothing new is sent
                getattr(stream, "close", lambda: None)()
            _hand_over(writer, maker, answered, labels, run_id, on_stored)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: stopped, not failed
        interrupted = True
        raise
    finally:  # what finished is stored even when the backend stops (bounded failure, Ctrl-C)
        try:
            _hand_over(writer, maker, answered, labels, run_id, on_stored)
        finally:  # the writer stops in any case (after storing what it was handed)
            try:
                writer.close()
            finally:
                counts.generated += writer.rows_written
        if not interrupted:
            counts.failed += sum(len(labels.get(key, (None,))) for key in sent)


def _requests(
    todo: pd.DataFrame, maker: RequestMaker, personas: Sequence[Persona], prompts: list[str], sent: dict[str, Any]
) -> Iterator[Request]:
    """The backend request of each distinct key of `todo` (its first entry), built as the backend
    pulls them and recorded in `sent`; rows are read `_BLOCK` at a time (iterating pandas rows one
    by one is slow, turning whole columns into Python lists takes memory)."""
    first = ~todo["key"].duplicated().to_numpy()
    for start in range(0, len(todo), _BLOCK):
        block = todo.iloc[start : start + _BLOCK][first[start : start + _BLOCK]]
        yield from _block_requests(block, maker, personas, prompts, sent)


_BLOCK = 8192


def _block_requests(
    block: pd.DataFrame, maker: RequestMaker, personas: Sequence[Persona], prompts: list[str], sent: dict[str, Any]
) -> Iterator[Request]:
    for entry in map(_Entry._make, zip(*(block[c].tolist() for c in _Entry._fields))):
        request = maker.request(personas[entry.p_index], prompts[entry.i_index], {"item_id": entry.item_id})
        if request.key != entry.key:
            raise PersonalibError(
                f"rendering the prompt for {entry.persona}/{entry.dataset}/{entry.item_id} twice gave two "
                "different inputs; the chat template or tokenizer is not deterministic"
            )
        sent[entry.key] = entry
        yield request


def _hand_over(
    writer: PartWriter, maker: RequestMaker, answered: list[tuple[Any, Result]], labels: dict, run_id: str,
    on_stored: Callable[[], None] | None,
) -> None:
    """Submit `answered` as one part and empty it (kept when a Ctrl-C lands before the writer took
    it); then `on_stored` (by then the part before it is stored)."""
    if answered:
        writer.submit(_rows(maker, answered, labels, run_id))
        answered.clear()
        if on_stored is not None:
            on_stored()


def _rows(maker: RequestMaker, answered: list[tuple[Any, Result]], labels: dict, run_id: str) -> pd.DataFrame:
    """One part: a store row per label of each answered request (docs/DESIGN.md "Store rows").
    Built column by column (object columns convert to Arrow fastest)."""
    pairs = [(label, result) for entry, result in answered for label in labels.get(result.key, (entry,))]
    n, model = len(pairs), maker.model
    columns: dict[str, list] = {
        "settings": [maker.settings] * n, "key": [r.key for _, r in pairs], "model": [model.name] * n,
        "model_id": [model.model_id] * n, "revision": [model.revision] * n,
        "persona_set": [e.persona_set for e, _ in pairs], "persona": [e.persona for e, _ in pairs],
        "dataset": [e.dataset for e, _ in pairs], "item_id": [e.item_id for e, _ in pairs],
        "text": [r.text for _, r in pairs], "finish_reason": [r.finish_reason for _, r in pairs],
        "n_input_tokens": [r.n_input_tokens for _, r in pairs],
        "n_output_tokens": [r.n_output_tokens for _, r in pairs],
        "system_fingerprint": [r.system_fingerprint for _, r in pairs], "run_id": [run_id] * n,
        "origin": ["generated"] * n,
    }  # fmt: skip
    return pd.DataFrame(columns, dtype=object)
