"""`python -m personalib generate` through the real CLI: bad input leaves the store untouched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from personalib.__main__ import main
from personalib.store import Store, request_key


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _profile(tmp_path: Path, **overrides: Any) -> Path:
    profile = {
        "name": "tiny",
        "models": ["gemma3-270m-demo"],
        "datasets": {"truthfulqa": {"demo": True, "limit": 2}},
        "persona_sets": ["regular", "empty"],
        "personas": ["a_doctor", "empty"],
        "decoding": {"max_new_tokens": 4},
        "store": str(tmp_path / "store"),
        "reports": str(tmp_path / "reports"),
        **overrides,
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return path


@pytest.fixture
def populated_store(tmp_path: Path) -> Path:
    """A store that already holds a part, a plan and a manifest."""
    store = Store(tmp_path / "store")
    entry = {
        "key": request_key("org/m", None, {"prompt": "p"}, {}), "model": "gemma3-270m-demo",
        "persona_set": "regular", "persona": "a_doctor", "dataset": "truthfulqa", "item_id": "0",
    }  # fmt: skip
    store.write_plan([entry])
    store.append([dict(entry, text="A", run_id="r0", origin="generated")])
    store.write_manifest({"run_id": "r0", "status": "completed"})
    return store.path


@pytest.mark.parametrize(
    ("overrides", "args", "message"),
    [
        ({"temperature": 0.5}, [], ("unknown key", "temperature")),
        ({"datasets": {"truthfulqa": {"demo": True, "shuffle": True}}}, [], ("unknown key", "shuffle")),
        ({}, ["--datasets", "squad"], "unknown dataset(s) squad"),
        ({}, ["--datasets", "mmlu"], "no source for mmlu"),
        ({}, ["--persona-sets", "villains"], "unknown persona set 'villains'"),
        ({"persona_sets": ["regular", "villains.yaml"]}, [], "villains.yaml"),
        ({}, ["--models", "gpt-4"], "not in profile"),
        ({}, ["--shard", "2/2"], "--shard"),
        ({}, ["--limit", "0"], "--limit"),
    ],
)
def test_bad_input_is_a_clear_error_and_leaves_the_store_untouched(
    tmp_path: Path, populated_store: Path, capsys: pytest.CaptureFixture[str], overrides: dict, args: list,
    message: str | tuple[str, ...],
) -> None:
    before = _snapshot(populated_store)
    code = main(["generate", "--profile", str(_profile(tmp_path, **overrides)), "--no-progress", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ")
    assert all(fragment in err for fragment in ([message] if isinstance(message, str) else message)), err
    assert _snapshot(populated_store) == before


def test_missing_api_key_is_a_clear_error_and_leaves_the_store_untouched(
    tmp_path: Path, populated_store: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    before = _snapshot(populated_store)
    code = main(["generate", "--profile", str(_profile(tmp_path, models=["gpt-3.5"])), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "OPENAI_API_KEY" in err and "not set" in err
    assert _snapshot(populated_store) == before


def test_dry_run_of_an_api_model_needs_no_key_and_writes_nothing(
    tmp_path: Path, populated_store: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    before = _snapshot(populated_store)
    code = main(["generate", "--profile", str(_profile(tmp_path, models=["gpt-4"])), "--dry-run"])
    err = capsys.readouterr().err
    assert code == 0
    assert "persona placement system" in err and "API estimate gpt-4/truthfulqa: 4 requests" in err
    assert _snapshot(populated_store) == before
