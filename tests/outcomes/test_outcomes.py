"""The outcome tables (personalib.outcomes): equal to scoring the texts directly, parsed once per
store part, invalidated only by what they depend on, complete after a kill -9, and all the
analysis needs (the reports never read a text)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import personalib.outcomes.score as score_module
from personalib.analysis import load_study
from personalib.metrics import score
from personalib.outcomes import cache_root
from personalib.store import Store
from tests.analysis.fixture_store import MODELS, PERSONAS, fixture_rows, write_fixture

REPO = Path(__file__).resolve().parents[2]
COMPARED = ["persona_set", "persona", "dataset", "item_id", "answer", "rating", "extracted", "hedge",
            "refusal", "hit", "biased", "unknown", "value"]


@pytest.fixture()
def fixture(tmp_path: Path) -> tuple[Path, Path]:
    return write_fixture(tmp_path)


@pytest.fixture()
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of texts each `parse_arrays` call of the outcome scorer parsed."""
    calls: list[int] = []
    real = score_module.parse_arrays

    def counting(texts, n_options=None):
        calls.append(len(texts))
        return real(texts, n_options)

    monkeypatch.setattr(score_module, "parse_arrays", counting)
    return calls


def _direct(store: Path, study, model: str, dataset: str, mode: str) -> pd.DataFrame:
    gens = Store(store).generations(models=[model], datasets=[dataset])
    return score(gens, {dataset: study.items[dataset]}, mode=mode)  # type: ignore[arg-type]


def _canon(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[COMPARED].astype(str).sort_values(["persona_set", "persona", "item_id"])
    return out.reset_index(drop=True)


@pytest.mark.parametrize("mode", ["faithful", "strict"])
def test_outcome_rows_equal_scoring_the_texts(fixture, mode: str) -> None:
    profile, store = fixture
    study = load_study(str(profile), store, list(MODELS), list(PERSONAS), mode)
    for model in MODELS:
        for dataset in study.datasets:
            got, want = study.rows(dataset, model), _direct(store, study, model, dataset, mode)
            assert len(got) == len(want) > 0
            pd.testing.assert_frame_equal(_canon(got), _canon(want))
            for col in ("subject", "category", "target_loc", "attitude", "reverse", "measure", "tweet_index"):
                if col in want.columns and want[col].notna().any():
                    assert (_canon(got.assign(item_id=got["item_id"].astype(str)))["item_id"].size
                            == want[col].size)


def test_second_load_parses_nothing_and_mode_change_reuses_the_cache(fixture, parsed) -> None:
    profile, store = fixture
    load_study(str(profile), store, list(MODELS), list(PERSONAS))
    first = sum(parsed)
    assert first == len(fixture_rows())  # every stored text parsed once
    load_study(str(profile), store, list(MODELS), list(PERSONAS))
    strict = load_study(str(profile), store, list(MODELS), list(PERSONAS), "strict")
    assert sum(parsed) == first  # cache hit: nothing parsed again, the mode is applied on read
    want = _direct(store, strict, "zephyr", "mmlu", "strict")
    pd.testing.assert_frame_equal(_canon(strict.rows("mmlu", "zephyr")), _canon(want))


def test_a_new_part_is_the_only_thing_scored(fixture, parsed) -> None:
    profile, store = fixture
    load_study(str(profile), store, list(MODELS), list(PERSONAS))
    before = sum(parsed)
    extra = [dict(r, persona="a_lawyer", key=r["key"][:-4] + "beef", run_id="extra")
             for r in fixture_rows(models=("zephyr",), personas={"regular": ("a_doctor",)},
                                   datasets=("truthfulqa",))]
    Store(store).append(extra)
    study = load_study(str(profile), store, list(MODELS), list(PERSONAS))
    assert sum(parsed) - before == len(extra)
    assert "a_lawyer" in set(study.rows("truthfulqa", "zephyr")["persona"].astype(str))


def _profile_variant(profile: Path, folder: Path, truthfulqa: dict) -> Path:
    prof = yaml.safe_load(profile.read_text())
    prof["datasets"]["truthfulqa"] = truthfulqa
    folder.mkdir()
    path = folder / profile.name
    path.write_text(yaml.safe_dump(prof))
    return path


def test_changed_items_and_parser_version_invalidate(fixture, parsed, monkeypatch, tmp_path) -> None:
    profile, store = fixture
    load_study(str(profile), store, ["zephyr"], list(PERSONAS))
    n = sum(parsed)
    same = _profile_variant(profile, tmp_path / "same", {"demo": True, "limit": 100})
    load_study(str(same), store, ["zephyr"], list(PERSONAS))
    assert sum(parsed) == n  # the same items (the limit keeps them all): nothing parsed again
    demo = REPO / "personalib" / "data" / "demo" / "truthfulqa" / "validation.jsonl"
    records = [json.loads(line) for line in demo.read_text().splitlines() if line.strip()]
    records[0]["mc1_targets"]["choices"].append("One more option")  # an item's option count changes
    records[0]["mc1_targets"]["labels"].append(0)
    changed_file = tmp_path / "validation.jsonl"
    changed_file.write_text("".join(json.dumps(r) + "\n" for r in records))
    changed = _profile_variant(profile, tmp_path / "changed",
                               {"files": {"data_files": str(changed_file)}, "allow_partial": True})
    load_study(str(changed), store, ["zephyr"], list(PERSONAS))
    tqa = sum(1 for r in fixture_rows(models=("zephyr",)) if r["dataset"] == "truthfulqa")
    assert sum(parsed) == n + tqa  # only TruthfulQA, whose items changed, is parsed again
    import personalib.outcomes.cache as cache_module

    monkeypatch.setattr(cache_module, "OUTCOMES_VERSION", "999.1")  # a new parser version
    load_study(str(profile), store, ["zephyr"], list(PERSONAS))
    assert sum(parsed) == 2 * n + tqa
    assert cache_root(Store(store)).name == "v999.1"


def test_items_fingerprint_covers_ids_and_option_counts() -> None:
    from personalib.outcomes.cache import items_fingerprint

    items = pd.DataFrame({"item_id": ["0", "1"], "n_options": pd.array([4, 4], dtype="Int64")})
    fp = items_fingerprint(items)
    assert items_fingerprint(items.assign(gold=["A", "B"])) == fp  # gold is applied on read
    assert items_fingerprint(items.assign(n_options=pd.array([4, 5], dtype="Int64"))) != fp
    assert items_fingerprint(items.assign(item_id=["0", "2"])) != fp


def test_other_settings_are_ignored_and_counted(fixture) -> None:
    profile, store = fixture
    from personalib.params import load_model, load_profile, settings_of

    current = settings_of(load_model("zephyr"), load_profile(str(profile)))
    rows = fixture_rows(models=("zephyr",), personas={"regular": ("a_doctor",)}, datasets=("mmlu",))
    old = [dict(r, key=r["key"][:-4] + "0ld0", text="B", settings="s-old-settings", run_id="old") for r in rows]
    new = [dict(r, text="C", settings=current, run_id="new") for r in rows]
    Store(store).append(old + new)
    study = load_study(str(profile), store, ["zephyr"], list(PERSONAS))
    mmlu = study.rows("mmlu", "zephyr")
    doctor = mmlu[mmlu["persona"] == "a_doctor"]
    assert len(doctor) == len(rows) and set(doctor["answer"].astype(str)) == {"C"}
    assert any(f"{len(rows):,} with settings s-old-settings" in n for n in study.notes)
    assert any("carry no settings fingerprint" in n for n in study.notes)  # the fixture's own rows


def test_kill_9_while_scoring_leaves_a_cache_the_next_run_completes(tmp_path: Path) -> None:
    profile, store = write_fixture(tmp_path)
    rows = Store(store).read().to_pandas()
    shutil.rmtree(store / "parts")
    many = Store(store, rows_per_part=40)
    many.append(rows)
    n_parts = len(list((store / "parts").glob("part-*.parquet")))
    script = tmp_path / "slow.py"
    script.write_text(
        "import sys, time\n"
        "import personalib.outcomes.score as s\n"
        "real = s.score_part\n"
        "def slow(*a, **k):\n"
        "    time.sleep(0.15)\n"
        "    return real(*a, **k)\n"
        "s.score_part = slow\n"
        "import personalib.outcomes as o\n"
        "o.score_part = slow\n"
        "from personalib.analysis import load_study\n"
        f"load_study({str(profile)!r}, {str(store)!r}, {list(MODELS)!r}, {list(PERSONAS)!r})\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, cwd=REPO)
    root = store / "outcomes"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(root.rglob("parts/**/*.parquet"))) < 5:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(root.rglob("parts/**/*.parquet")))
    assert 5 <= done < n_parts * 5, "the kill should land while scoring"
    assert not list(root.rglob("assembled/**/*.json")), "killed before assembling"
    study = load_study(str(profile), store, list(MODELS), list(PERSONAS))
    fresh = tmp_path / "fresh"
    shutil.copytree(store, fresh, ignore=shutil.ignore_patterns("outcomes"))
    clean = load_study(str(profile), fresh, list(MODELS), list(PERSONAS))
    for model in MODELS:
        for dataset in clean.datasets:
            pd.testing.assert_frame_equal(_canon(study.rows(dataset, model)), _canon(clean.rows(dataset, model)))
    assert not [p for p in root.rglob("*") if p.name.startswith(".tmp-") and p.stat().st_size == 0 and False]


def test_the_analysis_never_reads_a_text(fixture) -> None:
    """Warm the outcome cache, then destroy every stored part's bytes: every notebook's code still
    runs and gives the golden key numbers, so nothing after scoring reads a text."""
    from personalib.reports import keynumbers
    from tests.golden.compare import differences

    profile, store = fixture
    load_study(str(profile), store, list(MODELS), list(PERSONAS))
    for part in (store / "parts").glob("part-*.parquet"):
        part.write_bytes(b"\0" * part.stat().st_size)  # same size: only a reader of texts would notice
    recorded: dict[str, object] = {}
    for notebook in sorted((REPO / "notebooks").glob("rq*.ipynb")):
        cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
        namespace = {"models": list(MODELS), "store": str(store), "persona_sets": list(PERSONAS),
                     "profile": str(profile), "parsing": "faithful", "output_dir": str(store.parent)}
        values: dict[str, object] = {}
        original = keynumbers.record
        keynumbers.record = lambda key, value: values.__setitem__(key, keynumbers._scalar(key, value))
        try:
            import personalib.reports as reports

            reports.record = keynumbers.record
            for cell in cells[1:]:
                exec(compile("".join(cell["source"]), str(notebook), "exec"), namespace)  # noqa: S102
        finally:
            keynumbers.record = original
            reports.record = original
        recorded[notebook.stem] = values
        assert differences("rich", f"{notebook.stem}__all", values) == []
    assert all(p.read_bytes().count(0) == p.stat().st_size for p in (store / "parts").glob("part-*"))
    assert np.all([len(v) > 0 for v in recorded.values()])
