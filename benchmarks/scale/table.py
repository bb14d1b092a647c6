"""The scale benchmark's figures: the table against the issue's targets, the growth, the JSON file."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import psutil

from benchmarks.scale.release import PROMPTS_PER_PERSONA
from benchmarks.scale.steps import GIB, SCALE_STEPS, TARGETS

FULL_ROWS = 193 * PROMPTS_PER_PERSONA


def _size(n: float | None) -> str:
    if n is None:
        return "-"
    return f"{n / GIB:.2f} GiB" if n >= 0.1 * GIB else f"{n / 2**20:.0f} MiB"


def _wall(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s:.1f} s" if s < 120 else f"{int(s // 60)} min {s % 60:02.0f} s"


def table_lines(records: Sequence[dict]) -> list[str]:
    """One line per measured step: step, scale, rows, wall and CPU time (user + system, all its
    processes: the CPUs may be shared), rate, peak RSS of the largest process (and which it was),
    peak of all its processes together (polled), disk, target, verdict; then the notes."""
    header = (f"{'step':<13} {'scale':<5} {'rows':>11} {'wall':>11} {'cpu':>11} {'gen/s':>9} {'peak RSS':>9} "
              f"{'largest process':<24} {'all procs':>9} {'disk':>9}  {'target':<32} result")
    lines = [header, "-" * len(header)]
    notes = []
    for r in records:
        rate = f"{r['rows'] / r['wall_s']:,.0f}" if r.get("wall_s") and r.get("rows") else "-"
        target = TARGETS[r["step"]].text if r["step"] in TARGETS else ""
        lines.append(f"{r['step']:<13} {r['scale']:<5} {r['rows']:>11,} {_wall(r.get('wall_s')):>11} "
                     f"{_wall(r.get('cpu_s')):>11} {rate:>9} "
                     f"{_size(r.get('peak_rss')):>9} {r.get('largest', '')[:24]:<24} "
                     f"{_size(r.get('tree_peak_rss')):>9} {_size(r.get('disk')):>9}  {target:<32} {r.get('verdict', '')}")
        for note in r.get("notes", []):
            notes.append(f"  {r['step']} ({r['scale']}): {note}")
    return lines + (["notes:", *notes] if notes else [])


def growth_lines(records: Sequence[dict]) -> list[str]:
    """Per step measured at two or more scales: wall and peak RSS at each, their growth from the
    smallest to the largest scale against the growth of the rows, and (when the study's size was
    not measured) a straight-line extrapolation to it through the measured points."""
    lines = []
    for step in SCALE_STEPS:
        points = [r for r in records if r["step"] == step and r.get("ok")]
        if len(points) < 2:
            continue
        points.sort(key=lambda r: r["rows"])
        first, last = points[0], points[-1]
        cells = "  ".join(f"{r['scale']}: {_wall(r['wall_s'])}, {_size(r['peak_rss'])}" for r in points)
        line = (f"{step:<13} {cells}  | rows x{last['rows'] / first['rows']:.1f}: wall x"
                f"{last['wall_s'] / max(first['wall_s'], 1e-9):.1f}, RSS x{last['peak_rss'] / max(first['peak_rss'], 1):.1f}")
        if last["rows"] < FULL_ROWS:
            rows = np.array([r["rows"] for r in points], float)
            guesses = []
            for name, values, show in (("wall", [r["wall_s"] for r in points], _wall),
                                       ("RSS", [r["peak_rss"] for r in points], _size)):
                slope, _ = np.polyfit(rows, values, 1)
                guesses.append(f"{name} {show(float(np.polyval((slope, _), FULL_ROWS)))}" if slope > 0
                               else f"{name} does not grow at these sizes")
            line += (f"; straight line to {FULL_ROWS / 1e6:.2f} M rows: {', '.join(guesses)} "
                     "(extrapolated, not measured)")
        lines.append(line)
    return lines


def machine() -> dict:
    """What the figures were measured on (the load shows how much the CPUs were shared)."""
    return {"cpus": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / GIB, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "load_1_5_15": os.getloadavg()}


def results_path(folder: Path) -> Path:
    """`<folder>/scale-<UTC time>.json` (folder: benchmarks/results, git-ignored)."""
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"scale-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.json"


def write_json(path: Path, payload: dict) -> Path:
    """Write everything measured so far (rewritten after every step, so a stopped run keeps it)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")
    tmp.replace(path)
    return path
