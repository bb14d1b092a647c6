"""Sending planned requests: skip what is stored, reuse, send in chunks, store each chunk.

Used by `personalib.generate` (issue 4 items 1 and 4). An entry is stored under its own label
(`personalib.store.ROW_IDENTITY`); a request stored under another label is copied, not sent; each
distinct request is sent once per chunk and its result stored for every label that planned it.
A chunk's results are appended as soon as the backend finishes the chunk, and also when it stops
part way (bounded failure, Ctrl-C), so a crash loses at most one chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
from tqdm import tqdm

from personalib.backends.base import Backend, Result
from personalib.errors import PersonalibError
from personalib.params import ModelParams
from personalib.personas import Persona
from personalib.runplan import RequestMaker
from personalib.store import ROW_IDENTITY, Store

__all__ = ["Counts", "pending", "reuse", "send"]


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
    """Send each distinct request once, chunk by chunk; store every label's row per finished chunk
    (then call `on_stored`, e.g. to renew the run's heartbeat)."""
    shared = todo[todo.duplicated("key", keep=False)]  # requests planned under several labels (rare)
    labels = {key: list(group.itertuples(index=False)) for key, group in shared.groupby("key", sort=False)}
    unique = todo.drop_duplicates("key")
    prompt_texts = items["prompt"].tolist()
    for start in range(0, len(unique), chunk_size):
        chunk = {entry.key: entry for entry in unique.iloc[start : start + chunk_size].itertuples(index=False)}
        requests = []
        for entry in chunk.values():
            request = maker.request(personas[entry.p_index], prompt_texts[entry.i_index], {"item_id": entry.item_id})
            if request.key != entry.key:
                raise PersonalibError(
                    f"rendering the prompt for {entry.persona}/{entry.dataset}/{entry.item_id} twice gave two "
                    "different inputs; the chat template or tokenizer is not deterministic"
                )
            requests.append(request)
        results: list[Result] = []
        interrupted = False
        try:
            for result in backend.generate(requests, maker.decoding):
                results.append(result)
                bar.update(len(labels.get(result.key, (None,))))
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: stopped, not failed
            interrupted = True
            raise
        finally:  # what finished is stored even when the backend stops (bounded failure, Ctrl-C)
            rows = [
                _result_row(entry, maker.model, result, run_id, "generated", maker.settings)
                for result in results
                for entry in labels.get(result.key, [chunk[result.key]])
            ]
            if rows:
                store.append(rows)
            counts.generated += len(rows)
            if rows and on_stored is not None:
                on_stored()
            if not interrupted:
                done = {r.key for r in results}
                counts.failed += sum(len(labels.get(key, (None,))) for key in chunk if key not in done)
