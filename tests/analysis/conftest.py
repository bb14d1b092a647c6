"""Fixture stores for the analysis tests (tests/analysis/fixture_store.py), built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from personalib.analysis import Study, load_study
from tests.analysis.fixture_store import MODELS, PERSONAS, write_fixture


@pytest.fixture(scope="session")
def fixture_paths(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(profile YAML, store) of the rich fixture: two models, 14 personas, five demo datasets."""
    return write_fixture(tmp_path_factory.mktemp("rich"))


@pytest.fixture(scope="session")
def degenerate_paths(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(profile YAML, store) of the degenerate fixture: one model, three personas, BBQ only,
    every answer "B"."""
    return write_fixture(tmp_path_factory.mktemp("degenerate"), degenerate=True)


@pytest.fixture(scope="session")
def study(fixture_paths: tuple[Path, Path]) -> Study:
    """The rich fixture, loaded and scored (faithful parsing)."""
    profile, store = fixture_paths
    return load_study(str(profile), store, list(MODELS), list(PERSONAS))


@pytest.fixture(scope="session")
def degenerate_study(degenerate_paths: tuple[Path, Path]) -> Study:
    """The degenerate fixture, loaded and scored."""
    profile, store = degenerate_paths
    return load_study(str(profile), store, ["zephyr"], ["regular", "empty", "control"])
