"""benchmarks/bench_hf.py: its prompts, and the GPU path run end to end on a tiny config on CPU."""

from __future__ import annotations

import pytest
import torch

from benchmarks import bench_hf


def test_256_persona_prompts_over_four_demo_datasets() -> None:
    pairs = bench_hf.persona_prompts()
    assert len(pairs) == 256 and len({p for p, _ in pairs}) == 64 and len({i for _, i in pairs}) == 4
    subset = bench_hf.baseline_subset(256, 16)
    assert len(subset) == 16 and {i % 4 for i in subset} == {0, 1, 2, 3}


def test_gpu_path_on_a_tiny_random_model(capsys) -> None:
    from transformers import MistralConfig

    tiny = MistralConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    m = bench_hf.run_gpu(max_new_tokens=4, batch_size=64, baseline_n=4, config=tiny, device="cpu")
    assert m is not None and m["n"] == 256 and m["base_n"] == 4
    assert m["agreement"] == 1.0  # float32: the batched answers equal the pipeline's one-at-a-time answers
    assert m["study_gpu_hours"] == pytest.approx(193 * 75_440 / m["hf_rate"] / 3600)
    out = capsys.readouterr().out
    assert "prompts/s" in out and "GPU-hours" in out


def test_gpu_path_reads_the_prompts_from_a_file(tmp_path, capsys) -> None:
    from transformers import MistralConfig

    path = tmp_path / "prompts.json"
    bench_hf.main(["--write-prompts", str(path)])
    tiny = MistralConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2)
    m = bench_hf.run_gpu(max_new_tokens=2, batch_size=64, baseline_n=4, config=tiny, device="cpu",
                         prompts_file=str(path))
    assert m is not None and m["n"] == 256


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message printed without a GPU")
def test_gpu_benchmark_is_skipped_with_a_message_on_cpu(capsys) -> None:
    assert bench_hf.run_gpu() is None
    assert "skipped: no CUDA GPU" in capsys.readouterr().out
