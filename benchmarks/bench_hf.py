"""hf backend throughput vs the original study's approach (issue 4, "Performance").

CPU (default): the embedded Gemma 3 270M, 256 persona prompts (64 personas of the study x 4 demo
items: TruthfulQA, MMLU, BBQ, attitudes, rendered in the completion format), the same model object,
dtype, torch threads and max_new_tokens for both sides:

- `hf`: `personalib.backends.hf` (length-sorted, left-padded batches, greedy);
- baseline: what the original study did: transformers `pipeline("text-generation")` called one
  prompt at a time (batch size 1), greedy. It runs on a spread subset of the same prompts (12 of
  the 256, evenly spread, all four datasets) to keep the benchmark near five minutes; prompts/s is
  a rate, so the two are comparable. Target: hf >= 8x the baseline's prompts/s.

max_new_tokens is the study's 100 by default: at batch size 1 a CPU spends most of its time
reading the weights once per new token, which batching shares, while the prompt's own forward pass
costs the same either way, so the speed-up grows with the answer length (and a 32-token run shows a
smaller one). Both sides run with ONE torch thread by default (`--threads`): on a machine shared
with other processes, two OpenMP threads per process on two cores made identical calls vary 2.4-18 s,
one thread kept them within 5%. The load average is printed; the ratio is measured in one run.

`--gpu` (CUDA only, skipped with a message otherwise): a randomly initialised model of the 7B
Mistral architecture (transformers `MistralConfig()` defaults, built from the config: no
download; throughput does not depend on the weights), bf16, max_new_tokens 100 as in the study,
with a BPE tokenizer trained on the prompts (ids within the architecture's 32,000 vocabulary) and
Mistral-Instruct's [INST] chat format (persona prepended to the user turn, as the study did).
Reports prompts/s, output tokens/s, the same baseline comparison, and the GPU-hours the full study
(14.56 M generations per 7B model, METHODS "Scale") would take at that rate.

    python -m benchmarks hf                 # via make bench: CPU, then GPU (skipped without CUDA)
    python -m benchmarks.bench_hf --max-new-tokens 100 --batch-size 64 --baseline-prompts 12 --threads 1
    python -m benchmarks.bench_hf --gpu     # the GPU part only
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from typing import Any

import torch

STUDY_GENERATIONS_PER_MODEL = 193 * 75_440  # 14.56 M (METHODS: Scale)
DEMO_DATASETS = ("truthfulqa", "mmlu", "bbq", "attitudes")
MISTRAL_LIKE_TEMPLATE = (  # the [INST] format of Mistral-7B-Instruct (persona prepended to the user turn)
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]"
    "{% else %}{{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
)


def persona_prompts(n_personas: int = 64) -> list[tuple[str, str]]:
    """(persona text, prompt) pairs: `n_personas` of the study's 193 (spread) x 4 demo items."""
    from personalib.personas import all_personas
    from personalib.tasks import load_task

    items = [load_task(name, demo=True).items()["prompt"].iloc[0] for name in DEMO_DATASETS]
    personas = all_personas()[:: max(1, len(all_personas()) // n_personas)][:n_personas]
    return [(p.text, item) for p in personas for item in items]


def render_requests(pairs: list[tuple[str, str]], tokenizer: Any, placement: str = "completion") -> list[Any]:
    """Requests with prompts rendered once (personalib.prompts) for `tokenizer`."""
    from personalib import prompts
    from personalib.backends.base import Request

    out = []
    for persona, item in pairs:
        text = prompts.render(prompts.build_messages(persona, item, placement), tokenizer, placement)
        out.append(Request(key=hashlib.sha256(text.encode()).hexdigest(), messages=None, prompt=text))
    return out


def baseline_subset(n: int, size: int) -> list[int]:
    """`size` prompts spread evenly over `n` (every n/size-th), shifted so all four datasets appear."""
    stride = max(1, n // size)
    return [i * stride + (i % len(DEMO_DATASETS)) for i in range(size) if i * stride + (i % len(DEMO_DATASETS)) < n]


def measure(backend: Any, requests: list[Any], max_new_tokens: int, baseline_n: int) -> dict[str, float]:
    """prompts/s of the hf backend on all requests and of pipeline batch size 1 on a subset."""
    from transformers import pipeline

    from personalib.backends.base import Decoding

    decoding = Decoding(max_new_tokens=max_new_tokens)
    load_before = os.getloadavg()[0]
    list(backend.generate(requests[:2], Decoding(max_new_tokens=2)))  # warm-up (kernels, allocator)
    start = time.perf_counter()
    results = list(backend.generate(requests, decoding))
    hf_s = time.perf_counter() - start
    print(f"  [hf backend: {len(requests)} prompts in {hf_s:.1f} s; now the baseline]", flush=True)
    pipe = pipeline("text-generation", model=backend.model, tokenizer=backend.tokenizer, device=backend.device)
    kwargs = {"max_new_tokens": max_new_tokens, "do_sample": False, "return_full_text": False, "add_special_tokens": False}
    subset = [requests[i] for i in baseline_subset(len(requests), baseline_n)]
    pipe(subset[0].prompt, **{**kwargs, "max_new_tokens": 2})  # warm-up
    start = time.perf_counter()
    baseline_texts = [pipe(r.prompt, **kwargs)[0]["generated_text"] for r in subset]
    base_s = time.perf_counter() - start
    by_key = {r.key: r.text for r in results}
    agree = sum(by_key[r.key].strip() == t.strip() for r, t in zip(subset, baseline_texts)) / len(subset)
    out_tokens = sum(r.n_output_tokens or 0 for r in results)
    return {
        "n": len(requests), "hf_s": hf_s, "hf_rate": len(requests) / hf_s, "hf_tokens_rate": out_tokens / hf_s,
        "base_n": len(subset), "base_s": base_s, "base_rate": len(subset) / base_s, "agreement": agree,
        "mean_output_tokens": out_tokens / len(results), "load_before": load_before,
    }  # fmt: skip


def report(label: str, m: dict[str, float], max_new_tokens: int, dtype: str, threads: int, batch: int) -> None:
    print(f"{label}: dtype {dtype}, torch threads {threads}, max_new_tokens {max_new_tokens}, hf batch size {batch}")
    print(f"  load average (1 min) before / after: {m['load_before']:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"  hf backend        {m['n']:>4} prompts in {m['hf_s']:7.1f} s = {m['hf_rate']:7.2f} prompts/s "
          f"({m['hf_tokens_rate']:.1f} output tokens/s, mean {m['mean_output_tokens']:.1f} tokens)")
    print(f"  pipeline, bs 1    {m['base_n']:>4} prompts in {m['base_s']:7.1f} s = {m['base_rate']:7.2f} prompts/s "
          f"(a spread subset of the same {m['n']} prompts)")
    ratio = m["hf_rate"] / m["base_rate"]
    print(f"  speed-up          {ratio:.1f}x (target >= 8x: {'met' if ratio >= 8 else 'NOT met'})")
    print(f"  same text as the baseline on {m['agreement']:.0%} of its prompts (greedy; bf16 batches may round differently)")


def run_cpu(max_new_tokens: int = 100, batch_size: int = 64, dtype: str = "auto", threads: int | None = 1, baseline_n: int = 12) -> dict[str, float]:
    """The CPU comparison on the embedded model (module doc)."""
    from personalib.backends import create
    from personalib.params import load_model

    if threads:
        torch.set_num_threads(threads)
    backend = create(load_model("gemma3-270m-demo"), device="cpu", dtype=dtype, batch_size=batch_size)
    requests = render_requests(persona_prompts(), backend.tokenizer)
    m = measure(backend, requests, max_new_tokens, baseline_n)
    report("CPU, embedded gemma-3-270m", m, max_new_tokens, str(backend.dtype).removeprefix("torch."), torch.get_num_threads(), batch_size)
    backend.close()
    return m


def trained_tokenizer(texts: list[str], vocab_size: int = 4000) -> Any:
    """A byte-level BPE tokenizer trained on `texts` (ids < vocab_size; no download)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<unk>", "<s>", "</s>", "<pad>"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>")
    fast.chat_template = MISTRAL_LIKE_TEMPLATE
    return fast


def random_model_backend(config: Any, texts: list[str], device: str, dtype: torch.dtype, batch_size: int) -> Any:
    """HFBackend over a randomly initialised model built from `config` (no weights downloaded)."""
    from transformers import AutoModelForCausalLM

    from personalib.backends.hf import HFBackend

    tokenizer = trained_tokenizer(texts, vocab_size=min(4000, config.vocab_size))
    config.bos_token_id, config.eos_token_id, config.pad_token_id = tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return HFBackend(model, tokenizer, model_id=f"random-init {type(config).__name__}", batch_size=batch_size)


def write_prompts(path: str) -> None:
    """Save `persona_prompts()` as JSON for `--prompts` (a GPU node without pandas/yaml needs only
    torch and transformers to run the GPU part)."""
    import json

    with open(path, "w", encoding="utf-8") as fh:
        json.dump(persona_prompts(), fh)
    print(f"wrote {path}")


def run_gpu(max_new_tokens: int = 100, batch_size: int = 256, baseline_n: int = 16, config: Any = None,
            device: str = "cuda", prompts_file: str | None = None) -> dict[str, float] | None:
    """The GPU measurement on a random 7B-architecture model (module doc); None when skipped."""
    from transformers import MistralConfig

    if device == "cuda" and not torch.cuda.is_available():
        print("GPU benchmark skipped: no CUDA GPU on this machine (run with --gpu on a GPU node)")
        return None
    config = config or MistralConfig()
    if prompts_file:
        import json

        with open(prompts_file, encoding="utf-8") as fh:
            pairs = [tuple(p) for p in json.load(fh)]
    else:
        pairs = persona_prompts()
    texts = [f"You are {p}.\n\n{item}" for p, item in pairs]
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    backend = random_model_backend(config, texts, device, dtype, batch_size)
    n_params = sum(p.numel() for p in backend.model.parameters())
    requests = render_requests(pairs, backend.tokenizer, placement="user")
    m = measure(backend, requests, max_new_tokens, baseline_n)
    name = torch.cuda.get_device_name(0) if device == "cuda" else device
    report(f"{name}, random-init {type(config).__name__} ({n_params / 1e9:.2f} B parameters)", m, max_new_tokens,
           str(dtype).removeprefix("torch."), torch.get_num_threads(), batch_size)  # fmt: skip
    hours = STUDY_GENERATIONS_PER_MODEL / m["hf_rate"] / 3600
    print(f"  full study per 7B model ({STUDY_GENERATIONS_PER_MODEL / 1e6:.2f} M generations, up to {max_new_tokens} "
          f"new tokens): {hours:,.1f} GPU-hours at this rate (pipeline bs 1: {STUDY_GENERATIONS_PER_MODEL / m['base_rate'] / 3600:,.0f})")
    m["study_gpu_hours"] = hours
    backend.close()
    return m


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-new-tokens", type=int, default=100, help="default 100 (the study's)")
    parser.add_argument("--batch-size", type=int, default=None, help="hf batch size (CPU default 64, GPU 256)")
    parser.add_argument("--dtype", default="auto", help="CPU dtype: auto (bf16 on CPUs with native bf16), float32, bfloat16")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both sides (default 1: stable on shared machines)")
    parser.add_argument("--baseline-prompts", type=int, default=12, help="baseline subset size (default 12)")
    parser.add_argument("--gpu", action="store_true", help="only the random 7B-architecture GPU benchmark (CUDA)")
    parser.add_argument("--prompts", help="GPU part: read the (persona, item) pairs from this JSON file")
    parser.add_argument("--write-prompts", help="write the (persona, item) pairs to this JSON file and stop")
    args = parser.parse_args(sys.argv[1:] if argv is None and __name__ == "__main__" else argv or [])
    if args.write_prompts:
        write_prompts(args.write_prompts)
        return
    if not args.gpu:
        run_cpu(args.max_new_tokens, args.batch_size or 64, args.dtype, args.threads, args.baseline_prompts)
    run_gpu(args.max_new_tokens, args.batch_size or 256, args.baseline_prompts, prompts_file=args.prompts)


if __name__ == "__main__":
    main()
