"""Build the research-question reports of a profile: execute, render, export, index.

For each notebook, one report per model and one across all models (scope `all`), written to the
profile's report folder as `<notebook>__<scope>.html` + the executed `.ipynb` + key numbers as
`.json` (the sidecar, written last) and `.csv` (+ `<notebook>__<scope>__<table>.csv` per recorded
table); then `index.html`. A notebook whose metadata says `{"personalib": {"scope": "all"}}` is
run once, across all models, and written under its own name (`claims.ipynb` -> `claims.html`,
`claims.json`, ...): the claims scorecard, which the index lists first. A report whose fingerprint (personalib.reports.fingerprint) matches its
sidecar is skipped. A report is built in a hidden staging folder beside it and its files replace
the previous ones only once all are written, so an interrupted build (Ctrl-C, SIGTERM, a crash)
leaves the previous report complete and linked. See docs/reports.md.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
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

SUFFIXES = (".html", ".ipynb", ".json", ".csv", ".failed.ipynb")
STAGING_SUFFIX = ".building"


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
    """One report: a notebook run for one model, or across all models (scope `all`); `single`
    for a notebook that only has the across-model report, named after the notebook alone."""

    notebook: Path
    scope: str
    models: tuple[str, ...]
    single: bool = False

    @property
    def base(self) -> str:
        return self.notebook.stem if self.single else f"{self.notebook.stem}__{self.scope}"


def across_only(notebook: Path) -> bool:
    """True when the notebook declares that it only has the across-model report (its metadata
    `{"personalib": {"scope": "all"}}`, e.g. the claims scorecard)."""
    if not Path(notebook).is_file():  # a missing notebook is reported when it is built
        return False
    meta = read_notebook(notebook).metadata.get("personalib", {})
    return isinstance(meta, dict) and meta.get("scope") == ALL_SCOPE


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
    """For each notebook: the across-model report, then one per model (only the first for a
    notebook that is `across_only`)."""
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
        if across_only(nb):
            jobs.append(ReportJob(nb, ALL_SCOPE, tuple(models), single=True))
            continue
        jobs.append(ReportJob(nb, ALL_SCOPE, tuple(models)))
        jobs.extend(ReportJob(nb, m, (m,)) for m in models)
    return jobs


def check_output_dir(folder: Path) -> None:
    """Create the report folder if needed and check that files can be written in it, or raise
    ReportError naming the folder and the reason (a file in the way, no permission, read-only)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".personalib-write-check-"):
            pass
    except FileExistsError:
        raise ReportError(f"report folder {folder} is a file, not a folder; pass --output with a "
                          "folder path") from None
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise ReportError(f"cannot write the reports to {folder}: {why}; pass --output with a "
                          "folder you can write to") from None


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


def _staging(job: ReportJob, out: Path) -> Path:
    """An empty hidden folder beside the report for its new files (a killed build's is reused)."""
    stage = out / f".{job.base}{STAGING_SUFFIX}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    return stage


def _install(job: ReportJob, out: Path, old: dict[str, Any] | None, files: dict[Path, str],
             sidecar: Path) -> None:
    """Move the staged files into the report folder under their names, the sidecar last, then
    remove the report's earlier files that the new sidecar does not name (the old sidecar names
    its table CSVs)."""
    for staged, name in files.items():
        os.replace(staged, out / name)
    os.replace(sidecar, out / f"{job.base}.json")
    keep = {*files.values(), f"{job.base}.json"}
    earlier = [p.name for p in _paths(job, out).values()]
    earlier += list((old or {}).get("files", {}).get("tables", {}).values())
    for name in earlier:
        if name not in keep:
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
        "scope": job.scope, "single": job.single, "models": list(job.models), "profile": settings.profile,
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
    stage = _staging(job, out)
    try:
        return _build(job, settings, stage, params=params, prints=prints, old=old, reason=reason)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _build(job: ReportJob, settings: ReportSettings, stage: Path, *, params: dict[str, Any],
           prints: dict[str, str], old: dict[str, Any] | None, reason: str) -> ReportOutcome:
    """Execute, render and export one report into `stage`, then install it (`_install`)."""
    started = time.monotonic()
    title = notebook_title(read_notebook(job.notebook), job.notebook.stem)
    out = Path(settings.output_dir)
    paths, staged = _paths(job, out), _paths(job, stage)
    try:
        nb = execute_notebook(job.notebook, staged["ipynb"], params,
                              cwd=settings.cwd, cell_timeout=settings.cell_timeout)
    except ReportError as exc:
        message = str(exc).replace(str(staged["ipynb"]), str(paths["failed_ipynb"]))
        files = {staged["ipynb"]: paths["failed_ipynb"].name} if staged["ipynb"].exists() else {}
        data = _sidecar(job, settings, params, title, prints, "failed", started, error=message,
                        files={"ipynb": paths["failed_ipynb"].name} if files else {})
        staged["json"].write_text(json.dumps(data, indent=1), encoding="utf-8")
        check_no_secrets([staged["json"], *files])
        _install(job, out, old, files, staged["json"])
        return ReportOutcome(job, "failed", time.monotonic() - started, message)
    numbers = collect(nb)
    header = {"notebook": job.notebook.name,
              "scope": "all models" if job.scope == ALL_SCOPE else job.scope,
              "profile": settings.profile, "version": personalib.__version__,
              "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "index_href": "index.html", "demo_label": settings.demo_label}
    render_html(nb, staged["html"], title=title, header=header)
    files = {"html": paths["html"].name, "ipynb": paths["ipynb"].name,
             "json": paths["json"].name, **_write_key_numbers(job, stage, numbers)}
    data = _sidecar(job, settings, params, title, prints, "ok", started, files=files,
                    headline=numbers.headline, values=numbers.values,
                    tables={k: json.loads(t.to_json(orient="split", index=False))
                            for k, t in numbers.tables.items()})
    staged["json"].write_text(json.dumps(data, indent=1), encoding="utf-8")
    written = [staged["html"], staged["ipynb"], stage / files["csv"],
               *(stage / f for f in files["tables"].values())]
    check_no_secrets([*written, staged["json"]])  # deletes the offending files and raises
    _install(job, out, old, {p: p.name for p in written}, staged["json"])
    return ReportOutcome(job, "built", time.monotonic() - started, reason, paths["html"], numbers)


def build_reports(notebooks: Sequence[Path], models: Sequence[str], settings: ReportSettings, *,
                  force: bool = False, log: Callable[[str], None] | None = None
                  ) -> list[ReportOutcome]:
    """Build every (notebook x scope) report that is not up to date, then write index.html.

    Failures do not stop the other reports; the caller decides what a failure means (the CLI
    exits non-zero naming each one). An interrupt (KeyboardInterrupt) still writes the index, so
    the reports finished before it are listed, then propagates.
    """
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    jobs = plan_jobs(notebooks, models)
    check_output_dir(Path(settings.output_dir))
    package = source_digest()
    outcomes = []

    def index() -> None:
        say("index: " + str(write_index(Path(settings.output_dir), profile=settings.profile,
                                         description=settings.description,
                                         demo_label=settings.demo_label, model_order=list(models))))

    for i, job in enumerate(jobs, 1):
        say(f"[{i}/{len(jobs)}] {job.base}")
        try:
            outcome = build_report(job, settings, force=force, package_source=package)
        except KeyboardInterrupt:
            say("    interrupted: its previous files, if any, are kept")
            index()
            raise
        detail = {"built": f"built in {outcome.seconds:.1f} s ({outcome.reason})",
                  "up-to-date": "up to date, skipped",
                  "failed": f"FAILED: {outcome.reason}"}[outcome.status]
        say(f"    {detail}")
        outcomes.append(outcome)
    index()
    return outcomes
