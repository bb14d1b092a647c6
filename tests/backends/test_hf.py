"""The hf backend: dtype and OOM rules, and the real embedded model (left padding, OOM halving, describe)."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
import torch

from personalib import prompts
from personalib.backends.base import Decoding, Request
from personalib.backends.hf import cpu_has_native_bf16, is_out_of_memory, resolve_dtype
from personalib.errors import PersonalibError
from personalib.params import load_model

QUESTIONS = [
    "Question: What is 2 + 2?\nA. 4\nB. 5\n\nPlease provide only the letter that corresponds to your answer.",
    "Hi",
    "How much could this post be seen as toxic/hateful/disrespectful or offensive\n\nI love cats and all my "
    "neighbours are wonderful people\n\n(1) Not at all offensive\n(2) Slightly offensive\n(3) Moderately offensive\n"
    "(4) Very offensive\n(5) Extremely offensive\n\nPlease provide only the number that corresponds to your answer.",
    "The capital of France is",
    "Question: Which is a mammal?\nA. Shark\nB. Dolphin\nC. Trout\n\nPlease provide only the letter that corresponds to your answer.",
]
PERSONAS = ["a doctor", "", "a black person", "a helpful assistant", "Jorg Haider"]


def _requests(tokenizer) -> list[Request]:
    out = []
    for persona, question in zip(PERSONAS, QUESTIONS):
        text = prompts.render(prompts.build_messages(persona, question, "completion"), tokenizer, "completion")
        out.append(Request(key=hashlib.sha256(text.encode()).hexdigest(), messages=None, prompt=text))
    return out


def test_dtype_rules() -> None:
    cpu = torch.device("cpu")
    assert resolve_dtype("float32", cpu) is torch.float32
    assert resolve_dtype("bfloat16", cpu) is torch.bfloat16
    assert resolve_dtype("auto", cpu) is (torch.bfloat16 if cpu_has_native_bf16() else torch.float32)
    with pytest.raises(PersonalibError, match="unknown dtype"):
        resolve_dtype("int4", cpu)


def test_out_of_memory_detection() -> None:
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))


@pytest.mark.slow
def test_left_padded_batch_equals_one_at_a_time(embedded_hf) -> None:
    requests = _requests(embedded_hf.tokenizer)
    lengths = {len(ids) for _, ids in embedded_hf.encode(requests)}
    assert len(lengths) >= 4  # the rows of the batch need different amounts of padding
    decoding = Decoding(max_new_tokens=8)
    embedded_hf.batch_size = len(requests)
    batched = {r.key: r for r in embedded_hf.generate(requests, decoding)}
    embedded_hf.batch_size = 1
    single = {r.key: r for r in embedded_hf.generate(requests, decoding)}
    embedded_hf.batch_size = embedded_hf.configured_batch_size
    assert set(batched) == {r.key for r in requests}
    for key, result in batched.items():
        assert result.text == single[key].text
        assert (result.n_input_tokens, result.n_output_tokens, result.finish_reason) == (
            single[key].n_input_tokens, single[key].n_output_tokens, single[key].finish_reason)  # fmt: skip
    assert any(r.text.strip() for r in batched.values())
    first = embedded_hf.encode(requests[:1])[0][1]
    assert first[0] == embedded_hf.tokenizer.bos_token_id and first[1] != embedded_hf.tokenizer.bos_token_id  # one BOS


@pytest.mark.slow
def test_out_of_memory_halves_the_batch(embedded_hf, monkeypatch) -> None:
    requests = _requests(embedded_hf.tokenizer)
    decoding = Decoding(max_new_tokens=2)
    embedded_hf.batch_size = 8
    expected = {r.key: r.text for r in embedded_hf.generate(requests, decoding)}
    real_generate = embedded_hf.model.generate
    sizes = []

    def generate(*args, **kwargs):  # an accelerator that fits at most 2 prompts at once
        rows = kwargs["input_ids"].shape[0]
        sizes.append(rows)
        if rows > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (injected)")
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(embedded_hf.model, "generate", generate)
    embedded_hf.batch_size = 8
    got = {r.key: r.text for r in embedded_hf.generate(requests, decoding)}
    assert got == expected
    assert embedded_hf.batch_size == 2 and sizes[:3] == [5, 4, 2]
    assert embedded_hf.describe()["batch_size_now"] == 2

    def always_oom(*args, **kwargs):
        raise RuntimeError("CUDA error: out of memory")

    monkeypatch.setattr(embedded_hf.model, "generate", always_oom)
    with pytest.raises(PersonalibError, match="out of memory even at batch size 1"):
        list(embedded_hf.generate(requests, decoding))
    embedded_hf.batch_size = embedded_hf.configured_batch_size


@pytest.mark.slow
def test_describe(embedded_hf) -> None:
    info = embedded_hf.describe()
    assert info["model_id"] == "google/gemma-3-270m"
    assert info["revision"].startswith("sha256:a5fd3b62")
    assert info["chat_template_sha256"] is None  # a base model: no chat template
    assert (info["dtype"], info["device"]) == ("float32", "cpu")  # the fixture's override
    assert info["weights"]["source"] == "embedded" and info["weights"]["gguf_sha256"].startswith("a5fd3b62")
    assert info["batch_size"] == load_model("gemma3-270m-demo").batch_size


@pytest.mark.slow
def test_finish_reason_length_and_token_counts(embedded_hf) -> None:
    (request,) = _requests(embedded_hf.tokenizer)[3:4]
    (result,) = embedded_hf.generate([request], Decoding(max_new_tokens=4))
    assert result.finish_reason in ("length", "stop")
    if result.finish_reason == "length":
        assert result.n_output_tokens == 4
    assert result.n_input_tokens == len(embedded_hf.tokenizer(request.prompt, add_special_tokens=False)["input_ids"])


@pytest.mark.slow
def test_messages_only_request_is_rendered_once_with_the_chat_template(embedded_hf, monkeypatch) -> None:
    template = "{{ bos_token }}{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}<assistant>"
    monkeypatch.setattr(embedded_hf.tokenizer, "chat_template", template, raising=False)
    messages = ({"role": "system", "content": "You are a doctor."}, {"role": "user", "content": "Hi"})
    rendered = prompts.render([dict(m) for m in messages], embedded_hf.tokenizer, "system")
    assert rendered.count("<bos>") == 1
    from_messages = Request("m", messages, None)
    from_prompt = dataclasses.replace(from_messages, key="p", messages=None, prompt=rendered)
    assert embedded_hf.encode([from_messages])[0][1] == embedded_hf.encode([from_prompt])[0][1]
    a, b = (next(iter(embedded_hf.generate([r], Decoding(max_new_tokens=3)))) for r in (from_messages, from_prompt))
    assert a.text == b.text


@pytest.mark.slow
def test_sampling_is_refused(embedded_hf) -> None:
    with pytest.raises(PersonalibError, match="greedily"):
        list(embedded_hf.generate(_requests(embedded_hf.tokenizer)[:1], Decoding(temperature=0.7)))
