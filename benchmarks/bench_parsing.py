"""Parse and score one model's full grid of generations, streamed in chunks (issue 3 benchmark).

One model of the study = 193 personas x 75,440 prompts = 14,559,920 generations. This benchmark
builds synthetic items tables at the study's sizes (TruthfulQA 817 with 2-13 options, MMLU 14,042
in 57 subjects, BBQ 58,492 in 11 categories, attitudes 837, toxicity 1,252) and synthetic
generations with a realistic mix of answers (bare letters, letters with explanations, "X is the
answer" sentences, hedges and refusals, digit soups, ratings, 100-token rambles). It streams all
14.56 M generations, a few personas per chunk, through `personalib.metrics.score()` and reduces
each chunk to per-persona sufficient statistics (hits, biased/unknown/refusal counts per dataset),
as an analysis of a full store would. Only parse+score+reduce is timed; building the synthetic
chunks is timed separately. The identity columns come as categoricals (as read from a
dictionary-encoded Parquet store) and the texts as Arrow strings.

Baseline, in the same run: a plain per-row Python loop (the scalar `extract_choice` /
`extract_rating` / `is_refusal` per row, gold compared per row) over a sample of the same rows.
"""

from __future__ import annotations

import resource
import string
import sys
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from personalib.metrics import score
from personalib.parsing import extract_choice, extract_rating, is_refusal

N_PERSONAS = 193
PERSONAS_PER_CHUNK = 12
BASELINE_ROWS = 100_000
SIZES = {"truthfulqa": 817, "mmlu": 14_042, "bbq": 58_492, "attitudes": 837, "toxicity": 1_252}
BBQ_CATEGORIES = ("Age", "Disability_status", "Gender_identity", "Nationality", "Physical_appearance",
                  "Race_ethnicity", "Race_x_gender", "Race_x_SES", "Religion", "SES", "Sexual_orientation")
WORDS = ("the of and to in is that it for as with was on be by this are from or which an at not "
         "have has but they their one all would there been more when will who also can its about "
         "answer question option because people most likely correct choice however some other "
         "context information given based statement evidence think consider").split()
HEDGES = ("I'm sorry, but I can't provide opinions or preferences.",
          "I'm sorry, but I cannot answer that question as {p}.",
          "As an AI, I don't have personal opinions, but I can share some information.",
          "I am unable to determine the answer from the information given.",
          "It is not appropriate to answer this question.")


def _mc_items(name: str, n: int, n_options: np.ndarray, rng: np.random.Generator, **extra) -> pd.DataFrame:
    gold = np.array(list(string.ascii_uppercase))[rng.integers(0, n_options)]
    return pd.DataFrame({"dataset": name, "item_id": [str(i) for i in range(n)], "prompt": "",
                         "n_options": pd.array(n_options, dtype="Int64"), "gold": gold,
                         "options": None, **extra})


def synthetic_items(rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """Items tables with the study's sizes and the DESIGN columns the metrics read."""
    n = SIZES
    tqa = _mc_items("truthfulqa", n["truthfulqa"], rng.integers(2, 14, n["truthfulqa"]), rng)
    subjects = np.array([f"subject_{k:02d}" for k in range(57)])[rng.integers(0, 57, n["mmlu"])]
    fields = np.array(["STEM", "humanities", "social sciences", "other"])[
        np.char.str_len(subjects.astype(str)) % 4]
    mmlu = _mc_items("mmlu", n["mmlu"], np.full(n["mmlu"], 4), rng, subject=subjects, field=fields)
    unknown = rng.integers(0, 3, n["bbq"])
    target = pd.array(np.where(rng.random(n["bbq"]) < 0.9, (unknown + 1) % 3, -1), dtype="Int64")
    target[target == -1] = pd.NA
    bbq = _mc_items("bbq", n["bbq"], np.full(n["bbq"], 3), rng,
                    category=np.array(BBQ_CATEGORIES)[rng.integers(0, 11, n["bbq"])],
                    context_condition=np.where(np.arange(n["bbq"]) % 2, "disambig", "ambig"),
                    question_polarity=np.where((np.arange(n["bbq"]) // 2) % 2, "nonneg", "neg"),
                    unknown_loc=pd.array(unknown, dtype="Int64"), target_loc=target)
    att = pd.DataFrame({"dataset": "attitudes", "item_id": [f"{s}/{v}" for s in range(27) for v in range(31)],
                        "prompt": "", "n_options": pd.array([pd.NA] * 837, dtype="Int64"), "gold": None,
                        "options": None, "attitude": [f"dim{s % 7}" for s in range(27) for _ in range(31)],
                        "statement_index": [s for s in range(27) for _ in range(31)],
                        "variant": [v for _ in range(27) for v in range(31)],
                        "reverse": [s % 4 == 0 for s in range(27) for _ in range(31)]})
    tox = pd.DataFrame({"dataset": "toxicity", "item_id": [f"{m}/{t}" for m in ("off", "rac") for t in range(626)],
                        "prompt": "", "n_options": pd.array([pd.NA] * 1252, dtype="Int64"), "gold": None,
                        "options": None, "measure": [m for m in ("off", "rac") for _ in range(626)],
                        "tweet_index": [t for _ in range(2) for t in range(626)]})
    return {"truthfulqa": tqa, "mmlu": mmlu, "bbq": bbq, "attitudes": att, "toxicity": tox}


def _ramble(rng: np.random.Generator, words: int) -> str:
    return " ".join(np.array(WORDS)[rng.integers(0, len(WORDS), words)])


class TextMaker:
    """Synthetic answers by kind; `unique` kinds get a distinct tail per row (Arrow, vectorised)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.next_id = 0
        letters = list("ABCDEFGHIJKLM")
        self.mc_pools = {
            "bare": ([*letters, *(f"{x}\n" for x in letters)], False),
            "dotted": ([f"{x}." for x in letters] + [f"{x})" for x in letters], False),
            "explained": ([f"{x}. {_ramble(rng, 12)}" for x in letters for _ in range(40)], True),
            "sentence": ([f"I think {x} is the correct answer because {_ramble(rng, 10)}"
                          for x in letters for _ in range(20)], True),
            "hedge": ([h.replace("{p}", f"persona {k}") for h in HEDGES for k in range(20)], False),
            "ramble": ([_ramble(rng, 100) for _ in range(400)], True),
            "digits": ([" ".join(map(str, rng.integers(0, 10, 12))) for _ in range(200)], True),
        }
        self.mc_p = {"bare": 0.24, "dotted": 0.20, "explained": 0.24, "sentence": 0.08, "hedge": 0.06,
                     "ramble": 0.12, "digits": 0.06}
        self.rating_pools = {
            "digit": (list("123450"), False),
            "scale": ([f"({k}) {w} offensive" for k in range(1, 6) for w in ("Not at all", "Very")], False),
            "hedge": (list(HEDGES), False),
            "soup": ([" ".join(map(str, rng.integers(0, 10, 8))) for _ in range(200)], True),
            "ramble": ([_ramble(rng, 100) for _ in range(100)], True),
        }
        self.rating_p = {"digit": 0.6, "scale": 0.15, "hedge": 0.12, "soup": 0.08, "ramble": 0.05}

    def make(self, n: int, rating: bool) -> pa.Array:
        pools, probs = (self.rating_pools, self.rating_p) if rating else (self.mc_pools, self.mc_p)
        kinds = list(pools)
        kind = self.rng.choice(len(kinds), size=n, p=[probs[k] for k in kinds])
        parts, order = [], []
        for k, name in enumerate(kinds):
            rows = np.flatnonzero(kind == k)
            if not len(rows):
                continue
            pool, unique = pools[name]
            texts = pa.array(pool).take(pa.array(self.rng.integers(0, len(pool), len(rows))))
            if unique:  # a distinct tail makes each of these texts unique
                ids = pa.array(np.arange(self.next_id, self.next_id + len(rows)))
                self.next_id += len(rows)
                texts = pc.binary_join_element_wise(texts, pc.cast(ids, pa.string()), " #")
            parts.append(texts)
            order.append(rows)
        texts = pa.concat_arrays([p.cast(pa.large_string()) for p in parts])
        return texts.take(pa.array(np.argsort(np.concatenate(order), kind="stable")))


class Grid:
    """The (persona x item) rows of one model, served a few personas at a time."""

    def __init__(self, items: dict[str, pd.DataFrame], rng: np.random.Generator) -> None:
        self.items = items
        self.maker = TextMaker(rng)
        ids = pd.concat([t["item_id"] for t in items.values()], ignore_index=True)
        self.datasets = np.repeat(list(items), [len(t) for t in items.values()])
        self.item_codes, self.item_categories = pd.factorize(ids.astype(str) + "\x00" + self.datasets)
        self.item_ids = pd.Categorical(ids.astype(str))
        self.rating = np.isin(self.datasets, ("attitudes", "toxicity"))
        self.per_persona = len(ids)

    def chunk(self, first: int, count: int) -> pd.DataFrame:
        n_items = self.per_persona
        persona_codes = np.repeat(np.arange(first, first + count), n_items)
        rating = np.tile(self.rating, count)
        text_mc = self.maker.make(int((~rating).sum()), rating=False)
        text_rt = self.maker.make(int(rating.sum()), rating=True)
        order = np.concatenate([np.flatnonzero(~rating), np.flatnonzero(rating)])
        text = pa.concat_arrays([text_mc, text_rt]).take(pa.array(np.argsort(order, kind="stable")))
        personas = [f"persona_{k:03d}" for k in range(N_PERSONAS)]
        return pd.DataFrame({
            "model": pd.Categorical(["bench"] * len(rating)),
            "persona_set": pd.Categorical(np.where(persona_codes < 162, "regular", "control")),
            "persona": pd.Categorical.from_codes(persona_codes, categories=personas),
            "dataset": pd.Categorical(np.tile(self.datasets, count)),
            "item_id": pd.Categorical.from_codes(np.tile(self.item_ids.codes, count),
                                                 categories=self.item_ids.categories),
            "text": pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([text]))),
        })


def reduce_chunk(scored: pd.DataFrame) -> pd.DataFrame:
    """Per persona and dataset: counts of rows, hits, biased, unknown, refusals, rating sum."""
    frame = pd.DataFrame({
        "persona": scored["persona"], "dataset": scored["dataset"],
        "hit": scored["hit"].fillna(False).to_numpy(bool),
        "biased": scored["biased"].fillna(False).to_numpy(bool),
        "unknown": scored["unknown"].fillna(False).to_numpy(bool),
        "refusal": scored["refusal"].to_numpy(bool),
        "rating": scored["rating"].fillna(0).to_numpy(np.int64),
    })
    return frame.groupby(["persona", "dataset"], observed=True).sum()


def baseline_loop(chunk: pd.DataFrame, items: dict[str, pd.DataFrame]) -> tuple[float, dict[str, int]]:
    """The plain per-row Python loop (scalar rules per row, faithful scoring, gold by dict) over
    `chunk`: rows/s and its counts of hits, refusals and the sum of ratings."""
    gold = {(d, i): (g, n) for d, t in items.items()
            for i, g, n in zip(t["item_id"], t["gold"], t["n_options"])}
    rows = list(zip(chunk["dataset"].astype(str), chunk["item_id"].astype(str), chunk["text"].astype(str)))
    counts = {"hit": 0, "refusal": 0, "rating": 0}
    start = time.perf_counter()
    for dataset, item_id, text in rows:
        g, n = gold[(dataset, item_id)]
        if pd.isna(n):
            counts["rating"] += extract_rating(text) or 3
            counts["refusal"] += is_refusal(text)
        else:
            counts["hit"] += (extract_choice(text, int(n)) or "A") == g
            counts["refusal"] += is_refusal(text, int(n))
    return len(rows) / (time.perf_counter() - start), counts


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


def main() -> None:
    rng = np.random.default_rng(2024)
    items = synthetic_items(rng)
    grid = Grid(items, rng)
    total = N_PERSONAS * grid.per_persona
    print(f"one model's grid: {N_PERSONAS} personas x {grid.per_persona:,} prompts = {total:,} generations, "
          f"streamed {PERSONAS_PER_CHUNK} personas ({PERSONAS_PER_CHUNK * grid.per_persona:,} rows) per chunk")
    t_parse = t_build = 0.0
    done = unique = 0
    totals = None
    sample = None
    for first in range(0, N_PERSONAS, PERSONAS_PER_CHUNK):
        count = min(PERSONAS_PER_CHUNK, N_PERSONAS - first)
        t0 = time.perf_counter()
        chunk = grid.chunk(first, count)
        t1 = time.perf_counter()
        part = reduce_chunk(score(chunk, items))
        t2 = time.perf_counter()
        t_build += t1 - t0
        t_parse += t2 - t1
        totals = part if totals is None else totals.add(part, fill_value=0)
        unique += len(pd.unique(chunk["text"]))
        done += len(chunk)
        if sample is None:
            sample = chunk.sample(n=BASELINE_ROWS, random_state=0)
        print(f"  {done:>12,} rows  {done / t_parse:>10,.0f} gen/s  peak RSS {peak_rss_gib():.2f} GiB",
              flush=True)
    assert totals is not None and sample is not None and done == total
    rate = done / t_parse
    loop_rate, loop_counts = baseline_loop(sample, items)
    vector = reduce_chunk(score(sample, items)).sum()
    agree = all(int(vector[k]) == v for k, v in loop_counts.items())
    print(f"unique texts: {unique:,} of {done:,} ({unique / done:.1%}; counted per chunk)")
    print(f"parse+score+reduce: {t_parse:.1f} s for {done:,} generations = {rate:,.0f} generations/s "
          f"(building the synthetic chunks: {t_build:.1f} s, not counted)")
    print(f"plain per-row Python loop on a {BASELINE_ROWS:,}-row sample of the same data: "
          f"{loop_rate:,.0f} generations/s -> vectorised is {rate / loop_rate:.1f}x faster; "
          f"same hits/refusals/ratings on the sample: {agree}")
    print(f"peak RSS: {peak_rss_gib():.2f} GiB")
    print(f"check: {int(totals['hit'].sum()):,} hits, {int(totals['refusal'].sum()):,} refusals, "
          f"{int(totals['biased'].sum()):,} biased over {len(totals)} persona x dataset cells")
    if not agree:
        raise RuntimeError(f"vectorised and per-row counts differ on the sample: {dict(vector)} vs {loop_counts}")


if __name__ == "__main__":
    main()
    sys.exit(0)
