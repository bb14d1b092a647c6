"""Run one benchmark step as a subprocess and measure its wall time, CPU time and peak memory.

The step runs under a small wrapper (`python -m benchmarks.scale.measure RESULT -- CMD ...`) that
waits for it and records `getrusage(RUSAGE_CHILDREN)`: its `ru_maxrss` is the exact peak resident
set size of the largest single process of the step's tree (children, grandchildren such as
notebook kernels, once waited for). Meanwhile the benchmark polls the tree with psutil every
`POLL_S` seconds: that names the largest process (e.g. a notebook kernel) and gives the peak of the
tree's summed RSS, and it stops a step whose tree exceeds the memory cap or the time limit (then
the exact figures are absent and the polled ones are reported).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

POLL_S = 0.25
GIB = 2**30


@dataclass
class Measured:
    """What one step did: exit code, seconds, memory (bytes) and where its output went."""

    step: str
    command: list[str]
    rc: int | None = None
    wall_s: float = 0.0
    cpu_s: float | None = None
    peak_rss: int = 0            # largest single process (exact from getrusage when the step ended)
    largest: str = ""            # which process that was (by polling)
    tree_peak_rss: int = 0       # peak of the summed RSS of the step's processes (polled)
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at start and end
    stopped: str | None = None   # why the benchmark stopped the step (memory cap, time limit)
    log: str = ""
    error: str | None = None     # the end of the log when the step failed
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.stopped is None

    def as_dict(self) -> dict:
        return asdict(self)


def label(cmdline: list[str]) -> str:
    """A short name for a process of a step (notebook kernel, personalib command, driver)."""
    text = " ".join(cmdline)
    if "ipykernel" in text:
        return "notebook kernel"
    for module in ("personalib", "benchmarks.scale.drive"):
        if module in cmdline:
            rest = cmdline[cmdline.index(module) + 1:]
            return f"{module} {rest[0] if rest else ''}".strip()
    if "benchmarks.scale.measure" in cmdline:
        return "wrapper"
    if "multiprocessing" in text:
        return "worker process"
    return Path(cmdline[0]).name if cmdline else "?"


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _kill_tree(root: psutil.Process) -> None:
    procs = [root]
    try:
        procs += root.children(recursive=True)
    except psutil.Error:
        pass
    for proc in reversed(procs):
        try:
            proc.kill()
        except psutil.Error:
            pass


def run_step(step: str, command: list[str], log: Path, *, cap_bytes: int | None = None,
             timeout_s: float | None = None, cwd: Path | None = None) -> Measured:
    """Run `command` (stdout and stderr to `log`) under the wrapper and measure it (module doc)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    result_file = log.with_suffix(".rusage.json")
    result_file.unlink(missing_ok=True)
    wrapped = [sys.executable, "-m", "benchmarks.scale.measure", str(result_file), "--", *command]
    measured = Measured(step, command, log=str(log), load=(os.getloadavg()[0], 0.0))
    peaks: dict[int, tuple[int, str]] = {}
    start = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(wrapped, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            total = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                procs = []
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    name = peaks[p.pid][1] if p.pid in peaks else label(p.cmdline())
                except psutil.Error:
                    continue
                total += rss
                if rss > peaks.get(p.pid, (0, ""))[0]:
                    peaks[p.pid] = (rss, name)
            measured.tree_peak_rss = max(measured.tree_peak_rss, total)
            elapsed = time.perf_counter() - start
            if cap_bytes and total > cap_bytes:
                measured.stopped = f"memory cap: the step's processes held {total / GIB:.2f} GiB > {cap_bytes / GIB:.1f} GiB"
            elif timeout_s and elapsed > timeout_s:
                measured.stopped = f"time limit: still running after {timeout_s:.0f} s"
            if measured.stopped:
                _kill_tree(root)
                proc.wait()
                break
            time.sleep(POLL_S)
    measured.wall_s = time.perf_counter() - start
    measured.load = (measured.load[0], os.getloadavg()[0])
    if peaks:
        rss, name = max(peaks.values())
        measured.peak_rss, measured.largest = rss, name
    try:
        exact = json.loads(result_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        exact = None
    if exact is not None:
        measured.rc = exact["rc"]
        measured.wall_s = exact["wall_s"]
        measured.cpu_s = exact["cpu_s"]
        measured.peak_rss = max(measured.peak_rss, exact["maxrss_kib"] * 1024)
    else:
        measured.rc = proc.returncode
    if not measured.ok:
        measured.error = _tail(log)
    return measured


def _wrapper(argv: list[str]) -> int:
    """`RESULT -- CMD ...`: run CMD, then write its rc, wall and CPU seconds and peak RSS to RESULT."""
    result, command = Path(argv[0]), argv[argv.index("--") + 1:]
    start = time.perf_counter()
    rc = subprocess.call(command)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result.write_text(json.dumps({"rc": rc, "wall_s": time.perf_counter() - start,
                                  "cpu_s": usage.ru_utime + usage.ru_stime,
                                  "maxrss_kib": usage.ru_maxrss}), encoding="utf-8")
    return rc


if __name__ == "__main__":
    sys.exit(_wrapper(sys.argv[1:]))
