"""What a run of `personalib.generate` records and reports: its state while it runs (with the
heartbeat written into its manifest as chunks are stored), its final manifest, the end-of-run
summary, and the message of a run that the store stopped (e.g. a full disk).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TextIO

from personalib.dispatch import Counts
from personalib.dryrun import bytes_per_generation, human_size
from personalib.errors import StoreError
from personalib.personas import Persona
from personalib.store import Store, utc_now

__all__ = ["HEARTBEAT_S", "RunContext", "RunOptions", "finish"]

log = logging.getLogger("personalib.generate")


class RunOptions(Protocol):
    """What a run record reads of the run's options (`personalib.generate.GenerateOptions`, which
    imports this module: the record depends on this shape, not on the engine)."""

    dry_run: bool

HEARTBEAT_S = 60.0
"""Seconds between two heartbeats written to a run's manifest (as chunks are stored)."""


def _summary_line(model: str, dataset: str, counts: Counts) -> str:
    """One row of the end-of-run summary table."""
    return (
        f"{model:<20} {dataset:<11} planned {counts.planned:>9,}  already stored {counts.skipped:>9,}  "
        f"reused {counts.reused:>7,}  generated {counts.generated:>9,}  failed {counts.failed:>7,}"
    )


@dataclass
class RunContext:
    """One run's shared state: where it writes, what it planned so far, where it reports."""

    store: Store
    options: RunOptions
    personas: list[Persona]
    manifest: dict[str, Any]
    out: TextIO
    total: Counts = field(default_factory=Counts)
    rows: list[dict[str, Any]] = field(default_factory=list)
    costs: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    last_beat: float = field(default_factory=time.monotonic)

    @property
    def run_id(self) -> str:
        return self.manifest["run_id"]

    def beat(self) -> None:
        """Renew the manifest's heartbeat when `HEARTBEAT_S` passed since the last one (a chunk was
        stored). Advisory: a heartbeat that cannot be written is logged, the run goes on."""
        if time.monotonic() - self.last_beat < HEARTBEAT_S:
            return
        self.last_beat = time.monotonic()
        self.manifest["heartbeat_at"] = utc_now()
        try:
            self.store.write_manifest(self.manifest)
        except StoreError as exc:
            log.warning("heartbeat of run %s not written: %s", self.run_id, exc)


def _nothing_done(manifest: dict[str, Any], total: Counts) -> bool:
    """A completed run that found everything already stored leaves the store as it was (its
    manifest is removed), so that reports built from the store stay up to date (docs/reports.md)."""
    return (manifest["status"] == "completed" and total.planned == total.skipped
            and not (total.reused or total.generated or total.failed))


def _save_manifest(ctx: RunContext) -> str | None:
    """Write the run's final manifest (or drop it when the run changed nothing); why it could not."""
    manifest = ctx.manifest
    if not manifest["models"] or ctx.options.dry_run:
        return None
    try:
        if _nothing_done(manifest, ctx.total):  # drop the manifest written before sending
            (ctx.store.manifests_dir / f"{manifest['run_id']}.json").unlink(missing_ok=True)
        else:
            ctx.store.write_manifest(manifest)
    except (StoreError, OSError) as exc:
        return str(exc)
    return None


def _store_failure(ctx: RunContext, error: StoreError, unsaved: str | None) -> str:
    """The message of a run stopped because the store could not be written (e.g. a full disk):
    the write that failed, what this run stored before it, the manifest's state, how to resume."""
    total = ctx.total
    stored = total.generated + total.reused
    left = total.planned - total.skipped - stored
    if not ctx.manifest["models"] or ctx.options.dry_run:
        manifest = "No manifest was written for this run."
    elif unsaved:
        manifest = ("Its manifest could not be updated either (it still says \"running\"; `status` shows "
                    "the run as interrupted once this process has ended).")
    else:
        manifest = f"Its manifest ({ctx.run_id}) is marked failed."
    return (f"{error}\nThis run stored {stored:,} generations before it stopped; they are kept ({total.skipped:,} "
            f"were stored before the run), and {left:,} planned generations are not stored yet. {manifest} "
            "Free space (or fix the permission) and rerun the same command: it resumes with what is missing.")


def _print_summary(ctx: RunContext) -> None:
    """The end-of-run summary: counts per model and dataset, totals, API estimates."""
    verb = "dry run" if ctx.options.dry_run else "run"
    print(f"\nsummary ({verb} {ctx.run_id}; store {ctx.store.path}):", file=ctx.out)
    for row in ctx.rows:
        print("  " + _summary_line(row["model"], row["dataset"], Counts(**row["counts"])), file=ctx.out)
    print("  " + _summary_line("total", "", ctx.total), file=ctx.out)
    if ctx.options.dry_run:
        print(f"  to send: {ctx.total.to_send:,} requests (dry run: nothing sent, nothing written)", file=ctx.out)
        per_row, source = bytes_per_generation(ctx.store)
        print(f"  disk: about {human_size(ctx.total.to_send * per_row)} more in the store "
              f"({per_row:,.0f} bytes per generation, {source})", file=ctx.out)
    for note in dict.fromkeys(ctx.notes):
        print(f"  note: {note}", file=ctx.out)
    for cost in ctx.costs:
        usd = "no prices in params api" if cost["usd"] is None else f"${cost['usd']:,.2f}"
        print(
            f"  API estimate {cost['model']}/{cost['dataset']}: {cost['requests']:,} requests, "
            f"{cost['input_tokens']:,} input tokens, <= {cost['output_tokens']:,} output tokens, {usd} "
            f"({cost['method']})",
            file=ctx.out,
        )
    ctx.out.flush()


def finish(ctx: RunContext, error: BaseException | None) -> None:
    """End a run's record: write its final manifest and print the summary, then re-raise `error`
    (a StoreError that stopped the run becomes one saying what this run stored and how to resume)."""
    manifest = ctx.manifest
    manifest["ended_at"] = manifest["heartbeat_at"] = utc_now()
    manifest["counts"] = asdict(ctx.total)
    unsaved = _save_manifest(ctx)
    _print_summary(ctx)
    if isinstance(error, StoreError):
        raise StoreError(_store_failure(ctx, error, unsaved)) from error
    if error is not None:
        if unsaved:
            print(f"note: the run's manifest could not be updated ({unsaved})", file=ctx.out, flush=True)
        raise error
    if unsaved:
        raise StoreError(f"every generation of run {ctx.run_id} was stored, but its manifest could not be "
                         f"updated: {unsaved}")
