"""personalib.tasks.registry: the study's task files, their declared counts, consumers' views."""

from __future__ import annotations

import pytest

from personalib import DATASETS
from personalib.errors import PersonalibError
from personalib.metrics.scoring import item_columns, valued
from personalib.tasks import load_task, registry
from personalib.tasks.bbq import CATEGORY_ROWS
from personalib.tasks.mmlu_subjects import subsample_size, total_rows


def test_study_task_files_in_study_order_with_display_names() -> None:
    assert registry.study_names() == registry.names() == DATASETS
    assert registry.choice_names() == ("truthfulqa", "mmlu", "bbq")
    assert [registry.display_name(n) for n in DATASETS] == ["TruthfulQA", "MMLU", "BBQ", "attitudes", "toxicity"]


def test_declared_counts_agree_with_the_code_that_knows_them() -> None:
    mmlu, bbq = registry.spec("mmlu"), registry.spec("bbq")
    assert mmlu.rows == mmlu.prompts == total_rows() and mmlu.subsample.prompts == subsample_size()
    assert bbq.rows == bbq.prompts == sum(CATEGORY_ROWS.values())
    assert registry.spec("attitudes").prompts == 27 * 31 and registry.spec("toxicity").prompts == 2 * 626


def test_file_arguments_and_scoring_roles_come_from_the_task_files() -> None:
    assert {n: registry.spec(n).file_args for n in DATASETS} == {
        "truthfulqa": ("data_files",), "mmlu": ("data_files", "sampled_ids"),
        "bbq": ("data_dir", "metadata", "sampled_ids"), "attitudes": ("questions", "paraphrases"),
        "toxicity": ("csv",)}
    assert item_columns("bbq") == ("category", "context_condition", "question_polarity", "target_loc", "unknown_loc")
    assert item_columns("truthfulqa") == () and [valued(n) for n in DATASETS] == [False, False, False, True, False]


def test_unknown_dataset_names_where_to_add_one() -> None:
    with pytest.raises(PersonalibError, match=r"unknown dataset 'squad'.*params/tasks/<name>.yaml"):
        registry.spec("squad")
    with pytest.raises(PersonalibError, match="declares no demo files|no study subsample"):
        load_task("truthfulqa", subsample=True)


def test_load_items_applies_the_smaller_limit() -> None:
    from personalib.params import DatasetSpec
    items = registry.load_items("mmlu", DatasetSpec(demo=True, limit=5), 3)
    assert list(items["item_id"]) == ["0", "1", "2"]
