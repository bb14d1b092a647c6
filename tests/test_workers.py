"""`generate --workers N` through the real CLI against the fake server: the same store as one
process, a failing worker makes the run fail (the rest stored, a rerun completes), Ctrl-C stops
every worker cleanly, and the workers' shards partition the run (also within `--shard`)."""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

import pytest
import yaml

from personalib.__main__ import main
from personalib.store import Store, shard_of, summarize
from personalib.workers import worker_shard
from tests.fake_openai_server import CHAT_PATH, FakeOpenAIServer, Faults
from tests.test_cli_generate import SECRET, _answers_match_the_server, _cli, _expected_entries, _finish, _profile, _wait_for_rows

PERSONAS = ["a_doctor", "empty", "a_helpful_assistant"]
DATASETS = {"truthfulqa": 6, "mmlu": 6}
ENV = {"PERSONALIB_TEST_API_KEY": SECRET}


def _api_profile(tmp_path: Path, server: FakeOpenAIServer, name: str = "run", **api: object) -> Path:
    """A profile of 3 personas x 12 demo items whose one model is served by `server`."""
    folder = tmp_path / name
    folder.mkdir()
    model = {
        "name": "fake-gpt", "display_name": "fake", "backend": "openai", "model_id": "fake-gpt-1",
        "persona_placement": "system",
        "api": {"base_url": server.base_url, "api_key_env": "PERSONALIB_TEST_API_KEY", "concurrency": 2,
                "max_retries": 8, "timeout_s": 20, **api},
    }  # fmt: skip
    (folder / "fake-gpt.yaml").write_text(yaml.safe_dump(model))
    return _profile(folder, models=[str(folder / "fake-gpt.yaml")], personas=PERSONAS,
                    datasets={d: {"demo": True, "limit": n} for d, n in DATASETS.items()},
                    persona_sets=["regular", "empty", "control"])  # fmt: skip


def _entries(store: Store) -> list[tuple]:
    columns = ("key", "persona_set", "persona", "dataset", "item_id", "text")
    table = store.read_raw(list(columns))
    return sorted(zip(*(table.column(c).to_pylist() for c in columns)))


def test_shards_of_the_workers_partition_the_run_and_a_given_shard() -> None:
    keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(2000)]
    for shard in (None, (1, 3)):
        index, count = shard or (0, 1)
        mine = [k for k in keys if shard_of(k, count) == index]
        parts = [{k for k in keys if shard_of(k, worker_shard(j, 4, shard)[1]) == worker_shard(j, 4, shard)[0]} for j in range(4)]
        assert sum(len(p) for p in parts) == len(mine) and set().union(*parts) == set(mine)
        assert all(p for p in parts)


def test_two_workers_store_what_one_process_stores(tmp_path: Path) -> None:
    with FakeOpenAIServer(api_key=SECRET) as server:
        one = _api_profile(tmp_path, server, "one")
        two = _api_profile(tmp_path, server, "two")
        _finish(_cli("--profile", str(one), env=ENV))
        err = _finish(_cli("--profile", str(two), "--workers", "2", env=ENV))
        single, double = Store(tmp_path / "one" / "store"), Store(tmp_path / "two" / "store")
        assert _entries(single) == _entries(double)  # same keys, labels and texts
        expected = _expected_entries(PERSONAS, DATASETS)
        assert len(_entries(double)) == len(expected) == 36  # each entry exactly once
        assert "[worker 0/2]" in err and "[worker 1/2]" in err and "summary of 2 of 2 workers" in err
        total = next(line for line in err.splitlines() if line.strip().startswith("total") and "[worker" not in line)
        assert "planned        36" in total and "generated        36" in total
        runs = Store(tmp_path / "two" / "store").manifests()
        assert sorted(m["shard"] for m in runs) == ["0/2", "1/2"] and {m["status"] for m in runs} == {"completed"}
        assert len(server.requests(path=CHAT_PATH, outcome="ok")) == 2 * 36  # once per run
        _answers_match_the_server(double, server)


def test_a_failing_worker_fails_the_run_and_a_rerun_completes(tmp_path: Path) -> None:
    with FakeOpenAIServer(Faults(always_fail="Which planet is closest"), api_key=SECRET) as server:
        profile = _api_profile(tmp_path, server, max_retries=1)
        proc = _cli("--profile", str(profile), "--workers", "2", env=ENV)
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 2, err[-3000:]
        assert "failed 2 times in a row" in err and "exited with code 2" in err
        store = Store(tmp_path / "run" / "store")
        stored = len(_entries(store))
        assert 0 < stored < 36
        server.faults = Faults()
        err = _finish(_cli("--profile", str(profile), "--workers", "2", env=ENV))
        summary = summarize(store)
        assert (summary["stored"], summary["missing"], summary["duplicates"]) == (36, 0, 0)
        _answers_match_the_server(store, server)


def test_ctrl_c_stops_every_worker_which_store_what_finished_and_a_rerun_completes(tmp_path: Path) -> None:
    with FakeOpenAIServer(Faults(latency_s=0.3), api_key=SECRET) as server:
        profile = _api_profile(tmp_path, server, concurrency=1)
        store = Store(tmp_path / "run" / "store")
        proc = _cli("--profile", str(profile), "--workers", "2", "--chunk-size", "1", env=ENV)
        _wait_for_rows(store, proc, 1)
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err[-3000:]
        assert "stopping the workers" in err and "rerun the same command to resume" in err
        runs = store.manifests()
        assert len(runs) == 2 and {m["status"] for m in runs} == {"interrupted"}
        at_stop = len(_entries(store))
        assert 0 < at_stop < 36 and sum(m["counts"]["generated"] for m in runs) == at_stop
        server.faults = Faults()
        err = _finish(_cli("--profile", str(profile), "--workers", "2", env=ENV))
        assert "already stored" in err
        summary = summarize(store)
        assert (summary["stored"], summary["missing"], summary["duplicates"]) == (36, 0, 0)
        _answers_match_the_server(store, server)


def test_bad_workers_value_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAIServer(api_key=SECRET) as server:
        profile = _api_profile(tmp_path, server)
        assert main(["generate", "--profile", str(profile), "--workers", "0", "--no-progress"]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "run" / "store").exists()
