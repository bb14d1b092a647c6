"""Shared test fixtures: the reference data folder and an isolated, reusable cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"

# One cache per checkout for the whole session (the embedded model is assembled and converted once,
# under build/, which git ignores); never the user's own ~/.cache.
os.environ.setdefault("PERSONALIB_CACHE", str(REPO / "build" / "test-cache"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """../shared/reference, or skip with the reason when this checkout has none beside it."""
    if not REFERENCE.is_dir():
        pytest.skip(f"reference data not found at {REFERENCE} (it sits beside the project in CI)")
    return REFERENCE


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
