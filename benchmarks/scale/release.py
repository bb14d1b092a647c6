"""A synthetic release of one model in the original repository's layout (`personalib.release`).

    results/zero/<model folder>/<dataset folder>/<stem>.json           regular personas and `empty`
    results/control/zero/<model folder>/<dataset folder>/<stem>.json   control personas

Each file is a JSON list with one `[{"generated_text": ...}]` per prompt, in prompt order, written
as the study's `json.dump` wrote it (default separators, `ensure_ascii`). The texts are the answer
mix of `benchmarks/bench_parsing.py` (its `TextMaker`, imported), one generator per persona seeded
by the persona's position, with the unique tails of each persona in their own id range, so the
kinds meant to be distinct are distinct across the whole release. The measured share of distinct
texts is the number of distinct 64-bit hashes of all texts over their number.

A persona subset of a release (the benchmark's 1/8, 1/4, 1/2 scales) is a folder of hard links to
the full release's files (`link_subset`), so it takes no disk space.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.bench_parsing import TextMaker
from personalib.personas import load_persona_set

FOLDERS: tuple[tuple[str, int, bool], ...] = (  # (dataset folder, prompts, rating answers)
    ("truthfulqa", 817, False), ("mmlu", 14_042, False), ("bbq", 58_492, False),
    ("attitudes", 27, True), ("attitudes_extra", 810, True), ("toxicity", 1_252, True),
)
PROMPTS_PER_PERSONA = sum(n for _, n, _ in FOLDERS)  # 75,440
ID_RANGE = 10**7
"""Each persona's unique-tail ids start at position x ID_RANGE (more than its 75,440 texts)."""
MARKER = "bench-release.json"


@dataclass(frozen=True)
class PersonaRef:
    """One persona of the study: its set (regular, empty, control), file stem and position."""

    persona_set: str
    stem: str
    index: int

    @property
    def control(self) -> bool:
        return self.persona_set == "control"


def study_personas() -> list[PersonaRef]:
    """The 193 personas of one model's grid: 162 regular, `empty`, 30 control (study order)."""
    refs = [(p.set_name, p.stem) for name in ("regular", "empty", "control") for p in load_persona_set(name)]
    return [PersonaRef(s, stem, i) for i, (s, stem) in enumerate(refs)]


def scale_personas(fraction: float) -> list[PersonaRef]:
    """About `fraction` of the personas: round(162 f) regular and round(30 f) control personas,
    evenly spaced through each set's order (so every persona category is represented), and `empty`."""
    everyone = study_personas()
    chosen = []
    for name in ("regular", "empty", "control"):
        members = [p for p in everyone if p.persona_set == name]
        k = len(members) if name == "empty" else max(1, min(len(members), round(len(members) * fraction)))
        chosen += [members[int(i)] for i in np.unique(np.linspace(0, len(members) - 1, k).round())]
    return chosen


def generations_json(texts: list[str]) -> str:
    """`json.dumps([[{"generated_text": t}] for t in texts])`, built without the per-row objects."""
    if not texts:
        return "[]"
    body = '}], [{"generated_text": '.join(map(encode_basestring_ascii, texts))
    return '[[{"generated_text": ' + body + "}]]"


def persona_dir(root: Path, model_folder: str, persona: PersonaRef, folder: str) -> Path:
    """Where a persona's file of one dataset folder goes under the release root."""
    base = root / "results" / ("control/zero" if persona.control else "zero")
    return base / model_folder / folder


def write_persona(root: Path, model_folder: str, persona: PersonaRef, seed: int,
                  folders: tuple[tuple[str, int, bool], ...] = FOLDERS) -> np.ndarray:
    """Write one persona's files; returns the 64-bit hashes of its texts (for the distinct share)."""
    maker = TextMaker(np.random.default_rng([seed, persona.index]))
    maker.next_id = persona.index * ID_RANGE
    hashes = []
    for folder, n, rating in folders:
        texts = maker.make(n, rating).to_pylist()
        path = persona_dir(root, model_folder, persona, folder) / f"{persona.stem}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(generations_json(texts), encoding="ascii")
        hashes.append(pd.util.hash_array(np.asarray(texts, dtype=object)))
    return np.concatenate(hashes)


def _write_one(args: tuple) -> np.ndarray:
    return write_persona(*args)


def write_release(root: Path, model_folder: str, personas: list[PersonaRef], *, seed: int = 2024,
                  jobs: int = 2, folders: tuple[tuple[str, int, bool], ...] = FOLDERS) -> dict:
    """Write the release of `personas` under `root` with `jobs` processes; returns what was written
    (personas, files, generations, distinct share, bytes, seconds), also kept as `root/MARKER`."""
    start = time.perf_counter()
    tasks = [(root, model_folder, p, seed, folders) for p in personas]
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            hashes = list(pool.map(_write_one, tasks, chunksize=1))
    else:
        hashes = [_write_one(t) for t in tasks]
    every = np.concatenate(hashes)
    info = {"model_folder": model_folder, "seed": seed, "personas": [p.stem for p in personas],
            "files": len(personas) * len(folders), "generations": int(every.size),
            "distinct_share": float(np.unique(every).size / max(every.size, 1)),
            "bytes": disk_bytes(root / "results"), "seconds": round(time.perf_counter() - start, 2)}
    (root / MARKER).write_text(json.dumps(info, indent=1), encoding="utf-8")
    return info


def read_marker(root: Path) -> dict | None:
    """What `write_release` recorded for the release at `root` (None when absent: not complete)."""
    try:
        return json.loads((root / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def link_subset(full: Path, target: Path, model_folder: str, personas: list[PersonaRef],
                folders: tuple[tuple[str, int, bool], ...] = FOLDERS) -> Path:
    """A release folder at `target` holding only `personas`' files: hard links into `full`
    (copies where the filesystem has no hard links). Rebuilt from scratch each time."""
    shutil.rmtree(target, ignore_errors=True)
    for persona in personas:
        for folder, _, _ in folders:
            source = persona_dir(full, model_folder, persona, folder) / f"{persona.stem}.json"
            dest = persona_dir(target, model_folder, persona, folder) / source.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, dest)
            except OSError:
                shutil.copyfile(source, dest)
    return target


def disk_bytes(path: Path) -> int:
    """Disk space used by the files under `path` (allocated blocks, each hard-linked file once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total
