"""Store format 2: every part carries the hash of its bytes and page checksums; a changed part is
set aside, never read back as changed text; `upgrade` brings a format-1 store (written by the
package before format 2: tests/golden/demo-store) to format 2 without losing or changing a row."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from personalib.__main__ import main
from personalib.errors import PersonalibError
from personalib.params import load_model, load_profile, settings_of
from personalib.store import RELEASED_SETTINGS, Store, request_key
from personalib.store.parts import part_hash, verify_part
from personalib.store.upgrade import upgrade

REPO = Path(__file__).resolve().parents[2]
OLD_STORE = REPO / "tests" / "golden" / "demo-store"


def _rows(n: int, run_id: str = "run-1") -> list[dict]:
    return [{"key": request_key("org/m", "r", {"prompt": f"q{i}"}, {"max_new_tokens": 8}), "model": "tiny",
             "persona_set": "regular", "persona": "a_doctor", "dataset": "mmlu", "item_id": str(i),
             "text": f"answer number {i} " * 3, "run_id": run_id, "origin": "generated"} for i in range(n)]


def _texts(store: Store) -> dict[str, str]:
    table = store.read(["item_id", "text"])
    return dict(zip(table.column("item_id").to_pylist(), table.column("text").to_pylist()))


def test_parts_are_named_by_the_hash_of_their_bytes(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    [part] = store.append(_rows(5))
    assert part_hash(part) is not None and verify_part(part) is None
    assert store.format() == 2 and json.loads((store.path / "format.json").read_text()) == {"format": 2}
    meta = pq.read_metadata(part)
    assert meta.num_rows == 5


def test_a_changed_byte_is_caught_before_any_text_is_read(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", rows_per_part=10)
    parts = store.append(_rows(30))
    original = _texts(store)
    data = bytearray(parts[1].read_bytes())
    data[len(data) // 2] ^= 0x04  # one bit, somewhere in the data pages
    parts[1].write_bytes(bytes(data))
    assert "content hash mismatch" in (verify_part(parts[1]) or "")
    fresh = Store(store.path)
    texts = _texts(fresh)
    assert len(texts) == 20 and all(original[k] == v for k, v in texts.items())
    assert [c.name for c in fresh.set_aside] == [parts[1].name]
    assert (store.path / "corrupt" / parts[1].name).exists()


@pytest.mark.parametrize("seed", range(3))
def test_fuzzed_parts_never_give_changed_text(tmp_path: Path, seed: int) -> None:
    """Random bit flips, truncations and garbage in parts: a clear error or a set-aside part,
    never a traceback of another kind, never a changed text."""
    rng = random.Random(seed)
    pristine = Store(tmp_path / "pristine", rows_per_part=25)
    pristine.append(_rows(100))
    original = _texts(pristine)
    for trial in range(40):
        copy = tmp_path / f"t{trial}"
        shutil.copytree(pristine.path, copy)
        victim = rng.choice(sorted((copy / "parts").glob("part-*.parquet")))
        data = bytearray(victim.read_bytes())
        kind = rng.choice(["flip", "truncate", "garbage"])
        if kind == "flip":
            pos = rng.randrange(len(data))
            data[pos] ^= 1 << rng.randrange(8)
        elif kind == "truncate":
            data = data[: rng.randrange(len(data))]
        else:
            start = rng.randrange(len(data))
            data[start:start + 64] = bytes(rng.randrange(256) for _ in range(64))
        victim.write_bytes(bytes(data))
        store = Store(copy)
        try:
            texts = _texts(store)
        except PersonalibError:
            continue
        assert all(original[k] == v for k, v in texts.items()), (trial, kind)
        if len(texts) < len(original):
            assert store.set_aside, (trial, kind)


def test_status_verify_sets_aside_a_changed_part(tmp_path: Path, capsys) -> None:
    store = Store(tmp_path / "s", rows_per_part=10)
    parts = store.append(_rows(20))
    data = bytearray(parts[0].read_bytes())
    data[40] ^= 0xFF
    parts[0].write_bytes(bytes(data))
    assert main(["status", "--store", str(store.path), "--verify"]) == 0
    out = capsys.readouterr()
    assert "1 failed and were set aside" in out.err and "store format 2" in out.out


def test_upgrade_a_store_written_before_format_2(tmp_path: Path, capsys) -> None:
    old = tmp_path / "old"
    shutil.copytree(OLD_STORE, old)
    store = Store(old)
    assert store.format() == 1 and len(store.unverifiable()) == len(list((old / "parts").glob("*.parquet")))
    before = store.read().to_pandas().drop(columns=["settings"]).sort_values("key").reset_index(drop=True)
    assert main(["status", "--store", str(old)]) == 0
    status = capsys.readouterr().out
    assert "store format 1" in status and "python -m personalib upgrade" in status
    run = subprocess.run([sys.executable, "-m", "personalib", "upgrade", "--store", str(old)],
                         capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert "format 1 -> 2" in run.stdout
    store = Store(old)
    assert store.format() == 2 and store.unverifiable() == [] and store.verify() == []
    after = store.read().to_pandas()
    want = settings_of(load_model("gemma3-270m-demo"), load_profile("demo"))
    assert set(after["settings"]) == {want}  # from the run's manifest: the demo profile's settings
    after = after.drop(columns=["settings"]).sort_values("key").reset_index(drop=True)
    assert after.equals(before)  # not a generation lost or changed
    assert main(["upgrade", "--store", str(old)]) == 0
    assert "0 part(s) rewritten" in capsys.readouterr().out and len(Store(old).read()) == len(before)


def test_upgrade_interrupted_after_a_write_is_completed_by_a_rerun(tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(OLD_STORE, old)
    first = sorted((old / "parts").glob("*.parquet"))[0]
    keep = first.read_bytes()
    upgrade(Store(old), out=open("/dev/null", "w"))
    first.write_bytes(keep)  # as if killed after writing the new part, before removing the old one
    summary = upgrade(Store(old), out=open("/dev/null", "w"))
    assert summary.parts_rewritten == 1
    raw = Store(old).read_raw(["key", "persona", "item_id"])
    assert raw.num_rows == len(Store(old).read()), "no generation stored twice"


def test_imported_rows_carry_the_released_fingerprint(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    store.append([dict(r, origin="imported", settings=RELEASED_SETTINGS) for r in _rows(3)])
    assert set(store.read(["settings"]).column("settings").to_pylist()) == {RELEASED_SETTINGS}
