"""One dataset described as data: the schema of a task YAML file (docs/datasets.md).

A task file says what a dataset is, in the spirit of lm-evaluation-harness task files: where its
items come from (a source of `personalib.sources`, which alone holds revisions and checksums, and
the files used from it), the demo files, how an item id is made, the prompt template (METHODS 3),
the kind of answer and how it is parsed (METHODS 4), which item columns are carried onto the scored
rows (METHODS 5), the display name, the declared row and prompt counts and the GPT-4 subsample.

Which Python reads the files is named by `loader`: `choice` (any multiple-choice dataset in the
Hugging Face schema: a question, a list of choices, the index of the answer) needs no code; the
study's five datasets name their own module under `personalib/tasks/` for what a file cannot say
(the seeded TruthfulQA shuffle, BBQ's target/unknown options, ...).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from personalib.errors import PersonalibError

LETTERS = string.ascii_uppercase
LOADERS: tuple[str, ...] = ("choice", "truthfulqa", "mmlu", "bbq", "attitudes", "toxicity")
"""`choice`: the generic multiple-choice loader; the others: the study's own dataset modules."""
_NAME = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceRef(_Strict):
    """The pinned source (a name in `personalib.sources.SOURCES`) and the file behind each file
    argument (`data_files`, `data_dir`, ...)."""

    name: str
    files: dict[str, str] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        from personalib.sources import SOURCES
        if value not in SOURCES:
            raise ValueError(f"unknown source {value!r}; known sources: {', '.join(SOURCES)} "
                             "(personalib/sources.py holds every pinned source)")
        return value


class DemoRef(_Strict):
    """The demo files (in the demo folder, same schema as the source) and their row count."""

    files: dict[str, str] = Field(min_length=1)
    rows: int = Field(ge=1)


class Answer(_Strict):
    """The answer kind and its parse rule (METHODS 4): a letter among the options, or a 1-5 number.
    Item columns with a scoring role (METHODS 5): `reverse` (boolean) marks reverse-scored ratings
    (6 - rating, kept as `value`); `biased` and `unknown` (option indices) mark the option that
    confirms the bias target and the "unknown" option (BBQ)."""

    kind: Literal["choice", "rating"]
    parse: Literal["letter", "number"]
    reverse: str | None = None
    biased: str | None = None
    unknown: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Answer:
        if (self.kind == "choice") != (self.parse == "letter"):
            raise ValueError("answer: a choice is parsed as a letter, a rating as a number")
        if self.reverse and self.kind != "rating":
            raise ValueError("answer.reverse: only ratings are reverse-scored")
        if (self.biased or self.unknown) and self.kind != "choice":
            raise ValueError("answer.biased, answer.unknown: options exist for multiple choice only")
        return self


class Columns(_Strict):
    """Item columns carried onto every scored row, by type (strings, integers, booleans)."""

    categorical: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    boolean: tuple[str, ...] = ()

    def all(self) -> tuple[str, ...]:
        return (*self.categorical, *self.numeric, *self.boolean)


class Subsample(_Strict):
    """The study's GPT-4 subsample: its ids file in a source and its declared size."""

    source: str
    file: str
    prompts: int = Field(ge=1)


class TaskSpec(_Strict):
    """One dataset (module docstring). `folder` (set by the registry) holds the demo files."""

    name: str = Field(pattern=_NAME)
    display_name: str = Field(min_length=1)
    description: str = ""
    loader: Literal[LOADERS] = "choice"  # type: ignore[valid-type]
    source: SourceRef | None = None
    demo: DemoRef | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    item_id: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    answer: Answer
    columns: Columns = Columns()
    rows: int | None = Field(None, ge=1)
    row_unit: str = "rows"
    prompts: int | None = Field(None, ge=1)
    subsample: Subsample | None = None
    folder: Path | None = None

    @model_validator(mode="after")
    def _checked(self) -> TaskSpec:
        names = [n for _, n, _, _ in string.Formatter().parse(self.prompt) if n is not None]
        if self.answer.kind == "choice" and "options" not in names:
            raise ValueError("prompt: a multiple-choice template must contain {options}")
        roles = [c for c in (self.answer.reverse, self.answer.biased, self.answer.unknown) if c]
        outside = [c for c in roles if c not in self.columns.all()]
        if outside:
            raise ValueError(f"answer: column(s) {', '.join(outside)} must be carried (list them in columns)")
        if self.source is None and self.demo is None:
            raise ValueError("give a source, demo files or both")
        if self.loader == "choice":
            missing = [f for f in ("question", "choices", "answer") if f not in self.fields]
            if missing:
                raise ValueError(f"fields: the choice loader needs {', '.join(missing)} "
                                 "(the record fields holding the question, the choices and the answer index)")
            if self.answer.kind != "choice":
                raise ValueError("loader choice: answer.kind must be choice")
            extra = [n for n in names if n not in ("question", "options")]
            if extra:
                raise ValueError(f"prompt: the choice loader fills {{question}} and {{options}} only, not {extra}")
        return self

    @property
    def file_args(self) -> tuple[str, ...]:
        """The file arguments a user may pass (`data_files=`, ...): the source's or demo's, plus
        `sampled_ids` when the dataset has a subsample."""
        base = self.source.files if self.source else self.demo.files if self.demo else {}
        return (*base, *(("sampled_ids",) if self.subsample else ()))

    @property
    def is_choice(self) -> bool:
        """True for multiple-choice datasets (scored by accuracy, METHODS 5)."""
        return self.answer.kind == "choice"

    def render(self, options: Sequence[str] | None = None, **values: Any) -> str:
        """The prompt of one item: the template with `values` and `{options}` as `A. text` lines."""
        if options is not None:
            values["options"] = option_lines(options)
        return self.prompt.format(**values)

    def item_key(self, **values: Any) -> str:
        """The item id of one item from the scheme `item_id` (e.g. `{row}`, `{category}/{example_id}`)."""
        return self.item_id.format(**values)


def option_lines(options: Sequence[str]) -> str:
    """`A. opt` lines joined by newlines, letters in option order (METHODS 3)."""
    if len(options) > len(LETTERS):
        raise PersonalibError(f"{len(options)} options: at most {len(LETTERS)} can be lettered")
    return "\n".join(f"{letter}. {option}" for letter, option in zip(LETTERS, options))


def read_spec(path: Path, folder: Path) -> TaskSpec:
    """The task file at `path`, validated; a PersonalibError names the file and field otherwise.
    `folder` is where its demo files are."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PersonalibError(f"{path}: cannot read the task file ({exc})") from None
    if not isinstance(data, dict):
        raise PersonalibError(f"{path}: expected a mapping of task fields (docs/datasets.md)")
    if "folder" in data:
        raise PersonalibError(f"{path}: unknown key folder (the demo items go in {folder})")
    if data.get("name") != path.stem:
        raise PersonalibError(f"{path}: name {data.get('name')!r} must equal the file name {path.stem!r}")
    try:
        return TaskSpec(**data, folder=folder)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}"
                             for e in exc.errors())
        raise PersonalibError(f"{path}: {problems} (docs/datasets.md lists the fields)") from None
    except TypeError as exc:
        raise PersonalibError(f"{path}: {exc}") from None
