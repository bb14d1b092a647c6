"""What every dataset definition shares: the task object, prompt pieces, file reading, row counts.

A task is built from one of three data origins (DESIGN "Data source arguments"):

- the pinned remote source (`personalib.sources`, downloaded once into the cache, then offline);
- the package's demo files (`demo=True`; `personalib/data/demo/<dataset>/`, same schema);
- local files in the source's own schema (keyword arguments such as `data_files=`).

Loading verifies the declared row count of the source (`expected_rows`). A local file with fewer
(or more) rows than the study's source, e.g. a user's own subset, is accepted only when the caller
says so with `allow_partial=True`; its count is then not checked (`expected_rows` is None) and
`n_prompts` is counted from the loaded data.
"""

from __future__ import annotations

import json
import logging
import string
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from personalib.errors import PersonalibError, SourceMissingError
from personalib.paths import DATA_DIR
from personalib.sources import ChecksumError, fetch

LETTERS = string.ascii_uppercase
LETTER_INSTRUCTION = "\n\nPlease provide only the letter that corresponds to your answer."
NUMBER_INSTRUCTION = "\n\nPlease provide only the number that corresponds to your answer."
ITEM_COLUMNS: tuple[str, ...] = ("dataset", "item_id", "prompt", "n_options", "gold", "options")
"""Columns every items table starts with (DESIGN "Items table")."""

log = logging.getLogger(__name__)

DEMO_DIR = DATA_DIR / "demo"
PARTIAL_HINT = ("If this is a deliberate subset or a custom file, pass allow_partial=True "
                "(its row count is then not checked)")


def option_lines(options: Sequence[str]) -> str:
    """`A. opt` lines joined by newlines, letters in option order (METHODS 3)."""
    if len(options) > len(LETTERS):
        raise PersonalibError(f"{len(options)} options: at most {len(LETTERS)} can be lettered")
    return "\n".join(f"{letter}. {option}" for letter, option in zip(LETTERS, options))


def mc_prompt(question: str, options: Sequence[str]) -> str:
    """The study's zero-shot multiple-choice prompt (METHODS 3):
    `Question: {q}\\nA. ..\\nB. ..\\n\\nPlease provide only the letter that corresponds to your answer.`"""
    return f"Question: {question}\n{option_lines(options)}{LETTER_INSTRUCTION}"


def rating_prompt(instruction: str, text: str, scale: str) -> str:
    """The study's rating prompt (METHODS 3): `{instruction}\\n\\n{text}\\n\\n{scale}` + the number
    instruction."""
    return f"{instruction}\n\n{text}\n\n{scale}{NUMBER_INSTRUCTION}"


def as_path(value: str | Path, argument: str) -> Path:
    """A user-given path that must exist; a PersonalibError names the argument otherwise."""
    path = Path(value).expanduser()
    if not path.exists():
        raise PersonalibError(f"{argument}={str(value)!r}: no such file or folder")
    return path


def bad_row(path: Path, row: int, message: str, unit: str = "row") -> PersonalibError:
    """Error for malformed input naming the file, where (`unit` "row": 0-based record = item row;
    "line": 1-based line of the file; "entry": 0-based list entry) and what is wrong."""
    return PersonalibError(f"{path}: {unit} {row}: {message}")


def iter_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(1-based line number, object) for each non-blank line of a JSONL file."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise bad_row(path, number, f"not valid JSON ({exc.msg})", "line") from None
            except RecursionError:
                raise bad_row(path, number, "not usable JSON (nested too deeply)", "line") from None
            if not isinstance(obj, dict):
                raise bad_row(path, number, "expected a JSON object", "line")
            yield number, obj


def load_json(path: Path) -> Any:
    """Parsed JSON file; a PersonalibError names the file and position when it is malformed."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise PersonalibError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise PersonalibError(f"{path}: not usable JSON (nested too deeply)") from None


def read_records(path: Path, fields: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of a JSONL, JSON (list of objects) or Parquet file, each checked to have `fields`."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            records = pd.read_parquet(path).to_dict("records")
        except Exception as exc:  # pyarrow raises several unrelated types for bad files
            raise PersonalibError(f"{path}: cannot read as Parquet ({exc})") from None
        numbered = list(enumerate(records))
    elif suffix in (".jsonl", ".ndjson"):
        numbered = [(number - 1, obj) for number, obj in iter_json_lines(path)]
    elif suffix == ".json":
        data = load_json(path)
        if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
            raise PersonalibError(f"{path}: expected a JSON list of objects (one per row)")
        numbered = list(enumerate(data))
    else:
        raise PersonalibError(f"{path}: unsupported file type {suffix!r} (use .jsonl, .json or .parquet)")
    for row, record in numbered:
        missing = [name for name in fields if name not in record]
        if missing:
            raise bad_row(path, row, f"missing field(s) {', '.join(missing)}")
    return [record for _, record in numbered]


def check_count(actual: int, expected: int | None, what: str, where: Path | str) -> None:
    """Stop when a source does not have its declared row count (`expected` None: not checked)."""
    if expected is not None and actual != expected:
        raise PersonalibError(
            f"{where}: {actual} {what}, but the source declares {expected}; the file is incomplete "
            f"or a different version. {PARTIAL_HINT}.")


def finish_items(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """Items DataFrame with `ITEM_COLUMNS` first, then `columns`, and the contract's dtypes."""
    frame = pd.DataFrame(rows, columns=[*ITEM_COLUMNS, *columns])
    frame["n_options"] = frame["n_options"].astype("Int64")
    frame["gold"] = frame["gold"].astype("object").where(frame["gold"].notna(), pd.NA)
    if not frame["item_id"].is_unique:
        dupes = frame.loc[frame["item_id"].duplicated(), "item_id"].head(5).tolist()
        raise PersonalibError(f"duplicate item ids {dupes}: the source has repeated rows")
    return frame


class Task(ABC):
    """One dataset's items from one data origin (module doc). Subclasses define `_build`."""

    name: ClassVar[str]
    file_args: ClassVar[tuple[str, ...]]
    source_rows: ClassVar[int]
    """Declared row count of the study's source (unit: `row_unit`)."""
    source_prompts: ClassVar[int]
    """Declared number of prompts built from the full source."""
    demo_rows: ClassVar[int]
    row_unit: ClassVar[str] = "rows"
    subsample_prompts: ClassVar[int | None] = None
    """Declared GPT-4 subsample size (mmlu, bbq); None: the dataset has no subsample."""

    def __init__(self, *, demo: bool = False, subsample: bool = False, allow_partial: bool = False,
                 files: Mapping[str, str | Path] | None = None, offline: bool | None = None) -> None:
        files = dict(files or {})
        unknown = sorted(set(files) - set(self.file_args))
        if unknown:
            raise PersonalibError(
                f"{self.name}: unknown argument(s) {', '.join(unknown)}; it takes "
                f"{', '.join(self.file_args) or 'no file arguments'} (plus demo, subsample, allow_partial)")
        if subsample and self.subsample_prompts is None:
            raise PersonalibError(f"{self.name} has no study subsample (only mmlu and bbq have one)")
        if demo and files:
            raise PersonalibError(f"{self.name}: demo=True reads the package's demo files; "
                                  f"do not pass {', '.join(sorted(files))} as well")
        self.is_demo = demo
        self.subsample = subsample
        self.allow_partial = allow_partial
        self.offline = offline              # for `sources.fetch`: True never downloads
        self.files = {key: as_path(value, key) for key, value in files.items()}
        self._items: pd.DataFrame | None = None

    @property
    def demo_dir(self) -> Path:
        """The package's demo folder for this dataset."""
        return DEMO_DIR / self.name

    @property
    def expected_rows(self) -> int | None:
        """Declared source row count that loading verifies (the demo's own count for demo data;
        None when `allow_partial=True`)."""
        if self.allow_partial:
            return None
        return self.demo_rows if self.is_demo else self.source_rows

    @property
    def n_prompts(self) -> int:
        """Number of prompts; from the declared counts without loading the study's sources, else
        from the loaded items (demo data, partial files, or once loaded)."""
        if self._items is not None or self.is_demo or self.allow_partial:
            return len(self.items())
        if self.subsample:
            assert self.subsample_prompts is not None
            return self.subsample_prompts
        return self.source_prompts

    def items(self) -> pd.DataFrame:
        """The items table (DESIGN "Items table"); built once, a copy is returned each call."""
        if self._items is None:
            self._items = self._build()
        return self._items.copy()

    @abstractmethod
    def _build(self) -> pd.DataFrame:
        """Read the source (or demo/local files) and build the items table; one per dataset."""

    def __repr__(self) -> str:
        origin = "demo" if self.is_demo else ("local files" if self.files else "pinned source")
        return f"<{type(self).__name__} {self.name} ({origin}{', subsample' if self.subsample else ''})>"


def resolve_file(task: Task, argument: str, demo_name: str, source: str, source_file: str) -> Path:
    """The file a task reads: the user's `argument=` file, else the demo copy (`demo_name` in the
    task's demo folder), else `source_file` of the pinned `source` (downloaded once, then cached)."""
    if argument in task.files:
        return task.files[argument]
    if task.is_demo:
        return task.demo_dir / demo_name
    return fetch(source, source_file, offline=task.offline)


def subsample_file(task: Task, study_file: str) -> Path | None:
    """Where the study's GPT-4 subsample ids come from (mmlu, bbq): required for `subsample=True`;
    otherwise the given/demo file or, for the full data, the study's file when it can be fetched.
    None (the `in_subsample` column is then <NA>) for partial data or when it cannot be fetched."""
    if task.subsample or "sampled_ids" in task.files or task.is_demo:
        return resolve_file(task, "sampled_ids", "sampled_ids.json", "study", study_file)
    if task.allow_partial:
        return None
    try:
        return fetch("study", study_file, offline=task.offline)
    except ChecksumError:
        raise                                       # a wrong file is an error, not an absent one
    except SourceMissingError as exc:
        log.warning("%s subsample ids unavailable, in_subsample is <NA>: %s", task.name, exc)
        return None
