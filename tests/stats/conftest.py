"""Fixtures for the statistics tests: fail a test when a library warning escapes personalib.stats."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest


@pytest.fixture
def no_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Record every warning raised inside the test; assert none escaped at the end."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
    escaped = [f"{w.category.__name__}: {w.message}" for w in caught]
    assert not escaped, f"warnings escaped: {escaped}"
