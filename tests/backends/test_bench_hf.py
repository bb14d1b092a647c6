"""benchmarks/bench_hf.py and benchmarks/answer_lengths.py: their prompts and answer lengths, and
the GPU path run end to end on a tiny random model on CPU."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import answer_lengths, bench_hf

TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2}


def test_256_persona_prompts_over_four_demo_datasets() -> None:
    pairs = bench_hf.persona_prompts()
    assert len(pairs) == 256 and len({p for p, _ in pairs}) == 64 and len({i for _, i in pairs}) == 4
    subset = bench_hf.baseline_subset(256, 16)
    assert len(subset) == 16 and {i % 4 for i in subset} == {0, 1, 2, 3}


def test_committed_gpu_prompts_are_the_package_personas_and_demo_items(tmp_path) -> None:
    """The GPU node reads benchmarks/gpu_prompts.json (no pandas there): it must be what
    `persona_prompts` gives today."""
    bench_hf.write_prompts(tmp_path / "p.json")
    assert bench_hf.read_prompts(tmp_path / "p.json") == bench_hf.read_prompts() == bench_hf.persona_prompts(128, 2)
    assert len(bench_hf.read_prompts()) == 1024 and len(set(bench_hf.read_prompts())) == 1024


def test_drawn_answer_lengths_follow_the_committed_distribution() -> None:
    data = answer_lengths.load()
    lengths = answer_lengths.draw(20_000, seed=1)
    assert lengths == answer_lengths.draw(20_000, seed=1) and min(lengths) >= 1 and max(lengths) <= 100
    # the grid is 96% MMLU and BBQ, answered like TruthfulQA (their proxy): the mean is near TruthfulQA's + 1 stop token
    proxy = data["datasets"]["truthfulqa"]["mean_tokens"] + 1
    assert abs(sum(lengths) / len(lengths) - proxy) < 1.5
    assert set(data["datasets"]) == {"truthfulqa", "attitudes", "toxicity"}


@pytest.mark.reference
@pytest.mark.slow
def test_committed_answer_lengths_are_computed_from_the_reference(reference_dir) -> None:
    """Recounting the released answers with the embedded tokenizer gives the committed file."""
    tokenizer, name = answer_lengths.embedded_tokenizer()
    assert answer_lengths.compute(reference_dir, tokenizer, name) == answer_lengths.load()


def test_gpu_path_on_a_tiny_random_model(tmp_path, capsys) -> None:
    """The whole GPU script on CPU (float32, no compile): old and new paths in both answer-length
    settings, every path's texts equal to the old path's, figures written to JSON."""
    from transformers import MistralConfig

    path = tmp_path / "gpu.json"
    out = bench_hf.run_gpu(max_new_tokens=4, batch_size=16, n_prompts=40, config=MistralConfig(**TINY), device="cpu",
                           json_path=str(path), old_batch=8, old_prompts=24)  # fmt: skip
    assert out is not None and json.loads(path.read_text()) == json.loads(json.dumps(out))
    for setting in ("every prompt to max_new_tokens", "released lengths"):
        rows = {row["path"]: row for row in out[setting]}
        assert sorted(rows) == ["continuous", "padded (old)", "static"]
        assert rows["padded (old)"]["n"] == 24 and rows["static"]["n"] == rows["continuous"]["n"] == 40
        assert rows["static"]["same_as_old"] == rows["continuous"]["same_as_old"] == "24/24"
    assert out["released lengths"][0]["mean_tokens"] < out["every prompt to max_new_tokens"][0]["mean_tokens"]
    printed = capsys.readouterr().out
    assert "prompts/s" in printed and "14,559,920 / (prompts/s) / 3600" in printed


def test_gpu_budget_skips_parts_with_a_message(capsys) -> None:
    from transformers import MistralConfig

    out = bench_hf.run_gpu(max_new_tokens=2, batch_size=8, n_prompts=8, config=MistralConfig(**TINY), device="cpu",
                           budget_s=0, old_batch=8, old_prompts=8)  # fmt: skip
    assert out is not None and "every prompt to max_new_tokens" not in out
    assert "skipped: the time budget (--budget-s) is spent" in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message printed without a GPU")
def test_gpu_benchmark_is_skipped_with_a_message_on_cpu(capsys) -> None:
    assert bench_hf.run_gpu() is None
    assert "skipped: no CUDA GPU" in capsys.readouterr().out
