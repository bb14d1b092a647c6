"""The scale benchmark's folders, profiles, step commands and the issue's targets.

Work folder layout (`Workspace`):

    fixtures/                 item sources (benchmarks.scale.fixtures)
    release/                  the synthetic release of the base model, all personas written
    profiles/*.yaml           per scale: released (analysis) and generate (dry run) profiles; 7-model
    scale-<tag>/release       persona subset of the release (hard links), absent at full scale
    scale-<tag>/store         the imported store (outcome cache in store/outcomes)
    scale-<tag>/reports       the per-model reports
    models7-<tag>/store       the seven-model store derived from scale-<tag>/store
    models7-<tag>/reports     the across-model reports
    logs/                     each step's output
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import yaml

from benchmarks.scale.derive import STUDY_MODELS, SUBSAMPLED_MODEL
from benchmarks.scale.release import PROMPTS_PER_PERSONA, PersonaRef

BASE_MODEL = "gpt-3.5"
"""The imported model: it has a release folder, and its dry run needs no local tokenizer (an API
model), unlike the hf models (zephyr's dry run loads zephyr's tokenizer, absent offline)."""
BASE_FOLDER = "gpt-3.5-turbo-0125"
SUBSAMPLE_PROMPTS = 817 + 10_219 + 5_788 + 837 + 1_252   # GPT-4's grid per persona (18,913)
GIB = 2**30
SCALE_STEPS = ("import", "reimport", "status", "dryrun-empty", "dryrun-store", "score-cold", "score-warm", "reports")
MODEL7_STEPS = ("derive", "status7", "score7-cold", "score7-warm", "across", "reports7")
ALL_STEPS = ("write", *SCALE_STEPS, *MODEL7_STEPS)
DEFAULT_STEPS = tuple(s for s in ALL_STEPS if s != "reports7")


def tag(fraction: Fraction) -> str:
    """`1of8`, `1of4`, `1of2`, `full`."""
    return "full" if fraction == 1 else f"{fraction.numerator}of{fraction.denominator}"


@dataclass(frozen=True)
class Workspace:
    """Paths of one benchmark work folder (module doc)."""

    root: Path

    @property
    def fixtures(self) -> Path:
        return self.root / "fixtures"

    @property
    def release(self) -> Path:
        return self.root / "release"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def profile(self, kind: str, fraction: Fraction) -> Path:
        """`released`, `generate` or `models7` profile of a scale."""
        return self.root / "profiles" / f"bench-{kind}-{tag(fraction)}.yaml"

    def scale(self, fraction: Fraction) -> Path:
        return self.root / f"scale-{tag(fraction)}"

    def scale_release(self, fraction: Fraction) -> Path:
        return self.release if fraction == 1 else self.scale(fraction) / "release"

    def store(self, fraction: Fraction) -> Path:
        return self.scale(fraction) / "store"

    def models7(self, fraction: Fraction) -> Path:
        return self.root / f"models7-{tag(fraction)}"


def write_profiles(ws: Workspace, fraction: Fraction, datasets: dict, personas: list[PersonaRef],
                   full: bool) -> None:
    """The scale's three profiles: `released` (the base model's analysis), `generate` (its dry
    run: same items, `generations: generate`) and `models7` (the seven models, GPT-4 on its
    subsample of MMLU and BBQ), with the persona sets of `personas`, restricted to `personas`
    unless `full`."""
    sets = [s for s in ("regular", "empty", "control") if any(p.persona_set == s for p in personas)]
    common = {"datasets": datasets, "persona_sets": sets,
              "personas": None if full else [p.stem for p in personas], "decoding": None,
              "parsing": "faithful"}
    shapes = {
        "released": {"models": [BASE_MODEL], "generations": "released"},
        "generate": {"models": [BASE_MODEL], "generations": "generate"},
        "models7": {"models": list(STUDY_MODELS), "generations": "released",
                    "model_datasets": {SUBSAMPLED_MODEL: {"mmlu": {"subsample": True}, "bbq": {"subsample": True}}}},
    }
    for kind, shape in shapes.items():
        path = ws.profile(kind, fraction)
        path.parent.mkdir(parents=True, exist_ok=True)
        store = ws.models7(fraction) / "store" if kind == "models7" else ws.store(fraction)
        profile = {"name": path.stem, "description": f"scale benchmark ({kind}, {tag(fraction)} of the personas; "
                   "synthetic items and generations)", **shape, **common, "store": str(store),
                   "reports": str(store.parent / "reports")}
        path.write_text(yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")


def py(*args: str | Path) -> list[str]:
    """A command run with this interpreter."""
    return [sys.executable, *map(str, args)]


def scale_command(step: str, ws: Workspace, fraction: Fraction) -> list[str]:
    """The command of one per-scale step."""
    store, released = ws.store(fraction), ws.profile("released", fraction)
    generate = ws.profile("generate", fraction)
    return {
        "import": py("-m", "personalib", "import-release", ws.scale_release(fraction), "--store", store,
                     "--models", BASE_MODEL),
        "reimport": py("-m", "personalib", "import-release", ws.scale_release(fraction), "--store", store,
                       "--models", BASE_MODEL),
        "status": py("-m", "personalib", "status", "--store", store, "--json"),
        "dryrun-empty": py("-m", "personalib", "generate", "--profile", generate, "--models", BASE_MODEL,
                           "--store", ws.scale(fraction) / "empty-store", "--dry-run", "--no-progress"),
        "dryrun-store": py("-m", "personalib", "generate", "--profile", generate, "--models", BASE_MODEL,
                           "--store", store, "--dry-run", "--no-progress"),
        "score-cold": py("-m", "benchmarks.scale.drive", "score", released, store, BASE_MODEL),
        "score-warm": py("-m", "benchmarks.scale.drive", "score", released, store, BASE_MODEL),
        "reports": py("-m", "personalib", "report", "--profile", released, "--models", BASE_MODEL, "--store", store,
                      "--output", ws.scale(fraction) / "reports", "--force"),
    }[step]


def model7_command(step: str, ws: Workspace, fraction: Fraction, jobs: int) -> list[str]:
    """The command of one seven-model step (derived from the store of scale `fraction`)."""
    target, profile = ws.models7(fraction), ws.profile("models7", fraction)
    store, ids = target / "store", ws.fixtures
    return {
        "derive": py("-m", "benchmarks.scale.drive", "derive", ws.store(fraction), store, BASE_MODEL,
                     ids / "mmlu" / "sampled_ids.json", ids / "bbq_sampled_ids.json", str(jobs)),
        "status7": py("-m", "personalib", "status", "--store", store, "--json"),
        "score7-cold": py("-m", "benchmarks.scale.drive", "score", profile, store, *STUDY_MODELS),
        "score7-warm": py("-m", "benchmarks.scale.drive", "score", profile, store, *STUDY_MODELS),
        "across": py("-m", "benchmarks.scale.drive", "across", profile, store, target / "reports", *STUDY_MODELS),
        "reports7": py("-m", "personalib", "report", "--profile", profile, "--store", store,
                       "--output", target / "reports", "--force"),
    }[step]


def rows_of(step: str, n_personas: int) -> int:
    """Generations a step handles for `n_personas` personas per model."""
    one = n_personas * PROMPTS_PER_PERSONA
    if step in MODEL7_STEPS:
        return (len(STUDY_MODELS) - 1) * one + n_personas * SUBSAMPLE_PROMPTS
    return one


@dataclass(frozen=True)
class Target:
    """An issue target: at most `wall_s` seconds (or at least `rate` generations/s) and at most
    `rss` bytes, for the study's size (`any_size`: at every size)."""

    text: str
    wall_s: float | None = None
    rss: float | None = None
    rate: float | None = None
    any_size: bool = False


ONE_MODEL_RSS = 4 * GIB
TARGETS: dict[str, Target] = {
    "import": Target(">= 150,000 gen/s, <= 2 GiB", rss=2 * GIB, rate=150_000, any_size=True),
    "reimport": Target(">= 150,000 gen/s, <= 2 GiB", rss=2 * GIB, rate=150_000, any_size=True),
    "status": Target("<= 4 GiB", rss=ONE_MODEL_RSS),
    "dryrun-empty": Target("<= 60 s, <= 2 GiB", wall_s=60, rss=2 * GIB),
    "dryrun-store": Target("<= 60 s, <= 2 GiB", wall_s=60, rss=2 * GIB),
    "score-cold": Target("<= 3 min, <= 4 GiB", wall_s=180, rss=ONE_MODEL_RSS),
    "score-warm": Target("<= 4 GiB", rss=ONE_MODEL_RSS),
    "reports": Target("4 per-model: <= 6 min, <= 4 GiB", wall_s=360, rss=ONE_MODEL_RSS),
    "status7": Target("<= 60 s, <= 1.5 GiB", wall_s=60, rss=1.5 * GIB),
    "score7-cold": Target("<= 6 GiB", rss=6 * GIB),
    "score7-warm": Target("<= 6 GiB", rss=6 * GIB),
    "across": Target("<= 20 min, <= 6 GiB", wall_s=1200, rss=6 * GIB),
    "reports7": Target("every report built, <= 6 GiB", rss=6 * GIB),
}


def verdict(step: str, wall_s: float, rss: int, rows: int, full_size: bool, ok: bool) -> str:
    """`met`, `NOT MET` or `n/a (...)`: smaller sizes can only fail a target (time and memory grow
    with the rows), so a figure already over it is `NOT MET`, else `n/a` below the study's size."""
    target = TARGETS.get(step)
    if target is None:
        return ""
    if not ok:
        return "NOT MET (failed)"
    over = ((target.wall_s is not None and wall_s > target.wall_s)
            or (target.rss is not None and rss > target.rss)
            or (target.rate is not None and rows / max(wall_s, 1e-9) < target.rate))
    applies = full_size or target.any_size
    if over:
        return "NOT MET" if applies else "NOT MET (already below full size)"
    return "met" if applies else "n/a (below full size)"
