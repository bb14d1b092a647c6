"""The generation engine with an in-test backend: plan, skip, reuse, shards, chunks, failures."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from personalib.backends.base import Decoding, Request, Result
from personalib.errors import ConfigError, PersonalibError
from personalib.generate import GenerateOptions, generate
from personalib.params import load_profile
from personalib.store import Store, request_key, shard_of

PERSONAS = ["a_doctor", "a_woman", "empty", "a_helpful_assistant"]


@pytest.fixture(autouse=True)
def _echo_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONALIB_ECHO_KEY", "echo-test-key")


class EchoBackend:
    """Answers each request with a text derived from its input; can fail after N answers."""

    name = "echo"
    tokenizer = None

    def __init__(self, fail_after: int | None = None, interrupt_after: int | None = None) -> None:
        self.fail_after = fail_after
        self.interrupt_after = interrupt_after
        self.sent: list[Request] = []
        self.closed = False

    def describe(self) -> dict[str, Any]:
        return {"backend": "echo"}

    def generate(self, requests: Iterable[Request], decoding: Decoding) -> Iterator[Result]:
        for request in list(requests)[::-1]:  # any order is allowed
            if self.fail_after is not None and len(self.sent) >= self.fail_after:
                raise PersonalibError("echo backend: failure bound reached")
            if self.interrupt_after is not None and len(self.sent) >= self.interrupt_after:
                raise KeyboardInterrupt
            self.sent.append(request)
            content = request.messages[-1]["content"]
            yield Result(key=request.key, text=f"A ({len(content)})", finish_reason="stop", n_output_tokens=2)

    def close(self) -> None:
        self.closed = True


def _write_profile(tmp_path: Path, *, datasets: dict | None = None, personas: list[str] | None = PERSONAS) -> Path:
    model = {
        "name": "echo-model", "display_name": "echo", "backend": "openai", "model_id": "echo-1",
        "persona_placement": "system", "decoding": {"max_new_tokens": 100},
        "api": {"base_url": "http://127.0.0.1:9/v1", "api_key_env": "PERSONALIB_ECHO_KEY",
                "usd_per_1m_input": 1.0, "usd_per_1m_output": 2.0},
    }  # fmt: skip
    (tmp_path / "echo-model.yaml").write_text(yaml.safe_dump(model))
    profile = {
        "name": "tiny",
        "models": [str(tmp_path / "echo-model.yaml")],
        "datasets": datasets or {"truthfulqa": {"demo": True, "limit": 5}, "mmlu": {"demo": True, "limit": 3}},
        "persona_sets": ["regular", "empty", "control"],
        "personas": personas,
        "decoding": {"max_new_tokens": 8},
        "store": str(tmp_path / "store"),
        "reports": str(tmp_path / "reports"),
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(profile))
    return path


def _run(profile_path: Path, backend: EchoBackend, **options: Any) -> dict:
    options.setdefault("progress", False)
    profile = load_profile(profile_path)
    return generate(profile, GenerateOptions(**options), backend_factory=lambda m: backend, out=io.StringIO())


def test_run_stores_every_planned_entry_once_then_rerun_sends_nothing(tmp_path: Path) -> None:
    backend = EchoBackend()
    summary = _run(_write_profile(tmp_path), backend, chunk_size=7)
    planned = 4 * (5 + 3)
    assert summary["counts"] == {"planned": planned, "skipped": 0, "reused": 0, "generated": planned, "failed": 0}
    assert len(backend.sent) == planned and backend.closed
    store = Store(tmp_path / "store")
    frame = store.generations()
    assert len(frame) == planned and frame["key"].is_unique
    assert set(frame["persona_set"]) == {"regular", "empty", "control"}
    assert len(store.parts()) == 3 + 2  # chunks of 7: truthfulqa 20 -> 3 parts, mmlu 12 -> 2
    def content() -> dict:  # generations and run records (not the index, a cache beside them)
        return {p: p.stat().st_mtime_ns for p in (tmp_path / "store").rglob("*")
                if p.is_file() and "index" not in p.relative_to(tmp_path / "store").parts}

    before = content()
    again = EchoBackend()
    second = _run(_write_profile(tmp_path), again)
    assert second["counts"]["skipped"] == planned and second["counts"]["generated"] == 0
    assert again.sent == [] and store.read_raw().num_rows == planned
    # nothing done, nothing written (no new manifest): reports built from the store stay up to date
    assert content() == before


def test_keys_are_the_messages_sent_with_the_effective_decoding(tmp_path: Path) -> None:
    backend = EchoBackend()
    _run(_write_profile(tmp_path), backend, datasets=["mmlu"])
    request = backend.sent[0]
    decoding = {"max_new_tokens": 8, "temperature": 0.0, "top_p": 1.0, "seed": 42}  # profile overrides 100 -> 8
    assert request.key == request_key("echo-1", None, {"messages": list(request.messages)}, decoding)
    roles = [m["role"] for m in request.messages]
    assert roles == ["system", "user"]
    statements = {m["content"] for r in backend.sent for m in r.messages if m["role"] == "system"}
    assert statements == {"You are a doctor.", "You are a woman.", "", "You are a helpful assistant."}


def test_shards_are_disjoint_and_complete(tmp_path: Path) -> None:
    profile = _write_profile(tmp_path)
    sent = []
    for index in range(3):
        backend = EchoBackend()
        _run(profile, backend, shard=(index, 3))
        assert all(shard_of(r.key, 3) == index for r in backend.sent)
        sent.extend(r.key for r in backend.sent)
    assert len(sent) == len(set(sent)) == 32
    assert Store(tmp_path / "store").read().num_rows == 32


def test_failure_stores_what_finished_and_a_rerun_completes(tmp_path: Path) -> None:
    profile = _write_profile(tmp_path)
    with pytest.raises(PersonalibError, match="failure bound"):
        _run(profile, EchoBackend(fail_after=10), chunk_size=4)
    store = Store(tmp_path / "store")
    assert store.read().num_rows == 10  # two full chunks and half of the third
    [manifest] = store.manifests()
    assert manifest["status"] == "failed" and "failure bound" in manifest["error"]
    assert manifest["counts"]["generated"] == 10 and manifest["counts"]["failed"] == 2
    backend = EchoBackend()
    summary = _run(profile, backend)
    assert summary["counts"]["skipped"] == 10 and len(backend.sent) == 22
    assert store.read().num_rows == 32 and store.read_raw().num_rows == 32


def test_interrupt_stores_what_finished_and_counts_the_rest_as_not_sent(tmp_path: Path) -> None:
    profile = _write_profile(tmp_path)
    out = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        generate(
            load_profile(profile), GenerateOptions(progress=False, chunk_size=4),
            backend_factory=lambda m: EchoBackend(interrupt_after=6), out=out,
        )  # fmt: skip
    store = Store(tmp_path / "store")
    assert store.read().num_rows == 6
    [manifest] = store.manifests()
    assert manifest["status"] == "interrupted"
    assert manifest["counts"] == {"planned": 32, "skipped": 0, "reused": 0, "generated": 6, "failed": 0}
    total = next(line for line in out.getvalue().splitlines() if line.strip().startswith("total"))
    assert "planned        32" in total  # the dataset never reached is in the summary too


def test_same_request_under_two_labels_is_sent_once_and_stored_for_both(tmp_path: Path) -> None:
    own_set = tmp_path / "doctors.yaml"
    own_set.write_text(yaml.safe_dump({"name": "doctors", "personas": [{"text": "a doctor", "category": "health"}]}))
    profile = _write_profile(tmp_path)
    together = EchoBackend()
    summary = _run(profile, together, datasets=["mmlu"], persona_sets=["regular", str(own_set)])
    assert len(together.sent) == 2 * 3  # a_doctor, a_woman; "doctors/a_doctor" is the same request
    assert summary["counts"]["generated"] == 3 * 3
    frame = Store(tmp_path / "store").generations()
    doctors = frame[frame["persona_set"] == "doctors"].set_index("item_id")["text"].sort_index()
    regular = frame[(frame["persona_set"] == "regular") & (frame["persona"] == "a_doctor")]
    assert doctors.tolist() == regular.set_index("item_id")["text"].sort_index().tolist()



def test_request_stored_under_another_label_is_reused_not_sent(tmp_path: Path) -> None:
    own_set = tmp_path / "doctors.yaml"
    own_set.write_text(yaml.safe_dump({"name": "doctors", "personas": [{"text": "a doctor", "category": "health"}]}))
    profile = _write_profile(tmp_path)
    _run(profile, EchoBackend(), datasets=["mmlu"], persona_sets=["regular"])
    later = EchoBackend()
    summary = _run(profile, later, datasets=["mmlu"], persona_sets=["regular", str(own_set)])
    assert later.sent == []
    assert summary["counts"] == {"planned": 9, "skipped": 6, "reused": 3, "generated": 0, "failed": 0}
    frame = Store(tmp_path / "store").generations()
    assert len(frame[frame["persona_set"] == "doctors"]) == 3


def test_dry_run_counts_and_writes_nothing(tmp_path: Path) -> None:
    profile = _write_profile(tmp_path)
    _run(profile, EchoBackend(), datasets=["mmlu"])
    before = sorted(p for p in (tmp_path / "store").rglob("*"))
    summary = _run(profile, EchoBackend(), dry_run=True)
    assert summary["counts"]["planned"] == 32 and summary["counts"]["skipped"] == 12
    assert sorted(p for p in (tmp_path / "store").rglob("*")) == before


def test_dry_run_from_counts_equals_the_keyed_plan_and_follows_the_settings(tmp_path: Path) -> None:
    """The dry run counts from the stored grid (personalib.dryrun); `--shard 0/1` plans every
    key (the slow path): same counts and the same API estimate. Answers of other settings (a
    changed max_new_tokens) are not counted as stored."""
    profile = _write_profile(tmp_path)
    _run(profile, EchoBackend(), datasets=["mmlu"], limit=2)
    fast = _run(profile, EchoBackend(), dry_run=True)
    keyed = _run(profile, EchoBackend(), dry_run=True, shard=(0, 1))
    assert fast["counts"] == keyed["counts"] and fast["counts"]["skipped"] == 4 * 2
    assert [(c["requests"], c["input_tokens"], c["output_tokens"]) for c in fast["costs"]] == \
        [(c["requests"], c["input_tokens"], c["output_tokens"]) for c in keyed["costs"]]
    text = (tmp_path / "tiny.yaml").read_text().replace("max_new_tokens: 8", "max_new_tokens: 6")
    (tmp_path / "tiny.yaml").write_text(text)
    out = io.StringIO()
    changed = generate(load_profile(profile), GenerateOptions(dry_run=True, progress=False),
                       backend_factory=lambda m: EchoBackend(), out=out)
    assert changed["counts"]["skipped"] == 0 and changed["counts"]["planned"] == fast["counts"]["planned"]
    assert "already holds answers of echo-model made with other settings (8 with s" in out.getvalue()


def test_manifest_records_the_run(tmp_path: Path) -> None:
    summary = _run(_write_profile(tmp_path), EchoBackend(), limit=2, command=["personalib", "generate"])
    [manifest] = Store(tmp_path / "store").manifests()
    assert manifest["run_id"] == summary["run_id"] and manifest["status"] == "completed"
    [model] = manifest["models"]
    assert model["persona_placement"] == "system" and model["model_id"] == "echo-1"
    assert model["decoding"]["max_new_tokens"] == 8 and model["seed"] == 42
    assert set(model["datasets"]) == {"truthfulqa", "mmlu"}
    assert manifest["counts"]["planned"] == 4 * 4
    assert manifest["environment"]["libraries"]["pyarrow"]
    assert manifest["started_at"] <= manifest["ended_at"]
    json.dumps(manifest)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("datasets", ["nope"], "unknown dataset"),
        ("datasets", ["bbq"], "no source for bbq"),
        ("persona_sets", ["villains"], "unknown persona set 'villains'"),
        ("limit", 0, "--limit"),
    ],
)
def test_bad_choices_are_clear_errors_before_anything_is_written(
    tmp_path: Path, option: str, value: Any, message: str
) -> None:
    with pytest.raises((ConfigError, PersonalibError), match=message):
        _run(_write_profile(tmp_path), EchoBackend(), **{option: value})
    assert not (tmp_path / "store").exists()


def test_dry_run_estimates_api_cost_and_max_cost_refuses(tmp_path: Path) -> None:
    profile = _write_profile(tmp_path)
    out = io.StringIO()
    summary = generate(load_profile(profile), GenerateOptions(dry_run=True, progress=False), out=out)
    tqa = next(c for c in summary["costs"] if c["dataset"] == "truthfulqa")
    assert tqa["requests"] == 20 and tqa["output_tokens"] == 20 * 8
    assert tqa["input_tokens"] > 20 * 10 and "characters per token" in tqa["method"]
    usd = sum(c["usd"] for c in summary["costs"])
    expected = sum(c["input_tokens"] * 1.0 + c["output_tokens"] * 2.0 for c in summary["costs"]) / 1e6
    assert usd == pytest.approx(expected, rel=1e-3)
    assert "API estimate" in out.getvalue()
    backend = EchoBackend()
    with pytest.raises(PersonalibError, match="--max-cost"):
        _run(profile, backend, max_cost=usd / 2)
    assert backend.sent == [] and not (tmp_path / "store").exists()
    _run(profile, backend, max_cost=usd * 2)
    assert len(backend.sent) == 32


def test_models_must_be_the_profiles(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not in profile"):
        _run(_write_profile(tmp_path), EchoBackend(), models=["gpt-4"])


def test_per_model_dataset_overrides_apply(tmp_path: Path) -> None:
    path = _write_profile(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["model_datasets"] = {data["models"][0]: {"mmlu": {"limit": 1}}}
    path.write_text(yaml.safe_dump(data))
    summary = _run(path, EchoBackend(), datasets=["mmlu"])
    assert summary["counts"]["planned"] == 4 * 1
