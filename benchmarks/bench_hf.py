"""hf backend throughput: the previous generation path against the new ones, same run, same prompts.

Paths (`personalib.backends.hf` generation modes):

- old: `padded`, length-sorted left-padded batches with the dynamic KV cache (the only path before
  the static cache and continuous batching; still the CPU default);
- new: `static` (the GPU default: static KV cache, the decoding step compiled by torch.compile on a
  GPU) and `continuous` (transformers' continuous batching: a finished request leaves its slot at
  once).

Two answer-length settings, each path timed on both: every prompt decodes up to `max_new_tokens`
(a random-weight model never stops, so on the GPU that is exactly 100 tokens each), and "released
lengths": each prompt stops after a length drawn from the study's released answers
(`benchmarks/answer_lengths.json`, mean about 12 tokens; `benchmarks.answer_lengths`), through the
backend's answer caps. Every path gets a warm-up call first (2 tokens per prompt: kernels,
allocator, torch.compile), timed and printed apart.

CPU (default, `python -m benchmarks hf` / `make bench`): the embedded Gemma 3 270M in float32 (in
float32 all paths must give the same texts, which is checked and printed), one torch thread (two
threads on a 2-core machine shared with other processes made identical calls vary 2.4-18 s),
64 persona prompts (16 of the study's personas x 4 demo items: TruthfulQA, MMLU, BBQ, attitudes).
Also the original study's approach, transformers `pipeline("text-generation")` one prompt at a
time, on a spread subset (`--baseline-prompts`), against the old path (at 100 new tokens the
earlier target was >= 8x; at the default 32 the speed-up is smaller, since a prompt's own forward
pass costs the same either way and only the per-token steps are shared by batching).

GPU (`--gpu`, CUDA; skipped with a message elsewhere): a randomly initialised model of the 7B
Mistral architecture (transformers `MistralConfig()` defaults, built from the config: no download;
throughput does not depend on the weights) in bf16, a byte-level BPE tokenizer trained on the
prompts, Mistral-Instruct's [INST] chat format (persona prepended to the user turn, as the study
did). The prompts come from `benchmarks/gpu_prompts.json` (committed: 128 of the study's personas x
8 demo items, so the GPU node needs only torch, transformers and tokenizers). The old path runs
at batch 256 on 256 prompts (the configuration of the 18.85 prompts/s measured before), the new
paths at `--batch-size` (default 512) on 1,024 prompts. Prints prompts/s, output tokens/s, the
ratio to the old path and the GPU-hours of one model's full grid at each rate (14.56 M
generations, METHODS "Scale": hours = 14,559,920 / (prompts/s) / 3600). One prepared script of at
most 8 minutes including torch.compile: the old path and the static + compile default run first
in both settings, continuous batching after; parts that would start after `--budget-s` seconds
(default 300) are skipped with a message, and `--json PATH` rewrites the figures after every part:

    python -m benchmarks.bench_hf --gpu --json "$OUT/bench_hf_gpu.json"
    python -m benchmarks.bench_hf --threads 1 --prompts 64 --max-new-tokens 32   # the CPU part
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks import answer_lengths

STUDY_GENERATIONS_PER_MODEL = 193 * 75_440  # 14.56 M (METHODS: Scale)
DEMO_DATASETS = ("truthfulqa", "mmlu", "bbq", "attitudes")
PROMPTS_FILE = Path(__file__).with_name("gpu_prompts.json")
OLD = ("padded", False)
OLD_GPU_BATCH, OLD_GPU_PROMPTS = 256, 256
MISTRAL_LIKE_TEMPLATE = (  # the [INST] format of Mistral-7B-Instruct (persona prepended to the user turn)
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]"
    "{% else %}{{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
)


def persona_prompts(n_personas: int = 64, items_per_dataset: int = 1) -> list[tuple[str, str]]:
    """(persona text, prompt) pairs: `n_personas` of the study's 193 (spread) x the first
    `items_per_dataset` demo items of each of the four datasets, persona by persona."""
    from personalib.personas import all_personas
    from personalib.tasks import load_task

    items = [p for name in DEMO_DATASETS for p in load_task(name, demo=True).items()["prompt"].iloc[:items_per_dataset]]
    personas = all_personas()[:: max(1, len(all_personas()) // n_personas)][:n_personas]
    return [(p.text, item) for p in personas for item in items]


def write_prompts(path: Path = PROMPTS_FILE, n_personas: int = 128, items_per_dataset: int = 2) -> None:
    """Write the GPU prompts file: the personas and items of `persona_prompts` (their product)."""
    pairs = persona_prompts(n_personas, items_per_dataset)
    data = {"what": f"{n_personas} personas x {items_per_dataset * 4} demo items (benchmarks/bench_hf.py persona_prompts)",
            "personas": list(dict.fromkeys(p for p, _ in pairs)), "items": list(dict.fromkeys(i for _, i in pairs))}  # fmt: skip
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}: {len(pairs)} prompts")


def read_prompts(path: Path = PROMPTS_FILE) -> list[tuple[str, str]]:
    """The (persona, item) pairs of a prompts file, persona by persona."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [(persona, item) for persona in data["personas"] for item in data["items"]]


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


def run_path(backend: Any, requests: list[Any], path: tuple[str, bool], batch_size: int, max_new_tokens: int,
             caps: dict[str, int] | None) -> dict[str, Any]:
    """Warm up and time one path (mode, compile) on `requests`; its figures and texts."""
    from personalib.backends.base import Decoding

    backend.mode, backend.compile = path
    backend.batch_size = backend.configured_batch_size = batch_size
    decoding = Decoding(max_new_tokens=max_new_tokens)
    start = time.perf_counter()  # compile: warm up on every prompt, so the longest set the compiled cache shape
    warm = requests if path[1] else requests[:2]
    list(backend.generate(warm, decoding, caps={r.key: 2 for r in warm}))
    warmup = time.perf_counter() - start
    _sync(backend)
    start, cpu = time.perf_counter(), time.process_time()
    results = list(backend.generate(requests, decoding, caps=caps))
    _sync(backend)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    tokens = sum(r.n_output_tokens or 0 for r in results)
    return {
        "path": _label(path), "batch_size": batch_size, "n": len(results), "seconds": seconds, "cpu_s": cpu, "warmup_s": warmup,
        "rate": len(results) / seconds, "tokens_rate": tokens / seconds, "mean_tokens": tokens / len(results),
        "compile_error": backend.compile_error, "texts": {r.key: r.text for r in results},
    }  # fmt: skip


def pipeline_baseline(backend: Any, requests: list[Any], max_new_tokens: int, n: int) -> dict[str, Any]:
    """The study's approach: transformers `pipeline` one prompt at a time (greedy) on a spread subset."""
    from transformers import pipeline

    pipe = pipeline("text-generation", model=backend.model, tokenizer=backend.tokenizer, device=backend.device)
    kwargs = {"max_new_tokens": max_new_tokens, "do_sample": False, "return_full_text": False, "add_special_tokens": False}
    subset = [requests[i] for i in baseline_subset(len(requests), n)]
    pipe(subset[0].prompt, **{**kwargs, "max_new_tokens": 2})  # warm-up
    start = time.perf_counter()
    texts = {r.key: pipe(r.prompt, **kwargs)[0]["generated_text"] for r in subset}
    seconds = time.perf_counter() - start
    return {"path": "pipeline, batch size 1", "n": len(subset), "seconds": seconds, "rate": len(subset) / seconds, "texts": texts}


def _label(path: tuple[str, bool]) -> str:
    return f"{path[0]}{' + compile' if path[1] else ''}{' (old)' if path == OLD else ''}"


def _sync(backend: Any) -> None:
    if backend.device.type == "cuda":
        torch.cuda.synchronize()


def same_texts(row: dict[str, Any], old: dict[str, Any] | None) -> str:
    """'equal/compared' texts of `row` and the old path on the prompts both answered."""
    if old is None or row is old:
        return "-"
    keys = [k for k in row["texts"] if k in old["texts"]]
    return f"{sum(row['texts'][k].strip() == old['texts'][k].strip() for k in keys)}/{len(keys)}"


def print_row(row: dict[str, Any], old: dict[str, Any] | None) -> None:
    """One path's line: time (CPU time of this process), prompts/s, tokens/s, ratio to the old
    path, texts equal to the old path's, hours for one model's grid at this rate."""
    ratio = f"{row['rate'] / old['rate']:6.2f}x" if old else "      -"
    tokens = f"{row['tokens_rate']:9.1f}" if "tokens_rate" in row else "        -"
    hours = STUDY_GENERATIONS_PER_MODEL / row["rate"] / 3600
    warm = f"{row['warmup_s']:6.1f}" if "warmup_s" in row else "     -"
    cpu = f"{row['cpu_s']:6.1f}" if "cpu_s" in row else "     -"
    print(f"  {row['path']:<26} {row.get('batch_size', 1):>5} {row['n']:>5} {row['seconds']:8.1f} {cpu} {warm} "
          f"{row['rate']:9.2f} {tokens} {ratio} {row['same_as_old']:>9} {hours:12,.0f}", flush=True)
    if row.get("compile_error"):
        print(f"    torch.compile failed, ran uncompiled: {row['compile_error']}")


def header(label: str) -> None:
    print(label)
    print(f"  {'path':<26} {'batch':>5} {'n':>5} {'time s':>8} {'cpu s':>6} {'warm s':>6} {'prompts/s':>9} "
          f"{'tokens/s':>9} {'vs old':>7} {'same text':>9} {'h per model':>12}")


SETTINGS = ("every prompt to max_new_tokens", "released lengths")


class Runs:
    """The figures of one benchmark run: rows by setting, each new path compared with the old
    path's row of the same setting; written to `json_path` after every part."""

    def __init__(self, out: dict[str, Any], requests: dict[str, list[Any]], deadline: float, json_path: str | None) -> None:
        self.out, self.requests, self.deadline, self.json_path = out, requests, deadline, json_path
        self.old: dict[str, dict[str, Any]] = {}
        self.caps = dict(zip([r.key for r in requests["new"]], answer_lengths.draw(len(requests["new"]))))

    def part(self, backend: Any, setting: str, paths: list[tuple[tuple[str, bool], int]], max_new_tokens: int) -> None:
        """Time `paths` in `setting` (skipped once the time budget is spent)."""
        caps = self.caps if setting == "released lengths" else None
        header(f" {setting} ({'lengths drawn from benchmarks/answer_lengths.json, ' if caps else ''}"
               f"max_new_tokens {max_new_tokens})")
        for path, batch in paths:
            if time.perf_counter() > self.deadline:
                print(f"  {_label(path):<26} skipped: the time budget (--budget-s) is spent", flush=True)
                continue
            row = run_path(backend, self.requests["old" if path == OLD else "new"], path, batch, max_new_tokens, caps)
            if path == OLD:
                self.old[setting] = row
            row["same_as_old"] = same_texts(row, self.old.get(setting))
            print_row(row, self.old.get(setting))
            self.out.setdefault(setting, []).append({k: v for k, v in row.items() if k != "texts"})
            if self.json_path:
                Path(self.json_path).write_text(json.dumps(self.out, indent=1) + "\n", encoding="utf-8")


def run_cpu(max_new_tokens: int = 32, batch_size: int = 64, threads: int | None = 1, n_prompts: int = 64,
            baseline_n: int = 8) -> dict[str, Any]:
    """The CPU comparison on the embedded model in float32 (module doc)."""
    from personalib.backends import create
    from personalib.params import load_model

    if threads:
        torch.set_num_threads(threads)
    backend = create(load_model("gemma3-270m-demo"), device="cpu", dtype="float32", batch_size=batch_size)
    requests = render_requests(persona_prompts(max(1, n_prompts // 4)), backend.tokenizer)[:n_prompts]
    out: dict[str, Any] = {"device": "cpu", "model": "embedded gemma-3-270m", "dtype": "float32"}
    print(f"CPU, embedded gemma-3-270m, float32, torch threads {torch.get_num_threads()}, {len(requests)} persona "
          f"prompts; load average (1 min) {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    paths = [(OLD, batch_size), (("static", False), batch_size), (("continuous", False), batch_size)]
    runs = Runs(out, {"old": requests, "new": requests}, float("inf"), None)
    runs.part(backend, SETTINGS[0], paths, max_new_tokens)
    if baseline_n:
        old = runs.old[SETTINGS[0]]
        base = pipeline_baseline(backend, requests, max_new_tokens, baseline_n)
        base["same_as_old"] = same_texts(base, old)
        print_row(base, old)
        print(f"  old path / pipeline: {old['rate'] / base['rate']:.1f}x (the speed-up grows with max_new_tokens: "
              "batching shares the reading of the weights at every new token)")
        out["pipeline"] = {k: v for k, v in base.items() if k != "texts"}
    runs.part(backend, SETTINGS[1], paths, 100)
    print(f"  load average (1 min) after: {os.getloadavg()[0]:.2f}")
    backend.close()
    return out


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


def run_gpu(max_new_tokens: int = 100, batch_size: int = 512, n_prompts: int = 1024, config: Any = None,
            device: str = "cuda", prompts_file: Path = PROMPTS_FILE, budget_s: float = 300, json_path: str | None = None,
            old_batch: int = OLD_GPU_BATCH, old_prompts: int = OLD_GPU_PROMPTS) -> dict[str, Any] | None:
    """The GPU measurement on a random 7B-architecture model (module doc); None when skipped."""
    from transformers import MistralConfig

    if device == "cuda" and not torch.cuda.is_available():
        print("GPU benchmark skipped: no CUDA GPU on this machine (run with --gpu on a GPU node)")
        return None
    deadline = time.perf_counter() + budget_s
    config = config or MistralConfig()
    pairs = read_prompts(prompts_file)[:n_prompts]
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    backend = random_model_backend(config, [f"You are {p}.\n\n{item}" for p, item in pairs], device, dtype, batch_size)
    requests = render_requests(pairs, backend.tokenizer, placement="user")
    n_params = sum(p.numel() for p in backend.model.parameters())
    import transformers

    name = torch.cuda.get_device_name(0) if device == "cuda" else device
    out: dict[str, Any] = {"device": name, "model": f"random-init {type(config).__name__} ({n_params / 1e9:.2f} B)",
                           "dtype": str(dtype).removeprefix("torch."), "torch": torch.__version__,
                           "transformers": transformers.__version__, "budget_s": budget_s}  # fmt: skip
    print(f"{name}, {out['model']}, {out['dtype']}, torch {torch.__version__}, transformers {transformers.__version__}; "
          f"old path on {min(old_prompts, len(requests))} prompts, new paths on {len(requests)}")
    gpu = device == "cuda"
    runs = Runs(out, {"old": requests[:old_prompts], "new": requests}, deadline, json_path)
    for setting in SETTINGS:  # the old path and the default GPU path first, continuous batching after
        runs.part(backend, setting, [(OLD, old_batch), (("static", gpu), batch_size)], max_new_tokens)
    for setting in SETTINGS:
        runs.part(backend, setting, [(("continuous", False), min(batch_size, 256))], max_new_tokens)
    print(f"  full study per model: {STUDY_GENERATIONS_PER_MODEL / 1e6:.2f} M generations; 'h per model' = "
          f"{STUDY_GENERATIONS_PER_MODEL:,} / (prompts/s) / 3600 GPU-hours at each rate")
    backend.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpu", action="store_true", help="only the random 7B-architecture GPU benchmark (CUDA)")
    parser.add_argument("--max-new-tokens", type=int, help="CPU default 32, GPU 100 (the study's)")
    parser.add_argument("--batch-size", type=int, help="batch of the paths (CPU default 64; GPU new paths 512, old 256)")
    parser.add_argument("--prompts", type=int, help="CPU default 64, GPU 1024 (the old GPU path: the first 256)")
    parser.add_argument("--threads", type=int, default=1, help="CPU: torch threads (default 1: stable on shared machines)")
    parser.add_argument("--baseline-prompts", type=int, default=8, help="CPU: pipeline baseline subset (default 8; 0: none)")
    parser.add_argument("--prompts-file", type=Path, default=PROMPTS_FILE, help="GPU: the (persona, item) prompts file")
    parser.add_argument("--budget-s", type=float, default=300, help="GPU: skip parts that would start later (default 300)")
    parser.add_argument("--json", help="write the figures to this JSON file (rewritten after every part)")
    parser.add_argument("--write-prompts", type=Path, help="write the GPU prompts file to this path and stop")
    args = parser.parse_args(sys.argv[1:] if argv is None and __name__ == "__main__" else argv or [])
    if args.write_prompts:
        write_prompts(args.write_prompts)
        return
    if not args.gpu:
        out = run_cpu(args.max_new_tokens or 32, args.batch_size or 64, args.threads, args.prompts or 64, args.baseline_prompts)
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    run_gpu(args.max_new_tokens or 100, args.batch_size or 512, args.prompts or 1024, prompts_file=args.prompts_file,
            budget_s=args.budget_s, json_path=args.json if args.gpu else None)  # fmt: skip


if __name__ == "__main__":
    main()
