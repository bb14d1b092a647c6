"""Run orchestration: plan -> requests -> backend -> store (METHODS 2-3).

`generate(profile, options)` plans model x dataset x persona set x persona x item
(`personalib.plan.build_plan`), records each dataset's keyed entries (`personalib.runplan`) before
anything is sent, skips every entry already stored, sends the missing
requests to the model's backend (in chunks; a backend that streams, `openai`, gets a dataset at
once) and appends the results to the store a part per chunk, written on a background thread, so a
crash loses at most a chunk, the part being written and the requests in flight
(`personalib.dispatch.send`). A request planned under several labels (the
same prompt for two identical items, or one persona in two persona sets) is sent once and stored
once per label; a request already stored under another label is not sent again (counted `reused`).

Everything that can be checked is checked before a model is loaded or anything is written: the
options (`check_options`), params, datasets, persona sets, that the store is a folder this process
can write in, the API key's environment variable and, with `--max-cost`, the run's API cost
estimate (the dry run's figure: `personalib.dryrun.api_costs`). A dry run counts from the stored
grid and makes no keys (`personalib.dryrun`). Every run writes a manifest
(`personalib.store.manifest`) with the process that runs it and a heartbeat renewed as chunks are
stored (at most every `HEARTBEAT_S`), so that `status` can tell a run killed with SIGKILL from a
live one, and logs each model's persona placement. When the
store cannot be written part way (a full disk), what was stored stays, the summary is printed, the
manifest is marked failed where it can still be written, and the error says what this run stored.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
from tqdm import tqdm

from personalib import prompts
from personalib.backends.base import Backend
from personalib.dispatch import STREAMING_PART_ROWS, Counts, pending, reuse, send
from personalib.dryrun import api_costs, dry_dataset
from personalib.errors import ConfigError, PersonalibError
from personalib.params import ModelParams, Profile
from personalib.plan import Plan, PlannedModel, build_plan
from personalib.runplan import PLAN_COLUMNS, RequestMaker, plan_entries
from personalib.runrecord import RunContext, finish
from personalib.store import ROW_IDENTITY, Store, environment, new_run_id, utc_now
from personalib.store.index import settings_rows
from personalib.store.manifest import process_identity
from personalib.writable import check_store

__all__ = ["Counts", "GenerateOptions", "check", "check_options", "default_factory", "generate"]

log = logging.getLogger("personalib.generate")

BackendFactory = Callable[[ModelParams], Backend]


@dataclass
class GenerateOptions:
    """The `generate` command's choices (docs in `personalib.cli.generate`)."""

    models: Sequence[str] | None = None
    datasets: Sequence[str] | None = None
    persona_sets: Sequence[str] | None = None
    limit: int | None = None
    shard: tuple[int, int] | None = None
    dry_run: bool = False
    max_cost: float | None = None
    store: Path | None = None
    chunk_size: int | None = None
    rows_per_part: int = 100_000
    progress: bool = True
    command: list[str] = field(default_factory=list)


def default_factory(store: Store) -> BackendFactory:
    """`personalib.backends.create`, with the Batch API's resumable state kept beside the store."""

    def make(model: ModelParams) -> Backend:
        from personalib.backends import create

        if model.backend == "openai-batch":
            return create(model, state_dir=store.path / "openai-batch" / model.name)
        return create(model)

    return make


def check_options(options: GenerateOptions) -> None:
    """Refuse option values no run can use (PersonalibError naming the option), before anything
    is loaded: `--limit` and `--chunk-size` >= 1, `--max-cost` a number >= 0, `--shard` I/N with
    0 <= I < N."""
    for name, value in (("--limit", options.limit), ("--chunk-size", options.chunk_size)):
        if value is not None and value < 1:
            raise PersonalibError(f"{name} must be >= 1, got {value}")
    if options.max_cost is not None and not (math.isfinite(options.max_cost) and options.max_cost >= 0):
        raise PersonalibError(f"--max-cost must be a number of USD >= 0, got {options.max_cost:g}")
    if options.shard is not None:
        index, count = options.shard
        if count < 1 or not 0 <= index < count:
            raise PersonalibError(f"--shard {index}/{count}: need N >= 1 and 0 <= I < N")


def _prepare(profile: Profile, options: GenerateOptions) -> Plan:
    """Build the run's plan and read its items before anything is written (clear errors, exit 2)."""
    check_options(options)
    plan = build_plan(profile, offline=None, models=options.models, datasets=options.datasets,
                      persona_sets=options.persona_sets, limit=options.limit)
    plan.read_items()
    if not options.dry_run:
        for model in plan.models.values():
            _check_api_key(model.params)
    return plan


def check(profile: Profile, options: GenerateOptions, out: TextIO = sys.stderr) -> None:
    """Raise what `generate` raises before it writes anything (options, params, datasets, persona
    sets, the API key's variable, the store, `max_cost` against the run's estimate); write nothing."""
    _preflight(profile, options, out)


def _preflight(profile: Profile, options: GenerateOptions, out: TextIO) -> tuple[Plan, Store]:
    plan = _prepare(profile, options)
    store = Store(options.store or profile.store_path(), rows_per_part=options.rows_per_part)
    if not options.dry_run:
        check_store(store.path, "--store" if options.store is not None else "the profile's `store`")
    api = [m for m in plan.models.values() if m.params.is_api]
    if options.max_cost is not None and not api:
        print(f"warning: --max-cost applies to API models only; this run has none "
              f"({', '.join(m.params.name for m in plan.models.values())}), so it does not limit anything",
              file=out, flush=True)
    elif options.max_cost is not None and not options.dry_run:
        _check_cost(store, plan, options)
    return plan, store


def _check_cost(store: Store, plan: Plan, options: GenerateOptions) -> None:
    """Refuse to start when the API cost estimate of what this run would send exceeds `max_cost`."""
    assert options.max_cost is not None
    costs = api_costs(store, plan, options.shard)
    unknown = sorted({c["model"] for c in costs if c["usd"] is None})
    if unknown:
        raise ConfigError(
            f"--max-cost: no prices for {', '.join(unknown)}; set api.usd_per_1m_input and "
            "api.usd_per_1m_output in its params file"
        )
    usd = sum(c["usd"] for c in costs)
    if usd > options.max_cost:
        raise PersonalibError(
            f"--max-cost {options.max_cost:,.2f} USD: this run's API estimate is {usd:,.2f} USD "
            f"({sum(c['requests'] for c in costs):,} requests; see --dry-run); nothing was sent. "
            "Raise --max-cost, or narrow the run (--models, --datasets, --limit, --shard)"
        )


def _check_api_key(model: ModelParams) -> None:
    """The API key's environment variable must be set before anything is written (never a file)."""
    if model.is_api and model.api is not None:
        from personalib.backends.api import resolve_api_key

        where = f"model {model.name!r} (params/models/{model.name}.yaml)"
        resolve_api_key(model.api.api_key_env, model.api.base_url, where)


def _chunk_size(model: ModelParams, options: GenerateOptions) -> int:
    if options.chunk_size is not None:
        return options.chunk_size
    if model.backend == "openai-batch":  # one Batch API job per chunk: make it as large as a part
        return options.rows_per_part
    width = model.api.concurrency if model.is_api and model.api is not None else model.batch_size
    floor = STREAMING_PART_ROWS if model.backend == "openai" else 1  # streams: no call per chunk
    return max(1, min(max(width * 8, floor), options.rows_per_part))


def _placement(run: PlannedModel, tokenizer: Any, out: TextIO) -> str:
    placement = prompts.resolve_placement(run.params, tokenizer)
    message = (
        f"model {run.params.name}: persona placement {placement} "
        f"(params persona_placement: {run.params.persona_placement}, prompt_format: {run.params.prompt_format})"
    )
    log.info(message)
    print(message, file=out, flush=True)
    return placement


def _model_manifest(run: PlannedModel, placement: str, backend: Backend | None, tokenizer: Any) -> dict[str, Any]:
    return {
        "name": run.params.name,
        "display_name": run.params.display_name,
        "backend": run.params.backend,
        "model_id": run.params.model_id,
        "revision": run.params.revision,
        "source": run.params.source,
        "persona_placement": placement,
        "persona_placement_param": run.params.persona_placement,
        "prompt_format": run.params.prompt_format,
        "chat_template_hash": prompts.template_fingerprint(tokenizer),
        "decoding": asdict(run.decoding),
        "seed": run.decoding.seed,
        "backend_info": backend.describe() if backend is not None else None,
        "datasets": {},
        "counts": asdict(Counts()),
    }


def generate(
    profile: Profile,
    options: GenerateOptions | None = None,
    *,
    backend_factory: BackendFactory | None = None,
    out: TextIO = sys.stderr,
) -> dict[str, Any]:
    """Run (or with `dry_run` only count) a profile's generations into its store; returns the summary.

    Rules: the plan is model x dataset x persona set x persona x item (METHODS 1-3), persona
    placement resolved once per model and prompts rendered once (METHODS 2); stored entries are
    skipped; results are stored chunk by chunk.
    """
    options = options or GenerateOptions()
    plan, store = _preflight(profile, options, out)
    personas = plan.personas
    started = utc_now()
    manifest: dict[str, Any] = {
        "run_id": new_run_id(), "origin": "generated", "status": "running", "profile": profile.name,
        "command": options.command, "store": str(store.path), "started_at": started, "ended_at": None,
        "process": process_identity(), "heartbeat_at": started,
        "shard": f"{options.shard[0]}/{options.shard[1]}" if options.shard else None, "limit": options.limit,
        "persona_sets": sorted({p.set_name for p in personas}), "n_personas": len(personas),
        "environment": environment(), "models": [], "counts": asdict(Counts()),
    }  # fmt: skip
    ctx = RunContext(store, options, personas, manifest, out)
    error: BaseException | None = None
    try:
        for run in plan.models.values():
            _run_model(ctx, plan, run, backend_factory or default_factory(store))
        manifest["status"] = "completed"
    except BaseException as exc:  # stored chunks stay; the manifest and summary say what happened
        manifest["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        manifest["error"] = f"{type(exc).__name__}: {exc}"
        error = exc
    finish(ctx, error)
    return {
        "run_id": ctx.run_id, "store": str(store.path), "dry_run": options.dry_run, "counts": asdict(ctx.total),
        "rows": ctx.rows, "costs": ctx.costs, "corrupt_set_aside": [asdict(c) for c in store.set_aside],
    }  # fmt: skip


def _run_model(ctx: RunContext, plan: Plan, run: PlannedModel, factory: BackendFactory) -> None:
    backend = None if ctx.options.dry_run else factory(run.params)
    try:
        tokenizer = getattr(backend, "tokenizer", None) if backend is not None else _tokenizer_only(run.params)
        placement = _placement(run, tokenizer, ctx.out)
        maker = RequestMaker(run.params, run.decoding, placement, tokenizer)
        entry = _model_manifest(run, placement, backend, tokenizer)
        entry["settings"] = maker.settings
        entry["chunk_size"] = _chunk_size(run.params, ctx.options)  # requests per backend call: with the
        # backend's batch settings (backend_info) it decides which prompts shared a batch
        ctx.manifest["models"].append(entry)
        _warn_other_settings(ctx, run.params.name, maker.settings)
        if backend is not None:
            _record_plans(ctx, plan, run, maker, entry)
        todo = list(run.specs)
        try:
            while todo:
                dataset = todo[0]
                counts = Counts()
                try:
                    if backend is None:  # counts and API estimate, nothing sent: personalib.dryrun
                        dry = dry_dataset(ctx.store, plan, run, dataset, maker, ctx.options.shard)
                        counts.add(dry.counts)
                        ctx.costs.extend([dry.cost] if dry.cost else [])
                        ctx.notes.extend([dry.note] if dry.note else [])
                        continue
                    items = plan.items(run, dataset)
                    entries = _planned_entries(ctx, entry["datasets"][dataset]["plan"], items)
                    _run_dataset(ctx, run, dataset, items, entries, maker, backend, entry, counts)
                finally:
                    _account(ctx, run, entry, todo.pop(0), counts)
        finally:  # datasets a stopped run never reached: planned (recorded), nothing done
            for dataset in todo:
                planned = entry["datasets"].get(dataset, {}).get("planned", 0)
                _account(ctx, run, entry, dataset, Counts(planned=planned))
    finally:
        if backend is not None:
            backend.close()


def _account(ctx: RunContext, run: PlannedModel, entry: dict[str, Any], dataset: str, counts: Counts) -> None:
    """Add one dataset's counts to the model's, the run's and the summary's."""
    ctx.total.add(counts)
    model_counts = Counts(**entry["counts"])
    model_counts.add(counts)
    entry["counts"] = asdict(model_counts)
    ctx.rows.append({"model": run.params.name, "dataset": dataset, "counts": asdict(counts)})


def _record_plans(ctx: RunContext, plan: Plan, run: PlannedModel, maker: RequestMaker, entry: dict[str, Any]) -> None:
    """Store the keyed entries of every dataset of the model, and the manifest, before anything is
    sent. So a run killed at any point has recorded all it meant to do (`status` reports it missing).
    """
    for dataset in run.specs:
        items = plan.items(run, dataset)
        entries = plan_entries(maker, dataset, items, ctx.personas, ctx.options.shard)
        entry["datasets"][dataset] = {
            "source": run.specs[dataset].model_dump(), "n_items": len(items), "planned": len(entries),
            "plan": ctx.store.write_plan(entries[list(ROW_IDENTITY)]) if len(entries) else None,
            "counts": asdict(Counts(planned=len(entries))),
        }  # fmt: skip
    ctx.store.write_manifest(ctx.manifest)


def _planned_entries(ctx: RunContext, digest: str | None, items: pd.DataFrame) -> pd.DataFrame:
    """A recorded plan read back, with each entry's persona and item positions (PLAN_COLUMNS)."""
    if digest is None:
        return pd.DataFrame(columns=list(PLAN_COLUMNS))
    frame = ctx.store.read_plan(digest).to_pandas()
    personas = {(p.set_name, p.stem): i for i, p in enumerate(ctx.personas)}
    positions = {item_id: i for i, item_id in enumerate(items["item_id"].astype(str))}
    frame["p_index"] = [personas[pair] for pair in zip(frame["persona_set"], frame["persona"])]
    frame["i_index"] = frame["item_id"].map(positions)
    return frame[list(PLAN_COLUMNS)]


def _run_dataset(
    ctx: RunContext,
    run: PlannedModel,
    dataset: str,
    items: pd.DataFrame,
    entries: pd.DataFrame,
    maker: RequestMaker,
    backend: Backend,
    entry: dict[str, Any],
    counts: Counts,
) -> None:
    """Skip the stored entries of one model x dataset, reuse what is stored elsewhere, send the rest."""
    counts.planned = len(entries)
    todo, reusable = pending(ctx.store, entries, run.params.name, dataset)
    counts.skipped = counts.planned - len(todo)
    rest = reuse(ctx.store, todo, reusable, maker, ctx.run_id)
    counts.reused = len(todo) - len(rest)
    desc = f"{run.params.name}/{dataset}"
    try:
        with tqdm(total=len(rest), desc=desc, unit="gen", file=ctx.out, disable=not ctx.options.progress) as bar:
            chunk = _chunk_size(run.params, ctx.options)
            send(ctx.store, backend, maker, rest, ctx.personas, items, chunk, ctx.run_id, bar, counts,
                 on_stored=ctx.beat)
    finally:
        entry["datasets"][dataset]["counts"] = asdict(counts)


def _warn_other_settings(ctx: RunContext, model: str, settings: str) -> None:
    """Say when the store holds answers of `model` made with other settings (another backend,
    revision, decoding, placement or prompt format): they stay, are not skipped and not mixed."""
    if not ctx.store.exists():
        return
    others = {s: n for s, n in settings_rows(ctx.store, model, remember=not ctx.options.dry_run).items()
              if s is not None and s != settings}
    if others:
        what = ", ".join(f"{n:,} with {s}" for s, n in sorted(others.items()))
        message = (f"warning: the store already holds answers of {model} made with other settings ({what}; this "
                   f"run's: {settings}): another backend, revision, decoding, persona placement or prompt format. "
                   "They are kept and never mixed with this run's: the analysis takes the answers of the "
                   "profile's current settings")
        log.warning(message)
        print(message, file=ctx.out, flush=True)


def _tokenizer_only(model: ModelParams) -> Any:
    """The local tokenizer of an hf model for a dry run (keys need the rendered prompt); None for APIs."""
    if model.is_api:
        return None
    from personalib.backends import load_tokenizer

    return load_tokenizer(model)
