"""The openai backend against the fake server with the official client: faults, bounds, keys."""

from __future__ import annotations

import hashlib

import pytest

from personalib.backends.base import Decoding, Request
from personalib.backends.openai import OpenAIBackend
from personalib.errors import PersonalibError
from tests.fake_openai_server import Faults, fake_answer

MODEL = "fake-gpt"
KEY = "sk-test-0123456789abcdef"


def _requests(n: int, poison_at: int | None = None) -> list[Request]:
    out = []
    for i in range(n):
        content = f"Question {i}: POISON" if i == poison_at else f"Question {i}: what is {i} + {i}?"
        messages = ({"role": "system", "content": f"You are persona {i % 3}."}, {"role": "user", "content": content})
        out.append(Request(key=hashlib.sha256(content.encode()).hexdigest(), messages=messages, prompt=None))
    return out


def _backend(server, **options) -> OpenAIBackend:
    settings = {"api_key": KEY, "base_url": server.base_url, "concurrency": 4, "max_retries": 8,
                "timeout_s": 0.5, "backoff_base_s": 0.01, "backoff_cap_s": 0.05}  # fmt: skip
    settings.update(options)
    return OpenAIBackend(MODEL, **settings)


def _assert_correct(results, requests) -> None:
    by_key = {r.key: r for r in requests}
    for result in results:
        assert result.text == fake_answer(MODEL, [dict(m) for m in by_key[result.key].messages])


def test_every_answer_correct_despite_injected_faults(fake_openai) -> None:
    server = fake_openai(Faults(rate_429=0.15, rate_500=0.1, rate_timeout=0.05, rate_malformed=0.1, seed=3, timeout_sleep_s=1.5))
    requests = _requests(60)
    backend = _backend(server, concurrency=8)
    results = list(backend.generate(requests, Decoding(max_new_tokens=7)))
    assert sorted(r.key for r in results) == sorted(r.key for r in requests)
    _assert_correct(results, requests)
    outcomes = {e.outcome for e in server.requests("/v1/chat/completions")}
    assert {"429", "500", "timeout", "malformed", "ok"} <= outcomes  # every fault really happened
    assert all(r.system_fingerprint == server.system_fingerprint for r in results)
    assert backend.describe()["system_fingerprints"] == [server.system_fingerprint]
    assert backend.describe()["retries_so_far"] > 0


def test_decoding_and_seed_are_sent(fake_openai) -> None:
    server = fake_openai()
    list(_backend(server).generate(_requests(3), Decoding(max_new_tokens=11, seed=42)))
    for entry in server.requests("/v1/chat/completions"):
        body = entry.body
        assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"]) == (0.0, 1.0, 11, 42)
        assert body["model"] == MODEL and entry.authorization


def test_concurrency_is_bounded(fake_openai) -> None:
    server = fake_openai(Faults(latency_s=0.1))
    results = list(_backend(server, concurrency=3).generate(_requests(12), Decoding()))
    assert len(results) == 12
    assert server.max_in_flight == 3


def test_stops_at_the_retry_bound_keeping_what_succeeded(fake_openai) -> None:
    server = fake_openai(Faults(always_fail="POISON"))
    requests = _requests(20, poison_at=8)
    backend = _backend(server, concurrency=2, max_retries=2)
    results = []
    with pytest.raises(PersonalibError) as caught:
        for result in backend.generate(requests, Decoding()):
            results.append(result)
    message = str(caught.value)
    assert requests[8].key in message and "3 times in a row" in message and "api.max_retries = 2" in message
    assert "rerun" in message
    _assert_correct(results, requests)
    assert {r.key for r in requests[:8]} <= {r.key for r in results}  # everything before it finished
    poison = [e for e in server.requests("/v1/chat/completions") if "POISON" in str(e.body)]
    assert len(poison) == 3  # first try + 2 retries
    sent = {e.body["messages"][1]["content"] for e in server.requests("/v1/chat/completions")}
    assert len(sent) < len(requests)  # nothing new was sent after the failure
    answered = {r.key for r in results}
    # every request sent besides the poisoned one was answered and yielded (in-flight ones included)
    assert {r.key for r in requests if r.messages[1]["content"] in sent and "POISON" not in r.messages[1]["content"]} == answered


def test_failure_rate_above_the_bound_stops_cleanly(fake_openai) -> None:
    server = fake_openai(Faults(rate_500=0.75, seed=11))
    requests = _requests(40)
    results = []
    with pytest.raises(PersonalibError, match="times in a row"):
        for result in _backend(server, concurrency=4, max_retries=1).generate(requests, Decoding()):
            results.append(result)
    assert 0 < len(results) < len(requests)
    _assert_correct(results, requests)


def test_non_retryable_error_stops_at_once_without_leaking_the_key(fake_openai) -> None:
    server = fake_openai(api_key="sk-the-right-key")
    with pytest.raises(PersonalibError, match="HTTP 401") as caught:
        list(_backend(server).generate(_requests(1), Decoding()))
    assert KEY not in str(caught.value)
    assert len(server.requests("/v1/chat/completions")) == 1
    assert KEY not in repr(_backend(server).describe())


def test_prompt_only_request_is_refused(fake_openai) -> None:
    server = fake_openai()
    with pytest.raises(PersonalibError, match="chat messages"):
        list(_backend(server).generate([Request(key="k", messages=None, prompt="hello")], Decoding()))
    assert server.requests() == []


def test_engine_run_stops_at_the_bound_then_resumes(fake_openai, tmp_path, monkeypatch) -> None:
    """`generate` with the openai backend: a run that hits the retry bound stores what succeeded and
    says why; the rerun sends only the rest; every answer is stored once and is the server's."""
    import io

    import yaml

    from personalib.generate import GenerateOptions, generate
    from personalib.params import load_profile
    from personalib.store import Store

    server = fake_openai(Faults(rate_500=0.5, seed=4))
    monkeypatch.setenv("PERSONALIB_TEST_API_KEY", KEY)
    params = {
        "name": "fake", "display_name": "fake", "backend": "openai", "model_id": MODEL, "persona_placement": "system",
        "api": {"base_url": server.base_url, "api_key_env": "PERSONALIB_TEST_API_KEY", "concurrency": 4,
                "max_retries": 1, "timeout_s": 5},
    }  # fmt: skip
    (tmp_path / "fake.yaml").write_text(yaml.safe_dump(params))
    profile = {"name": "run", "models": [str(tmp_path / "fake.yaml")], "datasets": {"mmlu": {"demo": True, "limit": 4}},
               "persona_sets": ["empty", "control"], "store": str(tmp_path / "store"), "reports": str(tmp_path / "reports")}  # fmt: skip
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(profile))
    options = GenerateOptions(progress=False, chunk_size=16)
    with pytest.raises(PersonalibError, match="times in a row"):
        generate(load_profile(tmp_path / "run.yaml"), options, out=io.StringIO())
    store = Store(tmp_path / "store")
    first = len(store.read_raw(["key"]))
    assert 0 < first < 31 * 4
    assert KEY not in "".join(p.read_text(errors="ignore") for p in (tmp_path / "store").rglob("*") if p.is_file())
    server.faults = Faults()
    sent_before = len(server.requests("/v1/chat/completions", outcome="ok"))
    summary = generate(load_profile(tmp_path / "run.yaml"), options, out=io.StringIO())
    assert summary["counts"]["skipped"] == first and summary["counts"]["generated"] == 31 * 4 - first
    assert len(server.requests("/v1/chat/completions", outcome="ok")) - sent_before == 31 * 4 - first
    rows = store.read_raw(["key", "text"]).to_pylist()
    assert len(rows) == len({r["key"] for r in rows}) == 31 * 4
    answers = {fake_answer(MODEL, e.body["messages"]) for e in server.requests("/v1/chat/completions", outcome="ok")}
    assert {r["text"] for r in rows} <= answers


def _engine_store(server, tmp_path, name: str, concurrency: int, chunk_size: int | None) -> tuple[dict, list[dict]]:
    """One `generate` run of 31 personas x 4 MMLU demo items against `server` into its own store."""
    import io

    import yaml

    from personalib.generate import GenerateOptions, generate
    from personalib.params import load_profile
    from personalib.store import Store

    params = {
        "name": "fake", "display_name": "fake", "backend": "openai", "model_id": MODEL, "persona_placement": "system",
        "api": {"base_url": server.base_url, "api_key_env": None, "concurrency": concurrency, "max_retries": 8, "timeout_s": 5},
    }  # fmt: skip
    folder = tmp_path / name
    folder.mkdir()
    (folder / "fake.yaml").write_text(yaml.safe_dump(params))
    profile = {"name": "run", "models": [str(folder / "fake.yaml")], "datasets": {"mmlu": {"demo": True, "limit": 4}},
               "persona_sets": ["empty", "control"], "store": str(folder / "store"), "reports": str(folder / "reports")}  # fmt: skip
    (folder / "run.yaml").write_text(yaml.safe_dump(profile))
    options = GenerateOptions(progress=False, chunk_size=chunk_size)
    summary = generate(load_profile(folder / "run.yaml"), options, out=io.StringIO())
    rows = Store(folder / "store").read_raw(["key", "persona_set", "persona", "dataset", "item_id", "text"]).to_pylist()
    return summary["counts"], rows


def test_engine_store_is_the_same_one_at_a_time_and_at_high_concurrency(fake_openai, tmp_path) -> None:
    """The fast path (64 in flight, one call per dataset, parts of 4096) stores exactly what one
    request at a time with a part per two answers stores: same entries, keys and texts, each once."""
    server = fake_openai()
    slow_counts, slow = _engine_store(server, tmp_path, "slow", concurrency=1, chunk_size=2)
    fast_counts, fast = _engine_store(server, tmp_path, "fast", concurrency=64, chunk_size=None)
    assert slow_counts == fast_counts == {"planned": 31 * 4, "skipped": 0, "reused": 0, "generated": 31 * 4, "failed": 0}
    identity = lambda row: (row["key"], row["persona_set"], row["persona"], row["dataset"], row["item_id"])  # noqa: E731
    assert len(slow) == len(fast) == len({identity(r) for r in fast}) == 31 * 4  # each entry exactly once
    assert sorted(slow, key=identity) == sorted(fast, key=identity)
    sent = {fake_answer(e.body["model"], e.body["messages"]) for e in server.requests("/v1/chat/completions", outcome="ok")}
    assert {r["text"] for r in fast} <= sent
    assert len(list((tmp_path / "slow" / "store" / "parts").glob("*.parquet"))) == 31 * 4 / 2
    assert len(list((tmp_path / "fast" / "store" / "parts").glob("*.parquet"))) == 1


def test_closing_the_stream_stops_sending_and_workers_wait_for_the_consumer(fake_openai, monkeypatch) -> None:
    """Nothing new is sent once the consumer closes the stream (Ctrl-C, a failed store write), and
    workers take no request while `concurrency + AHEAD` are taken and not consumed."""
    import time

    from personalib.backends import openai as backend_module

    monkeypatch.setattr(backend_module, "AHEAD", 3)
    server = fake_openai()
    backend = _backend(server, concurrency=2)
    stream = backend.generate(_requests(100), Decoding())
    first = [next(stream) for _ in range(4)]
    time.sleep(0.5)  # the workers would have sent all 100 by now without the bound
    assert len(server.requests("/v1/chat/completions")) <= 4 + 2 + 3
    stream.close()
    sent = len(server.requests("/v1/chat/completions"))
    time.sleep(0.3)
    assert len(server.requests("/v1/chat/completions")) == sent <= 9
    _assert_correct(first, _requests(100))
    results = list(backend.generate(_requests(10), Decoding()))  # the same workers serve the next call
    assert len(results) == 10
    backend.close()
