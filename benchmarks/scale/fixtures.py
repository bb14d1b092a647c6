"""Synthetic item sources at the study's real sizes, each in its source's own schema.

Written by the scale benchmark so that `personalib.tasks.load_task` reads them with its row counts
checked (no `allow_partial`): TruthfulQA `validation.jsonl` (HF multiple_choice: 817 questions,
2-13 MC1 options), MMLU `test.jsonl` (HF `cais/mmlu` all/test: 14,042 rows in the 57 subjects with
their real row counts), BBQ `data/<Category>.jsonl` (11 categories with their real row counts, in
groups of 4 rows: neg/nonneg x ambig/disambig) with `supplemental/additional_metadata.csv`, the
attitude questionnaire `attitude_questions.json` (7 attitudes, 27 statements) with `att_augment.json`
(30 paraphrases per instruction type), the toxicity `largeScale.csv` (626 distinct tweets, several
annotator rows each), and the study's GPT-4 subsample id files (`sampled_ids.json`: MMLU 10,219 rows
= at most 250 per subject; BBQ 5,788 rows = 1,447 groups of 4). Every text is invented here from a
seeded generator; nothing is copied from the real sources.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from personalib.tasks.attitudes import STUDY_PARAPHRASES
from personalib.tasks import registry
from personalib.tasks.bbq import CATEGORY_ROWS
from personalib.tasks.mmlu_subjects import SUBJECTS, SUBSAMPLE_PER_SUBJECT
from personalib.tasks.toxicity import ATTITUDE_COLUMNS

N_TRUTHFULQA = 817
N_TWEETS = 626
ATTITUDES = (  # (attitude, statements, reverse-scored indices, instruction type) as the study's shape
    ("freedom of speech", 5, [0, 1], 0), ("harm of hate speech", 3, [], 0), ("racist beliefs", 5, [1], 0),
    ("traditionalism", 4, [], 1), ("language purism", 4, [], 0), ("empathy", 4, [1], 0), ("altruism", 2, [], 1),
)
AGREE_SCALE = "\n".join(f"({k}) {w}" for k, w in enumerate(
    ("Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"), start=1))
IMPORTANCE_SCALE = "\n".join(f"({k}) {w} important" for k, w in enumerate(
    ("Not at all", "Slightly", "Moderately", "Very", "Extremely"), start=1))
WORDS = ("people city river market teacher doctor garden window letter winter summer music paper "
         "history number machine animal island bridge village engine forest record signal theory "
         "student office kitchen library station country language mountain").split()
WORD_ARRAY = np.array(WORDS)
GROUPS = ("old", "young", "tall", "short", "rich", "poor", "left-handed", "right-handed", "urban", "rural")


def _phrase(rng: np.random.Generator, n: int) -> str:
    return " ".join(WORD_ARRAY[rng.integers(0, len(WORDS), n)])


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def write_truthfulqa(folder: Path, rng: np.random.Generator) -> Path:
    """`validation.jsonl`: 817 questions, `mc1_targets` with 2-13 choices (the first true)."""
    records = []
    for i in range(N_TRUTHFULQA):
        n = int(rng.integers(2, 14))
        choices = [f"Answer {k} to question {i}: {_phrase(rng, 6)}." for k in range(n)]
        extra = [f"Also true for question {i}: {_phrase(rng, 5)}."]
        records.append({"question": f"Question {i}: what about the {_phrase(rng, 8)}?",
                        "mc1_targets": {"choices": choices, "labels": [1] + [0] * (n - 1)},
                        "mc2_targets": {"choices": choices[:1] + extra + choices[1:],
                                        "labels": [1, 1] + [0] * (n - 1)}})
    path = folder / "truthfulqa" / "validation.jsonl"
    _write_jsonl(path, records)
    return path


def write_mmlu(folder: Path, rng: np.random.Generator) -> tuple[Path, Path]:
    """`test.jsonl` (all/test: the 57 subjects in order, with their row counts) and the GPT-4
    subsample `sampled_ids.json` (ascending row indices, at most 250 per subject)."""
    records, sampled, start = [], [], 0
    for subject, (_, _, rows) in SUBJECTS.items():
        for i in range(rows):
            records.append({"question": f"{subject.replace('_', ' ')} question {i}: {_phrase(rng, 10)}?",
                            "subject": subject, "choices": [_phrase(rng, 3) for _ in range(4)],
                            "answer": int(rng.integers(0, 4))})
        keep = rng.choice(rows, size=min(rows, SUBSAMPLE_PER_SUBJECT), replace=False)
        sampled.extend(int(start + k) for k in keep)
        start += rows
    path, ids = folder / "mmlu" / "test.jsonl", folder / "mmlu" / "sampled_ids.json"
    _write_jsonl(path, records)
    _write_json(ids, sorted(sampled))
    return path, ids


def _bbq_group(rng: np.random.Generator, category: str, first_id: int, question_index: int) -> tuple[list, list]:
    """Four BBQ rows (neg/nonneg x ambig/disambig) of one template, and their metadata rows."""
    a, b = rng.choice(len(GROUPS), size=2, replace=False)
    unknown = int(rng.integers(0, 3))
    named = [k for k in range(3) if k != unknown]
    info, answers, slot = {}, [], iter((GROUPS[a], GROUPS[b]))
    for k in range(3):
        tag = "unknown" if k == unknown else next(slot)
        text = "Cannot be determined" if k == unknown else f"The {tag} person"
        info[f"ans{k}"] = [text.removeprefix("The ").removesuffix(" person"), tag]
        answers.append(text)
    target = named[int(rng.integers(0, 2))] if rng.random() > 0.03 else None   # a few blank target_loc
    context = f"A {GROUPS[a]} person and a {GROUPS[b]} person met near the {_phrase(rng, 2)}."
    rows, meta = [], []
    for j, (polarity, condition) in enumerate(
            [("neg", "ambig"), ("neg", "disambig"), ("nonneg", "ambig"), ("nonneg", "disambig")]):
        label = unknown if condition == "ambig" else named[int(rng.integers(0, 2))]
        extra = f" Later the {info['ans' + str(named[0])][1]} one {_phrase(rng, 4)}." if condition == "disambig" else ""
        rows.append({"example_id": first_id + j, "question_index": str(question_index),
                     "question_polarity": polarity, "context_condition": condition, "category": category,
                     "answer_info": info, "additional_metadata": {"subcategory": "None",
                     "stereotyped_groups": [GROUPS[a]], "version": "a", "source": "synthetic"},
                     "context": context + extra, "question": f"Who {'was' if polarity == 'neg' else 'was not'} "
                     f"{_phrase(rng, 2)}?", "ans0": answers[0], "ans1": answers[1], "ans2": answers[2],
                     "label": label})
        meta.append({"category": category, "question_index": question_index, "example_id": first_id + j,
                     "target_loc": "" if target is None else target, "label_type": "label",
                     "Known_stereotyped_groups": GROUPS[a], "Relevant_social_values": _phrase(rng, 1)})
    return rows, meta


def write_bbq(folder: Path, rng: np.random.Generator) -> tuple[Path, Path, Path]:
    """A BBQ checkout (`data/<Category>.jsonl` x 11, `supplemental/additional_metadata.csv` with a
    few exact duplicate rows as in the real file) and the GPT-4 subsample `sampled_ids.json`
    ({category: [example_id, ...]}, keys in alphabetical order, 1,447 whole groups of 4)."""
    root = folder / "bbq"
    metadata: list[dict] = []
    groups: list[tuple[str, int]] = []
    for category, rows in CATEGORY_ROWS.items():
        records = []
        for g in range(rows // 4):
            four, meta = _bbq_group(rng, category, 4 * g, g % 25 + 1)
            records += four
            metadata += meta
            groups.append((category, 4 * g))
        _write_jsonl(root / "data" / f"{category}.jsonl", records)
    metadata += [metadata[int(i)] for i in rng.choice(len(metadata), size=64, replace=False)]
    meta_path = root / "supplemental" / "additional_metadata.csv"
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    with open(meta_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(metadata[0]))
        writer.writeheader()
        writer.writerows(metadata)
    chosen = sorted(rng.choice(len(groups), size=registry.spec("bbq").subsample.prompts // 4, replace=False))
    sampled: dict[str, list[int]] = {}
    for g in chosen:
        category, first = groups[g]
        sampled.setdefault(category, []).extend(range(first, first + 4))
    ids = folder / "bbq_sampled_ids.json"
    _write_json(ids, dict(sorted(sampled.items())))
    return root, meta_path, ids


def write_attitudes(folder: Path, rng: np.random.Generator) -> tuple[Path, Path]:
    """`attitude_questions.json` (7 attitudes, 27 statements) and `att_augment.json` (for each of
    the 2 instruction types, 30 numbered paraphrases in one generated text)."""
    questions = []
    for attitude, n, reverse, kind in ATTITUDES:
        questions.append({
            "attitude": attitude, "instruction_type": kind, "reverse": reverse,
            "instruction": f"Read the statement below and choose how much you {'value' if kind else 'agree'}.",
            "scale": IMPORTANCE_SCALE if kind else AGREE_SCALE,
            "statements": [f"Statement on {attitude} {s}: {_phrase(rng, 9)}." for s in range(n)]})
    paraphrases = [[{"generated_text": "\n".join(
        f"{k}. Paraphrase {k} of instruction type {kind}: {_phrase(rng, 7)}." for k in range(1, STUDY_PARAPHRASES + 1))}]
        for kind in range(2)]
    q_path, p_path = folder / "attitudes" / "attitude_questions.json", folder / "attitudes" / "att_augment.json"
    _write_json(q_path, questions)
    _write_json(p_path, paraphrases)
    return q_path, p_path


def write_toxicity(folder: Path, rng: np.random.Generator) -> Path:
    """`largeScale.csv`: one row per annotator x tweet, 626 distinct tweets with 3-12 annotators
    each from a pool of 180 annotators (fixed attitude scores per annotator), the columns the
    loader reads plus some of the real file's other columns."""
    annotators = {ann: {c: round(float(rng.uniform(1, 5)), 2) for c in ATTITUDE_COLUMNS}
                  for ann in range(1000, 1180)}
    columns = ["", "postId", "tweet", "ogId", "source", "vulgar", "targetsBlackPeople", "isAAE",
               *ATTITUDE_COLUMNS, "annotatorAge", "annotatorRace", "racist", "off_avg", "annId"]
    path = folder / "toxicity" / "largeScale.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    row = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for t in range(N_TWEETS):
            tweet = f"post {t}: {_phrase(rng, 12)}"
            flags = [bool(rng.random() < p) for p in (0.3, 0.25, 0.4)]
            for ann in rng.choice(list(annotators), size=int(rng.integers(3, 13)), replace=False):
                scores = annotators[int(ann)]
                writer.writerow([row, 7000 + t, tweet, f"syn-{t}", "synthetic", *flags,
                                 *(scores[c] for c in ATTITUDE_COLUMNS), int(rng.integers(18, 80)), "white",
                                 int(rng.integers(1, 6)), float(rng.integers(1, 6)), int(ann)])
                row += 1
    return path


def write_fixtures(folder: Path, seed: int = 2024) -> dict[str, dict[str, str]]:
    """Write every item source under `folder`; returns the profile's `datasets` section (dataset ->
    {"files": {load_task keyword: absolute path}})."""
    folder = Path(folder).resolve()
    rng = np.random.default_rng(seed)
    tqa = write_truthfulqa(folder, rng)
    mmlu, mmlu_ids = write_mmlu(folder, rng)
    bbq, metadata, bbq_ids = write_bbq(folder, rng)
    questions, paraphrases = write_attitudes(folder, rng)
    tox = write_toxicity(folder, rng)
    files = {"truthfulqa": {"data_files": tqa}, "mmlu": {"data_files": mmlu, "sampled_ids": mmlu_ids},
             "bbq": {"data_dir": bbq, "metadata": metadata, "sampled_ids": bbq_ids},
             "attitudes": {"questions": questions, "paraphrases": paraphrases}, "toxicity": {"csv": tox}}
    return {name: {"files": {k: str(v) for k, v in args.items()}} for name, args in files.items()}
