"""The one registry of datasets: every consumer asks it what a dataset is (docs/datasets.md).

Task files are read from two folders:

- the package's `personalib/data/tasks/<name>.yaml`: the study's five datasets (METHODS 3), in the
  study's order `personalib.DATASETS`, with demo files in `personalib/data/demo/<name>/`;
- the project's `params/tasks/<name>.yaml` (beside `params/models` and `params/profiles`): datasets
  a user adds, with their demo files in `params/tasks/<name>/`. They follow the study's five, in
  name order, and may not reuse a study dataset's name.

    from personalib.tasks import registry
    registry.names()                      # ("truthfulqa", "mmlu", "bbq", "attitudes", "toxicity", ...)
    registry.spec("bbq").display_name     # "BBQ"
    items = registry.load_task("mmlu", demo=True).items()
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from personalib import DATASETS
from personalib.errors import PersonalibError
from personalib.paths import DATA_DIR, params_dir
from personalib.tasks.spec import TaskSpec, read_spec

if TYPE_CHECKING:
    import pandas as pd

    from personalib.tasks.base import Task


class DatasetSource(Protocol):
    """What `load_items` reads of a profile's dataset entry (`personalib.params.DatasetSpec`)."""

    limit: int | None

    def task_kwargs(self) -> dict[str, Any]: ...

PACKAGE_TASKS = DATA_DIR / "tasks"
DEMO_DIR = DATA_DIR / "demo"
LOADER_CLASSES: dict[str, str] = {
    "choice": "personalib.tasks.choice:ChoiceTask", "truthfulqa": "personalib.tasks.truthfulqa:TruthfulQA",
    "mmlu": "personalib.tasks.mmlu:MMLU", "bbq": "personalib.tasks.bbq:BBQ",
    "attitudes": "personalib.tasks.attitudes:Attitudes", "toxicity": "personalib.tasks.toxicity:Toxicity",
}
_cache: dict[tuple, dict[str, TaskSpec]] = {}


def user_tasks_dir() -> Path:
    """Where a project's own task files live: `params/tasks/`."""
    return params_dir() / "tasks"


def _files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def _study() -> dict[str, TaskSpec]:
    key = ("study",)
    if key not in _cache:
        found = {path.stem: read_spec(path, DEMO_DIR / path.stem) for path in _files(PACKAGE_TASKS)}
        assert tuple(sorted(found)) == tuple(sorted(DATASETS)), f"package task files: {sorted(found)}"
        _cache[key] = {name: found[name] for name in DATASETS}
    return _cache[key]


def specs() -> dict[str, TaskSpec]:
    """Name -> spec of every dataset: the study's five in the study's order, then the project's."""
    study = _study()
    paths = _files(user_tasks_dir())
    key = tuple((str(p), p.stat().st_mtime_ns) for p in paths)
    if key not in _cache:
        added = {}
        for path in paths:
            if path.stem in study:
                raise PersonalibError(f"{path}: {path.stem!r} is a study dataset; "
                                      "give the added dataset another name")
            added[path.stem] = read_spec(path, path.with_suffix(""))
        _cache[key] = {**study, **added}
    return _cache[key]


def names() -> tuple[str, ...]:
    """Every dataset name, in order (module docstring)."""
    return tuple(specs())


def study_names() -> tuple[str, ...]:
    """The study's five datasets (METHODS 3), in the study's order."""
    return tuple(_study())


def spec(name: str) -> TaskSpec:
    """The spec of dataset `name`; a PersonalibError lists the known names otherwise."""
    known = specs()
    if name not in known:
        raise PersonalibError(f"unknown dataset {name!r}; choose one of {', '.join(known)} "
                              f"(add one as {user_tasks_dir()}/<name>.yaml, docs/datasets.md)")
    return known[name]


def choice_names() -> tuple[str, ...]:
    """The multiple-choice datasets (scored by accuracy), in order."""
    return tuple(n for n, s in specs().items() if s.is_choice)


def display_name(name: str) -> str:
    """The name a report shows for dataset `name` (e.g. "TruthfulQA")."""
    return spec(name).display_name


def carried_columns(name: str) -> tuple[str, ...]:
    """The item columns `metrics.score` carries onto each scored row of dataset `name`."""
    return spec(name).columns.all()


def project_files(name: str) -> list[Path]:
    """The files a project's own dataset `name` is made of (its task file and demo files), so that
    a change to them makes reports stale; none for a study dataset (part of the package)."""
    task_spec = spec(name)
    if name in study_names() or task_spec.folder is None:
        return []
    demo = [task_spec.folder / f for f in task_spec.demo.files.values()] if task_spec.demo else []
    return [task_spec.folder.with_suffix(".yaml"), *(p for p in demo if p.is_file())]


def load_task(name: str, *, demo: bool = False, subsample: bool = False, allow_partial: bool = False,
              offline: bool | None = None, **files: str | Path) -> Task:
    """The task `name` from the pinned source, the demo files (`demo=True`) or local files in the
    source's own schema (`files`), METHODS 3. `subsample=True` keeps the study's GPT-4 subsample
    (datasets whose spec has one). `allow_partial=True` accepts local files whose row count differs
    from the declared one. Nothing is read until `.items()` (or `.n_prompts`) is called.
    `offline=True` never downloads a source (only cached copies are read); None follows the
    environment's offline switches (`personalib.sources.fetch`)."""
    task_spec = spec(name)
    module, cls = LOADER_CLASSES[task_spec.loader].split(":")
    task_class = getattr(importlib.import_module(module), cls)
    return task_class(task_spec, demo=demo, subsample=subsample, allow_partial=allow_partial, files=files,
                      offline=offline)


def load_items(dataset: str, source: DatasetSource, limit: int | None = None, *,
               task: Any = None, offline: bool | None = None) -> pd.DataFrame:
    """The items of `dataset` from a profile's dataset `source` (docs/DESIGN.md "Items table"),
    its first `limit` rows (the source's or the given, the smaller); from `task` when given (a
    `load_task` object already made for this source); `offline` as in `load_task`."""
    items = (task or load_task(dataset, offline=offline, **source.task_kwargs())).items()
    bounds = [b for b in (source.limit, limit) if b is not None]
    if bounds:
        items = items.head(min(bounds))
    return items.reset_index(drop=True)
