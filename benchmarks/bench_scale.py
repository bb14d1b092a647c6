"""Reports at the study's real size: import, status, dry run, scoring and reports, timed with
their peak memory and disk, on a synthetic release of one model, and on seven models derived from it.

    python -m benchmarks scale                     # 1/8, 1/4, 1/2 and all 193 personas; 7 models (hours)
    python -m benchmarks scale --quick             # 1/8 of the personas only (everyday use)
    python -m benchmarks scale --keep build/bench-scale/kept          # keep the data for reruns
    python -m benchmarks scale --keep build/bench-scale/kept --steps reports,across --scales 1/8

What it does (docs/benchmarks.md): writes item sources at the study's sizes in each source's
schema (benchmarks.scale.fixtures) and a synthetic release of one model, gpt-3.5 (193 personas x
75,440 prompts = 14,559,920 generations, the answer mix of bench_parsing.py; benchmarks.scale.
release); then, for each persona scale, imports it into a fresh store with `python -m personalib
import-release` and measures, each step in its own subprocess (benchmarks.scale.measure): the
import, a rerun of it (everything already stored), `status --json`, `generate --dry-run` on an
empty store and on the imported one, scoring into outcomes (`load_study`) cold and warm, and the
`report` command for the model. Then it derives the study's seven models from the largest scale's
store (benchmarks.scale.derive; 91.0 M generations at full size) and measures `status --json`,
scoring of the seven models cold and warm, and the four across-model reports (`__all`; with
`--steps ...,reports7` also the `report` command building every report). It prints every figure
next to the issue's target and writes them to benchmarks/results/scale-<time>.json.

Steps (`--steps`, comma-separated): write, import, reimport, status, dryrun-empty, dryrun-store,
score-cold, score-warm, reports, derive, status7, score7-cold, score7-warm, across, reports7
(default: all but reports7). A step needs what the steps before it made: with `--keep DIR` a
later run can run some steps only, on the data kept there.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from benchmarks.scale.fixtures import write_fixtures
from benchmarks.scale.measure import run_step
from benchmarks.scale.release import disk_bytes, link_subset, read_marker, scale_personas, write_release
from benchmarks.scale.steps import (
    ALL_STEPS, BASE_FOLDER, BASE_MODEL, DEFAULT_STEPS, GIB, MODEL7_STEPS, SCALE_STEPS, Workspace,
    model7_command, rows_of, scale_command, tag, verdict, write_profiles,
)
from benchmarks.scale.table import growth_lines, machine, results_path, table_lines, write_json

ROOT = Path(__file__).resolve().parent.parent
RELEASE_BYTES_PER_PERSONA = 9.6e6      # measured: about 9.2 MB of JSON per persona
STORE_BYTES_PER_PERSONA = 6e6          # measured: parts of one persona's 75,440 generations (upper bound)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1/8 of the personas only (default scales 1/8)")
    parser.add_argument("--scales", help="comma-separated persona fractions (default 1/8,1/4,1/2,1; --quick: 1/8)")
    parser.add_argument("--steps", help=f"comma-separated steps (default: all but reports7): {', '.join(ALL_STEPS)}")
    parser.add_argument("--derive-scale", help="the scale whose store the seven models are derived from "
                        "(default: the largest of --scales)")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep the data there (reused by later runs)")
    parser.add_argument("--jobs", type=int, default=2, help="processes writing the release and deriving (default 2)")
    parser.add_argument("--mem-cap-gib", type=float, default=12.0,
                        help="stop a step whose processes hold more than this (default 12 GiB; 0: no cap)")
    parser.add_argument("--step-timeout-min", type=float, default=120.0, help="stop a step after this (default 120)")
    return parser.parse_args(argv)


def fractions_of(text: str) -> list[Fraction]:
    values = sorted({Fraction(part.strip()) for part in text.split(",") if part.strip()})
    if not values or any(not 0 < f <= 1 for f in values):
        raise SystemExit(f"--scales {text!r}: fractions in (0, 1], e.g. 1/8,1/4,1/2,1")
    return values


class Bench:
    """One run of the benchmark: its work folder, options and the records of measured steps."""

    def __init__(self, args: argparse.Namespace, ws: Workspace, fractions: list[Fraction], steps: set[str]) -> None:
        self.args, self.ws, self.fractions, self.steps = args, ws, fractions, steps
        self.records: list[dict] = []
        self.release_info: dict | None = None
        self.datasets: dict = {}
        self.results = results_path(ROOT / "benchmarks" / "results")
        self.start = time.perf_counter()

    def save(self, growth: list[str] | None = None) -> Path:
        """The JSON file of everything measured so far."""
        return write_json(self.results, {
            "args": vars(self.args), "work": str(self.ws.root), "machine": machine(),
            "release": self.release_info, "seconds": round(time.perf_counter() - self.start, 1),
            "steps": self.records, "growth": growth or []})

    def record(self, step: str, fraction: Fraction, n_personas: int, m=None, **fields) -> dict:
        rows = rows_of(step, n_personas)
        rec = {"step": step, "scale": tag(fraction), "personas": n_personas, "rows": rows, "ok": True, "notes": []}
        if m is not None:
            rec.update(m.as_dict(), ok=m.ok)
            if m.stopped:
                rec["notes"].append(f"stopped by the benchmark: {m.stopped}")
            if not m.ok:
                rec["notes"].append(f"FAILED (exit {m.rc}); end of {m.log}:\n      "
                                    + (m.error or "").replace("\n", "\n      "))
        rec["notes"] += fields.pop("notes", [])
        rec.update(fields)
        # import-release runs worker processes: its memory is that of all its processes together
        rss = rec.get("tree_peak_rss" if step in ("import", "reimport") else "peak_rss", 0)
        rec["verdict"] = verdict(step, rec.get("compare_s", rec.get("wall_s", 0.0)), rss, rows,
                                 full_size=fraction == 1, ok=rec["ok"])
        self.records.append(rec)
        print("\n".join(table_lines([rec])[2:]), flush=True)
        self.save()
        return rec

    def measure(self, step: str, command: list[str], fraction: Fraction) -> object:
        print(f"[{tag(fraction)}] {step}: {' '.join(command[1:])}", flush=True)
        cap = int(self.args.mem_cap_gib * GIB) if self.args.mem_cap_gib else None
        return run_step(step, command, self.ws.logs / f"{tag(fraction)}-{step}.log", cap_bytes=cap,
                        timeout_s=self.args.step_timeout_min * 60, cwd=ROOT)

    # -- data --------------------------------------------------------------------------------
    def prepare(self) -> None:
        ws = self.ws
        if not (ws.fixtures / "done.json").exists():
            self.datasets = write_fixtures(ws.fixtures)
            (ws.fixtures / "done.json").write_text(json.dumps(self.datasets), encoding="utf-8")
        self.datasets = json.loads((ws.fixtures / "done.json").read_text(encoding="utf-8"))
        wanted = {p.stem: p for f in self.fractions for p in scale_personas(f)}
        marker = read_marker(ws.release)
        if marker is not None and set(wanted) <= set(marker["personas"]):
            self.release_info = marker
            print(f"release reused: {len(marker['personas'])} personas in {ws.release}", flush=True)
            return
        if "write" not in self.steps and marker is None and any(s in self.steps for s in ("import", "reimport")):
            print("no release in the work folder: writing it although --steps omits `write`", flush=True)
        self.check_disk(len(wanted))
        shutil.rmtree(ws.release, ignore_errors=True)
        personas = sorted(wanted.values(), key=lambda p: p.index)
        print(f"writing the release of {len(personas)} personas x 75,440 prompts with {self.args.jobs} processes",
              flush=True)
        self.release_info = write_release(ws.release, BASE_FOLDER, personas, jobs=self.args.jobs)
        info = self.release_info
        self.record("write", max(self.fractions), len(personas), wall_s=info["seconds"], disk=info["bytes"],
                    notes=[f"{info['generations']:,} generations in {info['files']:,} files, "
                           f"{info['distinct_share']:.1%} distinct texts, {info['bytes'] / GIB:.2f} GiB"])

    def check_disk(self, n_personas: int) -> None:
        need = n_personas * (RELEASE_BYTES_PER_PERSONA + 2 * 7 * STORE_BYTES_PER_PERSONA)
        free = shutil.disk_usage(self.ws.root).free
        print(f"disk: {free / GIB:.1f} GiB free at {self.ws.root}; this run needs up to about {need / GIB:.1f} GiB",
              flush=True)
        if free < need + 5 * GIB:
            raise SystemExit(f"not enough disk space at {self.ws.root}: {free / GIB:.1f} GiB free, about "
                             f"{need / GIB:.1f} GiB needed plus a 5 GiB margin; use --scales or --quick")

    # -- steps -------------------------------------------------------------------------------
    def run_scale(self, fraction: Fraction) -> None:
        ws, personas = self.ws, scale_personas(fraction)
        write_profiles(ws, fraction, self.datasets, personas, full=fraction == 1)
        store = ws.store(fraction)
        if fraction != 1 and {"import", "reimport"} & self.steps:
            link_subset(ws.release, ws.scale_release(fraction), BASE_FOLDER, personas)
        for step in SCALE_STEPS:
            if step not in self.steps:
                continue
            if step == "import":
                shutil.rmtree(store, ignore_errors=True)
            elif not store.exists():
                print(f"[{tag(fraction)}] {step}: skipped, no store at {store} (run the import step)", flush=True)
                continue
            if step == "score-cold":
                shutil.rmtree(store / "outcomes", ignore_errors=True)
            if step == "dryrun-empty":
                shutil.rmtree(ws.scale(fraction) / "empty-store", ignore_errors=True)
            m = self.measure(step, scale_command(step, ws, fraction), fraction)
            self.record(step, fraction, len(personas), m, **self.details(step, fraction, m))
            if step == "import" and not m.ok:
                return

    def details(self, step: str, fraction: Fraction, m) -> dict:
        """Disk used and step-specific figures (the reports' own build times from their sidecars)."""
        store = self.ws.store(fraction) if step in SCALE_STEPS else self.ws.models7(fraction) / "store"
        if step in ("import", "reimport", "derive"):
            return {"disk": disk_bytes(store) - disk_bytes(store / "outcomes")}
        if step in ("score-cold", "score7-cold"):
            return {"disk": disk_bytes(store / "outcomes")}
        if step in ("reports", "across", "reports7"):
            folder = store.parent / "reports"
            fields: dict = {"disk": disk_bytes(folder)}
            sidecars = [json.loads(p.read_text()) for p in folder.glob("*.json") if "__" in p.name]
            sidecars = [s for s in sidecars if isinstance(s, dict) and "scope" in s]
            own = [s for s in sidecars if s["scope"] == BASE_MODEL] if step == "reports" else \
                [s for s in sidecars if s["scope"] == "all"]
            seconds = sum(float(s.get("seconds", 0)) for s in own)
            failed = [f"{s['notebook']}__{s['scope']}" for s in sidecars if s.get("status") != "ok"]
            fields["report_seconds"] = {f"{s['notebook']}__{s['scope']}": s.get("seconds") for s in sidecars}
            what = "the 4 per-model reports" if step == "reports" else "the 4 across-model reports"
            fields["notes"] = [f"{what} took {seconds:.0f} s by their own build times"
                               + (f"; failed: {', '.join(failed)}" if failed else "")]
            if step == "reports":
                fields["compare_s"] = seconds
            return fields
        return {}

    def run_models7(self) -> None:
        fraction = Fraction(self.args.derive_scale) if self.args.derive_scale else max(self.fractions)
        personas = scale_personas(fraction)
        write_profiles(self.ws, fraction, self.datasets, personas, full=fraction == 1)
        if not self.ws.store(fraction).exists():
            print(f"seven models: skipped, no store at {self.ws.store(fraction)} to derive them from", flush=True)
            return
        store7 = self.ws.models7(fraction) / "store"
        for step in MODEL7_STEPS:
            if step not in self.steps:
                continue
            if step != "derive" and not store7.exists():
                print(f"[{tag(fraction)}] {step}: skipped, no seven-model store (run the derive step)", flush=True)
                continue
            if step == "score7-cold":
                shutil.rmtree(store7 / "outcomes", ignore_errors=True)
            m = self.measure(step, model7_command(step, self.ws, fraction, self.args.jobs), fraction)
            self.record(step, fraction, len(personas), m, **self.details(step, fraction, m))
            if step == "derive" and not m.ok:
                return


def command_line() -> list[str]:
    """This benchmark's options from `sys.argv`: what follows the benchmark names given to
    `python -m benchmarks` (which leaves the options there), or all of it when run as a module."""
    argv = sys.argv[1:]
    first = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    return argv[first:]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(command_line() if argv is None else argv)
    fractions = fractions_of(args.scales or ("1/8" if args.quick else "1/8,1/4,1/2,1"))
    steps = set(DEFAULT_STEPS if args.steps is None else (s.strip() for s in args.steps.split(",")))
    unknown = sorted(steps - set(ALL_STEPS))
    if unknown:
        raise SystemExit(f"--steps: unknown {', '.join(unknown)}; choose from {', '.join(ALL_STEPS)}")
    base = ROOT / "build" / "bench-scale"
    base.mkdir(parents=True, exist_ok=True)
    work = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="run-", dir=base))
    work.mkdir(parents=True, exist_ok=True)
    bench = Bench(args, Workspace(work), fractions, steps)
    try:
        bench.prepare()
        for fraction in fractions:
            bench.run_scale(fraction)
        if steps & set(MODEL7_STEPS):
            bench.run_models7()
    finally:
        report(bench)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def report(bench: Bench) -> None:
    """Print the table and the growth; write the JSON file."""
    print("\n" + "\n".join(table_lines(bench.records)))
    growth = growth_lines(bench.records)
    if growth:
        print("\ngrowth with the number of personas (wall, peak RSS):\n" + "\n".join(growth))
    path = bench.save(growth)
    print(f"\nbenchmark took {(time.perf_counter() - bench.start) / 60:.1f} min; figures written to {path}")


if __name__ == "__main__":
    main()
    sys.exit(0)
