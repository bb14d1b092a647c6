"""Checking that a folder can be written before a command starts (personalib.writable).

A really read-only folder (a read-only mount: the tests run as root) is tested through the CLI in
tests/test_cli_checks.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from personalib.errors import PersonalibError
from personalib.paths import user_path
from personalib.writable import check_store, folder_problem


def test_folders_that_exist_or_can_be_created_are_fine(tmp_path: Path) -> None:
    assert folder_problem(tmp_path) is None
    assert folder_problem(tmp_path / "new" / "deeper") is None
    assert list(tmp_path.iterdir()) == []  # the check leaves nothing behind


def test_a_file_or_a_folder_under_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert folder_problem(tmp_path / "f") == "it is a file, not a folder"
    assert folder_problem(tmp_path / "f" / "sub") == f"{tmp_path / 'f'} is a file, so it cannot be created"


def test_a_store_whose_parts_folder_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "parts").write_text("x")
    with pytest.raises(PersonalibError, match=r"generation store .*store: parts/: it is a file, not a folder; "
                                              r"nothing was loaded or written. Give --store a folder"):
        check_store(tmp_path / "store")


def test_user_paths_are_relative_to_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert user_path("a/../b") == tmp_path / "b"
    assert user_path("/x/y") == Path("/x/y")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_path("~/s") == tmp_path / "home" / "s"
