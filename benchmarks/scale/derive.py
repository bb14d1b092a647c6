"""The study's seven models from one imported model, by rewriting the model column of its parts.

Writing seven releases and importing them would take seven times the disk and time of one; the
analysis only sees each row's identity, so the benchmark copies the imported model's store parts
once per other model of the study with `model`, `model_id`, `revision` and `run_id` rewritten
and a new `key` (sha256 of the model name and the original key, so each model's keys are distinct
as in a real store), keeping the texts, persona and item of every row. GPT-4's copy keeps only
its subsample of MMLU and BBQ (the ids files the profile points at), as the study's GPT-4
release. The new parts are written with `Store.append`, so they are valid format-2 parts
(content-hash names, page checksums, settings column `released`); the imported model's own parts
are hard-linked into the new store. 6 full grids + GPT-4's subsample = 91.0 M generations at the
study's size.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from personalib.params import load_model
from personalib.store import ROW_SCHEMA, Store
from personalib.store.store import STORE_FORMAT
from personalib.tasks.bbq import read_sampled_ids as read_bbq_ids
from personalib.tasks.mmlu import read_sampled_ids as read_mmlu_ids
from personalib.tasks.mmlu_subjects import total_rows

STUDY_MODELS = ("gpt-4", "gpt-3.5", "mixtral", "zephyr", "mistral", "gemma-7b", "gemma-2b")
SUBSAMPLED_MODEL = "gpt-4"


def subsample_items(mmlu_ids: Path, bbq_ids: Path) -> dict[str, pa.Array]:
    """dataset -> the item ids of GPT-4's subsample (mmlu: row index; bbq: "<Category>/<id>")."""
    mmlu = [str(i) for i in read_mmlu_ids(mmlu_ids, total_rows())]
    bbq = [f"{cat}/{i}" for cat, ids in read_bbq_ids(bbq_ids).items() for i in ids]
    return {"mmlu": pa.array(mmlu, pa.string()), "bbq": pa.array(bbq, pa.string())}


def derived_keys(model: str, keys: pa.ChunkedArray) -> pa.Array:
    """sha256 hex of `<model>\\x00<original key>` for each key."""
    head = f"{model}\x00".encode()
    return pa.array([hashlib.sha256(head + k.encode()).hexdigest() for k in keys.to_pylist()], pa.string())


def rewrite(table: pa.Table, model: str, subsample: dict[str, pa.Array] | None) -> pa.Table:
    """`table` (ROW_SCHEMA rows of one model) as rows of `model` (module doc); with `subsample`,
    only the listed items of those datasets are kept."""
    if subsample:
        drop = None
        for dataset, ids in subsample.items():
            outside = pc.and_(pc.equal(table["dataset"], dataset), pc.invert(pc.is_in(table["item_id"], value_set=ids)))
            drop = outside if drop is None else pc.or_(drop, outside)
        table = table.filter(pc.invert(drop))
    params = load_model(model)
    columns = {"model": model, "model_id": params.model_id, "revision": params.revision}
    for name, value in columns.items():
        table = _replace(table, name, pa.repeat(pa.scalar(value, pa.string()), table.num_rows))
    run_ids = pc.binary_join_element_wise(table["run_id"], f"as-{model}", "-")
    return _replace(_replace(table, "run_id", run_ids), "key", derived_keys(model, table["key"]))


def _replace(table: pa.Table, name: str, column: pa.Array | pa.ChunkedArray) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, column)


def _derive_part(args: tuple) -> int:
    """Link one source part into the new store and append its copies for every other model."""
    source, target, models, subsample = args
    store = Store(target)
    linked = store.parts_dir / source.name
    if not linked.exists():
        try:
            os.link(source, linked)
        except OSError:
            shutil.copyfile(source, linked)
    table = pq.read_table(source, schema=ROW_SCHEMA)
    written = 0
    for model in models:
        rows = rewrite(table, model, subsample if model == SUBSAMPLED_MODEL else None)
        if rows.num_rows:
            store.append(rows)
            written += rows.num_rows
    return written


def derive_store(source: Path, target: Path, base_model: str, mmlu_ids: Path, bbq_ids: Path,
                 *, jobs: int = 2) -> dict:
    """Build the seven-model store at `target` from the store at `source` holding `base_model`
    (built in `<target>.partial`, renamed when complete); returns rows and parts written."""
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    src = Store(source)
    dst = Store(partial)
    dst.parts_dir.mkdir(parents=True)
    # the parts are format 2 whatever the source store's format.json says (an import into a new
    # store writes none: personalib.release writes its manifest before the first part)
    dst.format_file.write_text(json.dumps({"format": STORE_FORMAT}) + "\n", encoding="utf-8")
    shutil.copytree(src.manifests_dir, dst.manifests_dir)
    others = [m for m in STUDY_MODELS if m != base_model]
    subsample = subsample_items(mmlu_ids, bbq_ids)
    parts = src.parts()
    tasks = [(p, partial, others, subsample) for p in parts]
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            written = sum(pool.map(_derive_part, tasks, chunksize=4))
    else:
        written = sum(_derive_part(t) for t in tasks)
    base_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
    partial.rename(target)
    info = {"base_model": base_model, "models": list(STUDY_MODELS), "source_parts": len(parts),
            "rows": base_rows + written, "derived_rows": written, "parts": len(Store(target).parts())}
    target.with_suffix(".json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    return info
