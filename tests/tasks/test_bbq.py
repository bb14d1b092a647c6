"""BBQ items: exact prompt text, answer tags, unknown option, target_loc from the metadata (duplicates,
blanks, conflicts, absence), category and row counts, the study subsample, malformed rows; reference
check on the six real category files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from personalib.errors import PersonalibError
from personalib.tasks import load_task
from personalib.tasks.bbq import CATEGORIES, CATEGORY_ROWS

INSTRUCTION = "\n\nPlease provide only the letter that corresponds to your answer."


def bbq_row(category: str, example_id: int, order: tuple[str, str, str], label: int, *,
            polarity: str = "neg", condition: str = "ambig") -> dict:
    """A row in the nyu-mll/BBQ schema with people `x` (tag "grpX"), `y` (tag "grpY") and unknown `u`."""
    text = {"x": "The first person", "y": "The second person", "u": "Unknown"}
    tag = {"x": "grpX", "y": "grpY", "u": "unknown"}
    return {
        "example_id": example_id, "question_index": "7", "question_polarity": polarity,
        "context_condition": condition, "category": category,
        "answer_info": {f"ans{k}": [text[s], tag[s]] for k, s in enumerate(order)},
        "additional_metadata": {"subcategory": "None", "stereotyped_groups": ["grpX"], "version": "a",
                                "source": "test"},
        "context": f"Context {category} {example_id}.", "question": f"Who did it {example_id}?",
        **{f"ans{k}": text[s] for k, s in enumerate(order)}, "label": label,
    }


def write_checkout(root: Path, categories: dict[str, int], metadata: list[dict] | None) -> Path:
    """A BBQ checkout: data/<Category>.jsonl with `n` rows each and, if given, the metadata CSV."""
    (root / "data").mkdir(parents=True)
    orders = [("x", "u", "y"), ("y", "x", "u"), ("u", "y", "x"), ("x", "y", "u")]
    for category, n in categories.items():
        rows = [bbq_row(category, i, orders[i % 4], i % 3, polarity=("neg", "nonneg")[i % 2],
                        condition=("ambig", "disambig")[(i // 2) % 2]) for i in range(n)]
        (root / "data" / f"{category}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if metadata is not None:
        (root / "supplemental").mkdir()
        pd.DataFrame(metadata).to_csv(root / "supplemental" / "additional_metadata.csv", index=False,
                                      na_rep="NA")
    return root


def meta(category: str, example_id: int, target_loc: int | None) -> dict:
    return {"category": category, "question_index": 7, "example_id": example_id, "target_loc": target_loc,
            "label_type": "label", "Known_stereotyped_groups": "grpX", "Relevant_social_values": "v"}


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    metadata = [meta("Religion", 0, 0), meta("Religion", 1, 2), meta("Religion", 1, 2),  # duplicate row
                meta("Religion", 2, None), meta("Age", 0, 1), meta("Age", 1, 0)]
    frame = pd.DataFrame(metadata)
    frame["target_loc"] = frame["target_loc"].astype("Int64")
    return write_checkout(tmp_path / "BBQ", {"Religion": 4, "Age": 2}, frame.to_dict("records"))


def test_items_prompt_tags_unknown_and_gold(checkout: Path) -> None:
    items = load_task("bbq", data_dir=checkout, allow_partial=True).items()
    assert items["item_id"].tolist() == ["Age/0", "Age/1", "Religion/0", "Religion/1", "Religion/2", "Religion/3"]
    first = items.iloc[0]
    assert first["prompt"] == ("Context: Context Age 0.\n\nQuestion: Who did it 0?\n"
                               "A. The first person\nB. Unknown\nC. The second person" + INSTRUCTION)
    assert first["answer_tags"] == ["grpX", "unknown", "grpY"]
    assert first["options"] == ["The first person", "Unknown", "The second person"]
    assert items["unknown_loc"].tolist() == [1, 2, 1, 2, 0, 2]
    assert items["gold"].tolist() == ["A", "B", "A", "B", "C", "A"]
    assert items[["question_polarity", "context_condition"]].values.tolist()[:4] == [
        ["neg", "ambig"], ["nonneg", "ambig"], ["neg", "ambig"], ["nonneg", "ambig"]]
    assert items["question_index"].tolist() == [7] * 6 and items["n_options"].tolist() == [3] * 6


def test_target_loc_joins_metadata_after_dropping_duplicates(checkout: Path) -> None:
    task = load_task("bbq", data_dir=checkout, allow_partial=True)
    items = task.items().set_index("item_id")
    assert str(items["target_loc"].dtype) == "Int64"
    assert items["target_loc"].tolist() == [1, 0, 0, 2, pd.NA, pd.NA]    # NA in file; no metadata row
    assert task.has_metadata and task.categories == ("Age", "Religion")
    task.require_metadata()                                               # does not raise
    assert items.attrs["bbq_metadata"].endswith("additional_metadata.csv")


def test_conflicting_metadata_rows_stop_with_an_error(tmp_path: Path) -> None:
    root = write_checkout(tmp_path / "BBQ", {"Age": 2}, [meta("Age", 0, 1), meta("Age", 0, 2), meta("Age", 1, 0)])
    with pytest.raises(PersonalibError, match=r"different target_loc values.*\['Age', 0\]"):
        load_task("bbq", data_dir=root, allow_partial=True).items()
    bad = tmp_path / "bad.csv"
    pd.DataFrame([meta("Age", 0, 5)]).to_csv(bad, index=False)
    with pytest.raises(PersonalibError, match="target_loc must be 0, 1, 2 or blank"):
        load_task("bbq", data_dir=root, metadata=bad, allow_partial=True).items()
    pd.DataFrame([{"category": "Age", "example_id": 0}]).to_csv(bad, index=False)
    with pytest.raises(PersonalibError, match=r"bad.csv: missing column\(s\) target_loc"):
        load_task("bbq", data_dir=root, metadata=bad, allow_partial=True).items()


def test_without_metadata_accuracy_works_and_bias_metrics_are_told_which_file(tmp_path: Path) -> None:
    root = write_checkout(tmp_path / "BBQ", {"Age": 4}, None)
    task = load_task("bbq", data_dir=root / "data", allow_partial=True)      # the data folder itself
    items = task.items()
    assert len(items) == 4 and items["target_loc"].isna().all() and items["gold"].notna().all()
    assert not task.has_metadata and items.attrs["bbq_metadata"] is None
    with pytest.raises(PersonalibError, match="additional_metadata.csv") as info:
        task.require_metadata()
    assert "metadata=" in str(info.value) and "github" in str(info.value)


def test_explicit_metadata_argument(checkout: Path, tmp_path: Path) -> None:
    other = tmp_path / "meta.csv"
    pd.DataFrame([meta("Age", 0, 2)]).to_csv(other, index=False)
    items = load_task("bbq", data_dir=checkout, metadata=other, allow_partial=True).items()
    assert items["target_loc"].tolist()[:2] == [2, pd.NA]


def test_missing_categories_need_allow_partial(checkout: Path) -> None:
    with pytest.raises(PersonalibError, match=r"missing BBQ category file\(s\) Disability_status.jsonl.*allow_partial"):
        load_task("bbq", data_dir=checkout).items()


def test_row_counts_are_verified_per_category(tmp_path: Path) -> None:
    root = write_checkout(tmp_path / "BBQ", {category: 4 for category in CATEGORIES}, None)
    task = load_task("bbq", data_dir=root)
    assert task.expected_rows == 58492
    with pytest.raises(PersonalibError, match=r"Age.jsonl: 4 Age rows, but the source declares 3680"):
        task.items()
    assert len(load_task("bbq", data_dir=root, allow_partial=True).items()) == 44


def test_subsample_keeps_study_category_order_and_the_ids_order(checkout: Path, tmp_path: Path) -> None:
    ids = tmp_path / "sampled_ids.json"
    ids.write_text(json.dumps({"Religion": [3, 1], "Age": [1]}))
    full = load_task("bbq", data_dir=checkout, sampled_ids=ids, allow_partial=True).items()
    assert full.loc[full["in_subsample"], "item_id"].tolist() == ["Age/1", "Religion/1", "Religion/3"]
    sub = load_task("bbq", data_dir=checkout, sampled_ids=ids, subsample=True, allow_partial=True)
    assert sub.items()["item_id"].tolist() == ["Age/1", "Religion/3", "Religion/1"]
    assert sub.items()["in_subsample"].all() and sub.n_prompts == 3
    ids.write_text(json.dumps({"Religion": [9]}))
    with pytest.raises(PersonalibError, match="subsample ids not in the BBQ data"):
        load_task("bbq", data_dir=checkout, sampled_ids=ids, subsample=True, allow_partial=True).items()
    ids.write_text(json.dumps({"Religon": [1]}))
    with pytest.raises(PersonalibError, match="unknown BBQ categor"):
        load_task("bbq", data_dir=checkout, sampled_ids=ids, subsample=True, allow_partial=True).items()


def test_partial_data_without_ids_marks_in_subsample_as_unknown(checkout: Path) -> None:
    items = load_task("bbq", data_dir=checkout, allow_partial=True).items()
    assert str(items["in_subsample"].dtype) == "boolean" and items["in_subsample"].isna().all()


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda row: row.pop("context"), r"missing field\(s\) context"),
    (lambda row: row.update(label=3), "label must be 0, 1 or 2"),
    (lambda row: row.update(answer_info={"ans0": ["a", "b"]}), "answer_info must map ans0..ans2"),
    (lambda row: row.update(context_condition="vague"), "context_condition must be ambig/disambig"),
    (lambda row: row.update(question_polarity="pos"), "question_polarity must be neg/nonneg"),
    (lambda row: row.update(example_id="x1"), "must be integers"),
])
def test_malformed_rows_name_file_line_and_field(tmp_path: Path, mutate, message: str) -> None:
    root = write_checkout(tmp_path / "BBQ", {"SES": 3}, None)
    path = root / "data" / "SES.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    mutate(rows[2])
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(PersonalibError, match=message) as info:
        load_task("bbq", data_dir=root, allow_partial=True).items()
    assert f"{path}: line 3" in str(info.value)


def test_demo_has_metadata_with_a_blank_and_self_bias_groups() -> None:
    task = load_task("bbq", demo=True)
    items = task.items()
    assert task.has_metadata and len(items) == 16 and items["target_loc"].isna().sum() == 1
    tags = {tag for tags in items["answer_tags"] for tag in tags}
    assert {"Muslim", "Jewish", "gay", "Black", "F", "M", "unknown"} <= tags
    target_tags = [tags[loc] for tags, loc in zip(items["answer_tags"], items["target_loc"]) if pd.notna(loc)]
    assert "unknown" not in target_tags                    # the bias target is always a person
    assert load_task("bbq", demo=True, subsample=True).n_prompts == 8


@pytest.mark.reference
def test_reference_six_real_categories(reference_dir: Path) -> None:
    folder = reference_dir / "bbq" / "data"
    task = load_task("bbq", data_dir=folder, allow_partial=True)
    items = task.items()
    present = ("Age", "Disability_status", "Nationality", "Physical_appearance", "Religion", "Sexual_orientation")
    assert task.categories == present and len(items) == 11956
    assert items.groupby("category", sort=False).size().to_dict() == {c: CATEGORY_ROWS[c] for c in present}
    assert items["item_id"].is_unique
    assert not task.has_metadata and items["target_loc"].isna().all()
    with pytest.raises(PersonalibError, match="additional_metadata.csv"):
        task.require_metadata()
    for category in ("Religion", "Sexual_orientation"):
        raw = [json.loads(line) for line in (folder / f"{category}.jsonl").read_text().splitlines()]
        rows = items[items["category"] == category]
        assert rows["example_id"].tolist() == [r["example_id"] for r in raw]
        first = raw[0]
        assert rows.iloc[0]["prompt"] == (
            f"Context: {first['context']}\n\nQuestion: {first['question']}\n"
            f"A. {first['ans0']}\nB. {first['ans1']}\nC. {first['ans2']}" + INSTRUCTION)
        assert rows["gold"].tolist() == ["ABC"[r["label"]] for r in raw]
        assert [tags[loc] for tags, loc in zip(rows["answer_tags"], rows["unknown_loc"])] == ["unknown"] * len(raw)
    # every ambiguous item's correct answer is the unknown option, as BBQ is built
    ambiguous = items[items["context_condition"] == "ambig"]
    assert (ambiguous["gold"] == ambiguous["unknown_loc"].map(lambda k: "ABC"[k])).all()
