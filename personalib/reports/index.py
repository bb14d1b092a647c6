"""`reports/<profile>/index.html`: every report of a profile with its one-line headline.

The index is rebuilt from the report sidecars (`<notebook>__<scope>.json`, or `<notebook>.json` for
a notebook with a single across-model report such as the claims scorecard) found in the folder, so
it lists reports built by earlier runs too (e.g. one `make reproduce MODELS=...` per model). The
single-report notebooks come first (the claims scorecard answers "does it reproduce?"), then the
research questions in name order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2

import personalib
from personalib.files import atomic_write
from personalib.paths import DATA_DIR

SCHEMA = "personalib.report/1"
"""Value of the `schema` key of every report sidecar JSON."""

ALL_SCOPE = "all"
INDEX_NAME = "index.html"


def read_sidecars(folder: Path) -> list[dict[str, Any]]:
    """Every report sidecar JSON in `folder` (other JSON files are ignored)."""
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("schema") == SCHEMA:
            found.append(data)
    return found


def _links(report: dict[str, Any]) -> list[tuple[str, str]]:
    files = report.get("files", {})
    links = [(label, files[key]) for key, label in
             (("html", "report"), ("ipynb", "notebook"), ("json", "JSON"), ("csv", "CSV"))
             if files.get(key)]
    links += [(f"{name}.csv", href) for name, href in sorted(files.get("tables", {}).items())]
    return links


def _sort_key(report: dict[str, Any], model_order: Sequence[str]) -> tuple:
    scope = report.get("scope", "")
    rank = -1 if scope == ALL_SCOPE else (
        model_order.index(scope) if scope in model_order else len(model_order))
    return (rank, scope)


def write_index(folder: Path, *, profile: str, description: str = "",
                demo_label: str | None = None, model_order: Sequence[str] = ()) -> Path:
    """Write `folder/index.html` linking every report there, grouped by notebook (across-model
    report first, then one per model), with headlines, failures and the demo-data label."""
    reports = read_sidecars(folder)
    groups: dict[str, dict[str, Any]] = {}
    for rep in reports:
        group = groups.setdefault(rep["notebook"], {"notebook": rep["notebook"],
                                                     "title": rep.get("title") or rep["notebook"],
                                                     "single": bool(rep.get("single")),
                                                     "reports": []})
        group["reports"].append({**rep, "links": _links(rep)})
    for group in groups.values():
        group["reports"].sort(key=lambda r: _sort_key(r, list(model_order)))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(DATA_DIR / "reports")),
                             autoescape=True)
    page = env.get_template("index.html.j2").render(
        profile=profile, description=description, demo_label=demo_label,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=personalib.__version__,
        groups=[groups[k] for k in sorted(groups, key=lambda k: (not groups[k]["single"], k))],
    )
    return atomic_write(folder / INDEX_NAME, page)  # never a half-written index
