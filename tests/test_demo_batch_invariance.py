"""The demo's answers do not depend on how the plan was split: one worker and two shard workers
(`--shard 0/2`, `1/2`, running at once, in chunks of 3 requests, so every prompt shares its batch
with other prompts than in the single worker's one chunk) store the same text for every entry,
through the real CLI.

The demo runs the embedded model in float32 on the CPU, where a batched prompt gets the answer it
gets alone (personalib.backends.hf), so shards, chunks and batches cannot change a stored text (in
bf16 they did: 16 of 112 texts differed). Kept small: one item per dataset, the empty and the
control personas, one torch thread per worker (the two shard workers share the machine's cores).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from personalib.store import Store
from tests.conftest import REPO

SMALL = ["--limit", "1", "--persona-sets", "empty", "control", "--no-progress"]


def _worker(store: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "personalib", "generate", "--profile", "demo", "--store", str(store), *SMALL, *extra],
        cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _texts(store: Path) -> dict[tuple[str, ...], str]:
    rows = Store(store).read(["persona_set", "persona", "dataset", "item_id", "key", "text"]).to_pylist()
    return {(r["persona_set"], r["persona"], r["dataset"], r["item_id"], r["key"]): r["text"] for r in rows}


def _finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]


@pytest.mark.slow
def test_two_shard_workers_store_the_texts_of_one_worker(tmp_path: Path) -> None:
    _finish(_worker(tmp_path / "one"))
    shards = [_worker(tmp_path / "two", "--shard", f"{i}/2", "--chunk-size", "3") for i in (0, 1)]
    for proc in shards:
        _finish(proc)
    one, two = _texts(tmp_path / "one"), _texts(tmp_path / "two")
    assert len(one) == 4 * 5  # 4 personas x 5 datasets x 1 item
    differing = sorted(k for k in one if one[k] != two.get(k))
    assert set(one) == set(two) and not differing, f"{len(differing)} of {len(one)} texts differ: {differing[:3]}"
    for manifest in Store(tmp_path / "two").manifests():  # each run records how it batched
        [model] = manifest["models"]
        info = model["backend_info"]
        assert (info["dtype"], info["device"]) == ("float32", "cpu")
        assert info["generation"]["mode"] == "padded" and info["generation"]["batch_invariant"] is True
        assert model["chunk_size"] == 3
