"""Token counters and cost (personalib.tokens): local tokenizer, cached tiktoken, 4 chars/token."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

try:  # the tiny offline tokenizers of test_prompts (tests/ as a package or as a plain folder)
    from tests.test_prompts import GEMMA_TEMPLATE, ZEPHYR_TEMPLATE, make_tokenizer
except ImportError:
    from test_prompts import GEMMA_TEMPLATE, ZEPHYR_TEMPLATE, make_tokenizer

from personalib.errors import ConfigError
from personalib.params import load_model
from personalib.prompts import build_messages, persona_statement, render
from personalib.tokens import (
    CHARS_PER_TOKEN,
    OPENAI_TOKENS_PER_MESSAGE,
    OPENAI_TOKENS_PER_REPLY,
    char_estimate,
    conversation_overhead,
    cost_usd,
    hf_counter,
    input_tokens,
    request_overhead,
    tiktoken_cache_file,
    token_counter,
)

STATEMENTS = [persona_statement(t) for t in ("a doctor", "", "Jorg Haider")]
PROMPTS = ["Question: What?\nA. a\nB. b", "Question: Who are you?\nA. x\nB. y\nC. z", "Rate (1) to (5)."]


def test_char_estimate():
    counter = char_estimate()
    assert counter.count_many(["abcd", "ab", ""]) == [1.0, 0.5, 0.0]
    assert counter.method == "estimate: 4 characters per token" and not counter.exact
    assert CHARS_PER_TOKEN == 4.0


@pytest.mark.parametrize("placement", ["system", "user"])
def test_input_tokens_is_the_sum_over_every_conversation(placement):
    """The additive formula equals brute force over the chosen persona x prompt conversations
    (every one, and a ragged subset, as a dry run sends), with the API framing (char estimate)."""
    counter = char_estimate()
    model = load_model("gpt-4")
    overhead = conversation_overhead(model, counter, placement)
    chosen = np.array([[1, 1, 1], [0, 1, 0], [1, 0, 1]], bool)
    statements = np.asarray(counter.count_many(STATEMENTS))
    prompts = np.asarray(counter.count_many(PROMPTS))
    per_request = request_overhead(model, counter, placement)
    for grid in (np.ones_like(chosen), chosen):
        brute = 0.0
        for p, statement in enumerate(STATEMENTS):
            for i, prompt in enumerate(PROMPTS):
                if grid[p, i]:
                    messages = build_messages(statement.removeprefix("You are ").removesuffix("."), prompt, placement)
                    brute += sum(len(m["content"]) for m in messages) / CHARS_PER_TOKEN + overhead
        counted = input_tokens(statements, prompts, per_request, grid.sum(axis=1), grid.sum(axis=0))
        assert counted == pytest.approx(brute)


def test_hf_counter_counts_without_special_tokens():
    tok = make_tokenizer(None)
    counter = hf_counter(tok, "tiny")
    assert counter.count_many(["You are a doctor .", "What ?"]) == [5.0, 2.0]
    assert counter.exact and counter.method == "tokenizer: tiny"


def test_token_counter_uses_the_params_tokenizer_folder(tmp_path: Path):
    folder = tmp_path / "tok"
    make_tokenizer(ZEPHYR_TEMPLATE).save_pretrained(folder)
    model = load_model("zephyr").model_copy(update={"tokenizer": str(folder)})
    counter = token_counter(model)
    assert counter.method == f"tokenizer: {folder}"
    assert counter.total(["You are a doctor ."]) == 5.0
    missing = model.model_copy(update={"tokenizer": str(tmp_path / "nope")})
    with pytest.raises(ConfigError, match="tokenizer folder .*nope not found"):
        token_counter(missing)


def test_token_counter_falls_back_without_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty hub cache
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # tiktoken not installed
    assert token_counter(load_model("zephyr")).method == "estimate: 4 characters per token"
    assert token_counter(load_model("gpt-4")).method == "estimate: 4 characters per token"
    assert not (tmp_path / "hf").exists() or not any((tmp_path / "hf").rglob("*.json"))


def test_token_counter_uses_a_local_model_folder(tmp_path: Path):
    folder = tmp_path / "model"
    make_tokenizer(GEMMA_TEMPLATE).save_pretrained(folder)
    model = load_model("gemma-2b").model_copy(update={"source": str(folder), "revision": None})
    assert token_counter(model).method == f"tokenizer: {folder} (local copy)"


class _FakeEncoding:
    def encode_ordinary_batch(self, texts):
        return [t.split() for t in texts]


def _fake_tiktoken(calls: list[str]) -> types.ModuleType:
    module = types.ModuleType("tiktoken")

    def encoding_name_for_model(model_id: str) -> str:
        if not model_id.startswith("gpt-"):
            raise KeyError(model_id)
        return "cl100k_base"

    def get_encoding(name: str) -> _FakeEncoding:
        calls.append(name)
        return _FakeEncoding()

    module.encoding_name_for_model = encoding_name_for_model
    module.get_encoding = get_encoding
    return module


def test_tiktoken_only_when_its_encoding_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    calls: list[str] = []
    monkeypatch.setitem(sys.modules, "tiktoken", _fake_tiktoken(calls))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    gpt4 = load_model("gpt-4")
    assert token_counter(gpt4).method.startswith("estimate")
    assert calls == []  # never asked tiktoken to load (= download) an uncached encoding
    cache = tiktoken_cache_file("cl100k_base")
    assert cache.parent == tmp_path
    # tiktoken's own cache key: sha1 of the encoding URL
    assert cache.name == "9b5ad71b2ce5302211f9c61530b329a4922fc6a4"
    cache.write_bytes(b"cached")
    counter = token_counter(gpt4)
    assert counter.method == "tiktoken: cl100k_base (cached)" and calls == ["cl100k_base"]
    assert counter.count_many(["a b c", "d"]) == [3.0, 1.0]


def test_conversation_overhead():
    gpt4 = load_model("gpt-4")
    per_msg, reply = OPENAI_TOKENS_PER_MESSAGE, OPENAI_TOKENS_PER_REPLY
    assert conversation_overhead(gpt4, char_estimate(), "system") == 2 * per_msg + reply
    assert conversation_overhead(gpt4, char_estimate(), "user") == per_msg + reply
    assert conversation_overhead(load_model("zephyr"), char_estimate(), "system") == 0.0
    tok = make_tokenizer(ZEPHYR_TEMPLATE)
    counter = hf_counter(tok, "tiny")
    text = render(build_messages("a person", "Question: ?", "system"), tok, "system")
    content = counter.total(["You are a person.", "Question: ?"])
    assert conversation_overhead(load_model("zephyr"), counter, "system") == counter.total([text]) - content > 0


def test_cost():
    gpt4 = load_model("gpt-4")
    assert cost_usd(gpt4, 2e6, 1e6) == pytest.approx(2 * 10.0 + 30.0)
    assert cost_usd(gpt4, None, 1e6) is None
    assert cost_usd(load_model("zephyr"), 1e6, 1e6) is None
