"""Answer lengths of the study's released generations, for replaying realistic answer lengths.

A random-weight model (the GPU benchmark's 7B architecture) never emits its stop token, so every
prompt would run to `max_new_tokens`. Real answers stop early: most of the study's answers are a
letter, a rating or one sentence. `answer_lengths.json` (beside this file, committed, so a GPU node
without the reference data or a tokenizer download can read it) holds the token counts of the
released answers; `draw()` samples generation lengths from it.

How the file is computed (`python -m benchmarks.answer_lengths --reference ../shared/reference`):

- every answer of `original-release/results/**/<dataset>/<persona>.json` (the released sample:
  GPT-3.5 TruthfulQA, GPT-4 attitudes, attitude paraphrases and toxicity ratings; folder
  `attitudes_extra` counts as the grid's `attitudes` dataset, whose 837 prompts per persona are the
  27 statements x 31 instructions);
- tokenised with the Gemma 3 tokenizer of the embedded model (offline; no other tokenizer of the
  study's models is available without a download), capped at 100 tokens (METHODS 2);
- per dataset a histogram {tokens: answers}. `draw()` picks a dataset with the weight of its
  prompts in one persona's grid (METHODS "Scale": truthfulqa 817, attitudes 837, toxicity 1,252,
  mmlu 14,042, bbq 58,492 = 75,440), then a token count from that dataset's histogram; the released
  sample has no MMLU or BBQ answers, so those two take the TruthfulQA histogram (the same
  multiple-choice format: "provide only the letter"). A generation is the answer's tokens plus the
  stop token, at most 100.

These are GPT answers counted with another model's tokenizer: the distribution is a realistic
shape for a benchmark (mostly short answers, a tail up to the cap), not a prediction of how long
the open models' answers are.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).with_name("answer_lengths.json")
CAP = 100  # the study's max_new_tokens (METHODS 2)
GRID_PROMPTS = {"truthfulqa": 817, "attitudes": 837, "toxicity": 1252, "mmlu": 14042, "bbq": 58492}
PROXIES = {"mmlu": "truthfulqa", "bbq": "truthfulqa"}
FOLDER_DATASET = {"attitudes_extra": "attitudes"}


def released_answers(reference: Path) -> dict[str, list[tuple[str, str]]]:
    """Dataset -> [(file relative to the results folder, answer text)] of the released sample."""
    results = reference / "original-release" / "results"
    if not results.is_dir():
        raise SystemExit(f"no released results under {results}: pass --reference pointing at ../shared/reference")
    answers: dict[str, list[tuple[str, str]]] = {}
    for path in sorted(results.rglob("*.json")):
        dataset = FOLDER_DATASET.get(path.parent.name, path.parent.name)
        rel = str(path.relative_to(results))
        for element in json.loads(path.read_text(encoding="utf-8")):
            answers.setdefault(dataset, []).append((rel, element[0]["generated_text"]))
    return answers


def compute(reference: Path, tokenizer: Any, tokenizer_name: str) -> dict[str, Any]:
    """The content of `answer_lengths.json` (module doc: sources, tokenizer, cap, weights)."""
    datasets = {}
    for dataset, answers in released_answers(reference).items():
        ids = tokenizer([text for _, text in answers], add_special_tokens=False)["input_ids"]
        histogram = Counter(min(CAP, len(row)) for row in ids)
        datasets[dataset] = {
            "answers": len(answers),
            "files": sorted({rel for rel, _ in answers}),
            "mean_tokens": round(sum(k * v for k, v in histogram.items()) / len(answers), 2),
            "histogram": {str(k): histogram[k] for k in sorted(histogram)},
        }
    return {
        "what": "token counts of the study's released answers (benchmarks/answer_lengths.py explains the rules)",
        "source": "../shared/reference/original-release/results (sample of peluz/persona-behavior)",
        "tokenizer": tokenizer_name,
        "cap": CAP,
        "grid_prompts_per_persona": GRID_PROMPTS,
        "proxies": PROXIES,
        "datasets": datasets,
    }


def load(path: Path = DATA_FILE) -> dict[str, Any]:
    """The committed distribution."""
    return json.loads(path.read_text(encoding="utf-8"))


def draw(n: int, seed: int = 42, data: dict[str, Any] | None = None) -> list[int]:
    """`n` generation lengths (answer tokens + the stop token, at most the cap), sampled as the
    module doc says: a dataset by its weight in the grid, then a token count from its histogram."""
    data = data or load()
    rng = random.Random(seed)
    names = list(data["grid_prompts_per_persona"])
    weights = [data["grid_prompts_per_persona"][name] for name in names]
    tables = {}
    for name in names:
        histogram = data["datasets"][data["proxies"].get(name, name)]["histogram"]
        tables[name] = ([int(k) for k in histogram], list(histogram.values()))
    out = []
    for dataset in rng.choices(names, weights=weights, k=n):
        values, counts = tables[dataset]
        out.append(min(data["cap"], rng.choices(values, weights=counts)[0] + 1))
    return out


def embedded_tokenizer() -> tuple[Any, str]:
    """The embedded Gemma 3 270M tokenizer (offline) and a name for the file's provenance."""
    from transformers import AutoTokenizer

    from personalib.backends import embedded

    tokenizer = AutoTokenizer.from_pretrained(str(embedded.ensure_converted()))
    return tokenizer, f"Gemma 3 tokenizer of the embedded gemma-3-270m (GGUF sha256 {embedded.provenance()['gguf_sha256'][:12]})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write benchmarks/answer_lengths.json from the released answers.")
    parser.add_argument("--reference", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "reference")
    parser.add_argument("--output", type=Path, default=DATA_FILE)
    args = parser.parse_args(argv)
    tokenizer, name = embedded_tokenizer()
    data = compute(args.reference, tokenizer, name)
    args.output.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    lengths = draw(100_000, data=data)
    print(f"wrote {args.output}: {sum(d['answers'] for d in data['datasets'].values()):,} answers; "
          f"drawn generation lengths: mean {sum(lengths) / len(lengths):.1f} tokens, "
          f"{sum(x == CAP for x in lengths) / len(lengths):.1%} at the cap of {CAP}")


if __name__ == "__main__":
    main()
