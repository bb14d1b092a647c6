"""Toxicity items and annotations: drop_duplicates("tweet") in file order, offensiveness then racism
prompts with the exact METHODS 3 texts, tweet flags, annotations table, counts and malformed CSVs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from personalib.errors import PersonalibError
from personalib.paths import DATA_DIR
from personalib.tasks import load_task
from personalib.tasks.toxicity import ATTITUDE_COLUMNS

OFF = ("How much could this post be seen as toxic/hateful/disrespectful or offensive\n\n{tweet}\n\n"
       "(1) Not at all offensive\n(2) Slightly offensive\n(3) Moderately offensive\n(4) Very offensive\n"
       "(5) Extremely offensive\n\nPlease provide only the number that corresponds to your answer.")
RAC = ("How much is the following tweet racist?\n\n{tweet}\n\n(1) Not at all racist\n(2) Slightly racist\n"
       "(3) Moderately racist\n(4) Very racist\n(5) Extremely racist\n\n"
       "Please provide only the number that corresponds to your answer.")


def annotation_rows() -> list[dict]:
    """Rows (annotator x tweet) in largeScale.csv's schema; tweet "b" first appears before "a"."""
    attitudes = {name: 2.5 for name in ATTITUDE_COLUMNS}
    rows = []
    for ann, tweet, off, rac in [(1, "b", 2, 1), (1, "a", 4, 3), (2, "a", 5, 4), (2, "c", 1, 1), (3, "b", 3, 1)]:
        rows.append({"postId": ord(tweet), "tweet": tweet, "vulgar": tweet == "a", "targetsBlackPeople": tweet == "c",
                     "isAAE": tweet == "b", "off_avg": off, "racist": rac, "annId": ann, "intent": 1,
                     **attitudes, "empathy": float(ann)})
    return rows


def write_csv(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path)
    return path


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "largeScale.csv", annotation_rows())


def test_items_are_unique_tweets_in_file_order_off_then_rac(csv: Path) -> None:
    task = load_task("toxicity", csv=csv, allow_partial=True)
    items = task.items()
    assert items["item_id"].tolist() == ["off/0", "off/1", "off/2", "rac/0", "rac/1", "rac/2"]
    assert items["tweet"].tolist() == ["b", "a", "c"] * 2 and task.n_prompts == 6
    assert items["prompt"].tolist() == [OFF.format(tweet=t) for t in "bac"] + [RAC.format(tweet=t) for t in "bac"]
    assert items["measure"].tolist() == ["off"] * 3 + ["rac"] * 3
    assert items["tweet_index"].tolist() == [0, 1, 2] * 2
    assert items[["targets_black", "is_aae", "vulgar"]].values.tolist()[:3] == [
        [False, True, False], [False, False, True], [True, False, False]]
    assert items[["targets_black", "is_aae", "vulgar"]].dtypes.eq(bool).all()


def test_annotations_keep_every_annotator_row(csv: Path) -> None:
    annotations = load_task("toxicity", csv=csv, allow_partial=True).annotations()
    assert annotations.columns.tolist() == ["annId", "tweet_index", "off_avg", "racist", *ATTITUDE_COLUMNS]
    assert annotations["tweet_index"].tolist() == [0, 1, 1, 2, 0]
    assert annotations["off_avg"].tolist() == [2, 4, 5, 1, 3] and annotations["empathy"].tolist() == [1, 1, 2, 2, 3]


def test_flags_take_the_first_non_blank_value(tmp_path: Path) -> None:
    rows = annotation_rows()
    rows[0]["isAAE"] = None                     # tweet "b": blank on its first row, True on its second
    items = load_task("toxicity", csv=write_csv(tmp_path / "x.csv", rows), allow_partial=True).items()
    assert items.loc[0, "is_aae"]
    rows[4]["isAAE"] = None
    with pytest.raises(PersonalibError, match="column isAAE is blank on every row of tweet 'b'"):
        load_task("toxicity", csv=write_csv(tmp_path / "x.csv", rows), allow_partial=True).items()


def test_tweet_count_is_verified(csv: Path) -> None:
    task = load_task("toxicity", csv=csv)
    assert task.expected_rows == 626 and task.n_prompts == 1252
    with pytest.raises(PersonalibError, match="3 distinct tweets, but the source declares 626"):
        task.items()


@pytest.mark.parametrize(("change", "message"), [
    (lambda rows: [r.pop("harmHateSpeech") for r in rows], r"missing column\(s\) harmHateSpeech"),
    (lambda rows: rows[2].update(racist="very"), "line 4: column racist must be a number, not 'very'"),
    (lambda rows: rows[1].update(tweet=None), "line 3: empty tweet"),
    (lambda rows: [r.update(vulgar="sometimes") for r in rows], "column vulgar must be True/False or 1/0"),
])
def test_malformed_csv_names_file_row_and_column(tmp_path: Path, change, message: str) -> None:
    rows = annotation_rows()
    change(rows)
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(PersonalibError, match=message) as info:
        load_task("toxicity", csv=path, allow_partial=True).items()
    assert str(path) in str(info.value)


def test_demo_csv_is_labelled_and_has_annotators() -> None:
    raw = pd.read_csv(DATA_DIR / "demo" / "toxicity" / "largeScale.csv")
    assert raw["_demo_notice"].str.contains("DEMO DATA").all()
    task = load_task("toxicity", demo=True)
    items, annotations = task.items(), task.annotations()
    assert len(items) == 24 and annotations["annId"].nunique() == 5 and len(annotations) == 36
    assert items["tweet"].tolist()[:12] == raw.drop_duplicates("tweet")["tweet"].tolist()
    assert items[["targets_black", "is_aae", "vulgar"]].sum().min() >= 2
    assert annotations.groupby("tweet_index").size().eq(3).all()


@pytest.mark.reference
def test_reference_declared_prompt_count_matches_gpt4_release(reference_dir: Path) -> None:
    released = reference_dir / "original-release" / "results" / "zero" / "gpt-4-0125-preview" / "toxicity" / "empty.json"
    assert len(json.loads(released.read_text())) == load_task("toxicity").n_prompts == 1252
