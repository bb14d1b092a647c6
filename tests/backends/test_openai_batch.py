"""The openai-batch backend against the fake server: submit, poll, collect, split, resume."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from personalib.backends.base import Decoding, Request
from personalib.backends.batch_state import STATE_FILE, BatchState
from personalib.backends.openai_batch import OpenAIBatchBackend
from personalib.errors import PersonalibError
from tests.fake_openai_server import Faults, fake_answer

MODEL = "fake-gpt"
KEY = "sk-batch-test-secret-000"


def _requests(n: int, start: int = 0) -> list[Request]:
    out = []
    for i in range(start, start + n):
        messages = ({"role": "system", "content": "You are a farmer."}, {"role": "user", "content": f"Question {i}?"})
        out.append(Request(key=hashlib.sha256(f"q{i}".encode()).hexdigest(), messages=messages, prompt=None))
    return out


def _backend(server, state_dir: Path, **options) -> OpenAIBatchBackend:
    settings = {"api_key": KEY, "base_url": server.base_url, "poll_interval_s": 0.01, "max_retries": 6,
                "backoff_base_s": 0.01, "backoff_cap_s": 0.05, "timeout_s": 5.0}  # fmt: skip
    settings.update(options)
    return OpenAIBatchBackend(MODEL, state_dir=state_dir, **settings)


def _check(results, requests) -> None:
    by_key = {r.key: r for r in requests}
    assert len({r.key for r in results}) == len(results)
    for result in results:
        assert result.text == fake_answer(MODEL, [dict(m) for m in by_key[result.key].messages])
        assert result.system_fingerprint == "fp_fake_0001"


def _count(server, method: str, path: str) -> int:
    return sum(1 for e in server.requests(method=method) if e.path == path)


def test_submit_poll_collect(fake_openai, tmp_path: Path) -> None:
    server = fake_openai(batch_polls=3)
    requests = _requests(10)
    backend = _backend(server, tmp_path)
    results = list(backend.generate(requests, Decoding(max_new_tokens=9)))
    assert sorted(r.key for r in results) == sorted(r.key for r in requests)
    _check(results, requests)
    assert _count(server, "POST", "/v1/files") == 1 and _count(server, "POST", "/v1/batches") == 1
    uploaded = next(iter(f for f in server.files.values() if f["object"]["purpose"] == "batch"))["content"]
    lines = [json.loads(line) for line in uploaded.decode().splitlines()]
    assert [line["custom_id"] for line in lines] == [r.key for r in requests]
    body = lines[0]["body"]
    assert all(line["url"] == "/v1/chat/completions" and line["method"] == "POST" for line in lines)
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"]) == (0.0, 1.0, 9, 42)
    batch = next(iter(server.batches.values()))
    assert (batch["endpoint"], batch["completion_window"]) == ("/v1/chat/completions", "24h")
    state = json.loads((tmp_path / STATE_FILE).read_text())
    assert [b["collected"] for b in state["batches"]] == [True]
    assert backend.describe()["batch_ids"] == [batch["id"]]
    assert KEY not in (tmp_path / STATE_FILE).read_text() + "".join(p.read_text() for p in tmp_path.glob("*.jsonl"))


def test_large_runs_are_split_into_several_batches(fake_openai, tmp_path: Path) -> None:
    server = fake_openai(batch_polls=1)
    requests = _requests(10)
    results = list(_backend(server, tmp_path, max_requests_per_batch=4).generate(requests, Decoding()))
    _check(results, requests)
    assert len(results) == 10
    assert sorted(b["request_counts"]["total"] for b in server.batches.values()) == [2, 4, 4]


def test_restart_collects_the_batch_in_flight_instead_of_resubmitting(fake_openai, tmp_path: Path) -> None:
    server = fake_openai(batch_polls=10_000)
    requests = _requests(6)
    with pytest.raises(PersonalibError, match="still running") as caught:
        list(_backend(server, tmp_path, max_wait_s=0.05).generate(requests, Decoding()))
    assert str(tmp_path / STATE_FILE) in str(caught.value)
    server.batch_polls = 1  # the batch finishes while "the process was down"
    restarted = _backend(server, tmp_path)  # a new backend object, same state folder
    results = list(restarted.generate(requests, Decoding()))
    _check(results, requests)
    assert len(results) == 6
    assert _count(server, "POST", "/v1/files") == 1 and _count(server, "POST", "/v1/batches") == 1


def test_crash_between_upload_and_create_reuses_the_upload(fake_openai, tmp_path: Path) -> None:
    server = fake_openai(Faults(rate_500=1.0, paths=("/v1/batches",)), batch_polls=1)
    requests = _requests(4)
    with pytest.raises(PersonalibError, match="creating the batch"):
        list(_backend(server, tmp_path, max_retries=0).generate(requests, Decoding()))
    (entry,) = json.loads((tmp_path / STATE_FILE).read_text())["batches"]
    assert entry["input_file_id"] and entry["batch_id"] is None
    server.faults = Faults()
    results = list(_backend(server, tmp_path).generate(requests, Decoding()))
    _check(results, requests)
    assert _count(server, "POST", "/v1/files") == 1  # the file uploaded before the crash was used


def test_polling_survives_injected_faults(fake_openai, tmp_path: Path) -> None:
    server = fake_openai(Faults(rate_429=0.2, rate_500=0.2, rate_malformed=0.1, seed=5, paths=("/v1/batches/", "/v1/files/")), batch_polls=4)
    requests = _requests(8)
    results = list(_backend(server, tmp_path, max_retries=10).generate(requests, Decoding()))
    _check(results, requests)
    assert len(results) == 8
    assert {"429", "500"} & {e.outcome for e in server.requests("/v1/batches/")}


def test_failed_lines_are_reported_and_only_they_are_resubmitted(fake_openai, tmp_path: Path) -> None:
    server = fake_openai(Faults(batch_line_error_rate=0.4, seed=2), batch_polls=1)
    requests = _requests(12)
    results = []
    with pytest.raises(PersonalibError, match="got no answer") as caught:
        for result in _backend(server, tmp_path).generate(requests, Decoding()):
            results.append(result)
    _check(results, requests)
    n_missing = len(requests) - len(results)
    assert 0 < n_missing < len(requests) and f"{n_missing} of 12" in str(caught.value)
    server.faults = Faults(seed=99)
    answered = {r.key for r in results}
    rerun = [r for r in requests if r.key not in answered]  # what the engine sends again: the missing ones
    more = list(_backend(server, tmp_path).generate(rerun, Decoding()))
    _check(more, requests)
    assert {r.key for r in more} == {r.key for r in rerun}
    assert sorted(b["request_counts"]["total"] for b in server.batches.values()) == sorted([12, n_missing])


def test_one_process_per_state_folder(tmp_path: Path) -> None:
    with BatchState(tmp_path):
        with pytest.raises(PersonalibError, match="in use by another process"):
            with BatchState(tmp_path):
                pass


def test_unreadable_state_file_is_named(tmp_path: Path, fake_openai) -> None:
    (tmp_path / STATE_FILE).write_text("{not json")
    with pytest.raises(PersonalibError, match=str(tmp_path / STATE_FILE)):
        list(_backend(fake_openai(), tmp_path).generate(_requests(1), Decoding()))
