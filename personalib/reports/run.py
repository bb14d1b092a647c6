"""Build the research-question reports of a profile: execute, render, export, index.

For each notebook, one report per model and one across all models (scope `all`), written to the
profile's report folder as `<notebook>__<scope>.html` + the executed `.ipynb` + key numbers as
`.json` (the sidecar, written last) and `.csv` (+ `<notebook>__<scope>__<table>.csv` per recorded
table); then `index.html`. A report whose fingerprint (personalib.reports.fingerprint) matches its
sidecar is skipped. See docs/reports.md.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

import personalib
from personalib.reports.execute import ReportError, execute_notebook, read_notebook
from personalib.reports.fingerprint import changed, fingerprint, source_digest
from personalib.reports.index import ALL_SCOPE, SCHEMA, write_index
from personalib.reports.leaks import check_no_secrets
from personalib.reports.keynumbers import KeyNumbers, collect
from personalib.reports.render import render_html

SUFFIXES = (".html", ".ipynb", ".json", ".csv", ".failed.ipynb", ".running.ipynb")


@dataclass(frozen=True)
class ReportSettings:
    """What every report of one run shares (the notebook `parameters` besides `models`)."""

    profile: str
    store: Path
    output_dir: Path
    persona_sets: tuple[str, ...] = ()
    parsing: str = "faithful"
    description: str = ""
    demo_label: str | None = None  # shown on every page when the profile uses demo data
    inputs: tuple[Path, ...] = ()  # further files whose change makes reports stale (params)
    cwd: Path | None = None
    cell_timeout: float | None = None


@dataclass(frozen=True)
class ReportJob:
    """One report: a notebook run for one model, or across all models (scope `all`)."""

    notebook: Path
    scope: str
    models: tuple[str, ...]

    @property
    def base(self) -> str:
        return f"{self.notebook.stem}__{self.scope}"


@dataclass
class ReportOutcome:
    """What happened to one report: `built`, `up-to-date` or `failed` (with the reason)."""

    job: ReportJob
    status: str
    seconds: float = 0.0
    reason: str = ""
    html: Path | None = None
    key_numbers: KeyNumbers = field(default_factory=KeyNumbers)


def discover_notebooks(folder: Path, select: Sequence[str] | None = None) -> list[Path]:
    """The report notebooks in `folder` (`*.ipynb`, not starting with `_` or `.`), sorted.

    `select` keeps those whose stem equals or starts with one of its entries (`rq1` matches
    `rq1_performance`); an entry matching none or several is an error naming the choices.
    """
    if not folder.is_dir():
        raise ReportError(f"notebook folder not found: {folder}")
    found = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith(("_", ".")))
    if not found:
        raise ReportError(f"no report notebooks (*.ipynb) in {folder}; see docs/reports.md")
    if not select:
        return found
    stems = [p.stem for p in found]
    chosen: list[Path] = []
    for want in select:
        hits = [p for p in found if p.stem == want] or [p for p in found if p.stem.startswith(want)]
        if len(hits) != 1:
            what = "matches no notebook" if not hits else f"matches {len(hits)} notebooks"
            raise ReportError(f"--notebooks {want!r} {what}; choose from {', '.join(stems)}")
        if hits[0] not in chosen:
            chosen.append(hits[0])
    return chosen


def plan_jobs(notebooks: Sequence[Path], models: Sequence[str]) -> list[ReportJob]:
    """For each notebook: the across-model report, then one per model."""
    if not models:
        raise ReportError("no models to report on: the profile lists none and --models gave none")
    for name in [*models, *(p.stem for p in notebooks)]:
        if "__" in name or name == ALL_SCOPE or "/" in name:
            raise ReportError(
                f"name {name!r} cannot be used in a report file name ('__', '/' and the model "
                f"name {ALL_SCOPE!r} are reserved); rename the model params or notebook file"
            )
    jobs = []
    for nb in notebooks:
        jobs.append(ReportJob(nb, ALL_SCOPE, tuple(models)))
        jobs.extend(ReportJob(nb, m, (m,)) for m in models)
    return jobs


def notebook_parameters(job: ReportJob, settings: ReportSettings) -> dict[str, Any]:
    """The values papermill injects into the notebook's `parameters` cell."""
    return {
        "models": list(job.models),
        "store": str(Path(settings.store).resolve()),
        "persona_sets": list(settings.persona_sets),
        "profile": settings.profile,
        "parsing": settings.parsing,
        "output_dir": str(Path(settings.output_dir).resolve()),
    }


def notebook_title(nb: Any, default: str) -> str:
    """The first Markdown heading of a notebook, else `default`."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip() or default
    return default


def _paths(job: ReportJob, out: Path) -> dict[str, Path]:
    return {s.lstrip(".").replace(".", "_"): out / f"{job.base}{s}" for s in SUFFIXES}


def _read_sidecar(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == SCHEMA else None


def _clear(job: ReportJob, out: Path, old: dict[str, Any] | None) -> None:
    """Remove a report's earlier files (the old sidecar names its table CSVs)."""
    for path in _paths(job, out).values():
        path.unlink(missing_ok=True)
    for name in (old or {}).get("files", {}).get("tables", {}).values():
        (out / name).unlink(missing_ok=True)


def _write_key_numbers(job: ReportJob, out: Path, numbers: KeyNumbers) -> dict[str, Any]:
    rows = ([("headline", numbers.headline)] if numbers.headline is not None else [])
    rows += list(numbers.values.items())
    csv = out / f"{job.base}.csv"
    pd.DataFrame(rows, columns=["key", "value"]).to_csv(csv, index=False)
    tables = {}
    for name, table in numbers.tables.items():
        path = out / f"{job.base}__{name}.csv"
        table.to_csv(path, index=False)
        tables[name] = path.name
    return {"csv": csv.name, "tables": tables}


def _sidecar(job: ReportJob, settings: ReportSettings, params: dict[str, Any], title: str,
             prints: dict[str, str], status: str, started: float, **extra: Any) -> dict[str, Any]:
    return {
        "schema": SCHEMA, "status": status, "notebook": job.notebook.stem, "title": title,
        "scope": job.scope, "models": list(job.models), "profile": settings.profile,
        "headline": None, "values": {}, "tables": {}, "files": {}, "error": None,
        "parameters": params, "fingerprint": prints,
        "built_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(time.monotonic() - started, 2),
        "personalib_version": personalib.__version__, **extra,
    }


def build_report(job: ReportJob, settings: ReportSettings, *, force: bool = False,
                 package_source: str | None = None) -> ReportOutcome:
    """Build one report unless it is up to date; a failing cell gives a `failed` outcome whose
    reason names notebook, cell and error (the partial notebook is kept as `.failed.ipynb`)."""
    out = Path(settings.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = _paths(job, out)
    params = notebook_parameters(job, settings)
    prints = fingerprint(job.notebook, params, Path(settings.store), settings.inputs,
                         package_source=package_source)
    old = _read_sidecar(paths["json"])
    stale = changed(old.get("fingerprint") if old and old.get("status") == "ok" else None, prints)
    if not force and not stale and paths["html"].exists() and paths["ipynb"].exists():
        return ReportOutcome(job, "up-to-date", html=paths["html"])
    if force:
        reason = "forced"
    elif old is None:
        reason = "first build"
    elif old.get("status") != "ok":
        reason = "previous build failed"
    else:
        reason = "changed: " + ", ".join(stale) if stale else "output files missing"
    started = time.monotonic()
    _clear(job, out, old)
    title = notebook_title(read_notebook(job.notebook), job.notebook.stem)
    try:
        nb = execute_notebook(job.notebook, paths["running_ipynb"], params,
                              cwd=settings.cwd, cell_timeout=settings.cell_timeout)
    except ReportError as exc:
        if paths["running_ipynb"].exists():
            paths["running_ipynb"].replace(paths["failed_ipynb"])
        message = str(exc).replace(str(paths["running_ipynb"]), str(paths["failed_ipynb"]))
        data = _sidecar(job, settings, params, title, prints, "failed", started, error=message,
                        files={"ipynb": paths["failed_ipynb"].name}
                        if paths["failed_ipynb"].exists() else {})
        paths["json"].write_text(json.dumps(data, indent=1), encoding="utf-8")
        check_no_secrets([p for p in (paths["json"], paths["failed_ipynb"]) if p.exists()])
        return ReportOutcome(job, "failed", time.monotonic() - started, message)
    paths["running_ipynb"].replace(paths["ipynb"])
    numbers = collect(nb)
    header = {"notebook": job.notebook.name,
              "scope": "all models" if job.scope == ALL_SCOPE else job.scope,
              "profile": settings.profile, "version": personalib.__version__,
              "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "index_href": "index.html", "demo_label": settings.demo_label}
    render_html(nb, paths["html"], title=title, header=header)
    files = {"html": paths["html"].name, "ipynb": paths["ipynb"].name,
             "json": paths["json"].name, **_write_key_numbers(job, out, numbers)}
    data = _sidecar(job, settings, params, title, prints, "ok", started, files=files,
                    headline=numbers.headline, values=numbers.values,
                    tables={k: json.loads(t.to_json(orient="split", index=False))
                            for k, t in numbers.tables.items()})
    tmp = paths["json"].with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    written = [paths["html"], paths["ipynb"], tmp, out / files["csv"],
               *(out / f for f in files["tables"].values())]
    check_no_secrets(written)  # deletes the offending files and raises
    tmp.replace(paths["json"])  # the sidecar last: an interrupted build is never "up to date"
    return ReportOutcome(job, "built", time.monotonic() - started, reason, paths["html"], numbers)


def build_reports(notebooks: Sequence[Path], models: Sequence[str], settings: ReportSettings, *,
                  force: bool = False, log: Callable[[str], None] | None = None
                  ) -> list[ReportOutcome]:
    """Build every (notebook x scope) report that is not up to date, then write index.html.

    Failures do not stop the other reports; the caller decides what a failure means (the CLI
    exits non-zero naming each one).
    """
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    jobs = plan_jobs(notebooks, models)
    package = source_digest()
    outcomes = []
    for i, job in enumerate(jobs, 1):
        say(f"[{i}/{len(jobs)}] {job.base}")
        outcome = build_report(job, settings, force=force, package_source=package)
        detail = {"built": f"built in {outcome.seconds:.1f} s ({outcome.reason})",
                  "up-to-date": "up to date, skipped",
                  "failed": f"FAILED: {outcome.reason}"}[outcome.status]
        say(f"    {detail}")
        outcomes.append(outcome)
    index = write_index(Path(settings.output_dir), profile=settings.profile,
                        description=settings.description, demo_label=settings.demo_label,
                        model_order=list(models))
    say(f"index: {index}")
    return outcomes
