"""The original study's release as files: where its generation files are, what each one is
(model folder, dataset folder, persona stem), the item id and row key of each position, and the
texts a file holds (METHODS 1-3). `personalib.release` imports them into a store; the mapping
rules are in its module docstring.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from personalib import DATASETS
from personalib.errors import PersonalibError
from personalib.release_download import RELEASE_COMMIT, RELEASE_REPO
from personalib.tasks import registry
from personalib.tasks.attitudes import STUDY_PARAPHRASES
from personalib.tasks.bbq import CATEGORY_ROWS
from personalib.tasks.toxicity import MEASURES

__all__ = ["DATASET_OF_FOLDER", "ReleaseFile", "expect", "item_ids", "parse_release_path", "read_generations",
           "release_keys", "results_dir", "scan_release"]

DATASET_OF_FOLDER: dict[str, str] = {name: name for name in DATASETS} | {"attitudes_extra": "attitudes"}


@dataclass(frozen=True)
class ReleaseFile:
    """One generation file of the release, as located by its path under `results/`."""

    path: Path
    control: bool
    model_folder: str
    dataset_folder: str
    stem: str

    @property
    def persona_set(self) -> str:
        """`control` under results/control, else `empty` for the stem `empty`, else `regular`."""
        return "control" if self.control else ("empty" if self.stem == "empty" else "regular")


def results_dir(path: str | Path) -> Path:
    """The release's `results/` folder: PATH itself when named `results`, else PATH/results."""
    path = Path(path)
    for candidate in ((path,) if path.name == "results" else ()) + (path / "results",):
        if candidate.is_dir():
            return candidate
    raise PersonalibError(
        f"{path}: no `results/` folder; pass the original study's repository checkout (or its results/ "
        f"folder), or use --download to fetch {RELEASE_REPO} at commit {RELEASE_COMMIT[:12]}")


def parse_release_path(relative: PurePosixPath, root: Path) -> ReleaseFile | None:
    """`zero/<model>/<dataset>/<stem>.json` or `control/zero/...` (relative to results/) -> file."""
    parts = relative.parts
    control = len(parts) == 5 and parts[:2] == ("control", "zero")
    rest = parts[2:] if control else parts[1:]
    if not (control or (len(parts) == 4 and parts[0] == "zero")) or not rest[2].endswith(".json"):
        return None
    return ReleaseFile(root / relative, control, rest[0], rest[1], rest[2].removesuffix(".json"))


def scan_release(path: str | Path) -> list[ReleaseFile]:
    """Every generation file of the release at `path`, in path order."""
    root = results_dir(path)
    found = (parse_release_path(PurePosixPath(p.relative_to(root).as_posix()), root)
             for p in sorted(root.rglob("*.json")))
    return [f for f in found if f is not None]


def release_keys(commit: str, model: str, persona_set: str, dataset_folder: str, stem: str, n: int) -> list[str]:
    """Row keys for positions 0..n-1: sha256 of canonical JSON [commit, model, set, folder, stem, i]."""
    head = json.dumps([commit, model, persona_set, dataset_folder, stem], separators=(",", ":"),
                      ensure_ascii=False)[:-1]
    return [hashlib.sha256(f"{head},{i}]".encode()).hexdigest() for i in range(n)]


def item_ids(dataset_folder: str, n: int, sampled_ids: Callable[[str], Any]) -> list[str]:
    """item_id of each position of a released list of length `n` (module doc, METHODS 3).

    `sampled_ids(dataset)` gives the study's GPT-4 subsample ids; it is called only for an
    mmlu/bbq list that is not full-length. A length that fits no rule raises PersonalibError.
    """
    if dataset_folder not in DATASET_OF_FOLDER:
        raise PersonalibError(f"unknown dataset folder {dataset_folder!r}; known: {', '.join(DATASET_OF_FOLDER)}")
    spec = registry.spec(DATASET_OF_FOLDER[dataset_folder])
    assert spec.rows is not None and spec.prompts is not None
    if dataset_folder == "truthfulqa":
        expect(n, [spec.prompts])
        return [spec.item_key(row=i) for i in range(n)]
    if dataset_folder == "toxicity":
        expect(n, [spec.prompts])
        return [spec.item_key(measure=m, tweet_index=i) for m in MEASURES for i in range(spec.rows)]
    if dataset_folder == "attitudes":
        expect(n, [spec.rows])
        return [spec.item_key(statement_index=s, variant=0) for s in range(n)]
    if dataset_folder == "attitudes_extra":
        expect(n, [spec.rows * STUDY_PARAPHRASES])
        return [spec.item_key(statement_index=i // STUDY_PARAPHRASES, variant=i % STUDY_PARAPHRASES + 1)
                for i in range(n)]
    if dataset_folder == "mmlu":
        if n == spec.prompts:
            return [spec.item_key(row=i) for i in range(n)]
        ids = sampled_ids("mmlu")
        expect(n, [spec.prompts, len(ids)])
        return [spec.item_key(row=i) for i in ids]
    if dataset_folder == "bbq":
        if n == spec.prompts:
            return [spec.item_key(category=cat, example_id=i) for cat, rows in CATEGORY_ROWS.items()
                    for i in range(rows)]
        by_category = sampled_ids("bbq")
        ids = [spec.item_key(category=cat, example_id=i)
               for cat in CATEGORY_ROWS for i in by_category.get(cat, [])]
        expect(n, [spec.prompts, len(ids)])
        return ids
    raise AssertionError(dataset_folder)  # every folder of DATASET_OF_FOLDER is handled above


def expect(n: int, counts: Sequence[int]) -> None:
    """Raise PersonalibError unless `n` is one of the expected prompt counts."""
    if n not in counts:
        raise PersonalibError(f"holds {n:,} generations; expected {' or '.join(f'{c:,}' for c in counts)} "
                              "(one per prompt, in prompt order)")


def read_generations(path: Path) -> list[str]:
    """The texts of a generation file: element i must be `[{"generated_text": "<text>"}]`."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PersonalibError(f"cannot be read as JSON ({exc})") from exc
    except RecursionError:  # arrays or objects nested thousands deep: not a generation file
        raise PersonalibError("cannot be read as JSON: it is nested too deeply (a generation file is a "
                              'list of [{"generated_text": ...}])') from None
    if not isinstance(data, list):
        raise PersonalibError(f"expected a JSON list, got {type(data).__name__}")
    try:  # the fast path: every element well formed
        texts = [element[0]["generated_text"] for element in data
                 if type(element) is list and len(element) == 1]
        if len(texts) == len(data) and all(type(t) is str for t in texts):
            return texts
    except (KeyError, TypeError, IndexError):
        pass
    for i, element in enumerate(data):  # find the first bad element, for the message
        if not (isinstance(element, list) and len(element) == 1 and isinstance(element[0], dict)
                and isinstance(element[0].get("generated_text"), str)):
            raise PersonalibError(f'element {i} is not [{{"generated_text": "<text>"}}]: {element!r:.120}')
    raise PersonalibError("malformed generation list")  # unreachable: the loop finds the element
