"""Engine throughput against an instant server, next to the bare-client ceiling of the same run.

    python -m benchmarks api                          # as in make bench: 1,000 personas x 108 demo items
    python -m benchmarks api --quick                  # 60 personas (6,480 requests), short bare runs
    python -m benchmarks.bench_api --concurrency 256 --workers 1 2 --baseline-checkout ../old

1. `benchmarks.instant_server` starts in its own process on 127.0.0.1: every chat completion is
   answered at once with a fixed short text, so what is measured is the client.
2. The ceiling: `benchmarks.bare_client` (the official `openai` client and plain httpx, threads
   and asyncio; and urllib3, the HTTP library under the `openai` backend; no store, no keys)
   sends `--bare-requests` requests to the same server, each kind in its own process at each of
   `--bare-concurrency`.
3. The engine: `python -m personalib generate` with the `openai` backend on a profile written to
   a temporary folder (a generated persona set of `--personas` personas x the 108 demo items of
   the five datasets, `api.concurrency` from `--concurrency`) into a real store there, once per
   `--concurrency` x `--workers` value, each into a fresh store (`--baseline-checkout`: also
   the engine of another checkout, one process, e.g. the code before a change). Each store is
   read back: one row per planned entry, each entry once, every text the server's.

For each run: requests/s end to end (the engine: process start to exit, planning, keys, store
writes and manifests included; a bare client: its sending loop), the client's CPU time per request
(less sensitive than requests/s to other work on the machine), the client's CPU share (CPU
seconds of the client's processes / those seconds; 1.0 = one core busy), the server's CPU share
over the same interval, and peak RSS (the largest single process, and the sum over the client's
process tree sampled every 0.2 s). Ratios are against the best bare client of this run: the
official client and plain httpx (the issue's ceiling), and urllib3.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import yaml

from benchmarks.bare_client import KINDS
from benchmarks.instant_server import ANSWER

REPO = Path(__file__).resolve().parents[1]
STUDY_REQUESTS_PER_MODEL = 193 * 75_440  # 14.56 M (METHODS: Scale)
DATASETS = ("truthfulqa", "mmlu", "bbq", "attitudes", "toxicity")
BEFORE_RATE = 265.0  # requests/s of the engine before the throughput work (issue text, this machine)


class Server:
    """`benchmarks.instant_server` in a child process; `base_url`, `cpu_s()`, `stop()`."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.instant_server"], cwd=REPO,
                                     stdout=subprocess.PIPE, text=True, env=_env(REPO))  # fmt: skip
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("port "):
            self.proc.kill()
            raise RuntimeError(f"the instant server did not start (printed {line!r})")
        self.base_url = f"http://127.0.0.1:{int(line.split()[1])}/v1"
        self.process = psutil.Process(self.proc.pid)

    def cpu_s(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _env(code: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(code)}


def measured(cmd: list[str], server: Server, code: Path = REPO) -> dict[str, Any]:
    """Run `cmd` (with `code` first on the path) to completion: wall, client CPU (the process
    tree), server CPU, peak RSS, output."""
    peak_tree = [0]
    done = threading.Event()
    server_before = server.cpu_s()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=code, env=_env(code), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while not done.wait(0.2):
            try:
                peak_tree[0] = max(peak_tree[0], sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]))
            except psutil.Error:
                continue

    output: dict[str, str] = {}
    helpers = [threading.Thread(target=sample, daemon=True)] + [
        threading.Thread(target=lambda n=n, s=s: output.__setitem__(n, s.read()), daemon=True)
        for n, s in (("out", proc.stdout), ("err", proc.stderr))
    ]  # fmt: skip
    for helper in helpers:
        helper.start()
    _, status, usage = os.wait4(proc.pid, 0)  # rusage of the child and every descendant it waited for
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    for helper in helpers:
        helper.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... exited {proc.returncode}: {output.get('err', '')[-3000:]}")
    return {
        "wall_s": wall, "seconds": wall, "client_cpu_s": usage.ru_utime + usage.ru_stime,
        "server_cpu_s": server.cpu_s() - server_before, "max_rss_mib": usage.ru_maxrss / 1024,
        "tree_rss_mib": peak_tree[0] / 2**20, "stdout": output.get("out", ""), "stderr": output.get("err", ""),
    }  # fmt: skip


def write_profile(folder: Path, n_personas: int, concurrency: int, base_url: str, store: Path) -> Path:
    """A persona set of `n_personas`, a params file for the instant server and a profile (module doc)."""
    folder.mkdir(parents=True, exist_ok=True)
    personas = {"name": "bench", "description": "generated for benchmarks/bench_api.py",
                "personas": [{"text": f"a person with number {i}", "category": f"c{i % 12}", "stem": f"p{i:05d}"}
                             for i in range(n_personas)]}  # fmt: skip
    (folder / "bench-personas.yaml").write_text(yaml.safe_dump(personas, sort_keys=False))
    model = {
        "name": "instant", "display_name": "instant", "backend": "openai", "model_id": "instant",
        "persona_placement": "system", "prompt_format": "chat",
        "api": {"base_url": base_url, "api_key_env": None, "concurrency": concurrency, "max_retries": 6, "timeout_s": 60},
    }  # fmt: skip
    (folder / "instant.yaml").write_text(yaml.safe_dump(model, sort_keys=False))
    profile = {
        "name": "bench-api", "models": [str(folder / "instant.yaml")],
        "datasets": {name: {"demo": True} for name in DATASETS},
        "persona_sets": [str(folder / "bench-personas.yaml")], "store": str(store), "reports": str(folder / "reports"),
    }  # fmt: skip
    path = folder / "bench-api.yaml"
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return path


def check_store(store: Path, expected: int) -> dict[str, Any]:
    """The store read back: one row per planned entry, each entry once, every text the server's."""
    from personalib.store import ROW_IDENTITY, Store

    table = Store(store).read_raw([*ROW_IDENTITY, "text"])
    identities = set(zip(*(table.column(c).to_pylist() for c in ROW_IDENTITY)))
    texts = set(table.column("text").to_pylist())
    ok = table.num_rows == expected == len(identities) and texts == {ANSWER}
    return {"rows": table.num_rows, "distinct_entries": len(identities), "ok": ok}


def bare_ceiling(server: Server, n: int, concurrencies: list[int], kinds: tuple[str, ...] = KINDS) -> list[dict[str, Any]]:
    """Each bare client kind at each concurrency, in its own process (module doc, step 2)."""
    rows = []
    for kind in kinds:
        for concurrency in concurrencies:
            cmd = [sys.executable, "-m", "benchmarks.bare_client", kind, "--base-url", server.base_url,
                   "--requests", str(n), "--concurrency", str(concurrency)]  # fmt: skip
            m = measured(cmd, server)
            inner = json.loads(m["stdout"].strip().splitlines()[-1])  # its sending loop, without the start
            rows.append({**m, "what": f"bare {kind}", "kind": kind, "concurrency": concurrency, "requests": n,
                         "requests_per_s": inner["requests_per_s"], "seconds": inner["seconds"],
                         "client_cpu_s": inner["cpu_s"]})  # fmt: skip
            _print_row(rows[-1])
    return rows


def engine_run(server: Server, folder: Path, n_personas: int, concurrency: int, workers: int = 1,
               code: Path = REPO, label: str = "engine") -> dict[str, Any]:  # fmt: skip
    """`python -m personalib generate` (of checkout `code`) into a fresh store (module doc, step 3)."""
    from personalib.tasks import load_task

    expected = n_personas * sum(len(load_task(name, demo=True).items()) for name in DATASETS)
    store = folder / "store"
    profile = write_profile(folder, n_personas, concurrency, server.base_url, store)
    cmd = [sys.executable, "-m", "personalib", "generate", "--profile", str(profile), "--no-progress"]
    m = measured(cmd + (["--workers", str(workers)] if workers > 1 else []), server, code)
    row = {**m, "what": f"{label} --workers {workers}", "concurrency": concurrency, "workers": workers,
           "requests": expected, "requests_per_s": expected / m["wall_s"], "store": check_store(store, expected)}  # fmt: skip
    _print_row(row)
    print(f"    store read back: {row['store']}", flush=True)
    return row


def _print_row(row: dict[str, Any]) -> None:
    seconds = row["seconds"]
    print(
        f"  {row['what']:<24} c={row['concurrency']:<4} {row['requests']:>8,} requests in {seconds:6.1f} s = "
        f"{row['requests_per_s']:6.0f} requests/s   {row['client_cpu_s'] / row['requests'] * 1e6:5.0f} us CPU/request   "
        f"client CPU {row['client_cpu_s'] / seconds:.2f}  "
        f"server CPU {row['server_cpu_s'] / seconds:.2f}   peak RSS {row['max_rss_mib']:5.0f} MiB "
        f"(tree {row['tree_rss_mib']:5.0f} MiB)",
        flush=True,
    )


def report(bare: list[dict[str, Any]], engine: list[dict[str, Any]]) -> dict[str, Any]:
    """Ratios against the best bare clients of this run, and client-hours per model of the study."""
    ceilings = {}
    for name, kinds in (("official client and plain httpx", ("openai", "httpx")), ("urllib3", ("urllib3",))):
        rows = [r for r in bare if r["kind"].split("-")[0] in kinds]
        if rows:
            best = max(rows, key=lambda r: r["requests_per_s"])
            ceilings[name] = best
            print(f"\n  ceiling, {name}: {best['what']} c={best['concurrency']} {best['requests_per_s']:.0f} requests/s", end="")
    print(flush=True)
    baseline = next((r["requests_per_s"] for r in engine if r["what"].startswith("baseline")), None)
    for row in engine:
        rate = row["requests_per_s"]
        ratios = ", ".join(f"{rate / best['requests_per_s']:.0%} of {name}" for name, best in ceilings.items())
        before = f"{rate / baseline:.1f}x the baseline of this run, " if baseline else ""
        print(f"  {row['what']} c={row['concurrency']}: {rate:.0f} requests/s = {ratios}; {before}{rate / BEFORE_RATE:.1f}x "
              f"{BEFORE_RATE:.0f} requests/s (before, issue text); {STUDY_REQUESTS_PER_MODEL / rate / 3600:.1f} h per "
              f"model ({STUDY_REQUESTS_PER_MODEL / 1e6:.2f} M requests); peak RSS {row['tree_rss_mib']:.0f} MiB; "
              f"store {'complete, each entry once' if row['store']['ok'] else 'WRONG: ' + str(row['store'])}",
              flush=True)  # fmt: skip
    return ceilings


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 personas, 3,000 bare requests per client")
    parser.add_argument("--personas", type=int, help="generated personas (default 1,000: 108,000 requests)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[64, 256], help="engine api.concurrency values (default 64 256)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="generate --workers values (default 1 2)")
    parser.add_argument("--bare-requests", type=int, help="requests per bare client (default 20,000)")
    parser.add_argument("--bare-concurrency", type=int, nargs="+", default=[8, 64], help="bare clients' concurrency (default 8 64)")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare clients")
    parser.add_argument("--baseline-checkout", type=Path, help="also run the engine of this checkout (one process)")
    # `python -m benchmarks api --quick` leaves the benchmark names in sys.argv: ignored here
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    n_personas = args.personas or (60 if args.quick else 1000)
    n_bare = args.bare_requests or (3000 if args.quick else 20_000)
    print(f"  {psutil.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    server = Server()
    engine: list[dict[str, Any]] = []
    try:
        bare = [] if args.no_bare else bare_ceiling(server, n_bare, args.bare_concurrency)
        with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
            if args.baseline_checkout:
                code = args.baseline_checkout.resolve()
                engine.append(engine_run(server, Path(tmp) / "baseline", n_personas, args.concurrency[-1], code=code, label="baseline"))
            for concurrency in args.concurrency:
                for workers in args.workers:
                    folder = Path(tmp) / f"c{concurrency}-w{workers}"
                    engine.append(engine_run(server, folder, n_personas, concurrency, workers))
    finally:
        server.stop()
    print(f"  load average at the end {os.getloadavg()[0]:.1f}", flush=True)
    ceilings = report(bare, engine) if bare else {}
    return {"bare": bare, "engine": engine, "ceilings": ceilings}


if __name__ == "__main__":
    main()
