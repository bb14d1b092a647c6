"""Bad arguments and unusable paths stop a command with one clear error before it loads a model or
writes anything, through the real CLI in subprocesses.

Covers: a store that is a file or read-only (existing or new; a real read-only bind mount, see
tests/readonly.py) for `generate` and `import-release`; `status` on a read-only store with a
corrupt part (reported, left in place); option values no run can use (`--chunk-size 0`, a negative
`--max-cost`) and `--max-cost` on a run without API models; relative command-line paths (relative
to the current directory); a persona text of 2 MB. A command that got as far as loading the model
would print its persona placement: none of these may.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from personalib.store import Store, request_key
from tests.readonly import read_only_runner

PLACEMENT = "persona placement"  # printed once a model's backend is loaded


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "personalib", *args], cwd=cwd, capture_output=True, text=True,
                          env=dict(os.environ), timeout=300)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _profile(tmp_path: Path, **overrides: Any) -> Path:
    profile = {
        "name": "tiny", "models": ["gemma3-270m-demo"], "datasets": {"truthfulqa": {"demo": True, "limit": 1}},
        "persona_sets": ["empty"], "decoding": {"max_new_tokens": 2},
        "store": str(tmp_path / "store"), "reports": str(tmp_path / "reports"), **overrides,
    }  # fmt: skip
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return path


def _store(path: Path, corrupt: bool = False) -> Store:
    """A store with a plan, two parts (the first truncated when `corrupt`) and a manifest."""
    store = Store(path)
    entries = [{"key": request_key("org/m", None, {"prompt": f"p{i}"}, {}), "model": "gemma3-270m-demo",
                "persona_set": "empty", "persona": "empty", "dataset": "truthfulqa", "item_id": str(i)}
               for i in range(4)]
    store.write_plan(entries)
    for half in (entries[:2], entries[2:]):
        store.append([dict(e, text="A", run_id="r0", origin="generated") for e in half])
    store.write_manifest({"run_id": "r0", "status": "completed"})
    if corrupt:
        victim = store.parts()[0]
        victim.write_bytes(victim.read_bytes()[:40])
    return store


def _clear_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and PLACEMENT not in result.stderr, result.stderr[-3000:]
    assert "error: " in result.stderr and all(f in result.stderr for f in fragments), result.stderr


# -- stores that cannot be written -----------------------------------------------------------------

def test_generate_into_a_store_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "not-a-folder"
    target.write_text("mine")
    result = _cli("generate", "--profile", str(_profile(tmp_path)), "--store", str(target), "--no-progress")
    _clear_error(result, f"generation store {target}: it is a file, not a folder; nothing was loaded or written")
    assert target.read_text() == "mine"


def test_generate_into_a_read_only_store_existing_or_new(tmp_path: Path) -> None:
    run = read_only_runner()
    locked = tmp_path / "locked"
    store = _store(locked / "store")
    before = _snapshot(locked)
    profile = str(_profile(tmp_path))
    result = run(locked, "generate", "--profile", profile, "--store", str(store.path), "--no-progress")
    _clear_error(result, f"generation store {store.path}: cannot create files in {store.path}: Read-only file system")
    result = run(locked, "generate", "--profile", profile, "--store", str(locked / "new"), "--no-progress")
    _clear_error(result, f"generation store {locked / 'new'}: cannot create files in {locked}")
    assert _snapshot(locked) == before


def test_import_release_into_a_read_only_store(tmp_path: Path) -> None:
    run = read_only_runner()
    locked = tmp_path / "locked"
    locked.mkdir()
    release = tmp_path / "release" / "results"
    release.mkdir(parents=True)
    result = run(locked, "import-release", str(release), "--store", str(locked / "store"))
    _clear_error(result, f"generation store {locked / 'store'}: cannot create files in {locked}")
    assert list(locked.iterdir()) == []


def test_status_on_a_read_only_store_reports_a_corrupt_part_without_moving_it(tmp_path: Path) -> None:
    run = read_only_runner()
    locked = tmp_path / "locked"
    store = _store(locked / "store", corrupt=True)
    before = _snapshot(locked)
    result = run(locked, "status", "--store", str(store.path), "--json")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    victim = sorted((store.path / "parts").glob("part-*.parquet"))[0]
    assert "the store is read-only here" in result.stderr
    assert f"corrupt store part {victim.name}" in result.stderr and "left in place" in result.stderr
    summary = json.loads(result.stdout)
    assert (summary["stored"], summary["missing"]) == (2, 2)
    assert [c["moved_to"] for c in summary["corrupt_set_aside"]] == [None]
    assert _snapshot(locked) == before  # nothing moved, nothing written
    result = _cli("status", "--store", str(store.path))  # writable again: now it is set aside
    assert result.returncode == 0 and f"moved to {store.path / 'corrupt' / victim.name}" in result.stderr


# -- option values ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["--chunk-size", "0"], "--chunk-size must be >= 1, got 0"),
    (["--max-cost", "-1"], "--max-cost must be a number of USD >= 0, got -1"),
    (["--max-cost", "nan"], "--max-cost must be a number of USD >= 0, got nan"),
    (["--limit", "-3"], "--limit must be >= 1, got -3"),
    (["--shard", "1/0"], "--shard '1/0'"),
])
def test_option_values_are_refused_before_anything_is_loaded_or_written(
        tmp_path: Path, args: list[str], message: str) -> None:
    result = _cli("generate", "--profile", str(_profile(tmp_path)), "--no-progress", *args)
    _clear_error(result, message)
    assert not (tmp_path / "store").exists()


def test_other_commands_check_their_arguments_first(tmp_path: Path) -> None:
    _clear_error(_cli("report", "--profile", str(_profile(tmp_path)), "--cell-timeout", "0"),
                 "--cell-timeout must be a number of seconds > 0, got 0")
    (tmp_path / "f").write_text("x")
    _clear_error(_cli("status", "--store", str(tmp_path / "f")), f"--store {tmp_path / 'f'} is a file")
    assert not (tmp_path / "reports").exists()


def test_max_cost_on_a_run_without_api_models_says_it_does_not_apply(tmp_path: Path) -> None:
    result = _cli("generate", "--profile", str(_profile(tmp_path)), "--max-cost", "5", "--dry-run", "--no-progress")
    assert result.returncode == 0, result.stderr[-3000:]
    assert ("warning: --max-cost applies to API models only; this run has none (gemma3-270m-demo), so it does "
            "not limit anything") in result.stderr


# -- command-line paths are relative to the current directory ----------------------------------------

def test_relative_command_line_paths_are_relative_to_the_current_directory(tmp_path: Path) -> None:
    here = tmp_path / "here"
    _store(here / "rel-store")
    result = _cli("status", "--store", "rel-store", "--json", cwd=here)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["store"] == str(here / "rel-store")
    (here / "a-file").write_text("x")
    result = _cli("generate", "--profile", str(_profile(tmp_path)), "--store", "a-file", "--no-progress", cwd=here)
    _clear_error(result, f"generation store {here / 'a-file'}: it is a file")
    (here / "release" / "results").mkdir(parents=True)
    result = _cli("import-release", "release", "--store", "imported", cwd=here)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"0 files, 0 generations (0 new) into {here / 'imported'}" in result.stdout
    assert Store(here / "imported").manifests()[0]["release"]["path"] == str(here / "release")


# -- persona texts ---------------------------------------------------------------------------------

def test_a_two_megabyte_persona_is_refused_naming_the_file_entry_and_length(tmp_path: Path) -> None:
    personas = tmp_path / "huge.yaml"
    text = "a " + "very " * 400_000 + "long persona"
    personas.write_text(yaml.safe_dump({"name": "huge", "personas": [
        {"text": "a farmer", "category": "job"}, {"text": text, "category": "job"}]}))
    result = _cli("generate", "--profile", str(_profile(tmp_path, persona_sets=[str(personas)])), "--no-progress")
    _clear_error(result, f"persona set file {personas}: personas[1]: `text` is {len(text):,} characters long",
                 "at most 300 are allowed")
    assert len(result.stderr) < 2000 and not (tmp_path / "store").exists()
