"""Checks that a folder can be written, made before a command loads a model or writes anything.

A command that will write into a folder (a generation store, a download folder) checks it first,
so that a folder that is a file, sits under a file, or is read-only (permissions, a read-only
mount) stops the command with one clear error instead of a traceback after minutes of work. The
check creates (and at once deletes) an anonymous temporary file where the command will write: it
tests the real permission, whoever runs the command (root included) and whatever the filesystem.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

from personalib.errors import PersonalibError

__all__ = ["STORE_FOLDERS", "check_folder", "check_store", "folder_problem"]

STORE_FOLDERS: tuple[str, ...] = ("parts", "plans", "manifests")
"""The folders of a generation store that runs write into (`personalib.store.Store`)."""


def _probe(folder: Path) -> str | None:
    """Why no file can be created in the existing folder `folder`, or None when one can."""
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".tmp-probe-"):
            pass
    except OSError as exc:
        return f"cannot create files in {folder}: {exc.strerror or exc}"
    return None


def folder_problem(path: Path) -> str | None:
    """Why `path` cannot be used as a folder to write in (created when missing), or None.

    It must be a folder, or not exist yet under a folder; the folder (or, for a new one, its
    nearest existing parent, where it will be created) must accept new files.
    """
    try:
        return _problem(path)
    except OSError as exc:  # e.g. a parent folder this user may not enter
        return f"cannot be checked: {exc.strerror or exc}"


def _problem(path: Path) -> str | None:
    if path.exists() and not path.is_dir():
        return "it is a file, not a folder"
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            return "no part of it exists"
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, so it cannot be created"
    return _probe(existing)


def check_folder(path: Path, what: str, subfolders: Iterable[str] = (), hint: str = "") -> None:
    """Raise PersonalibError naming `what` and `path` unless `path` (and each existing subfolder
    of it among `subfolders`) is a folder this process can write in (`folder_problem`)."""
    problem = folder_problem(path)
    for name in subfolders if problem is None else ():
        sub = folder_problem(path / name) if (path / name).exists() else None
        if sub:
            problem = f"{name}/: {sub}"
            break
    if problem:
        raise PersonalibError(f"{what} {path}: {problem}; nothing was loaded or written. "
                              + (hint or "Choose a folder you can write to."))


def check_store(path: Path, option: str = "--store") -> None:
    """`check_folder` for a generation store and its folders; the message names `option`."""
    check_folder(path, "generation store", STORE_FOLDERS,
                 hint=f"Give {option} a folder you can write to (it is created when missing).")
