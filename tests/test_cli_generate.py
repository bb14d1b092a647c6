"""`python -m personalib generate` through the real CLI (issue 4 reliability).

Bad input leaves the store byte-identical; a run killed with SIGKILL (or stopped with SIGTERM)
part way resumes to exactly one row per planned entry; two shard workers (and two unsharded racing
workers) writing into one store at once give the complete union once; a truncated part is named,
set aside and regenerated; the API key never reaches a file the run writes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from personalib.__main__ import main
from personalib.store import Store, request_key, summarize, utc_now
from tests.conftest import REPO
from tests.fake_openai_server import CHAT_PATH, FakeOpenAIServer, Faults, fake_answer


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _profile(tmp_path: Path, **overrides: Any) -> Path:
    profile = {
        "name": "tiny",
        "models": ["gemma3-270m-demo"],
        "datasets": {"truthfulqa": {"demo": True, "limit": 2}},
        "persona_sets": ["regular", "empty"],
        "personas": ["a_doctor", "empty"],
        "decoding": {"max_new_tokens": 4},
        "store": str(tmp_path / "store"),
        "reports": str(tmp_path / "reports"),
        **overrides,
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return path


@pytest.fixture
def populated_store(tmp_path: Path) -> Path:
    """A store that already holds a part, a plan and a manifest."""
    store = Store(tmp_path / "store")
    entry = {
        "key": request_key("org/m", None, {"prompt": "p"}, {}), "model": "gemma3-270m-demo",
        "persona_set": "regular", "persona": "a_doctor", "dataset": "truthfulqa", "item_id": "0",
    }  # fmt: skip
    store.write_plan([entry])
    store.append([dict(entry, text="A", run_id="r0", origin="generated")])
    store.write_manifest({"run_id": "r0", "status": "completed"})
    return store.path


@pytest.mark.parametrize(
    ("overrides", "args", "message"),
    [
        ({"temperature": 0.5}, [], ("unknown key", "temperature")),
        ({"datasets": {"truthfulqa": {"demo": True, "shuffle": True}}}, [], ("unknown key", "shuffle")),
        ({}, ["--datasets", "squad"], "unknown dataset(s) squad"),
        ({}, ["--datasets", "mmlu"], "no source for mmlu"),
        ({}, ["--persona-sets", "villains"], "unknown persona set 'villains'"),
        ({"persona_sets": ["regular", "villains.yaml"]}, [], "villains.yaml"),
        ({}, ["--models", "gpt-4"], "not in profile"),
        ({}, ["--shard", "2/2"], "--shard"),
        ({}, ["--limit", "0"], "--limit"),
    ],
)
def test_bad_input_is_a_clear_error_and_leaves_the_store_untouched(
    tmp_path: Path, populated_store: Path, capsys: pytest.CaptureFixture[str], overrides: dict, args: list,
    message: str | tuple[str, ...],
) -> None:
    before = _snapshot(populated_store)
    code = main(["generate", "--profile", str(_profile(tmp_path, **overrides)), "--no-progress", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ")
    assert all(fragment in err for fragment in ([message] if isinstance(message, str) else message)), err
    assert _snapshot(populated_store) == before


def test_missing_api_key_is_a_clear_error_and_leaves_the_store_untouched(
    tmp_path: Path, populated_store: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    before = _snapshot(populated_store)
    code = main(["generate", "--profile", str(_profile(tmp_path, models=["gpt-3.5"])), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "OPENAI_API_KEY" in err and "not set" in err
    assert _snapshot(populated_store) == before


def test_dry_run_of_an_api_model_needs_no_key_and_writes_nothing(
    tmp_path: Path, populated_store: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    before = _snapshot(populated_store)
    code = main(["generate", "--profile", str(_profile(tmp_path, models=["gpt-4"])), "--dry-run"])
    err = capsys.readouterr().err
    assert code == 0
    assert "persona placement system" in err and "API estimate gpt-4/truthfulqa: 4 requests" in err
    assert _snapshot(populated_store) == before


# -- reliability through the real CLI, in subprocesses ------------------------------------------

SECRET = "sk-personalib-test-9f8e7d6c5b4a"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "personalib", "generate", *args, "--no-progress"],
        cwd=REPO, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _finish(proc: subprocess.Popen, timeout: float = 300) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return err


def _expected_entries(personas: list[str], datasets: dict[str, int]) -> set[tuple[str, str, str]]:
    """(persona, dataset, item_id) a run must store, computed from the demo items themselves."""
    from personalib.tasks import load_task

    expected = set()
    for dataset, limit in datasets.items():
        item_ids = load_task(dataset, demo=True).items()["item_id"].head(limit)
        expected |= {(p, dataset, i) for p in personas for i in item_ids}
    return expected


def _stored_entries(store: Store) -> list[tuple[str, str, str]]:
    table = store.read_raw(["persona", "dataset", "item_id"])
    return list(zip(*(table.column(c).to_pylist() for c in ("persona", "dataset", "item_id"))))


def _wait_for_rows(store: Store, proc: subprocess.Popen, more_than: int) -> None:
    deadline = time.monotonic() + 300
    while store.read_raw(["key"]).num_rows <= more_than:
        assert proc.poll() is None, f"the run ended before it could be stopped: {proc.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, "no new part was stored within 300 s"
        time.sleep(0.05)


@pytest.mark.slow
def test_kill_9_part_way_then_rerun_stores_every_entry_exactly_once(tmp_path: Path) -> None:
    personas, datasets = ["a_doctor", "empty"], {"truthfulqa": 3, "mmlu": 3}
    profile = _profile(
        tmp_path,
        datasets={name: {"demo": True, "limit": n} for name, n in datasets.items()},
        personas=personas,
    )
    expected = _expected_entries(personas, datasets)
    planned = len(expected)
    store = Store(tmp_path / "store")
    proc = _cli("--profile", str(profile), "--chunk-size", "2")
    _wait_for_rows(store, proc, 0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    at_kill = store.read_raw(["key"]).num_rows
    assert 0 < at_kill < planned
    [killed] = store.manifests()
    assert killed["status"] == "running" and killed["ended_at"] is None  # it never got to finish
    assert summarize(store)["missing"] == planned - at_kill  # the whole plan was recorded up front
    assert killed["process"]["pid"] == proc.pid and killed["heartbeat_at"] >= killed["started_at"]
    [run] = summarize(store)["runs"]  # what `status` shows: not "running" forever
    assert run["state"] == "interrupted" and f"process {proc.pid} on this host ended" in run["state_reason"]

    err = _finish(_cli("--profile", str(profile), "--chunk-size", "2"))
    assert f"already stored {at_kill:>9,}" in err
    stored = _stored_entries(store)
    assert len(stored) == planned and set(stored) == expected  # none lost, none twice
    summary = summarize(store)
    assert (summary["stored"], summary["missing"], summary["duplicates"]) == (planned, 0, 0)
    resumed = store.manifests()[-1]
    assert resumed["status"] == "completed"
    assert resumed["counts"]["skipped"] == at_kill and resumed["counts"]["generated"] == planned - at_kill


@pytest.fixture
def api_profile(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Path, FakeOpenAIServer]]:
    """A profile whose one model is served by the fake OpenAI server (which demands SECRET).

    Parametrize indirectly with `Faults` to slow the server down.
    """
    with FakeOpenAIServer(getattr(request, "param", None), api_key=SECRET) as server:
        model = {
            "name": "fake-gpt", "display_name": "fake", "backend": "openai", "model_id": "fake-gpt-1",
            "persona_placement": "system",
            "api": {"base_url": server.base_url, "api_key_env": "PERSONALIB_TEST_API_KEY", "concurrency": 2,
                    "max_retries": 8, "timeout_s": 20},
        }  # fmt: skip
        (tmp_path / "fake-gpt.yaml").write_text(yaml.safe_dump(model))
        profile = _profile(
            tmp_path,
            models=[str(tmp_path / "fake-gpt.yaml")],
            datasets={"truthfulqa": {"demo": True, "limit": 6}, "mmlu": {"demo": True, "limit": 6}},
            persona_sets=["regular", "empty", "control"],
            personas=["a_doctor", "empty", "a_helpful_assistant"],
        )
        yield profile, server


def _answers_match_the_server(store: Store, server: FakeOpenAIServer) -> None:
    """Every stored text is the server's answer to a conversation it was sent."""
    sent = {fake_answer(e.body["model"], e.body["messages"]) for e in server.requests(outcome="ok") if e.body}
    texts = store.read(["text"]).column("text").to_pylist()
    assert set(texts) <= sent and len(texts) == len(set(texts))


def _no_secret_in(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), f"the API key was written to {path}"


def test_two_shard_workers_writing_at_once_store_the_union_once(
    tmp_path: Path, api_profile: tuple[Path, FakeOpenAIServer]
) -> None:
    profile, server = api_profile
    env = {"PERSONALIB_TEST_API_KEY": SECRET}
    workers = [_cli("--profile", str(profile), "--shard", f"{i}/2", "--chunk-size", "2", env=env) for i in (0, 1)]
    for worker in workers:
        _finish(worker)
    store = Store(tmp_path / "store")
    expected = _expected_entries(["a_doctor", "empty", "a_helpful_assistant"], {"truthfulqa": 6, "mmlu": 6})
    stored = _stored_entries(store)
    assert len(stored) == len(expected) and set(stored) == expected
    assert len(server.requests(path=CHAT_PATH, outcome="ok")) == len(expected)  # each request sent once
    runs = store.manifests()
    assert sorted(m["shard"] for m in runs) == ["0/2", "1/2"] and {m["status"] for m in runs} == {"completed"}
    assert [m["counts"]["failed"] for m in runs] == [0, 0]
    assert sum(m["counts"]["generated"] for m in runs) == len(expected)
    summary = summarize(store)
    assert (summary["stored"], summary["planned"], summary["missing"], summary["duplicates"]) == (36, 36, 0, 0)
    _answers_match_the_server(store, server)
    _no_secret_in(tmp_path)


def test_two_unsharded_workers_racing_are_deduplicated_and_counted(
    tmp_path: Path, api_profile: tuple[Path, FakeOpenAIServer]
) -> None:
    profile, server = api_profile
    env = {"PERSONALIB_TEST_API_KEY": SECRET}
    for worker in [_cli("--profile", str(profile), "--chunk-size", "1", env=env) for _ in range(2)]:
        _finish(worker)
    store = Store(tmp_path / "store")
    summary = summarize(store)
    raw = store.read_raw(["key"]).num_rows
    assert summary["stored"] == 36 and summary["missing"] == 0
    assert summary["duplicates"] == raw - 36  # whatever both workers stored is counted, and read once
    assert store.read().num_rows == 36 and len(store.generations()) == 36
    _answers_match_the_server(store, server)


@pytest.mark.parametrize("api_profile", [Faults(rate_429=0.5, retry_after_s=0.2, seed=3)], indirect=True)
def test_sigterm_stores_what_finished_marks_the_run_interrupted_and_resumes(
    tmp_path: Path, api_profile: tuple[Path, FakeOpenAIServer]
) -> None:
    """SLURM preemption sends SIGTERM: finished chunks stay, the manifest says interrupted."""
    profile, server = api_profile
    env = {"PERSONALIB_TEST_API_KEY": SECRET}
    store = Store(tmp_path / "store")
    proc = _cli("--profile", str(profile), "--chunk-size", "2", env=env)
    _wait_for_rows(store, proc, 0)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err
    at_term = store.read_raw(["key"]).num_rows
    assert 0 < at_term < 36
    [stopped] = store.manifests()
    assert stopped["status"] == "interrupted" and stopped["counts"]["generated"] == at_term
    assert stopped["counts"]["planned"] == 36 and stopped["counts"]["failed"] == 0
    server.faults = Faults()  # the rerun needs no slowing down
    err = _finish(_cli("--profile", str(profile), env=env))
    assert f"already stored {at_term:>9,}" in err
    summary = summarize(store)
    assert (summary["stored"], summary["missing"], summary["duplicates"]) == (36, 0, 0)
    _answers_match_the_server(store, server)


def test_corrupt_part_is_named_set_aside_and_regenerated(
    tmp_path: Path, api_profile: tuple[Path, FakeOpenAIServer], capsys: pytest.CaptureFixture[str]
) -> None:
    profile, server = api_profile
    env = {"PERSONALIB_TEST_API_KEY": SECRET}
    _finish(_cli("--profile", str(profile), "--chunk-size", "5", env=env))
    store = Store(tmp_path / "store")
    victim = store.parts()[1]
    lost = pq.read_metadata(victim).num_rows
    with open(victim, "r+b") as handle:
        handle.truncate(victim.stat().st_size - 20)  # the footer is gone
    assert main(["status", "--store", str(store.path)]) == 0
    captured = capsys.readouterr()
    assert victim.name in captured.err and "moved aside" not in captured.out
    assert (tmp_path / "store" / "corrupt" / victim.name).is_file() and not victim.exists()
    assert summarize(store)["missing"] == lost  # the rest stays readable
    err = _finish(_cli("--profile", str(profile), env=env))
    total = next(line for line in err.splitlines() if line.strip().startswith("total"))
    assert f"already stored {36 - lost:>9,}" in total and f"generated {lost:>9,}" in total
    assert summarize(store)["missing"] == 0 and store.read().num_rows == 36
    _no_secret_in(tmp_path)


# -- a full disk, and runs killed without a word ---------------------------------------------------

def _full_disk_cli(parts: int, scope: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`generate ARGS` with the disk full after `parts` parts (tests/full_disk.py: fault injection)."""
    return subprocess.run(
        [sys.executable, "-m", "tests.full_disk", str(parts), scope, "generate", *args, "--no-progress"],
        cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize("scope", ["parts", "all"])
def test_a_full_disk_says_what_was_stored_prints_the_summary_and_a_rerun_resumes(
    tmp_path: Path, api_profile: tuple[Path, FakeOpenAIServer], scope: str
) -> None:
    """The disk fills after 3 parts of 2 generations: the error names the file not written, says
    that this run stored 6 (and how many are left), the summary is printed, and the manifest is
    marked failed (`parts`: a small manifest still fits) or, when even it cannot be written (`all`),
    the message says so and `status` shows the run as interrupted. A rerun stores the rest."""
    profile, server = api_profile
    env = {"PERSONALIB_TEST_API_KEY": SECRET}
    store = Store(tmp_path / "store")
    result = _full_disk_cli(3, scope, "--profile", str(profile), "--chunk-size", "2", env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    err = result.stderr
    assert store.read_raw(["key"]).num_rows == 6
    assert "could not write parts/part-" in err and "No space left on device" in err
    assert "This run stored 6 generations before it stopped; they are kept (0 were stored before the run), " \
           "and 30 planned generations are not stored yet." in err
    assert "rerun the same command: it resumes" in err and "nothing of it was stored" not in err
    total = next(line for line in err.splitlines() if line.strip().startswith("total"))
    assert "planned        36" in total and f"generated {6:>9,}" in total
    [manifest] = store.manifests()
    status = subprocess.run([sys.executable, "-m", "personalib", "status", "--store", str(store.path), "--json"],
                            capture_output=True, text=True, timeout=120)
    [run] = json.loads(status.stdout)["runs"]
    if scope == "parts":
        assert f"Its manifest ({manifest['run_id']}) is marked failed." in err
        assert manifest["status"] == "failed" and manifest["counts"]["generated"] == 6
        assert "No space left on device" in manifest["error"] and run["state"] == "failed"
        assert "No space left on device" in run["state_reason"]
    else:
        assert "Its manifest could not be updated either" in err
        assert manifest["status"] == "running" and run["state"] == "interrupted"
        assert f"process {manifest['process']['pid']} on this host ended" in run["state_reason"]
    _finish(_cli("--profile", str(profile), env=env))
    summary = summarize(store)
    assert (summary["stored"], summary["missing"], summary["duplicates"]) == (36, 0, 0)
    _answers_match_the_server(store, server)


def test_status_shows_runs_killed_without_a_word_as_interrupted_or_stale(
    tmp_path: Path, populated_store: Path
) -> None:
    """Manifests that still say "running": a process of this host that is gone -> interrupted; one of
    another host without a heartbeat for a day -> stale; a live process -> running."""
    import socket

    from personalib.store.manifest import process_identity

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    store = Store(populated_store)
    now = utc_now()
    base = {"status": "running", "models": [{"name": "gemma3-270m-demo"}], "started_at": now, "heartbeat_at": now}
    store.write_manifest({**base, "run_id": "killed", "process": {"host": socket.gethostname(), "pid": gone.pid}})
    store.write_manifest({**base, "run_id": "alive", "process": process_identity()})
    store.write_manifest({**base, "run_id": "elsewhere", "started_at": "2020-01-01T00:00:00+00:00",
                          "heartbeat_at": "2020-01-02T00:00:00+00:00",
                          "process": {"host": "node-elsewhere", "pid": 1234}})
    result = subprocess.run([sys.executable, "-m", "personalib", "status", "--store", str(store.path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = {line.split(":")[0]: line for line in result.stdout.splitlines() if line.startswith("run ")}
    assert lines["run killed"].startswith(f"run killed: interrupted: process {gone.pid} on this host ended")
    assert lines["run elsewhere"].startswith("run elsewhere: stale: no heartbeat for ")
    assert "host node-elsewhere, pid 1234" in lines["run elsewhere"]
    assert lines["run alive"] == f"run alive: running: process {os.getpid()} on this host is running"  # pytest
    assert "run r0" not in lines  # completed runs are not listed
