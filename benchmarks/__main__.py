"""`make bench`: run every `benchmarks/bench_*.py` (each has `main() -> None` printing its figures).

`python -m benchmarks [name ...] [--option ...]` runs only the named ones (e.g. `parsing`);
options are left in `sys.argv` for the benchmarks that read them (`uncertainty --quick`).
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    names = sorted(p.stem for p in here.glob("bench_*.py"))
    wanted = [a for a in argv if not a.startswith("-")]
    if wanted:
        names = [n for n in names if n.removeprefix("bench_") in wanted or n in wanted]
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        start = time.perf_counter()
        importlib.import_module(f"benchmarks.{name}").main()
        print(f"[{name} took {time.perf_counter() - start:.1f} s]", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
