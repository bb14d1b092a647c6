"""`generate --workers N`: N client processes on one node, each a shard, all into one store.

One Python process sends at most what one core can: against a fast server (vLLM on a node of
GPUs) the client's CPU, not the server, sets the pace. `run_workers` starts N processes
(`python -m personalib.workers SPEC`), each running `personalib.generate.generate` on one shard
of the run through the existing shard mechanism (`personalib.store.shard_of`), all appending to
the one store as independent workers do (docs/DESIGN.md "Store").

Rules:

- Shards: worker j of N runs shard j/N; with `--shard I/M` it runs shard I + j*M of N*M, and
  those N shards partition shard I of M (a key's shard of N*M, modulo M, is its shard of M), so
  SLURM array tasks and workers compose.
- Checked once before any worker starts (`personalib.generate.check`): params, datasets, persona
  sets, the API key, and `--max-cost` against the whole run's estimate (the workers do not check
  it again, each would see only its shard).
- Each worker prints its own lines to stderr prefixed `[worker j/N]` (progress bars are off;
  `python -m personalib status` shows progress) and writes its summary to a file the parent
  reads; the parent prints the summed counts.
- Ctrl-C / SIGTERM to the parent is passed on to every worker as SIGTERM (each stores what
  finished, marks its run interrupted and exits 130); a second one kills the workers (a kill -9
  loses at most the chunks in flight). Workers ignore signals after the first, so the same
  signal reaching them twice (a terminal's Ctrl-C reaches the whole process group) does not
  interrupt their last store write.
- Exit code: 130 when interrupted, else 0 when every worker succeeded; otherwise 2 when a worker
  stopped with an error (`error: ...`), else 1 (requests failed at the retry bound, or a worker
  died), naming each worker that failed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

from personalib.dispatch import Counts
from personalib.errors import PersonalibError
from personalib.generate import GenerateOptions, check, generate
from personalib.params import Profile, load_profile

__all__ = ["run_workers", "worker_shard"]


def worker_shard(j: int, n: int, shard: tuple[int, int] | None) -> tuple[int, int]:
    """The shard worker `j` of `n` runs: j/n, or within `--shard I/M` shard I + j*M of n*M (module doc)."""
    index, count = shard or (0, 1)
    return index + j * count, n * count


def run_workers(profile_ref: str, profile: Profile, options: GenerateOptions, n: int, out: TextIO = sys.stderr) -> int:
    """Run `generate` in `n` worker processes, one shard each; returns the exit code (module doc)."""
    if n < 1:
        raise PersonalibError(f"--workers must be >= 1, got {n}")
    check(profile, options)
    with tempfile.TemporaryDirectory(prefix="personalib-workers-") as tmp:
        summaries = [Path(tmp) / f"summary-{j}.json" for j in range(n)]
        signals = _Forward(out)
        try:
            for j in range(n):
                signals.procs.append(_start(profile_ref, options, j, n, summaries[j]))
            codes = [proc.wait() for proc in signals.procs]
        finally:
            signals.restore()
        done = [json.loads(path.read_text()) for path in summaries if path.is_file()]
    _print_totals(done, n, out)
    if signals.received:
        print("interrupted: every worker stored what finished; rerun the same command to resume", file=out)
        return 130
    failed = [(j, code) for j, code in enumerate(codes) if code != 0]
    for j, code in failed:
        print(f"worker {j}/{n} (shard {'/'.join(map(str, worker_shard(j, n, options.shard)))}) "
              f"{'exited with code ' + str(code) if code > 0 else 'was killed by signal ' + str(-code)}", file=out)  # fmt: skip
    if not failed:
        return 0
    return 2 if any(code == 2 for _, code in failed) else 1


def _start(profile_ref: str, options: GenerateOptions, j: int, n: int, summary: Path) -> subprocess.Popen:
    mine = dataclasses.replace(options, shard=worker_shard(j, n, options.shard), max_cost=None, progress=False)
    spec = {"profile": profile_ref, "options": _jsonable(mine), "label": f"worker {j}/{n}", "summary": str(summary)}
    return subprocess.Popen([sys.executable, "-m", "personalib.workers", json.dumps(spec)])


def _jsonable(options: GenerateOptions) -> dict[str, Any]:
    return {f.name: (str(v) if isinstance(v, Path) else v) for f in dataclasses.fields(options) if (v := getattr(options, f.name)) is not None}


def _options(raw: dict[str, Any]) -> GenerateOptions:
    return GenerateOptions(**{k: (tuple(v) if k == "shard" else Path(v) if k == "store" else v) for k, v in raw.items()})


class _Forward:
    """Signal handling of the parent: pass SIGINT/SIGTERM on to the workers (module doc)."""

    def __init__(self, out: TextIO) -> None:
        self.procs: list[subprocess.Popen] = []
        self.out = out
        self.received = 0
        self.previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}

    def _handle(self, signum: int, frame: object) -> None:
        self.received += 1
        first = self.received == 1
        print(f"signal {signum}: {'stopping the workers (they store what finished)' if first else 'killing the workers'}",
              file=self.out, flush=True)  # fmt: skip
        if not self.procs:  # no worker started yet: stop right here
            raise KeyboardInterrupt(f"signal {signum}")
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM if first else signal.SIGKILL)

    def restore(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def _print_totals(summaries: list[dict[str, Any]], n: int, out: TextIO) -> None:
    rows: dict[tuple[str, str], Counts] = {}
    for summary in summaries:
        for row in summary.get("rows", []):
            rows.setdefault((row["model"], row["dataset"]), Counts()).add(Counts(**row["counts"]))
    total = Counts()
    print(f"\nsummary of {len(summaries)} of {n} workers:", file=out)
    for (model, dataset), counts in rows.items():
        total.add(counts)
        print(f"  {model:<20} {dataset:<11} {_counts_text(counts)}", file=out)
    print(f"  {'total':<32} {_counts_text(total)}", file=out, flush=True)


def _counts_text(c: Counts) -> str:
    return (f"planned {c.planned:>9,}  already stored {c.skipped:>9,}  reused {c.reused:>7,}  "
            f"generated {c.generated:>9,}  failed {c.failed:>7,}")  # fmt: skip


class _Prefixed:
    """A text stream that starts every line with `prefix` (a worker's lines on the shared stderr)."""

    def __init__(self, stream: TextIO, prefix: str) -> None:
        self.stream, self.prefix, self.at_start = stream, prefix, True

    def write(self, text: str) -> int:
        for piece in text.splitlines(keepends=True):
            self.stream.write((self.prefix if self.at_start else "") + piece)
            self.at_start = piece.endswith("\n")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def _stop_once(signum: int, frame: object) -> None:
    for other in (signal.SIGINT, signal.SIGTERM):
        signal.signal(other, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


def worker_main(argv: list[str]) -> int:
    """One worker process: run its shard, write its summary; the exit code of `generate`'s CLI."""
    spec = json.loads(argv[0])
    out = _Prefixed(sys.stderr, f"[{spec['label']}] ")
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop_once)
    try:
        summary = generate(load_profile(spec["profile"]), _options(spec["options"]), out=out)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        return 130
    except PersonalibError as exc:
        out.write(f"error: {exc}\n")
        return 2
    Path(spec["summary"]).write_text(json.dumps({"counts": summary["counts"], "rows": summary["rows"]}))
    return 1 if summary["counts"]["failed"] else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(worker_main(sys.argv[1:]))
