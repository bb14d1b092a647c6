"""benchmarks/bench_scale.py and benchmarks/scale/: the writers, the derivation and the measuring,
at a tiny size (the full-size runs are the benchmark's, not the tests')."""

from __future__ import annotations

import json
import os
import sys
from fractions import Fraction
from pathlib import Path

import pyarrow.compute as pc
import pytest

from benchmarks.bench_scale import fractions_of
from benchmarks.scale.derive import STUDY_MODELS, derive_store, rewrite, subsample_items
from benchmarks.scale.fixtures import write_fixtures
from benchmarks.scale.measure import run_step
from benchmarks.scale.release import (
    FOLDERS, PROMPTS_PER_PERSONA, generations_json, link_subset, persona_dir, read_marker, scale_personas,
    study_personas, write_release,
)
from benchmarks.scale.steps import BASE_FOLDER, BASE_MODEL, GIB, Workspace, rows_of, verdict, write_profiles
from personalib.params import load_profile
from personalib.release import import_release, read_generations
from personalib.store import Store
from personalib.tasks import load_task

SMALL = ("truthfulqa", "attitudes", "toxicity")


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("fixtures")
    return folder, write_fixtures(folder)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> tuple[Path, list, dict]:
    root = tmp_path_factory.mktemp("release")
    everyone = study_personas()
    personas = [everyone[0], next(p for p in everyone if p.persona_set == "control")]
    return root, personas, write_release(root, BASE_FOLDER, personas, jobs=1)


def test_fixtures_load_with_the_study_row_counts(sources) -> None:
    _, datasets = sources
    sizes = {"truthfulqa": 817, "mmlu": 14_042, "bbq": 58_492, "attitudes": 837, "toxicity": 1_252}
    for name, spec in datasets.items():
        task = load_task(name, **spec["files"])        # row counts checked, no allow_partial
        items = task.items()
        assert len(items) == sizes[name] == task.source_prompts
        if name in ("mmlu", "bbq"):
            assert items["in_subsample"].sum() == task.subsample_prompts
        if name == "mmlu":
            assert len(load_task(name, subsample=True, **spec["files"]).items()) == task.subsample_prompts
        if name == "truthfulqa":
            assert set(items["n_options"]) == set(range(2, 14))
        if name == "bbq":
            assert task.has_metadata and 0 < items["target_loc"].isna().sum() < len(items) // 10
            assert items["unknown_loc"].notna().all()
        if name == "toxicity":
            assert len(task.annotations()) > 3 * 626


def test_release_layout_schema_and_distinct_share(release) -> None:
    root, personas, info = release
    assert info["generations"] == 2 * PROMPTS_PER_PERSONA and info["files"] == 2 * len(FOLDERS)
    assert info["distinct_share"] >= 0.45 and read_marker(root) == info
    for persona in personas:
        for folder, n, _ in FOLDERS:
            path = persona_dir(root, BASE_FOLDER, persona, folder) / f"{persona.stem}.json"
            assert len(read_generations(path)) == n
    control = persona_dir(root, BASE_FOLDER, personas[1], "bbq")
    assert control.parts[-4:-1] == ("control", "zero", BASE_FOLDER)


def test_generations_json_is_the_study_json_dump() -> None:
    texts = ['A', 'say "B"\n', "caf\u00e9 \u2019x\u2019", "back\\slash\ttab"]
    assert generations_json(texts) == json.dumps([[{"generated_text": t}] for t in texts])
    assert generations_json([]) == "[]"


def test_scale_personas_and_linked_subsets(release, tmp_path) -> None:
    assert [len(scale_personas(Fraction(1, d))) for d in (8, 4, 2, 1)] == [25, 49, 97, 193]
    eighth = scale_personas(Fraction(1, 8))
    assert {p.persona_set for p in eighth} == {"regular", "empty", "control"}
    root, personas, _ = release
    subset = link_subset(root, tmp_path / "subset", BASE_FOLDER, personas[:1])
    files = sorted(subset.rglob("*.json"))
    assert len(files) == len(FOLDERS)
    assert os.stat(files[0]).st_ino == os.stat(root / files[0].relative_to(subset)).st_ino


def test_profiles_load_and_import_then_derive_seven_models(sources, release, tmp_path) -> None:
    folder, datasets = sources
    root, personas, _ = release
    ws = Workspace(tmp_path)
    write_profiles(ws, Fraction(1, 8), datasets, personas, full=False)
    seven = load_profile(ws.profile("models7", Fraction(1, 8)))
    assert seven.datasets_for("gpt-4")["mmlu"].subsample and not seven.datasets_for("zephyr")["bbq"].subsample
    assert load_profile(ws.profile("generate", Fraction(1, 8))).personas == [p.stem for p in personas]
    store = Store(tmp_path / "store")
    summary = import_release(root, store, models=[BASE_MODEL], datasets=list(SMALL))
    assert summary.rows == 2 * (817 + 837 + 1252)
    info = derive_store(store.path, tmp_path / "seven", BASE_MODEL, folder / "mmlu" / "sampled_ids.json",
                        folder / "bbq_sampled_ids.json", jobs=1)
    seven_store = Store(tmp_path / "seven")
    assert info["rows"] == 7 * summary.rows and seven_store.verify() == []
    table = seven_store.read(["model", "key", "settings"])
    assert sorted(set(table["model"].to_pylist())) == sorted(STUDY_MODELS)
    assert pc.count_distinct(table["key"]).as_py() == table.num_rows
    assert set(table["settings"].to_pylist()) == {"released"}


def test_rewrite_keeps_gpt4_subsample_only(sources) -> None:
    import pyarrow as pa

    from personalib.store.schema import to_row_table

    folder, _ = sources
    ids = subsample_items(folder / "mmlu" / "sampled_ids.json", folder / "bbq_sampled_ids.json")
    inside, outside = ids["mmlu"][0].as_py(), next(str(i) for i in range(14_042) if str(i) not in set(ids["mmlu"].to_pylist()))
    rows = [{"key": f"k{i}", "model": BASE_MODEL, "persona_set": "empty", "persona": "empty", "dataset": d,
             "item_id": item, "text": "A", "run_id": "r", "origin": "imported", "settings": "released"}
            for i, (d, item) in enumerate([("mmlu", inside), ("mmlu", outside), ("bbq", ids["bbq"][0].as_py()),
                                           ("bbq", "Age/999999"), ("truthfulqa", "3")])]
    table = to_row_table(rows)
    gpt4 = rewrite(table, "gpt-4", ids)
    assert gpt4["item_id"].to_pylist() == [inside, ids["bbq"][0].as_py(), "3"]
    assert set(gpt4["model"].to_pylist()) == {"gpt-4"} and gpt4["model_id"][0].as_py() == "gpt-4-0125-preview"
    zephyr = rewrite(table, "zephyr", None)
    assert zephyr.num_rows == 5 and zephyr["revision"][0].as_py() is not None
    assert not set(zephyr["key"].to_pylist()) & set(gpt4["key"].to_pylist()) and isinstance(zephyr, pa.Table)


def test_run_step_measures_peak_rss_failure_and_cap(tmp_path) -> None:
    grow = "b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096])"
    m = run_step("grow", [sys.executable, "-c", grow], tmp_path / "grow.log")
    assert m.ok and m.peak_rss >= 300 * 2**20 and m.cpu_s is not None and m.wall_s > 0
    bad = run_step("bad", [sys.executable, "-c", "raise SystemExit('boom at step')"], tmp_path / "bad.log")
    assert bad.rc == 1 and "boom at step" in bad.error
    slow = [sys.executable, "-c", grow + "; import time; time.sleep(30)"]
    capped = run_step("cap", slow, tmp_path / "cap.log", cap_bytes=200 * 2**20)
    assert not capped.ok and capped.stopped.startswith("memory cap") and capped.wall_s < 20


def test_verdicts_and_options() -> None:
    full = rows_of("score-cold", 193)
    assert full == 14_559_920 and rows_of("across", 193) == 91_009_729
    assert verdict("score-cold", 100, GIB, full, full_size=True, ok=True) == "met"
    assert verdict("score-cold", 200, GIB, full, full_size=True, ok=True) == "NOT MET"
    assert verdict("score-cold", 100, GIB, full // 8, full_size=False, ok=True) == "n/a (below full size)"
    assert verdict("score-cold", 100, 5 * GIB, full // 8, full_size=False, ok=True).startswith("NOT MET")
    assert verdict("import", 10, GIB, 1_000_000, full_size=False, ok=True) == "NOT MET"   # 100,000 gen/s
    assert verdict("status7", 1, GIB, 1, full_size=True, ok=False) == "NOT MET (failed)"
    assert fractions_of("1/2, 1/8,1") == [Fraction(1, 8), Fraction(1, 2), Fraction(1)]
    with pytest.raises(SystemExit):
        fractions_of("3/2")
