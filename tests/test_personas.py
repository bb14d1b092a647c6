"""Persona sets: the study's built-in sets (METHODS 1) and validation of user persona files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from personalib.errors import ConfigError
from personalib.personas import (
    MAX_PERSONA_CHARS,
    REGULAR_CATEGORIES,
    Persona,
    all_personas,
    load_persona_set,
    persona_categories,
    persona_set_name,
    persona_stem,
    select_personas,
)

METHODS_COUNTS = {
    "race": 7, "sexuality": 6, "social_class": 3, "gender": 4, "education": 6,
    "profession_generic": 17, "religious": 7, "ideology": 8, "health": 15,
    "profession_specific": 50, "name_from_country": 12, "political_figure": 27,
}


def test_builtin_sets_have_study_sizes_and_categories():
    regular = load_persona_set("regular")
    assert len(regular) == 162
    assert Counter(p.category for p in regular) == METHODS_COUNTS
    assert tuple(dict.fromkeys(p.category for p in regular)) == REGULAR_CATEGORIES
    assert {p.set_name for p in regular} == {"regular"}
    (empty,) = load_persona_set("empty")
    assert empty == Persona(text="", category="empty", stem="empty", set_name="empty")
    assert empty.is_empty
    control = load_persona_set("control")
    assert len(control) == 30 and control[0].text == "a helpful assistant"
    assert control[2].text == "a useful helper"
    assert {p.category for p in control} == {"control"}


def test_quirky_strings_kept_exactly():
    texts = {p.text for p in load_persona_set("regular")}
    for quirk in ("a asexual person", "a anesthesiologist", "Jorg Haider", "a basketball boxer"):
        assert quirk in texts


def test_all_personas_and_categories():
    personas = all_personas()
    assert len(personas) == 193
    assert len({p.stem for p in personas}) == 193
    cats = persona_categories()
    assert cats["empty"] == "empty" and cats["a_helpful_assistant"] == "control"
    assert cats["John_F._Kennedy"] == "political_figure"


def test_load_returns_a_fresh_list():
    first = load_persona_set("regular")
    first.clear()
    assert len(load_persona_set("regular")) == 162


def test_stem_rule():
    assert persona_stem("a person with college-level education") == "a_person_with_college-level_education"
    assert persona_stem("") == "empty"


def test_select_personas_keeps_order():
    regular = load_persona_set("regular")
    picked = select_personas(regular, ["a_man", "a_white_person", "not_there"])
    assert [p.stem for p in picked] == ["a_white_person", "a_man"]
    assert select_personas(regular, None) == regular


@pytest.mark.reference
def test_matches_reference_release(reference_dir: Path):
    data = reference_dir / "original-release" / "data"
    ref_personas = json.loads((data / "personas.json").read_text())["personas"]
    ref_cat = json.loads((data / "persona_cat.json").read_text())
    ref_control = json.loads((data / "control_personas.json").read_text())["personas"]
    ours = load_persona_set("empty") + load_persona_set("regular")
    # persona_cat.json lists `empty` first, then the regular personas in personas.json order.
    assert [p.stem for p in ours] == list(ref_cat)
    assert {p.stem: p.category for p in ours} == ref_cat
    assert sorted(p.text for p in ours) == sorted(ref_personas)
    assert [p.text for p in load_persona_set("regular")] == [t for t in ref_personas if t]
    assert [p.text for p in load_persona_set("control")] == ref_control


# ---- user persona files -------------------------------------------------------------------


def _write(tmp_path: Path, text: str, name: str = "set.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_user_set_yaml(tmp_path: Path):
    path = _write(
        tmp_path,
        "name: farm\npersonas:\n  - {text: a farmer, category: profession}\n"
        "  - {text: a retired nurse, category: profession, stem: nurse_retired}\n",
    )
    personas = load_persona_set(path)
    assert personas == [
        Persona("a farmer", "profession", "a_farmer", "farm"),
        Persona("a retired nurse", "profession", "nurse_retired", "farm"),
    ]
    assert load_persona_set(str(path)) == personas
    assert persona_set_name(path) == "farm"


def test_user_set_json(tmp_path: Path):
    body = {"name": "j", "personas": [{"text": "a pilot", "category": "job"}]}
    path = _write(tmp_path, json.dumps(body), "set.json")
    assert [p.stem for p in load_persona_set(path)] == ["a_pilot"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("name: x\npersonas:\n  - {text: a farmer, category: p}\n  - {text: a farmer, category: q}\n",
         "personas[1] ('a farmer') has stem 'a_farmer', already used by personas[0]"),
        ("name: x\npersonas:\n  - {text: a cook, category: p, stem: s}\n  - {text: a baker, category: p, stem: s}\n",
         "already used by personas[0]"),
        ("name: x\npersonas:\n  - {text: a farmer}\n", "personas[0] ('a farmer'): missing or empty `category`"),
        ("name: x\npersonas:\n  - {text: a farmer, category: ''}\n", "missing or empty `category`"),
        ("name: x\npersonas:\n  - {text: '', category: none}\n", "personas[0]: `text` is empty"),
        ("name: x\npersonas:\n  - {text: '   ', category: none}\n", "`text` is empty"),
        ("name: x\npersonas:\n  - {text: a farmer, category: p, age: 3}\n", "personas[0]: unknown key(s) age"),
        ("name: x\npersonas:\n  - {text: 3, category: p}\n", "`text` must be a string, got 3"),
        ("name: x\npersonas:\n  - a farmer\n", "personas[0]: expected a mapping"),
        ("name: x\npersonas:\n  - {text: a farmer, category: p, stem: a/b}\n", "not a usable file stem"),
        ("name: x\npersonas: {text: a farmer, category: p}\n", "`personas` must be a non-empty list"),
        ("name: x\npersonas: []\n", "`personas` must be a non-empty list"),
        ("- {text: a farmer, category: p}\n", "expected a mapping with `name` and `personas`, got list"),
        ("name: x\nperson: []\n", "unknown key(s) person"),
        ("personas:\n  - {text: a farmer, category: p}\n", "field `name` must be a non-empty string"),
        ("name: regular\npersonas:\n  - {text: a farmer, category: p}\n", "'regular' is a built-in set"),
        ("name: x\npersonas: [\n", "cannot be read as YAML"),
        ("name: x\npersonas:\n  - {text: a farmer, category: p}\n  - {text: " + "a" * 301 + ", category: p}\n",
         "personas[1]: `text` is 301 characters long"),
        ("name: x\npersonas:\n  - {text: a farmer, category: p, stem: " + "s" * 400 + "}\n",
         "personas[0]: `stem` is 400 characters long"),
        ("name: x\npersonas:\n  - {text: a farmer, category: " + "c" * 101 + "}\n",
         "personas[0]: `category` is 101 characters long ('ccc"),
    ],
)
def test_bad_user_sets_are_rejected_with_file_and_entry(tmp_path: Path, body: str, needle: str):
    path = _write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_persona_set(path)
    message = str(info.value)
    assert str(path) in message
    assert needle in message


def test_persona_length_bound_holds_the_study_and_refuses_a_document(tmp_path: Path):
    longest = max(len(p.text) for p in all_personas())
    assert longest == 45 and 6 * longest <= MAX_PERSONA_CHARS  # as docs/personas.md says
    path = _write(tmp_path, "name: x\npersonas:\n  - {text: a farmer, category: p}\n"
                  f"  - {{text: a {'very ' * 400_000}long persona, category: p}}\n")  # 2 MB
    with pytest.raises(ConfigError) as info:
        load_persona_set(path)
    message = str(info.value)
    assert f"persona set file {path}: personas[1]: `text` is 2,000,014 characters long" in message
    assert f"at most {MAX_PERSONA_CHARS} are allowed" in message and len(message) < 600


def test_unknown_set_name():
    with pytest.raises(ConfigError, match="unknown persona set 'regulars'.*regular, empty, control"):
        load_persona_set("regulars")
