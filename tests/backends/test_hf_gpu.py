"""The hf backend on a real CUDA GPU (skipped without one; run on the lent GPU machine): bf16 by
`dtype: auto`, the static + compile mode by `generation: auto`, batched greedy answers of every
mode (padded, static with torch.compile, continuous) equal to one-at-a-time answers in float32,
answer caps, and a real CUDA out-of-memory error answered by halving the batch with every request
still answered.

Self-contained (torch, transformers, tokenizers only; a small random model built from a config,
no download), so it runs on a GPU node without the rest of the stack:
`python -m pytest -p no:cacheprovider -o addopts= --noconftest tests/backends/test_hf_gpu.py`,
or `python tests/backends/test_hf_gpu.py` where pytest is not installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.bench_hf import random_model_backend  # noqa: E402
from personalib.backends.base import Decoding, Request  # noqa: E402
from personalib.backends.hf import resolve_dtype, resolve_generation  # noqa: E402

try:
    import pytest

    pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
except ImportError:  # plain `python tests/backends/test_hf_gpu.py` on a bare GPU node
    pytest = None

PROMPTS = [f"You are persona number {i}.\n\nQuestion {i}: which option is right?" + " really" * (i % 7)
           + "\nA. yes\nB. no\nAnswer:" for i in range(24)]


def _backend(dtype: torch.dtype, batch_size: int):
    from transformers import LlamaConfig

    config = LlamaConfig(hidden_size=256, intermediate_size=512, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=2, vocab_size=4000)
    torch.manual_seed(0)
    return random_model_backend(config, PROMPTS * 4, "cuda", dtype, batch_size)


def _requests(prompts: list[str]) -> list[Request]:
    return [Request(key=str(i), messages=None, prompt=p) for i, p in enumerate(prompts)]


def test_auto_dtype_on_cuda_is_bf16_where_supported() -> None:
    want = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    assert resolve_dtype("auto", torch.device("cuda")) is want


def test_auto_generation_on_cuda_is_static_with_compile() -> None:
    assert resolve_generation("auto", "auto", torch.device("cuda")) == ("static", True)


def test_batched_answers_equal_one_at_a_time_on_gpu() -> None:
    """float32, TF32 off: each mode's batched answers against the padded mode one prompt at a time.
    Compiled kernels may round differently from eager ones, so one flip of a near-tied greedy
    choice of the random model per mode is tolerated; the count is printed."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    backend = _backend(torch.float32, 1)
    single = {r.key: r.text for r in backend.generate(_requests(PROMPTS), Decoding(max_new_tokens=8))}
    assert set(single) == {str(i) for i in range(len(PROMPTS))}
    for mode, compile in (("padded", False), ("static", True), ("continuous", False), ("continuous", True)):
        backend.mode, backend.compile, backend.batch_size = mode, compile, 8
        batched = {r.key: r.text for r in backend.generate(_requests(PROMPTS), Decoding(max_new_tokens=8))}
        same = sum(batched[k] == single[k] for k in single)
        print(f"{mode}{' + compile' if compile else ''}: batched == one at a time on {same}/{len(single)} prompts; "
              f"compile error: {backend.compile_error}")
        assert set(batched) == set(single) and backend.compile_error is None
        assert same >= len(single) - 1
    backend.close()


def test_static_compiled_bf16_answers_every_request_within_its_cap() -> None:
    backend = _backend(torch.bfloat16, 8)
    backend.mode, backend.compile = "static", True
    requests = _requests(PROMPTS)  # 24 prompts: batches of 8, the compiled shape throughout
    caps = {r.key: 1 + i % 5 for i, r in enumerate(requests)}
    results = {r.key: r for r in backend.generate(requests, Decoding(max_new_tokens=8), caps=caps)}
    assert set(results) == set(caps) and all(r.n_output_tokens <= caps[k] for k, r in results.items())
    settings = backend.describe()["generation"]
    print(f"static + compile, bf16: {settings}")
    assert settings["compile"] is True and settings["compile_error"] is None and settings["batch_invariant"] is False
    backend.close()


def test_real_cuda_out_of_memory_halves_the_batch_and_answers_everything() -> None:
    backend = _backend(torch.bfloat16, 512)
    long_prompts = [p + " filler" * 300 for p in PROMPTS] * 22  # 528 long prompts
    weights = torch.cuda.memory_allocated()
    budget = weights + 600 * 2**20  # ~600 MiB for activations and the KV cache: batch 512 cannot fit
    torch.cuda.set_per_process_memory_fraction(budget / torch.cuda.get_device_properties(0).total_memory)
    try:
        results = list(backend.generate(_requests(long_prompts), Decoding(max_new_tokens=4)))
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
    print(f"batch size after out-of-memory: {backend.batch_size} (configured 512)")
    assert len(results) == len(long_prompts) and len({r.key for r in results}) == len(long_prompts)
    assert backend.batch_size < 512
    backend.close()


if __name__ == "__main__":
    if not torch.cuda.is_available():
        sys.exit("needs a CUDA GPU")
    for name, fn in list(globals().items()):
        if name.startswith("test_") and callable(fn):
            fn()
            print(f"PASSED {name}")
