"""The RQ1 and RQ3 reports on real data: the original study's released generations in
../shared/reference (GPT-3.5 TruthfulQA for three personas and a control persona, GPT-4 attitudes
for five personas and a control persona), imported into a store and analysed through the notebooks
exactly as a user of the `released` profile would, with local files for the items (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from personalib import stats
from personalib.analysis import load_study
from personalib.metrics import truthfulqa_accuracy
from personalib.reports.run import ReportJob, ReportSettings, build_report
from tests.golden.compare import differences
from tests.metrics.helpers import released_sample

pytestmark = [pytest.mark.reference, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
MODELS = ("gpt-4", "gpt-3.5")
SETS = ["regular", "empty", "control"]


@pytest.fixture(scope="module")
def released(reference_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    path, store, rows = released_sample(reference_dir, tmp_path_factory.mktemp("released"),
                                        list(MODELS), SETS)
    assert rows == 9_542
    return path, store


def _build(name: str, profile: Path, store: Path, out: Path) -> dict:
    settings = ReportSettings(profile=str(profile), store=store, output_dir=out,
                              persona_sets=tuple(SETS), cwd=REPO, cell_timeout=300)
    outcome = build_report(ReportJob(REPO / "notebooks" / f"{name}.ipynb", "all", MODELS), settings)
    assert outcome.status == "built", outcome.reason
    side = json.loads((out / f"{name}__all.json").read_text(encoding="utf-8"))
    assert differences("reference", f"{name}__all", side["values"]) == []  # tests/golden
    return side


@pytest.mark.parametrize("name", ["rq2_bias", "rq4_refusals"])
def test_the_other_reports_on_the_released_sample_match_the_golden_key_numbers(name, released, tmp_path):
    profile, store = released
    side = _build(name, profile, store, tmp_path)
    assert side["headline"] and "nan" not in side["headline"].lower()


def test_rq1_report_on_the_released_truthfulqa_generations(released, tmp_path: Path) -> None:
    profile, store = released
    side = _build("rq1_performance", profile, store, tmp_path)
    study = load_study(str(profile), store, list(MODELS), SETS)
    acc = truthfulqa_accuracy(study.rows("truthfulqa")).xs("gpt-3.5", level="model").droplevel(0)
    values = side["values"]
    assert values["gpt-3.5.TruthfulQA.best"] == pytest.approx(acc.max())
    assert values["gpt-3.5.TruthfulQA.best_persona"] == acc.idxmax()
    assert values["gpt-3.5.TruthfulQA.worst_persona"] == acc.idxmin()
    assert values["gpt-3.5.TruthfulQA.no_persona"] == pytest.approx(acc["empty"])
    assert 0.3 < acc.min() < acc["empty"] < acc.max() < 0.9  # the sample spans a real gap
    assert side["headline"] and "nan" not in side["headline"].lower()
    assert any("toxicity" in n for n in study.notes)  # imported but not in this profile: said


def test_rq3_report_on_the_released_attitude_generations(released, tmp_path: Path) -> None:
    profile, store = released
    side = _build("rq3_attitudes", profile, store, tmp_path)
    assert side["headline"] and "nan" not in side["headline"].lower()
    assert side["tables"]["attitude_scores"]["data"]
    study = load_study(str(profile), store, list(MODELS), SETS)
    tests = stats.friedman_attitudes(study.rows("attitudes"), value="value")
    regular = tests[(tests["model"] == "gpt-4") & (tests["family"] == "regular")]
    assert len(regular) == 7 and regular["p_value"].notna().all()  # 5 regular/empty personas
    assert side["values"]["gpt-4.friedman_significant_regular"] == int((regular["p_value"] < 0.05).sum())
    control = tests[(tests["model"] == "gpt-4") & (tests["family"] == "control")]
    assert control["p_value"].isna().all()  # one control persona: nothing to compare
    assert control["reason"].notna().all()
