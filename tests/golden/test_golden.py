"""Every report's key numbers on the golden stores equal those of the analysis before the outcome
tables were introduced (tests/golden/values, written by tests/golden/build.py at that commit).

The rich and degenerate fixture stores are compared in tests/analysis/test_notebooks.py and the
released reference sample in tests/analysis/test_reference_reports.py (they build those reports
anyway); this file builds the four reports on the demo store (the embedded model's own answers to
the demo profile, committed under tests/golden/demo-store in store format 1), checks that they
show the intervals and chance gaps, and builds the demo's claims scorecard."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from personalib.reports.run import ReportJob, ReportSettings, build_report, discover_notebooks
from tests.analysis.shown import assert_uncertainty_shown
from tests.golden.build import DEMO_STORE, REPO, SETS, demo_profile
from tests.golden.compare import differences, golden

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("golden-demo")
    store = root / "store"
    shutil.copytree(DEMO_STORE, store)  # the outcome cache is written beside the store: keep the repo clean
    profile = demo_profile(root)
    text = profile.read_text(encoding="utf-8").replace(str(DEMO_STORE), str(store))
    profile.write_text(text, encoding="utf-8")
    return profile, store


@pytest.mark.parametrize("notebook", [nb for nb in discover_notebooks(REPO / "notebooks")
                                      if f"{nb.stem}__all" in golden("demo")], ids=lambda p: p.stem)
def test_demo_store_reports_match_the_golden_key_numbers(notebook: Path, demo, tmp_path: Path) -> None:
    profile, store = demo
    settings = ReportSettings(profile=str(profile), store=store, output_dir=tmp_path, persona_sets=SETS,
                              cwd=REPO, cell_timeout=300)
    job = ReportJob(notebook, "all", ("gemma3-270m-demo",))
    outcome = build_report(job, settings)
    assert outcome.status == "built", outcome.reason
    side = json.loads((tmp_path / f"{job.base}.json").read_text(encoding="utf-8"))
    assert differences("demo", job.base, side["values"]) == []
    html = (tmp_path / f"{job.base}.html").read_text(encoding="utf-8")
    assert_uncertainty_shown(notebook.stem, side, html)


def test_demo_store_claims_scorecard(demo, tmp_path: Path) -> None:
    """The demo profile's claims page: the setup counts are reproduced, every check about a model
    of the study says the model is not in this profile and shows the demo model's own reading."""
    profile, store = demo
    settings = ReportSettings(profile=str(profile), store=store, output_dir=tmp_path, persona_sets=SETS,
                              cwd=REPO, cell_timeout=300)
    outcome = build_report(ReportJob(REPO / "notebooks" / "claims.ipynb", "all", ("gemma3-270m-demo",),
                                     single=True), settings)
    assert outcome.status == "built", outcome.reason
    side = json.loads((tmp_path / "claims.json").read_text(encoding="utf-8"))
    card = side["tables"]["scorecard"]
    rows = [dict(zip(card["columns"], r)) for r in card["data"]]
    missing = [r for r in rows if (r["explanation"] or "").endswith("not in this profile")
               and r["explanation"].startswith("model")]
    assert len(missing) > 100 and all(r["status"] == "not computable" for r in missing)
    assert sum(bool(r["own_models"]) and "gemma3-270m-demo" in r["own_models"] for r in missing) > 100
    assert {r["claim"] for r in rows if r["status"] == "reproduced"} >= {"S01", "S02"}
    assert not [r for r in rows if r["status"] == "differs"]
