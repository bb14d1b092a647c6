"""The study's five datasets as tables of items (METHODS 3; DESIGN "Items table").

    from personalib.tasks import load_task
    task = load_task("bbq", subsample=True)          # pinned source, downloaded once, then cached
    task = load_task("truthfulqa", demo=True)        # the package's demo items (offline)
    task = load_task("mmlu", data_files="test.parquet", allow_partial=True)   # a local subset
    items = task.items()                             # pandas DataFrame

Each task has `.name`, `.expected_rows` (declared source row count, verified on loading),
`.n_prompts` (from the declared counts until the data is loaded), `.is_demo` and `.items()`;
toxicity also has `.annotations()`. File arguments per dataset: truthfulqa `data_files`; mmlu
`data_files`, `sampled_ids`; bbq `data_dir`, `metadata`, `sampled_ids`; attitudes `questions`,
`paraphrases`; toxicity `csv`. See each module's docstring.
"""

from __future__ import annotations

from pathlib import Path

from personalib import DATASETS
from personalib.errors import PersonalibError
from personalib.tasks.attitudes import Attitudes
from personalib.tasks.base import Task
from personalib.tasks.bbq import BBQ
from personalib.tasks.mmlu import MMLU
from personalib.tasks.toxicity import Toxicity
from personalib.tasks.truthfulqa import TruthfulQA

TASKS: dict[str, type[Task]] = {
    "truthfulqa": TruthfulQA, "mmlu": MMLU, "bbq": BBQ, "attitudes": Attitudes, "toxicity": Toxicity,
}
assert tuple(TASKS) == DATASETS

__all__ = ["TASKS", "Task", "load_task"]


def load_task(name: str, *, demo: bool = False, subsample: bool = False, allow_partial: bool = False,
              offline: bool | None = None, **files: str | Path) -> Task:
    """The task `name` (one of `personalib.DATASETS`) from the pinned source, the demo files
    (`demo=True`) or local files in the source's own schema (`files`), METHODS 3.

    `subsample=True` keeps the study's GPT-4 subsample (mmlu, bbq). `allow_partial=True` accepts
    local files whose row count differs from the study's source (not checked then). Nothing is
    read until `.items()` (or `.n_prompts` for demo/partial data) is called. `offline=True` never
    downloads a source (only cached copies are read); None follows `PERSONALIB_OFFLINE` and
    `HF_HUB_OFFLINE` (`personalib.sources.fetch`).
    """
    try:
        cls = TASKS[name]
    except KeyError:
        raise PersonalibError(f"unknown dataset {name!r}; choose one of {', '.join(TASKS)}") from None
    return cls(demo=demo, subsample=subsample, allow_partial=allow_partial, files=files, offline=offline)
