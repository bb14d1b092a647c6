"""The study's five datasets, and any a project adds, as tables of items (METHODS 3; DESIGN
"Items table"). What each dataset is lives in its task file (`personalib/data/tasks/*.yaml`,
`params/tasks/*.yaml`; docs/datasets.md), read through one registry (`personalib.tasks.registry`).

    from personalib.tasks import load_task
    task = load_task("bbq", subsample=True)          # pinned source, downloaded once, then cached
    task = load_task("truthfulqa", demo=True)        # the demo items (offline)
    task = load_task("mmlu", data_files="test.parquet", allow_partial=True)   # a local subset
    items = task.items()                             # pandas DataFrame

Each task has `.name`, `.spec`, `.expected_rows` (declared source row count, verified on loading),
`.n_prompts` (from the declared counts until the data is loaded), `.is_demo` and `.items()`;
toxicity also has `.annotations()`. File arguments per dataset are the keys of its task file's
`source.files` (plus `sampled_ids` where it has a subsample): truthfulqa `data_files`; mmlu
`data_files`, `sampled_ids`; bbq `data_dir`, `metadata`, `sampled_ids`; attitudes `questions`,
`paraphrases`; toxicity `csv`. See each module's docstring.
"""

from __future__ import annotations

from personalib.tasks.base import Task
from personalib.tasks.registry import load_task

__all__ = ["Task", "load_task"]
