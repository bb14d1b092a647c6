"""Tests for personalib.claims.data: the per-persona score table equals personalib.metrics."""

from __future__ import annotations

import pandas as pd
import pytest

from personalib import metrics
from personalib.claims import claim_scores
from personalib.claims.data import SCORE_COLUMNS, ClaimData, NotComputable, scores_of
from tests.stats.synthetic import scored

PERSONAS = ["a", "b", "empty"]


def test_claim_scores_are_the_metrics() -> None:
    rows = pd.concat([scored(d, 40, PERSONAS, seed=i, model=m) for i, (d, m) in enumerate(
        [(d, m) for m in ("m1", "m2") for d in ("truthfulqa", "mmlu", "bbq")])], ignore_index=True)
    table = claim_scores(rows, {"a": "race", "b": "race", "empty": "empty"})
    assert list(table.columns) == SCORE_COLUMNS
    got = table.set_index(["model", "persona_set", "persona", "metric"])["value"]
    perf = metrics.performance_scores(rows)
    bias = metrics.bbq_bias(rows)
    refusals = metrics.refusal_rates(rows)
    for key in perf.index:
        for metric in ("truthfulqa", "mmlu", "bbq", "overall"):
            assert got[(*key, metric)] == pytest.approx(perf.loc[key, metric])
        assert got[(*key, "bias")] == pytest.approx(bias.loc[key, "bias"])
        assert got[(*key, "unknown")] == pytest.approx(bias.loc[key, "unknown_freq"])
        assert got[(*key, "refusal:mmlu")] == pytest.approx(refusals.loc[key, "mmlu"])
    assert not any(m.startswith("refusal:average") for m in table.metric)  # 3 of 6 tasks: undefined
    assert set(table.category) == {"race", "empty"}


def test_scores_of_rejects_two_scores_per_persona() -> None:
    row = {"model": "m", "persona_set": "regular", "persona": "a", "category": "x", "metric": "t", "value": 1.0}
    data = ClaimData(pd.DataFrame([row, {**row, "persona_set": "control"}]), pd.DataFrame(), models=("m",))
    from personalib.errors import PersonalibError
    with pytest.raises(PersonalibError, match="two scores"):
        scores_of(data, "m", "t")
    with pytest.raises(NotComputable, match="no u scores for m"):
        scores_of(data, "m", "u")


def test_claim_data_of_a_study_one_model_at_a_time(tmp_path) -> None:
    """claim_data reads one model x dataset at a time and gives the same table as claim_scores on
    the whole scored table; the fixture profile keeps 14 personas of its sets and reads the demo
    items, and the ClaimData says so."""
    from personalib.analysis import load_study
    from personalib.claims import claim_data
    from personalib.claims.data import pool
    from tests.analysis.fixture_store import MODELS, PERSONAS, write_fixture

    profile, store = write_fixture(tmp_path)
    study = load_study(str(profile), store, list(MODELS), list(PERSONAS))
    data = claim_data(study)
    whole = claim_scores(study.scored, study.persona_categories(), study.annotations)
    key = ["model", "persona_set", "persona", "metric"]
    left = data.scores.sort_values(key).reset_index(drop=True)
    right = whole.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right)
    metrics_ = set(data.scores["metric"])
    assert {"overall", "refusal:average", "refusal:attitudes_original", "mmlu:subjects:healthcare",
            "aoff", "arac", "attitude:altruism"} <= metrics_
    assert any(m.startswith("mmlu:field:") for m in metrics_)
    assert data.restricted and "keeps 14 of the" in data.restricted
    with pytest.raises(NotComputable, match="keeps 14 of the"):
        pool(data)
    assert len(pool(data.for_reading())) == 14
    assert data.item_notes["truthfulqa"] == "this profile reads the package's demo truthfulqa items, not the dataset"
    assert len(data.set_personas) > len(data.personas)  # the whole sets, for the setup counts
