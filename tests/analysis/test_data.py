"""Loading a study (personalib.analysis.data.load_study): what is left out, and said, not raised."""

from __future__ import annotations

from pathlib import Path

import yaml

from personalib.analysis import load_study
from tests.analysis.fixture_store import MODELS, PERSONAS, write_fixture


def test_dataset_whose_source_is_missing_is_left_out_with_a_note(tmp_path: Path, monkeypatch):
    """The store holds toxicity generations, but the profile reads toxicity from its source
    (`toxicity: {}`: the user-supplied largeScale.csv), which is not in the cache."""
    monkeypatch.setenv("PERSONALIB_CACHE", str(tmp_path / "empty-cache"))
    profile, store = write_fixture(tmp_path)
    data = yaml.safe_load(profile.read_text())
    data["datasets"]["toxicity"] = {}
    profile.write_text(yaml.safe_dump(data))
    study = load_study(str(profile), store, list(MODELS), list(PERSONAS))
    assert study.datasets == ["truthfulqa", "mmlu", "bbq", "attitudes"]
    assert "toxicity" not in study.items and study.annotations is None
    note = next(n for n in study.notes if n.startswith("toxicity: its items cannot be loaded"))
    assert "largeScale.csv is missing" in note and str(tmp_path / "empty-cache") in note
    assert not any("no generations for toxicity" in n for n in study.notes)  # they are there

