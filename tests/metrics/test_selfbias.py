"""Self-bias / self-accuracy: the persona -> BBQ group mapping, item membership, ranks, tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalib.errors import ConfigError, PersonalibError
from personalib.metrics import (
    bbq_accuracy,
    load_group_mapping,
    notes_of,
    own_group_differences,
    self_accuracy_differences,
    self_bias,
)
from personalib.metrics.selfbias import own_answers
from personalib.personas import load_persona_set
from tests.metrics.helpers import bbq_frame, generations
from personalib.metrics import score

J, E, N = "a_person_of_Judaism_belief", "empty", "a_nurse"
STUDY_GROUPS = {"Jewish", "Muslim", "Hindu", "Christian", "atheist", "gay", "homosexual", "bisexual",
                "pansexual", "white", "black", "african american", "Hispanic", "Indian", "Asian",
                "man", "woman", "transgender"}


def test_mapping_covers_the_18_study_personas() -> None:
    mapping = load_group_mapping()
    assert {g.group for g in mapping.values()} == STUDY_GROUPS and len(mapping) == 18
    stems = {p.stem for p in load_persona_set("regular")}
    assert set(mapping) <= stems, set(mapping) - stems


def _membership_items() -> pd.DataFrame:
    rows = [
        {"tags": ["F-Black", "unknown", "M-Black"]},
        {"tags": ["lowSES-F-Black", "highSES-F-White", "unknown"]},
        {"tags": ["AsiaPacific", "Africa", "unknown"], "category": "Nationality",
         "options": ["The Indian friend", "The Mozambican friend", "Cannot answer"]},
        {"tags": ["trans_F", "nonTrans_F", "unknown"]},
        {"tags": ["Catholic", "Protestant", "unknown"]},
        {"tags": ["Jewish", "unknown", "Christian"]},
    ]
    return bbq_frame([{"category": "Race_x_gender", "example_id": i, "condition": "ambig",
                       "label": 0, **r} for i, r in enumerate(rows)])


@pytest.mark.parametrize(("stem", "expected"), [
    ("a_woman", {"Race_x_gender/0": 0}),  # F-Black vs M-Black; F-Black vs F-White: both -> out
    ("a_man", {"Race_x_gender/0": 2}),
    ("a_black_person", {"Race_x_gender/1": 0}),  # compound part "Black"; item 0: both Black -> out
    ("a_white_person", {"Race_x_gender/1": 1}),
    ("an_Indian_person", {"Nationality/2": 0}),  # option text; the region tag is not a group
    ("an_Asian_person", {}),  # "AsiaPacific" is not "Asian"
    ("a_transgender_person", {"Race_x_gender/3": 0}),
    ("a_person_of_Christianity_belief", {"Race_x_gender/5": 2}),  # Catholic vs Protestant: both -> out
    ("a_person_of_Judaism_belief", {"Race_x_gender/5": 0}),
])
def test_own_answers(stem: str, expected: dict) -> None:
    items = _membership_items()
    items["item_id"] = [f"{c}/{e}" for c, e in zip(items["category"], items["example_id"])]
    assert own_answers(items, load_group_mapping()[stem]).to_dict() == expected


def _religion_items() -> pd.DataFrame:
    """Jewish (A) / unknown (B) / Muslim (C, target); one item per condition x polarity."""
    rows = []
    for eid, cond, pol, label in [(0, "ambig", "neg", 1), (1, "ambig", "nonneg", 1),
                                  (10, "disambig", "neg", 0), (11, "disambig", "nonneg", 0)]:
        rows.append({"category": "Religion", "example_id": eid, "condition": cond, "polarity": pol,
                     "tags": ["Jewish", "unknown", "Muslim"], "target": 2, "label": label})
    rows.append({"category": "Age", "example_id": 0, "condition": "ambig",
                 "tags": ["old", "nonOld", "unknown"], "target": 0, "label": 2})
    return bbq_frame(rows)


ANSWERS = {J: "BAAA", E: "CCAC", N: "BCAC"}  # Religion/0, /1, /10, /11


def _scored(items: pd.DataFrame) -> pd.DataFrame:
    rows = [(p, "bbq", f"Religion/{e}", a) for p, ans in ANSWERS.items() for e, a in zip((0, 1, 10, 11), ans)]
    rows += [(p, "bbq", "Age/0", "C") for p in ANSWERS]
    return score(generations(rows), {"bbq": items})


def test_self_bias_hand_checked() -> None:
    items = _religion_items()
    s = _scored(items)
    table = self_bias(s, items)
    assert len(table) == 1  # only the Judaism persona is mapped
    row = table.iloc[0]
    assert row["group"] == "Jewish" and row["n_items"] == 4 and row["n_personas"] == 3
    assert row["self_accuracy"] == pytest.approx((0.5 + 1.0) / 2)  # ambig 1/2, disambig 2/2
    assert row["self_accuracy_rank"] == 1  # E: 0.25, N: 0.5
    assert row["self_bias"] == pytest.approx((-1.0 + 0.5 * -1.0) / 2)  # s_DIS -1, s_AMB -0.5
    assert row["self_bias_rank"] == 3  # E 0.5, N 0.25, J -0.75: least biased
    overall = bbq_accuracy(s)["bbq"]
    assert row["accuracy"] == pytest.approx(overall[("m", "regular", J)])
    assert row["accuracy_rank"] == overall.rank(ascending=False, method="min")[("m", "regular", J)]


def test_companion_tables_hand_checked() -> None:
    items = _religion_items()
    s = _scored(items)
    acc = self_accuracy_differences(s, items).set_index(["context_condition", "question_polarity"])
    assert acc.loc[("ambig", "neg"), "difference"] == pytest.approx(1 - 2 / 3)
    assert acc.loc[("ambig", "nonneg"), "difference"] == pytest.approx(0.0)
    assert acc.loc[("disambig", "neg"), "difference"] == pytest.approx(0.0)
    assert acc.loc[("disambig", "nonneg"), "persona_value"] == 1.0
    assert acc.loc[("disambig", "nonneg"), "all_personas"] == pytest.approx(1 / 3)
    own = own_group_differences(s, items).set_index(["context_condition", "question_polarity"])
    assert own.loc[("ambig", "neg"), "difference"] == pytest.approx(0.0)
    assert own.loc[("ambig", "nonneg"), "difference"] == pytest.approx(1 - 1 / 3)
    assert own.loc[("disambig", "neg"), "difference"] == pytest.approx(0.0)
    assert own.loc[("disambig", "nonneg"), "difference"] == pytest.approx(2 / 3)


def test_no_mapped_persona_and_no_items() -> None:
    items = _religion_items()
    s = _scored(items)
    none = self_bias(s[s["persona"] != J], items)
    assert none.empty and any("none of the personas" in n for n in notes_of(none))
    age_only = items[items["category"] == "Age"]
    table = self_bias(s[s["category"] == "Age"], age_only)
    assert np.isnan(table["self_accuracy"].iloc[0])
    assert any("no BBQ item has exactly one answer" in n for n in notes_of(table))


def test_self_bias_needs_metadata() -> None:
    items = _religion_items().assign(target_loc=pd.array([pd.NA] * 5, dtype="Int64"))
    with pytest.raises(PersonalibError, match="additional_metadata.csv"):
        self_bias(_scored(items), items)


def test_bad_mapping_file(tmp_path) -> None:
    path = tmp_path / "groups.yaml"
    path.write_text("personas:\n  a_man: {group: man, colour: blue}\n")
    with pytest.raises(ConfigError, match="groups.yaml.*a_man"):
        load_group_mapping(path)
    path.write_text("personas:\n  a_man: {group: man}\n")
    with pytest.raises(ConfigError, match="give tags or option_words"):
        load_group_mapping(path)
    path.write_text("nothing: here\n")
    with pytest.raises(ConfigError, match="personas"):
        load_group_mapping(path)


@pytest.mark.reference
def test_mapping_tags_exist_in_real_bbq(reference_dir) -> None:
    """Every tag of the mapping that belongs to a category in the reference sample is a real tag,
    and the Indian option word finds real Nationality answers."""
    import json

    tags: set[str] = set()
    indian = 0
    for path in sorted((reference_dir / "bbq" / "data").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            for k in ("ans0", "ans1", "ans2"):
                tags.add(row["answer_info"][k][1].lower())
                indian += row["category"] == "Nationality" and "Indian" in row[k].split()
    mapping = load_group_mapping()
    for stem in ("a_person_of_Judaism_belief", "a_person_of_Islam_belief", "a_person_of_Hinduism_belief",
                 "a_person_of_atheism_belief", "a_gay_person", "a_bisexual_person", "a_pansexual_person"):
        assert mapping[stem].tags <= tags, (stem, mapping[stem].tags - tags)
    assert {"christian", "catholic", "protestant", "lesbian"} <= tags
    assert indian > 0


@pytest.mark.reference
def test_own_items_in_real_bbq(reference_dir) -> None:
    """On the real BBQ sample (6 of 11 categories): the personas of those categories have items."""
    from personalib.tasks import load_task

    items = load_task("bbq", data_dir=reference_dir / "bbq", allow_partial=True).items()
    mapping = load_group_mapping()
    counts = {stem: len(own_answers(items, g)) for stem, g in mapping.items()}
    print("\nself-bias items per mapped persona on the reference BBQ sample:", counts)
    for stem in ("a_person_of_Judaism_belief", "a_person_of_Islam_belief", "a_person_of_Hinduism_belief",
                 "a_person_of_Christianity_belief", "a_person_of_atheism_belief", "a_gay_person",
                 "a_homosexual_person", "a_bisexual_person", "a_pansexual_person", "an_Indian_person"):
        assert counts[stem] > 0, stem
    assert counts["a_homosexual_person"] > counts["a_gay_person"]  # gay + lesbian
