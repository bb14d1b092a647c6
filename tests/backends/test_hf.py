"""The hf backend: dtype and OOM rules, and the real embedded model (left padding, OOM halving, describe)."""

from __future__ import annotations

import hashlib

import pytest
import torch

from personalib import prompts
from personalib.backends.base import Decoding, Request
from personalib.backends import hf_continuous
from personalib.backends.hf import cpu_has_native_bf16, is_out_of_memory, resolve_dtype, resolve_generation
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


def test_generation_mode_rules() -> None:
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert resolve_generation("auto", "auto", cpu) == ("padded", False)
    assert resolve_generation("auto", "auto", gpu) == ("static", True)
    assert resolve_generation("continuous", "auto", gpu) == ("continuous", True)
    assert resolve_generation("padded", "auto", gpu) == ("padded", False)
    assert resolve_generation("static", False, gpu) == ("static", False)
    with pytest.raises(PersonalibError, match="needs a CUDA GPU"):
        resolve_generation("static", True, cpu)
    with pytest.raises(PersonalibError, match="needs mode static or continuous"):
        resolve_generation("padded", True, gpu)


@pytest.fixture(scope="module")
def one_at_a_time(embedded_hf) -> dict[str, object]:
    """The answers of `_requests` generated alone (padded mode, batch size 1), 8 new tokens."""
    embedded_hf.mode, embedded_hf.batch_size = "padded", 1
    try:
        return {r.key: r for r in embedded_hf.generate(_requests(embedded_hf.tokenizer), Decoding(max_new_tokens=8))}
    finally:
        embedded_hf.batch_size = embedded_hf.configured_batch_size


@pytest.fixture
def mode(embedded_hf, request) -> str:
    """Switch the shared backend to a generation mode for one test (compile as given), then back."""
    embedded_hf.mode, embedded_hf.compile = request.param
    yield request.param[0]
    embedded_hf.mode, embedded_hf.compile, embedded_hf.batch_size = "padded", False, embedded_hf.configured_batch_size


@pytest.mark.slow
@pytest.mark.parametrize("mode", [("padded", False), ("static", True), ("continuous", False)], indirect=True)
def test_batched_answers_equal_one_at_a_time(embedded_hf, one_at_a_time, mode) -> None:
    """float32 on CPU: every mode gives each prompt, batched with prompts of other lengths, the
    answer it gets alone (text, token counts, finish reason). Static with compile on (not compiled
    on a CPU) fills its last batch up to batch_size with copies, whose answers are dropped."""
    requests = _requests(embedded_hf.tokenizer)
    lengths = {len(ids) for _, ids in embedded_hf.encode(requests)}
    assert len(lengths) >= 4  # the rows of the batch need different amounts of padding
    embedded_hf.batch_size = len(requests) if mode == "padded" else 3
    batched = {r.key: r for r in embedded_hf.generate(requests, Decoding(max_new_tokens=8))}
    assert set(batched) == {r.key for r in requests}
    for key, result in batched.items():
        single = one_at_a_time[key]
        assert (result.text, result.n_input_tokens, result.n_output_tokens, result.finish_reason) == (
            single.text, single.n_input_tokens, single.n_output_tokens, single.finish_reason)  # fmt: skip
    assert any(r.text.strip() for r in batched.values())
    first = embedded_hf.encode(requests[:1])[0][1]
    assert first[0] == embedded_hf.tokenizer.bos_token_id and first[1] != embedded_hf.tokenizer.bos_token_id  # one BOS
    info = embedded_hf.describe()["generation"]
    assert info["mode"] == mode and info["continuous_batching"] == (mode == "continuous") and info["batch_invariant"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", [("padded", False), ("continuous", False)], indirect=True)
def test_answer_caps_stop_a_request_early(embedded_hf, one_at_a_time, mode) -> None:
    """A capped request gets the first `cap` tokens of its full answer, the others their full answer."""
    requests = _requests(embedded_hf.tokenizer)
    caps = {requests[0].key: 3, requests[2].key: 1}
    embedded_hf.batch_size = 3
    got = {r.key: r for r in embedded_hf.generate(requests, Decoding(max_new_tokens=8), caps=caps)}
    assert set(got) == {r.key for r in requests}
    tokenizer = embedded_hf.tokenizer
    for key, result in got.items():
        full = one_at_a_time[key]
        if key not in caps:
            assert (result.text, result.n_output_tokens) == (full.text, full.n_output_tokens)
            continue
        assert result.n_output_tokens <= caps[key] and full.text.startswith(result.text)
        assert len(tokenizer(result.text, add_special_tokens=False)["input_ids"]) <= caps[key]


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
    assert "chat_template_sha256" not in info  # the engine records the template's hash in the manifest
    assert (info["dtype"], info["device"]) == ("float32", "cpu")  # the fixture's override
    assert info["weights"]["source"] == "embedded" and info["weights"]["gguf_sha256"].startswith("a5fd3b62")
    assert info["batch_size"] == load_model("gemma3-270m-demo").batch_size
    settings = info["generation"]
    assert (settings["mode"], settings["compile"], settings["cache_implementation"]) == ("padded", False, "dynamic")
    assert settings["batch_invariant"] is True and "longest first" in settings["ordering"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", [("static", True)], indirect=True)
def test_a_failed_compile_goes_on_uncompiled_and_is_recorded(embedded_hf, one_at_a_time, mode, monkeypatch) -> None:
    real_generate = embedded_hf.model.generate

    def generate(*args, **kwargs):  # torch.compile failing on the first compiled call
        if not kwargs["generation_config"].disable_compile:
            raise torch._dynamo.exc.TorchDynamoException("inductor: no C++ compiler found (injected)")
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(embedded_hf.model, "generate", generate)
    requests = _requests(embedded_hf.tokenizer)
    caps = {r.key: 2 for r in requests}  # two tokens are enough to see the batch answered
    embedded_hf.batch_size = len(requests)
    got = {r.key: r for r in embedded_hf.generate(requests, Decoding(max_new_tokens=8), caps=caps)}
    assert set(got) == set(one_at_a_time) and all(one_at_a_time[k].text.startswith(r.text) for k, r in got.items())
    settings = embedded_hf.describe()["generation"]
    assert settings["compile"] is False and "no C++ compiler found" in settings["compile_error"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", [("continuous", False)], indirect=True)
def test_continuous_out_of_memory_halves_and_reruns_only_the_unfinished(embedded_hf, mode, monkeypatch) -> None:
    requests = _requests(embedded_hf.tokenizer)
    calls: list[list[str]] = []
    real_run = hf_continuous._run

    def run(backend, todo, config, limits):  # the first pass answers one request, then runs out of memory
        calls.append([r.key for r, _ in todo])
        results = real_run(backend, todo, config, limits)
        if len(calls) == 1:
            yield next(results)
            results.close()
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 9.00 GiB (injected)")
        yield from results

    monkeypatch.setattr(hf_continuous, "_run", run)
    embedded_hf.batch_size = 4
    got = [r.key for r in embedded_hf.generate(requests, Decoding(max_new_tokens=2))]
    assert sorted(got) == sorted(r.key for r in requests) and len(got) == len(requests)
    assert embedded_hf.batch_size == 2 and len(calls) == 2 and len(calls[1]) == len(requests) - 1
    assert embedded_hf.describe()["generation"]["paged_cache"]["max_requests_per_batch"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("mode", [("continuous", False)], indirect=True)
def test_continuous_failure_is_a_clear_error(embedded_hf, mode) -> None:
    failure = hf_continuous._failure(embedded_hf, ["RuntimeError: shape mismatch in layer 3"])
    assert isinstance(failure, PersonalibError) and "shape mismatch" in str(failure) and "generation.mode" in str(failure)
    assert is_out_of_memory(hf_continuous._failure(embedded_hf, ["CUDA out of memory. Tried to allocate 2 GiB"]))


@pytest.mark.slow
def test_finish_reason_length_and_token_counts(embedded_hf) -> None:
    (request,) = _requests(embedded_hf.tokenizer)[3:4]
    (result,) = embedded_hf.generate([request], Decoding(max_new_tokens=4))
    assert result.finish_reason in ("length", "stop")
    if result.finish_reason == "length":
        assert result.n_output_tokens == 4
    assert result.n_input_tokens == len(embedded_hf.tokenizer(request.prompt, add_special_tokens=False)["input_ids"])


@pytest.mark.slow
def test_messages_only_request_is_refused(embedded_hf) -> None:
    messages = ({"role": "system", "content": "You are a doctor."}, {"role": "user", "content": "Hi"})
    with pytest.raises(PersonalibError, match="no rendered prompt"):
        embedded_hf.encode([Request("m", messages, None)])


@pytest.mark.slow
def test_sampling_is_refused(embedded_hf) -> None:
    with pytest.raises(PersonalibError, match="greedily"):
        list(embedded_hf.generate(_requests(embedded_hf.tokenizer)[:1], Decoding(temperature=0.7)))
