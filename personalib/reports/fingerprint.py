"""Up-to-date checks: a report is rebuilt only when something it depends on changed.

The fingerprint of a report hashes (sha256) each of its inputs separately, so a rebuild can say
what changed: the notebook file, the injected parameters, the generation store's state (its part
and manifest files: relative path, size and modification time; parts are immutable once written,
so new generations always change the listing), further input files (profile and model params),
the package version and the package's own source files and data (a fixed metric reruns reports).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import personalib
from personalib.canonical import canonical_json
from personalib.files import file_sha256
from personalib.paths import PACKAGE_DIR

_SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes ("absent" when it does not exist)."""
    return file_sha256(path) if path.is_file() else "absent"


def _visible_files(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        if any(p.startswith(".") or p in _SKIP_DIRS for p in rel):
            continue  # hidden files: locks, temp parts being written
        if path.is_file() and not path.name.endswith((".tmp", ".pyc", ".lock")):
            yield path


STORE_CONTENT = ("parts", "manifests", "format.json")
"""What of a store folder a report depends on (not its outcome cache, plans or set-aside parts)."""


def store_digest(store: Path | None) -> str:
    """Digest of a generation store's generations and run manifests (path, size, mtime of each
    file under `STORE_CONTENT`); "absent" when missing."""
    if store is None or not store.exists():
        return "absent"
    listing = [
        (str(p.relative_to(store)), p.stat().st_size, p.stat().st_mtime_ns)
        for name in STORE_CONTENT
        for p in ((store / name,) if (store / name).is_file() else _visible_files(store / name)
                  if (store / name).is_dir() else ())
    ]
    return _sha(json.dumps(listing).encode())


def source_digest(root: Path = PACKAGE_DIR) -> str:
    """Digest of the package's source and data files (contents, not times)."""
    h = hashlib.sha256()
    for path in _visible_files(root):
        h.update(str(path.relative_to(root)).encode() + b"\0")
        h.update(file_digest(path).encode())
    return h.hexdigest()


def fingerprint(notebook: Path, parameters: Mapping[str, Any], store: Path | None,
                inputs: Sequence[Path] = (), *, package_source: str | None = None
                ) -> dict[str, str]:
    """Each input's digest (see module docstring); equal dicts mean the report is up to date.

    `package_source` lets a caller computing many fingerprints hash the package only once.
    """
    return {
        "notebook": file_digest(notebook),
        "parameters": _sha(canonical_json(dict(parameters), default=str).encode()),
        "store": store_digest(store),
        "inputs": _sha(canonical_json({str(p): file_digest(Path(p)) for p in inputs}).encode()),
        "package_version": personalib.__version__,
        "package_source": package_source or source_digest(),
    }


def changed(old: Mapping[str, str] | None, new: Mapping[str, str]) -> list[str]:
    """Names of the inputs whose digest differs (all of them when there is no earlier record)."""
    if not old:
        return list(new)
    return [k for k in new if old.get(k) != new[k]]
