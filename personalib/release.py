"""Importer of the original study's released generations (METHODS 1-3).

The study's repository (peluz/persona-behavior) publishes its generations as
`results[/control]/zero/<model_folder>/<dataset_folder>/<stem>.json`: a JSON list with one
`[{"generated_text": ...}]` per prompt, in prompt order. `import_release` maps each file to the
package's items (docs/DESIGN.md "Items table") and stores the texts unchanged, origin "imported".

Mapping (i = position in the file's list):
- model folder -> the params model whose `release_folder` names it;
- `truthfulqa`: "i" (817); `mmlu`: "i" (14,042), or str(sampled_ids[i]) for a list of the study's
  GPT-4 subsample length (data/mmlu/sampled_ids.json); `bbq`: "<Category>/<example_id>" through the
  11 categories in study order with their row counts (58,492), or, for a subsample-length list,
  through data/bbq/sampled_ids.json: categories in study order (the file's keys are alphabetical),
  each category's ids in stored order; `toxicity`: "off/i" for i < 626, else "rac/(i-626)" (1,252);
  `attitudes`: s -> "s/0" (27); `attitudes_extra`: s*30+k -> "s/(k+1)" (810).
- `results/zero/...` stems belong to the `regular` set, except `empty` (the `empty` set);
  `results/control/zero/...` stems to the `control` set. Other JSON files (e.g. `temp/`) are not
  generation files and are ignored.
- Unknown model folder, dataset folder or stem: an error listing every such file before anything
  is written; with `skip_unknown` those files are skipped and listed in the summary and manifest.
- A list whose length is not the dataset's prompt count (or a malformed file): nothing of that file
  is written (one file = one atomic store part); the other files are imported, then the import
  fails listing every bad file.
- Row key: sha256 of the canonical JSON `[release commit, model, persona_set, dataset_folder, stem,
  index]`; keys already in the store are skipped, so a re-import adds nothing.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa

from personalib import DATASETS
from personalib.errors import PersonalibError, SourceMissingError
from personalib.params import list_models, load_model
from personalib.personas import load_persona_set
from personalib.release_download import RELEASE_COMMIT, RELEASE_REPO, download_record
from personalib.sources import fetch
from personalib.store import RELEASED_SETTINGS, ROW_SCHEMA, Store, environment, new_run_id, utc_now
from personalib.tasks import registry
from personalib.release_files import (  # noqa: F401  (item_ids, release_keys, ... are part of this module's API)
    DATASET_OF_FOLDER, ReleaseFile, expect, item_ids, parse_release_path, read_generations, release_keys, results_dir,
    scan_release,
)
from personalib.tasks.bbq import read_sampled_ids as read_bbq_ids
from personalib.tasks.mmlu import read_sampled_ids as read_mmlu_ids

@dataclass
class ImportSummary:
    """What an import did; `counts[model][dataset][persona_set]` = {"personas", "rows"}."""

    run_id: str
    commit: str
    path: str
    started_at: str
    counts: dict[str, dict[str, dict[str, dict[str, int]]]] = field(default_factory=dict)
    files: int = 0
    rows: int = 0
    new_rows: int = 0
    skipped_files: list[str] = field(default_factory=list)
    failed_files: list[str] = field(default_factory=list)
    download: dict[str, Any] | None = None  # `download_record` of the release folder, if downloaded
    stems: dict[tuple[str, str, str], set[str]] = field(default_factory=dict, repr=False)

    def add(self, model: str, f: ReleaseFile, rows: int, new_rows: int) -> None:
        """Count one imported file of `rows` generations, `new_rows` of them not stored before."""
        dataset = DATASET_OF_FOLDER[f.dataset_folder]
        stems = self.stems.setdefault((model, dataset, f.persona_set), set())
        stems.add(f.stem)
        group = self.counts.setdefault(model, {}).setdefault(dataset, {}).setdefault(f.persona_set, {"rows": 0})
        group.update(personas=len(stems), rows=group["rows"] + rows)
        self.files, self.rows, self.new_rows = self.files + 1, self.rows + rows, self.new_rows + new_rows


def release_models() -> dict[str, Any]:
    """Release model folder -> params (`ModelParams`) of every params model with a release_folder."""
    mapping: dict[str, Any] = {}
    for name in list_models():
        model = load_model(name)
        if model.release_folder is None:
            continue
        if model.release_folder in mapping:
            raise PersonalibError(
                f"params models {mapping[model.release_folder].name!r} and {name!r} both claim release_folder "
                f"{model.release_folder!r}; each release folder must map to one model")
        mapping[model.release_folder] = model
    return mapping


def persona_stems() -> dict[str, set[str]]:
    """Persona set -> stems of the study's built-in sets (regular, empty, control)."""
    return {name: {p.stem for p in load_persona_set(name)} for name in ("regular", "empty", "control")}


def sampled_ids_loader(release_root: Path | None, mmlu_ids: Path | None = None,
                       bbq_ids: Path | None = None) -> Callable[[str], Any]:
    """`loader(dataset)` -> the study's subsample ids: the given file, else the release's own
    `data/<dataset>/sampled_ids.json`, else the pinned study source (`personalib.sources`)."""
    given = {"mmlu": mmlu_ids, "bbq": bbq_ids}
    cache: dict[str, Any] = {}

    def load(dataset: str) -> Any:
        if dataset not in cache:
            path = given[dataset]
            sub = registry.spec(dataset).subsample
            assert sub is not None
            if path is None and release_root is not None and (release_root / sub.file).is_file():
                path = release_root / sub.file
            if path is None:
                try:
                    path = fetch(sub.source, sub.file)
                except SourceMissingError as exc:
                    raise SourceMissingError(f"{exc} (or pass --{dataset}-ids PATH)") from exc
            rows = registry.spec("mmlu").rows
            assert rows is not None
            cache[dataset] = (read_mmlu_ids(Path(path), rows) if dataset == "mmlu" else read_bbq_ids(Path(path)))
        return cache[dataset]

    return load


def unmapped(f: ReleaseFile, models: dict[str, Any], stems: dict[str, set[str]]) -> str | None:
    """Why a release file cannot be mapped (unknown model folder, dataset folder or stem), or None."""
    if f.model_folder not in models:
        return (f"model folder {f.model_folder!r} is not the release_folder of any params model "
                f"(known: {', '.join(sorted(models))})")
    if f.dataset_folder not in DATASET_OF_FOLDER:
        return f"dataset folder {f.dataset_folder!r} is unknown (known: {', '.join(DATASET_OF_FOLDER)})"
    if f.stem not in stems[f.persona_set]:
        return f"stem {f.stem!r} is not a persona of the study's {f.persona_set!r} set"
    return None


def select_files(root: Path, folder_models: dict[str, Any], models: Sequence[str] | None,
                 datasets: Sequence[str] | None) -> tuple[list[ReleaseFile], list[str]]:
    """The release files to import (restricted to params `models` / `datasets`) and the problems
    of those that cannot be mapped ("<path>: <why>")."""
    names = sorted(m.name for m in folder_models.values())
    unknown = sorted(set(models or ()) - set(names))
    if unknown:
        raise PersonalibError(f"--models {', '.join(unknown)}: no params model with that name has a "
                              f"release_folder; choose from {', '.join(names)}")
    unknown = sorted(set(datasets or ()) - set(DATASETS))
    if unknown:
        raise PersonalibError(f"--datasets {', '.join(unknown)}: unknown; choose from {', '.join(DATASETS)}")
    files = [f for f in scan_release(root)
             if (not models or (f.model_folder in folder_models and folder_models[f.model_folder].name in models))
             and (not datasets or DATASET_OF_FOLDER.get(f.dataset_folder) in datasets)]
    stems = persona_stems()
    reasons = {f.path: unmapped(f, folder_models, stems) for f in files}
    return [f for f in files if not reasons[f.path]], [f"{p}: {why}" for p, why in reasons.items() if why]


def import_release(
    path: str | Path,
    store: Store,
    *,
    commit: str = RELEASE_COMMIT,
    models: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None,
    mmlu_ids: Path | None = None,
    bbq_ids: Path | None = None,
    skip_unknown: bool = False,
    out: TextIO = sys.stderr,
    workers: int | None = None,
) -> ImportSummary:
    """Import the release at `path` into `store` (rules in the module doc).

    `models` (params names) and `datasets` (package dataset names) restrict what is imported.
    Files are read and stored by `workers` processes (default: the CPUs, at most 8; 1 = in this
    process), each file as one atomic part; memory stays that of a few files whatever the size.
    Raises PersonalibError for unknown files (unless `skip_unknown`) before writing anything, and
    after the import when some files were malformed (those files are not written).
    """
    root = results_dir(path)
    folder_models = release_models()
    files, problems = select_files(root, folder_models, models, datasets)
    if problems and not skip_unknown:
        raise PersonalibError(
            f"{len(problems)} file(s) of the release at {root} cannot be mapped (nothing was imported):\n  "
            + _listing(problems) + "\nPass --skip-unknown to import the rest and skip these.")
    for problem in problems:
        print(f"warning: skipped {problem}", file=out, flush=True)
    summary = ImportSummary(run_id=f"import-{new_run_id()}-{uuid.uuid4().hex[:8]}", commit=commit,
                            path=str(Path(path).resolve()), started_at=utc_now(), skipped_files=problems,
                            download=download_record(root.parent))
    manifest = _manifest(summary, store)
    store.write_manifest(manifest)
    imported = _imported_files(store, files, folder_models, commit)
    jobs = [_FileJob(f, folder_models[f.model_folder].name, folder_models[f.model_folder].model_id,
                     folder_models[f.model_folder].revision, f.path in imported) for f in files]
    ids = (str(root.parent), str(mmlu_ids) if mmlu_ids else None, str(bbq_ids) if bbq_ids else None)
    try:
        for job, (n, error) in zip(jobs, _run_jobs(jobs, store, commit, summary.run_id, ids, workers)):
            if error is not None:
                summary.failed_files.append(f"{job.file.path}: {error}")
                print(f"error: {job.file.path}: {error}; file not imported", file=out, flush=True)
                continue
            summary.add(job.model, job.file, n, 0 if job.done else n)
    except BaseException as exc:
        manifest.update(_manifest(summary, store), status="failed", error=f"{type(exc).__name__}: {exc}")
        store.write_manifest(manifest)
        raise
    manifest.update(_manifest(summary, store), status="failed" if summary.failed_files else "completed")
    store.write_manifest(manifest)
    if summary.failed_files:
        raise PersonalibError(
            f"{len(summary.failed_files)} file(s) were not imported (the other {summary.files} were):\n  "
            + _listing(summary.failed_files)
            + "\nFix or remove them and run the import again (stored rows are not imported twice).")
    return summary


def _listing(lines: list[str], most: int = 20) -> str:
    return "\n  ".join(lines[:most]) + ("\n  ..." if len(lines) > most else "")


@dataclass(frozen=True)
class _FileJob:
    """One release file to import (plain values, sent to a worker process)."""

    file: ReleaseFile
    model: str
    model_id: str
    revision: str | None
    done: bool  # already in the store: read (to count and check it), not written again


_LOADERS: dict[tuple[str | None, ...], Callable[[str], Any]] = {}


def _import_file(job: _FileJob, store_path: str, rows_per_part: int, commit: str, run_id: str,
                 ids: tuple[str | None, ...]) -> tuple[int, str | None]:
    """Read, check and store one release file (in a worker process): (generations, error)."""
    if ids not in _LOADERS:
        _LOADERS[ids] = sampled_ids_loader(Path(ids[0]) if ids[0] else None,  # type: ignore[arg-type]
                                           Path(ids[1]) if ids[1] else None, Path(ids[2]) if ids[2] else None)
    f = job.file
    try:
        texts = read_generations(f.path)
        item_id = pa.array(item_ids(f.dataset_folder, len(texts), _LOADERS[ids]), pa.string())
    except PersonalibError as exc:
        if isinstance(exc, SourceMissingError):
            raise
        return 0, str(exc)
    if not job.done:
        keys = release_keys(commit, job.model, f.persona_set, f.dataset_folder, f.stem, len(texts))
        Store(store_path, rows_per_part=rows_per_part).append(_file_table(job, item_id, texts, keys, run_id))
    return len(texts), None


def _run_jobs(jobs: list[_FileJob], store: Store, commit: str, run_id: str, ids: tuple[str | None, ...],
              workers: int | None) -> Iterator[tuple[int, str | None]]:
    """Each job's (generations, error), in order; several worker processes when there is work."""
    n = workers if workers is not None else min(8, os.cpu_count() or 1, len(jobs))
    args = (str(store.path), store.rows_per_part, commit, run_id, ids)
    if n <= 1 or len(jobs) < 2:
        yield from (_import_file(job, *args) for job in jobs)
        return
    store._mark_format()  # before the workers write their first parts
    with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_import_file, job, *args) for job in jobs]
        try:
            for future in futures:
                yield future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _imported_files(store: Store, files: Sequence[ReleaseFile], models: dict[str, Any], commit: str) -> set[Path]:
    """The files of this release already in the store. A file is stored whole, as one part (the
    largest release file, 58,492 generations, fits in one), so its first row's key tells; the store
    is scanned for those keys only, in bounded memory whatever its size."""
    first = {release_keys(commit, models[f.model_folder].name, f.persona_set, f.dataset_folder, f.stem, 1)[0]: f.path
             for f in files}
    if not first or not store.exists():
        return set()
    found = store.read_raw(["key"], keys=sorted(first)).column("key").to_pylist()
    return {first[k] for k in found}


def _file_table(job: _FileJob, item_ids: pa.Array, texts: list[str], keys: list[str], run_id: str) -> pa.Table:
    """One release file's generations as store rows (ROW_SCHEMA), built column by column."""
    n, f = len(texts), job.file

    def const(value: str | None) -> pa.Array:
        return pa.nulls(n, pa.string()) if value is None else pa.repeat(pa.scalar(value, pa.string()), n)

    columns = {
        "key": pa.array(keys, pa.string()), "model": const(job.model), "model_id": const(job.model_id),
        "revision": const(job.revision), "persona_set": const(f.persona_set), "persona": const(f.stem),
        "dataset": const(DATASET_OF_FOLDER[f.dataset_folder]), "item_id": item_ids,
        "text": pa.array(texts, pa.string()), "finish_reason": const(None),
        "n_input_tokens": pa.nulls(n, pa.int64()), "n_output_tokens": pa.nulls(n, pa.int64()),
        "system_fingerprint": const(None), "run_id": const(run_id), "origin": const("imported"),
        "created_at": pa.repeat(pa.scalar(datetime.now(timezone.utc), ROW_SCHEMA.field("created_at").type), n),
        "settings": const(RELEASED_SETTINGS),
    }  # fmt: skip
    return pa.table(columns, schema=ROW_SCHEMA)


def _manifest(summary: ImportSummary, store: Store) -> dict[str, Any]:
    return {
        "run_id": summary.run_id, "origin": "imported", "status": "running", "command": "import-release",
        "store": str(store.path), "started_at": summary.started_at,
        "ended_at": utc_now(), "environment": environment(),
        "release": {"repo": RELEASE_REPO, "commit": summary.commit, "path": summary.path,
                    "download": summary.download},
        "models": [{"name": name, "counts": counts} for name, counts in sorted(summary.counts.items())],
        "counts": {"files": summary.files, "rows": summary.rows, "new_rows": summary.new_rows,
                   "already_stored": summary.rows - summary.new_rows},
        "skipped_files": summary.skipped_files, "failed_files": summary.failed_files,
    }
