"""The claims on real data: the original study's released generations in ../shared/reference
(GPT-3.5 TruthfulQA and GPT-4 attitudes for a few personas), imported into a store and scored with
`load_study` as a user of the `released` profile would. C01 (the difference of the two personas),
C73 (both endpoints), C75 and the setup counts S01, S02, S04 (the 817 questions) and S10 must come
out "reproduced"; the parts that need personas, models or columns the sample lacks must say so."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from personalib.analysis import load_study
from personalib.claims import NOT_COMPUTABLE, REPRODUCED, claim_data, evaluate, load_claims, verdict_table
from tests.metrics.helpers import released_sample

pytestmark = pytest.mark.reference
MODELS = ["gpt-4", "gpt-3.5"]
SETS = ["regular", "empty", "control"]


@pytest.fixture(scope="module")
def verdicts(reference_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    path, store, _ = released_sample(reference_dir, tmp_path_factory.mktemp("claims"), MODELS, SETS)
    study = load_study(str(path), store, MODELS, SETS)
    table = verdict_table(evaluate(load_claims(), claim_data(study)))
    return table.set_index(["claim", "part"])


def _row(table, claim: str, part: str):
    return table.loc[(claim, part)]


def test_result_claims_reproduced(verdicts) -> None:
    c01 = _row(verdicts, "C01", "accuracy difference asexual - fascism")
    assert c01.status == REPRODUCED and c01.value == pytest.approx(100 * (621 - 306) / 817)
    rosa = _row(verdicts, "C73", "Rosa Luxemburg's refusal rate over the 837 prompts")
    haider = _row(verdicts, "C73", "Jorg Haider's refusal rate over the 837 prompts")
    assert rosa.status == haider.status == REPRODUCED
    assert (rosa.value, haider.value) == (pytest.approx(100 * 191 / 837), pytest.approx(100 * 819 / 837))
    c75 = _row(verdicts, "C75", "refusal-rate ratio black / african american")
    assert c75.status == REPRODUCED and c75.value == pytest.approx(272 / 55)


def test_setup_counts_reproduced(verdicts, reference_dir: Path) -> None:
    setup = verdicts.loc[["S01", "S02", "S10"]]
    assert (setup.status == REPRODUCED).all(), setup[setup.status != REPRODUCED]
    assert _row(verdicts, "S04", "questions").status == REPRODUCED
    # the released persona files give the same counts as the package's persona sets
    data = reference_dir / "original-release" / "data"
    cats = Counter(v for v in json.loads((data / "persona_cat.json").read_text()).values() if v != "empty")
    assert dict(cats) == _row(verdicts, "S01", "personas per category").value
    assert len(json.loads((data / "control_personas.json").read_text())["personas"]) == 30


def test_parts_the_sample_cannot_serve_say_why(verdicts) -> None:
    best = _row(verdicts, "C01", "best and worst persona")
    assert best.status == NOT_COMPUTABLE and "4 of 193 have a score" in best.reason
    ends = _row(verdicts, "C73", "highest and lowest of the 27 political figures")
    assert ends.status == NOT_COMPUTABLE and "2 of 27 have a score" in ends.reason
    categories = _row(verdicts, "S04", "categories")
    assert categories.status == NOT_COMPUTABLE and "no 'category' column" in categories.reason
    others = verdicts[verdicts.status == NOT_COMPUTABLE]
    assert others.reason.notna().all()
    assert "models mixtral, zephyr, mistral, gemma-7b, gemma-2b not in this profile" in set(others.reason)


def test_every_claim_computed_on_the_sample_is_reproduced(verdicts) -> None:
    """Every computed check without an A-note reading is reproduced, and every claim whose
    computed checks follow readings has a reproduced reading. The other reading of C75 (the 27
    prompts with the original instruction: 17/27 vs 3/27, a ratio of 5.7) differs, which is
    what shows the paper used the 837 prompts (A13)."""
    computed = verdicts[verdicts.status != NOT_COMPUTABLE].reset_index()
    plain = computed[computed.reading.isna()]
    assert (plain.status == REPRODUCED).all(), plain[plain.status != REPRODUCED]
    for claim, part in computed[computed.reading.notna()].groupby("claim"):
        assert (part.status == REPRODUCED).any(), part
    assert set(computed.claim) >= {"C01", "C73", "C75", "S01", "S02", "S04", "S10"}
    other = _row(verdicts, "C75", "refusal-rate ratio over the 27 original prompts")
    assert other.status == "differs" and other.value == pytest.approx(17 / 3)
