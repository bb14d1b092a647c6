"""`PartWriter`: parts written in order on a background thread; a failed write surfaces and stops it."""

from __future__ import annotations

from pathlib import Path

import pytest

from personalib.errors import StoreError
from personalib.store import Store
from personalib.writer import PartWriter


def _rows(start: int, n: int) -> list[dict]:
    return [{"key": f"k{i}", "model": "m", "persona_set": "s", "persona": "p", "dataset": "mmlu", "item_id": str(i),
             "text": f"t{i}", "run_id": "r", "origin": "generated"} for i in range(start, start + n)]  # fmt: skip


def test_every_submitted_part_is_stored_once_by_close(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    writer = PartWriter(store)
    for start in range(0, 50, 10):
        writer.submit(_rows(start, 10))
    assert writer.close() == 50
    assert len(store.parts()) == 5
    assert sorted(store.read(["item_id"]).column("item_id").to_pylist(), key=int) == [str(i) for i in range(50)]


def test_a_failed_write_is_raised_and_nothing_after_it_is_written(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    writer = PartWriter(store)
    writer.submit(_rows(0, 3))
    writer.submit([{"key": "k", "text": "no labels"}])  # missing required columns: the store refuses it
    with pytest.raises(StoreError, match="missing required"):
        writer.submit(_rows(3, 3))
    with pytest.raises(StoreError):
        writer.close()
    assert writer.rows_written == 3 and store.read().num_rows == 3
