"""Up-to-date checks: each input's digest changes exactly when that input changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from personalib.reports import fingerprint as fp


@pytest.fixture
def setup(tmp_path: Path):
    nb = tmp_path / "rq.ipynb"
    nb.write_text('{"cells": []}')
    store = tmp_path / "store"
    (store / "parts").mkdir(parents=True)
    (store / "parts" / "part-0001.parquet").write_bytes(b"PAR1 data")
    profile = tmp_path / "demo.yaml"
    profile.write_text("name: demo\n")
    params = {"models": ["m"], "store": str(store)}
    return nb, store, profile, params


def _print(nb, store, profile, params):
    return fp.fingerprint(nb, params, store, [profile], package_source="pkg")


def test_same_inputs_same_fingerprint(setup):
    assert _print(*setup) == _print(*setup)
    assert fp.changed(_print(*setup), _print(*setup)) == []


def test_each_input_is_named_when_it_changes(setup):
    nb, store, profile, params = setup
    before = _print(*setup)
    nb.write_text('{"cells": [1]}')
    assert fp.changed(before, _print(*setup)) == ["notebook"]
    before = _print(*setup)
    assert fp.changed(before, _print(nb, store, profile, {**params, "models": ["m", "n"]})) == ["parameters"]
    (store / "parts" / "part-0002.parquet").write_bytes(b"PAR1 more")
    assert fp.changed(before, _print(*setup)) == ["store"]
    before = _print(*setup)
    profile.write_text("name: demo\npersonas: [a_doctor]\n")
    assert fp.changed(before, _print(*setup)) == ["inputs"]
    before = _print(*setup)
    assert fp.changed(before, fp.fingerprint(nb, params, store, [profile], package_source="other")) == [
        "package_source"]


def test_store_listing_ignores_hidden_and_temporary_files(setup):
    _, store, _, _ = setup
    before = fp.store_digest(store)
    (store / ".lock").write_text("")
    (store / "parts" / ".part-0003.parquet.inprogress").write_bytes(b"x")
    (store / "parts" / "part-0003.parquet.tmp").write_bytes(b"x")
    assert fp.store_digest(store) == before
    part = store / "parts" / "part-0001.parquet"
    os.utime(part, ns=(part.stat().st_atime_ns, part.stat().st_mtime_ns + 10**9))
    assert fp.store_digest(store) != before  # a rewritten part counts as new data


def test_absent_store_and_files():
    assert fp.store_digest(None) == "absent"
    assert fp.store_digest(Path("/nonexistent/store")) == "absent"
    assert fp.file_digest(Path("/nonexistent/file")) == "absent"


def test_package_source_digest_follows_contents(tmp_path: Path):
    pkg = tmp_path / "pkg"
    (pkg / "__pycache__").mkdir(parents=True)
    (pkg / "m.py").write_text("x = 1\n")
    before = fp.source_digest(pkg)
    (pkg / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\0")
    assert fp.source_digest(pkg) == before
    (pkg / "m.py").write_text("x = 2\n")
    assert fp.source_digest(pkg) != before


def test_changed_without_earlier_record_lists_everything(setup):
    assert fp.changed(None, _print(*setup)) == list(_print(*setup))
