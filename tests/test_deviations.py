"""The deviations table: every METHODS 7 fault and the METHODS 2 fixes, with code locations that exist."""

from __future__ import annotations

import re

import pytest

from personalib.deviations import DEVIATIONS, deviations_table
from personalib.errors import PersonalibError

METHODS_7 = [
    "double reverse-scoring", "BBQ std-ratio", "refusal panels", "5 of 7 attitudes",
    "unbounded API retries", "--dataset all", "hard-coded output paths", "no pinned versions",
]


def test_every_methods_fault_is_listed() -> None:
    table = deviations_table()
    faults = " | ".join(table["fault"])
    for fault in METHODS_7:
        assert fault in faults, fault
    assert {"system-role-detection", "double-bos", "parsing-mode"} <= set(table["id"])
    assert table["id"].is_unique
    assert list(table.columns) == ["id", "methods", "kind", "fault", "original", "personalib", "where"]
    assert (table["personalib"].str.len() > 20).all() and (table["original"].str.len() > 20).all()


def test_parsing_entry_follows_the_mode() -> None:
    faithful = deviations_table("faithful").set_index("id").loc["parsing-mode", "personalib"]
    strict = deviations_table("strict").set_index("id").loc["parsing-mode", "personalib"]
    assert faithful.startswith("faithful mode (this run)") and strict.startswith("strict mode (this run)")
    with pytest.raises(PersonalibError, match="parsing mode"):
        deviations_table("lenient")


@pytest.mark.parametrize("dev", DEVIATIONS, ids=lambda d: d.id)
def test_code_locations_exist(dev, repo_root) -> None:
    for where in dev.where:
        path, _, symbol = where.partition(":")
        file = repo_root / path
        assert file.exists(), f"{dev.id}: {path} does not exist"
        if symbol:
            text = file.read_text(encoding="utf-8")
            pattern = rf"^(def|class) {re.escape(symbol)}\b|^{re.escape(symbol)}\s*[:=]"
            assert re.search(pattern, text, re.MULTILINE), f"{dev.id}: {symbol} not defined in {path}"
