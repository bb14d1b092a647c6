"""`make bench`: run every `benchmarks/bench_*.py` (each has `main() -> None` printing its figures).

`python -m benchmarks [name ...] [--option ...]` runs only the named ones (e.g. `parsing`); options
after the name go to that benchmark's `main(argv)` (e.g. `python -m benchmarks scale --quick`).
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    names = sorted(p.stem for p in here.glob("bench_*.py"))
    split = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    selected, options = argv[:split], argv[split:]
    if selected:
        names = [n for n in names if n.removeprefix("bench_") in selected or n in selected]
    if options and len(names) != 1:
        raise SystemExit(f"options {' '.join(options)} need exactly one benchmark named before them")
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        start = time.perf_counter()
        module = importlib.import_module(f"benchmarks.{name}")
        if options:
            module.main(options)
        else:
            module.main()
        print(f"[{name} took {time.perf_counter() - start:.1f} s]", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
