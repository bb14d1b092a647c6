"""Golden key numbers: every report's recorded values on four fixed stores, written once by the
analysis code of a known commit and compared against by `tests/golden/test_golden.py`, so that a
rewrite of the analysis (outcome tables, bounded memory) is shown not to change a single number.

Stores: the rich and degenerate fixture stores (tests/analysis/fixture_store.py), the demo store
committed under tests/golden/demo-store (the embedded model's answers to the demo profile), and the
original study's released reference sample (../shared/reference, when present).

    python -m tests.golden.build            # rewrite tests/golden/values/*.json (deliberately!)
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import yaml

from personalib.reports.run import ReportJob, ReportSettings, across_only, build_report, discover_notebooks

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent
VALUES = GOLDEN / "values"
DEMO_STORE = GOLDEN / "demo-store"
REFERENCE = REPO.parent / "shared" / "reference"
SETS = ("regular", "empty", "control")


def demo_profile(root: Path) -> Path:
    """The demo profile pointed at the committed demo store."""
    prof = yaml.safe_load((REPO / "params" / "profiles" / "demo.yaml").read_text(encoding="utf-8"))
    prof.update(name="golden-demo", store=str(DEMO_STORE), reports=str(root / "reports"))
    path = root / "golden-demo.yaml"
    path.write_text(yaml.safe_dump(prof, sort_keys=False), encoding="utf-8")
    return path


def reference_profile(root: Path) -> tuple[Path, Path]:
    """The released reference sample imported into a store, and a profile reading it."""
    from personalib.release import import_release
    from personalib.store import Store
    from tests.metrics.helpers import truthfulqa_reference_items

    truthfulqa_reference_items(REFERENCE, root)
    data = REFERENCE / "original-release" / "data"
    store = root / "store"
    import_release(REFERENCE / "original-release", Store(store), out=open("/dev/null", "w"))
    profile = {
        "name": "released-sample", "models": ["gpt-4", "gpt-3.5"],
        "datasets": {"truthfulqa": {"files": {"data_files": str(root / "validation.jsonl")}},
                     "attitudes": {"files": {"questions": str(data / "attitude_questions.json"),
                                             "paraphrases": str(data / "att_augment.json")}}},
        "persona_sets": list(SETS), "store": str(store), "reports": str(root / "reports"),
        "generations": "released",
    }
    path = root / "released-sample.yaml"
    path.write_text(yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")
    return path, store


def build_values(name: str, profile: Path, store: Path, scopes: dict[str, tuple[str, ...]],
                 persona_sets: tuple[str, ...], out: Path) -> dict[str, dict]:
    """{<notebook>__<scope>: {"headline": ..., "values": {...}}} for every notebook and scope."""
    settings = ReportSettings(profile=str(profile), store=store, output_dir=out,
                              persona_sets=persona_sets, cwd=REPO, cell_timeout=600)
    result = {}
    for nb in discover_notebooks(REPO / "notebooks"):
        single = across_only(nb)  # the claims scorecard: one page across the models
        for scope, models in scopes.items():
            if single and scope != "all":
                continue
            job = ReportJob(nb, scope, models, single=single)
            outcome = build_report(job, settings, force=True)
            if outcome.status != "built":
                raise SystemExit(f"{name} {job.base}: {outcome.reason}")
            side = json.loads((out / f"{job.base}.json").read_text(encoding="utf-8"))
            result[job.base] = {"headline": side["headline"], "values": side["values"]}
    return result


def cases(root: Path) -> dict[str, tuple]:
    """name -> (profile, store, scopes, persona sets) of each golden store."""
    from tests.analysis.fixture_store import MODELS, PERSONAS, write_fixture

    rich = write_fixture(root / "rich")
    degenerate = write_fixture(root / "degenerate", degenerate=True)
    out = {
        "rich": (*rich, {"all": MODELS, MODELS[0]: MODELS[:1]}, tuple(PERSONAS)),
        "degenerate": (*degenerate, {"all": ("zephyr",)}, SETS),
        "demo": (demo_profile(root), DEMO_STORE, {"all": ("gemma3-270m-demo",)}, SETS),
    }
    if REFERENCE.is_dir():
        (root / "reference").mkdir()
        out["reference"] = (*reference_profile(root / "reference"), {"all": ("gpt-4", "gpt-3.5")}, SETS)
    return out


def main() -> int:
    VALUES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, (profile, store, scopes, sets) in cases(root).items():
            (root / name).mkdir(exist_ok=True)
            values = build_values(name, profile, store, scopes, sets, root / name / "out")
            path = VALUES / f"{name}.json"
            path.write_text(json.dumps(values, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            print(f"{path}: {len(values)} reports, {sum(len(v['values']) for v in values.values())} values")
    return 0


if __name__ == "__main__":
    sys.exit(main())
