"""Every report notebook in notebooks/, executed by papermill on the fixture stores: each
research-question notebook across models and for one model on the rich fixture, and across models
on the degenerate fixture (one model, three personas, BBQ only, identical answers), where every
report must still build and say what it cannot compute; the claims scorecard (one page across
the models) on both."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from personalib.reports.run import ReportJob, ReportSettings, build_report, discover_notebooks
from tests.analysis.fixture_store import MODELS, PERSONAS
from tests.analysis.shown import assert_uncertainty_shown
from tests.golden.compare import differences

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p for p in (REPO / "notebooks").glob("rq*.ipynb"))
EXPECTED = ["claims", "rq1_performance", "rq2_bias", "rq3_attitudes", "rq4_refusals"]
CLAIMS = REPO / "notebooks" / "claims.ipynb"

pytestmark = pytest.mark.slow


def test_the_claims_and_the_four_research_question_notebooks_are_there() -> None:
    assert [p.stem for p in discover_notebooks(REPO / "notebooks")] == EXPECTED


def _settings(profile: Path, store: Path, out: Path, persona_sets: list[str]) -> ReportSettings:
    return ReportSettings(profile=str(profile), store=store, output_dir=out,
                          persona_sets=tuple(persona_sets), parsing="faithful", cwd=REPO,
                          cell_timeout=300)


def _errors(nb: nbformat.NotebookNode) -> list[str]:
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


def _text_of(nb: nbformat.NotebookNode) -> str:
    parts = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            data = o.get("data", {})
            parts.append(str(data.get("text/markdown", "")) + str(data.get("text/plain", ""))
                         + str(data.get("text/html", ""))
                         + str(o.get("text", "")))
    return "\n".join(parts)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_on_two_models(notebook: Path, fixture_paths, tmp_path: Path) -> None:
    profile, store = fixture_paths
    settings = _settings(profile, store, tmp_path, list(PERSONAS))
    for job in (ReportJob(notebook, "all", MODELS), ReportJob(notebook, MODELS[0], MODELS[:1])):
        outcome = build_report(job, settings)
        assert outcome.status == "built", outcome.reason
        nb = nbformat.read(tmp_path / f"{job.base}.ipynb", as_version=4)
        assert _errors(nb) == []
        html = (tmp_path / f"{job.base}.html").read_text(encoding="utf-8")
        assert html.count("data:image/png;base64,") >= 1, "no embedded figure"
        assert "Traceback" not in html
        assert "Deviations from the original analysis" in html  # provenance closes every report
        side = json.loads((tmp_path / f"{job.base}.json").read_text(encoding="utf-8"))
        assert side["status"] == "ok" and side["headline"], side
        assert side["values"], "no key numbers recorded"
        assert "nan" not in side["headline"].lower()
        assert differences("rich", job.base, side["values"]) == []  # tests/golden
        assert_uncertainty_shown(notebook.stem, side, html)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_on_degenerate_data_says_what_it_cannot_compute(notebook: Path, degenerate_paths,
                                                                  tmp_path: Path) -> None:
    profile, store = degenerate_paths
    settings = _settings(profile, store, tmp_path, ["regular", "empty", "control"])
    job = ReportJob(notebook, "all", ("zephyr",))
    outcome = build_report(job, settings)
    assert outcome.status == "built", outcome.reason
    nb = nbformat.read(tmp_path / f"{job.base}.ipynb", as_version=4)
    assert _errors(nb) == []
    text = _text_of(nb)
    assert "Note." in text  # at least one plain-language note of what could not be computed
    assert "NaN" not in text.replace("n/a", "")
    side = json.loads((tmp_path / f"{job.base}.json").read_text(encoding="utf-8"))
    assert side["headline"]
    assert differences("degenerate", job.base, side["values"]) == []  # tests/golden


@pytest.mark.parametrize("which", ["rich", "degenerate"])
def test_claims_scorecard_on_the_fixtures(which: str, fixture_paths, degenerate_paths, tmp_path: Path) -> None:
    """The fixture models are called zephyr and mistral, like two of the study's: claims about
    them are compared (and differ: the answers are synthetic), the others are not computable,
    saying which models are missing and showing what the fixture's models give."""
    profile, store = fixture_paths if which == "rich" else degenerate_paths
    models = MODELS if which == "rich" else ("zephyr",)
    settings = _settings(profile, store, tmp_path, list(PERSONAS) if which == "rich"
                         else ["regular", "empty", "control"])
    outcome = build_report(ReportJob(CLAIMS, "all", models, single=True), settings)
    assert outcome.status == "built", outcome.reason
    nb = nbformat.read(tmp_path / "claims.ipynb", as_version=4)
    assert _errors(nb) == []
    side = json.loads((tmp_path / "claims.json").read_text(encoding="utf-8"))
    assert side["headline"].startswith("Claims of the paper: ") and side["values"]["checks"] == 177
    card = side["tables"]["scorecard"]
    rows = [dict(zip(card["columns"], r)) for r in card["data"]]
    assert len(rows) == 177 and all(r["explanation"] for r in rows if r["status"] == "not computable")
    c01 = next(r for r in rows if r["claim"] == "C01" and r["part"].startswith("best and worst"))
    assert c01["explanation"] == "model gpt-3.5 not in this profile" and c01["own_models"].startswith("zephyr")
    html = (tmp_path / "claims.html").read_text(encoding="utf-8")
    assert "not computable" in html and "Deviations from the original analysis" in html
