"""The generation store: atomic parts, deduplicated reads, corrupt parts, plans and manifests."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from personalib.errors import StoreError
from personalib.store import ROW_SCHEMA, Store, request_key, summarize
from personalib.store import parts as parts_module


def _rows(n: int, *, start: int = 0, persona: str = "a_doctor", text: str = "A", run_id: str = "run-1") -> list[dict]:
    return [
        {
            "key": request_key("org/model", "abc", {"prompt": f"{persona} question {i}"}, {"max_new_tokens": 8}),
            "model": "tiny",
            "model_id": "org/model",
            "revision": "abc",
            "persona_set": "regular",
            "persona": persona,
            "dataset": "mmlu",
            "item_id": str(i),
            "text": f"{text}{i}",
            "run_id": run_id,
            "origin": "generated",
        }
        for i in range(start, start + n)
    ]


def _listing(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_append_writes_bounded_parts_and_reads_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", rows_per_part=4)
    written = store.append(_rows(10))
    assert [pq.read_metadata(p).num_rows for p in written] == [4, 4, 2]
    assert all(p.name.startswith("part-") and p.suffix == ".parquet" for p in written)
    assert len({p.name for p in written}) == 3
    table = store.read()
    assert table.schema.equals(ROW_SCHEMA)
    assert sorted(table.column("item_id").to_pylist(), key=int) == [str(i) for i in range(10)]
    assert table.column("created_at").null_count == 0
    assert table.column("revision").to_pylist() == ["abc"] * 10


def test_generations_table_has_the_analysis_columns(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.append(_rows(3))
    frame = store.generations()
    for column in ("model", "persona_set", "persona", "dataset", "item_id", "text"):
        assert column in frame.columns
    assert set(frame["text"]) == {"A0", "A1", "A2"}
    assert store.generations(datasets=["bbq"]).empty


def test_read_filters_push_down(tmp_path: Path) -> None:
    store = Store(tmp_path)
    rows = _rows(5) + _rows(3, persona="a_woman")
    store.append(rows)
    wanted = [rows[1]["key"], rows[6]["key"]]
    table = store.read(["item_id", "persona"], keys=wanted)
    assert sorted(zip(table.column("persona").to_pylist(), table.column("item_id").to_pylist())) == [
        ("a_doctor", "1"), ("a_woman", "1"),
    ]  # fmt: skip
    assert store.read(persona_sets=["control"]).num_rows == 0
    assert store.read(models=["tiny"], datasets=["mmlu"]).num_rows == 8


def test_duplicates_are_dropped_on_read_keeping_the_earliest(tmp_path: Path) -> None:
    store = Store(tmp_path)
    first = _rows(3, text="first")
    store.append(first)
    later = [dict(r, text="second", created_at=None) for r in first[:2]]
    store.append(later)
    assert store.read_raw().num_rows == 5
    table = store.read()
    assert table.num_rows == 3
    assert sorted(table.column("text").to_pylist()) == ["first0", "first1", "first2"]
    summary = summarize(store)
    assert summary["duplicates"] == 2 and summary["stored"] == 3


def test_same_request_for_two_labels_is_two_entries(tmp_path: Path) -> None:
    store = Store(tmp_path)
    row = _rows(1)[0]
    store.append([row, dict(row, persona_set="my_set")])
    assert store.read().num_rows == 2
    assert summarize(store)["duplicates"] == 0
    assert store.stored_keys() == {row["key"]}


def test_temp_files_are_never_read(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.append(_rows(2))
    (store.parts_dir / ".tmp-part-half-written.parquet").write_bytes(b"PAR1 half a file")
    assert store.read().num_rows == 2
    assert store.set_aside == []


def test_full_disk_leaves_no_part_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path)
    store.append(_rows(2))
    before = _listing(tmp_path)
    real_fsync = os.fsync

    def full_disk(fd: int) -> None:
        if os.fstat(fd).st_size > 0 and not os.path.isdir(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(parts_module.os, "fsync", full_disk)
    with pytest.raises(StoreError, match="No space left"):
        store.append(_rows(3, start=10))
    monkeypatch.undo()
    assert _listing(tmp_path) == before
    assert store.read().num_rows == 2


def test_truncated_part_is_set_aside_and_the_rest_stays_readable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(tmp_path, rows_per_part=3)
    good, bad = store.append(_rows(6))
    with open(bad, "r+b") as handle:
        handle.truncate(bad.stat().st_size // 2)
    with caplog.at_level("WARNING", logger="personalib.store"):
        table = store.read()
    assert table.num_rows == 3
    assert bad.name in caplog.text
    assert not bad.exists() and (tmp_path / "corrupt" / bad.name).exists()
    assert [c.name for c in store.set_aside] == [bad.name]
    assert "footer" in store.set_aside[0].reason
    assert Store(tmp_path).read().num_rows == 3  # a later reader sees a clean store


def test_part_with_a_foreign_schema_is_set_aside(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.append(_rows(2))
    pq.write_table(pa.table({"key": ["x"], "text": ["y"]}), store.parts_dir / "part-foreign.parquet")
    assert store.read().num_rows == 2
    assert store.set_aside[0].name == "part-foreign.parquet"
    assert "column" in store.set_aside[0].reason


def test_bad_rows_are_rejected_with_the_column_named(tmp_path: Path) -> None:
    store = Store(tmp_path)
    row = _rows(1)[0]
    with pytest.raises(StoreError, match="'bogus'"):
        store.append([dict(row, bogus=1)])
    with pytest.raises(StoreError, match="'text'"):
        store.append([dict(row, text=None)])
    with pytest.raises(StoreError, match="origin"):
        store.append([dict(row, origin="guessed")])
    with pytest.raises(StoreError, match="n_output_tokens"):
        store.append([dict(row, n_output_tokens="many")])
    assert not store.parts_dir.exists() or not list(store.parts_dir.iterdir())


def test_plans_union_and_missing(tmp_path: Path) -> None:
    store = Store(tmp_path)
    planned = _rows(5)
    columns = ("key", "model", "persona_set", "persona", "dataset", "item_id")
    digest = store.write_plan([{c: r[c] for c in columns} for r in planned[:3]])
    assert store.write_plan([{c: r[c] for c in columns} for r in planned[:3]]) == digest  # same plan, one file
    store.write_plan([{c: r[c] for c in columns} for r in planned[2:]])
    assert len(list(store.plans_dir.glob("plan-*.parquet"))) == 2
    assert store.planned().num_rows == 5
    store.append(planned[:4])
    summary = summarize(store)
    assert (summary["planned"], summary["stored"], summary["missing"]) == (5, 4, 1)
    [group] = summary["groups"]
    assert group == {
        "model": "tiny", "dataset": "mmlu", "persona_set": "regular",
        "stored": 4, "planned": 5, "missing": 1, "duplicates": 0,
    }  # fmt: skip


def test_manifest_round_trip_without_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    store = Store(tmp_path)
    store.write_manifest(
        {
            "run_id": "r1",
            "api": {"api_key": secret, "api_key_env": "OPENAI_API_KEY", "base_url": "http://x"},
            "note": f"called with {secret}",
            "max_new_tokens": 8,
            "n_input_tokens": 3,
            "input_tokens": 4,
            "hf_token": "hf_abcdefghijkl",
            "tokenizer": "local",
        }
    )
    text = (tmp_path / "manifests" / "r1.json").read_text()
    assert secret not in text
    [manifest] = store.manifests()
    assert manifest["api"] == {"api_key_env": "OPENAI_API_KEY", "base_url": "http://x"}
    assert manifest["note"] == "called with ***"
    assert (manifest["max_new_tokens"], manifest["n_input_tokens"], manifest["input_tokens"]) == (8, 3, 4)
    assert "hf_token" not in manifest and manifest["tokenizer"] == "local"
    with pytest.raises(StoreError, match="run_id"):
        store.write_manifest({"run_id": "../escape"})


def test_stale_temp_files_are_cleaned(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.append(_rows(1))
    stale = store.parts_dir / ".tmp-part-crashed.parquet"
    stale.write_bytes(b"x")
    os.utime(stale, (0, 0))
    fresh = store.parts_dir / ".tmp-part-in-flight.parquet"
    fresh.write_bytes(b"x")
    assert store.clean_temp(older_than_s=3600) == [stale]
    assert fresh.exists() and not stale.exists()


def _append_all(path: str, worker: int) -> int:
    store = Store(path, rows_per_part=7)
    rows = _rows(60, run_id=f"worker-{worker}")
    for start in range(0, 60, 10):  # many small appends, interleaving with the other worker
        store.append(rows[start : start + 10])
    return worker


def test_two_processes_racing_on_the_same_keys(tmp_path: Path) -> None:
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert sorted(pool.map(_append_all, [str(tmp_path)] * 2, [0, 1])) == [0, 1]
    store = Store(tmp_path)
    assert store.read_raw().num_rows == 120
    table = store.read()
    assert table.num_rows == 60 and len(set(table.column("key").to_pylist())) == 60
    assert summarize(store)["duplicates"] == 60
    assert len(store.parts()) == 2 * 6 * 2  # 10-row appends in 7-row parts, every name unique
    assert not list(store.parts_dir.glob(".tmp-*"))


def test_manifest_json_is_plain_json(tmp_path: Path) -> None:
    path = Store(tmp_path).write_manifest({"run_id": "r2", "counts": {"planned": 3}})
    assert json.loads(path.read_text())["counts"] == {"planned": 3}


def _write_same_file(path: str, worker: int) -> int:
    table = pa.table({"key": [f"k{i}" for i in range(2000)]})
    for _ in range(150):
        parts_module.write_atomic(table, Path(path) / "plans" / "plan-same.parquet")
    return worker


def test_two_processes_writing_one_file_name_at_once(tmp_path: Path) -> None:
    """Two workers may write the same plan (same final name) at once: neither may fail."""
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert sorted(pool.map(_write_same_file, [str(tmp_path)] * 2, [0, 1])) == [0, 1]
    assert [p.name for p in (tmp_path / "plans").iterdir()] == ["plan-same.parquet"]
    assert pq.read_table(tmp_path / "plans" / "plan-same.parquet").num_rows == 2000
