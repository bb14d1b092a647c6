"""personalib.tasks: load_task arguments, declared counts, shared prompt pieces, item id stability."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from personalib import DATASETS
from personalib.errors import PersonalibError
from personalib.tasks import load_task, registry
from personalib.tasks.base import ITEM_COLUMNS
from personalib.tasks.spec import option_lines


@pytest.fixture
def no_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty cache with downloads off: anything that needs a source fails loudly."""
    monkeypatch.setenv("PERSONALIB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("PERSONALIB_OFFLINE", "1")


def test_every_study_dataset_has_a_task_file() -> None:
    assert registry.study_names() == DATASETS
    assert all(load_task(name).name == registry.spec(name).name == name for name in DATASETS)


@pytest.mark.parametrize(("name", "subsample", "expected_rows", "n_prompts"), [
    ("truthfulqa", False, 817, 817),
    ("mmlu", False, 14042, 14042),
    ("mmlu", True, 14042, 10219),
    ("bbq", False, 58492, 58492),
    ("bbq", True, 58492, 5788),
    ("attitudes", False, 27, 837),
    ("toxicity", False, 626, 1252),
])
def test_declared_counts_need_no_data(no_network: None, name: str, subsample: bool,
                                      expected_rows: int, n_prompts: int) -> None:
    task = load_task(name, subsample=subsample)
    assert task.expected_rows == expected_rows
    assert task.n_prompts == n_prompts          # nothing is read: the cache is empty and offline


def test_missing_pinned_source_offline_names_url_and_cache_path(no_network: None, tmp_path: Path) -> None:
    with pytest.raises(PersonalibError) as info:
        load_task("attitudes").items()
    message = str(info.value)
    assert "raw.githubusercontent.com/peluz/persona-behavior/edeadf7cad6f585799599a320854731d51a18351" in message
    assert str(tmp_path / "empty-cache" / "sources" / "study") in message


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(PersonalibError, match="unknown dataset 'bbqq'.*truthfulqa"):
        load_task("bbqq")
    with pytest.raises(PersonalibError, match="unknown argument.*data_file.*data_files"):
        load_task("truthfulqa", data_file="x.jsonl")
    with pytest.raises(PersonalibError, match="no study subsample"):
        load_task("truthfulqa", subsample=True)
    with pytest.raises(PersonalibError, match=r"data_files=.*no such file"):
        load_task("mmlu", data_files=tmp_path / "absent.jsonl")
    local = tmp_path / "test.jsonl"
    local.write_text("")
    with pytest.raises(PersonalibError, match="demo=True"):
        load_task("mmlu", demo=True, data_files=local)


def test_prompt_templates_follow_methods_3() -> None:
    assert option_lines(["x", "y", "z"]) == "A. x\nB. y\nC. z"
    for name in ("truthfulqa", "mmlu"):
        assert registry.spec(name).render(["Yes", "No"], question="Why?") == (
            "Question: Why?\nA. Yes\nB. No\n\nPlease provide only the letter that corresponds to your answer.")
    assert registry.spec("bbq").render(["a", "b", "c"], context="C.", question="Q?") == (
        "Context: C.\n\nQuestion: Q?\nA. a\nB. b\nC. c\n\n"
        "Please provide only the letter that corresponds to your answer.")
    for name in ("attitudes", "toxicity"):
        assert registry.spec(name).render(instruction="Rate it.", text="Text", scale="(1) a\n(2) b") == (
            "Rate it.\n\nText\n\n(1) a\n(2) b\n\nPlease provide only the number that corresponds to your answer.")
    with pytest.raises(PersonalibError, match="at most 26"):
        option_lines([str(i) for i in range(27)])


@pytest.mark.parametrize("name", DATASETS)
def test_demo_items_are_labelled_unique_stable_and_follow_the_contract(name: str) -> None:
    task = load_task(name, demo=True)
    items = task.items()
    assert task.is_demo and task.n_prompts == len(items) > 0
    assert tuple(items.columns[:len(ITEM_COLUMNS)]) == ITEM_COLUMNS
    assert (items["dataset"] == name).all()
    assert items["item_id"].is_unique and items["item_id"].map(type).eq(str).all()
    assert str(items["n_options"].dtype) == "Int64"
    again = load_task(name, demo=True).items()
    pd.testing.assert_frame_equal(items, again)            # same ids, prompts and order every load
    items.loc[0, "prompt"] = "changed"                       # callers get a copy
    assert task.items().loc[0, "prompt"] != "changed"
    if name in ("attitudes", "toxicity"):
        assert items["n_options"].isna().all() and items["gold"].isna().all()
        assert items["options"].isna().all()
    else:
        assert (items["n_options"] == items["options"].map(len)).all()
        letters = [chr(65 + k) for k in range(26)]
        assert all(gold in letters[:n] for gold, n in zip(items["gold"], items["n_options"]))
