"""Tests for the claim computations beyond per-persona scores: cross-model ranks and expert ranks
on hand-chosen scores, and the omnibus-test counts, self-bias ranks, companion tables, Table 7,
the oracle and the human correlations on the analysis fixture store, each checked against the
analysis or metrics function it counts in."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from personalib import metrics
from personalib.analysis import load_study, rq1, rq3
from personalib.analysis import bbq_tables
from personalib.claims import NotComputable, claim_data
from personalib.claims import bbq, experts, significance
from personalib.claims import crossmodel as x
from tests.analysis.fixture_store import MODELS, PERSONAS, write_fixture
from tests.claims.helpers import data


def test_mean_ranks_of_the_cross_model_mean() -> None:
    d = data()  # truthfulqa: r1 .70 > g1 .65 > c2 .61 > empty .60 > c3 .59 > c1 .58 > r2 .50 > g2 > r3
    assert x.mean_rank(d, metric="truthfulqa", persona="r1") == 1
    assert x.mean_rank(d, metric="truthfulqa", persona="empty") == 4
    assert x.mean_rank(d, metric="truthfulqa", persona="r3", ascending=True) == 1
    assert x.mean_rank(d, metric="truthfulqa", persona="r2", category="race") == 2
    with pytest.raises(NotComputable, match="keeps"):
        x.mean_rank(dataclasses.replace(d, restricted="this profile keeps 9 of 200"), metric="truthfulqa",
                    persona="r1")


def _expert_data() -> object:
    """Two law experts and no persona among 6 personas, on law subjects, humanities and MMLU."""
    rows = []
    values = {"mmlu:subjects:law": {"a_lawyer": 0.9, "a_person_in_law_industry": 0.5, "empty": 0.7,
                                    "p1": 0.6, "p2": 0.4, "p3": 0.3},
              "mmlu:field:humanities": {"a_lawyer": 0.5, "a_person_in_law_industry": 0.45, "empty": 0.8,
                                        "p1": 0.6, "p2": 0.4, "p3": 0.3},
              "mmlu": {"a_lawyer": 0.4, "a_person_in_law_industry": 0.3, "empty": 0.8,
                       "p1": 0.6, "p2": 0.5, "p3": 0.2}}
    for metric, per in values.items():
        rows += [{"model": "m1", "persona_set": "regular", "persona": p, "category": "x", "metric": metric,
                  "value": v} for p, v in per.items()]
    people = pd.DataFrame([{"persona_set": "regular", "persona": p, "text": p, "category": "x"}
                           for p in values["mmlu"]])
    items = {"mmlu": pd.DataFrame({"subject": ["international_law", "jurisprudence", "anatomy"],
                                   "field": ["humanities", "humanities", "other"]})}
    return dataclasses.replace(data(pd.DataFrame(rows), models=("m1",), items=items), personas=people)


def test_expert_group_ranks() -> None:
    d = _expert_data()
    # law subjects: lawyer 1, empty 2, p1 3, industry 4: mean 2.5, best 1
    assert experts.group_rank(d, group="law", scope="subjects") == 2.5
    assert experts.group_rank(d, group="law", scope="subjects", best=True) == 1
    assert experts.no_persona_rank(d, group="law", scope="subjects") == 2
    assert experts.own_field(d, "law") == "humanities"
    assert experts.group_rank(d, group="law", scope="field") == (3 + 4) / 2  # empty 1, p1 2
    assert experts.group_rank(d, group="law", scope="overall") == (4 + 5) / 2
    assert experts.best_beats_no_persona(d, groups=["law"]) == 1
    assert experts.best_beats_but_mean_loses(d, groups=["law"])
    assert experts.narrowing_groups(d, groups=["law"]) == 1  # 4.5 > 3.5 > 2.5
    assert experts.beaten_by_no_persona(d, groups=["law"]) == 1
    with pytest.raises(NotComputable, match="no technology expert"):
        experts.group_rank(d, group="technology", scope="overall")


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    profile, store = write_fixture(tmp_path_factory.mktemp("claims-fixture"))
    study = load_study(str(profile), store, list(MODELS), list(PERSONAS))
    return study, claim_data(study).for_reading()


def test_omnibus_counts_are_the_analysis_tests(fixture) -> None:
    study, d = fixture
    hits = rq1.cochran_table(study).table
    assert significance.tests_below(d, test="cochran:hit", alpha=0.05, per_model=3) == int((hits["p_value"] < 0.05).sum())
    with pytest.raises(NotComputable, match="the claim counts 4 per model"):
        significance.tests_below(d, test="cochran:hit", alpha=0.05, per_model=4)
    friedman = rq3.attitude_friedman(study).table
    regular = friedman[friedman["family"] == "regular"]
    with pytest.raises(NotComputable, match="friedman:regular test\\(s\\) undefined"):
        significance.tests_at_least(d, test="friedman:regular", alpha=0.05)  # the fixture has few statements
    defined = regular.groupby("attitude")["p_value"].apply(lambda p: p.notna().all())
    attitude = defined[defined].index[0]
    row = regular[(regular["model"] == "mistral") & (regular["attitude"] == attitude)]
    assert significance.p_value_of(d, test="friedman:regular", model="mistral", key=attitude) == pytest.approx(
        row["p_value"].iloc[0])
    assert significance.tests_at_least(d, test="friedman:regular", alpha=0.05, key=attitude) == int(
        (regular.loc[regular["attitude"] == attitude, "p_value"] >= 0.05).sum())
    table = d.table("omnibus", significance.build_omnibus)
    assert set(table.loc[table["test"] == "cochran:refusal", "key"]) == {
        "attitudes", "offensiveness", "racism", "truthfulqa", "mmlu", "bbq"}


def test_self_ranks_match_the_per_model_self_bias(fixture) -> None:
    study, d = fixture
    one = dataclasses.replace(d, models=("zephyr",))
    own = metrics.self_bias(study.rows("bbq", "zephyr"), study.items["bbq"])
    row = own[own["persona"] == "a_woman"].iloc[0]
    assert bbq.self_rank(one, persona="a_woman", measure="accuracy") == row["self_accuracy_rank"]
    scores_on_items = one.table("self_scores", bbq.build_self_scores)
    zephyr = scores_on_items[scores_on_items["model"] == "zephyr"]
    for owner, mine in zephyr.groupby("owner"):
        if mine["bias"].notna().all() and len(mine) == 14:
            hand = mine.set_index("persona")["bias"].rank(method="min")[owner]  # ascending: less biased first
            assert bbq.self_rank(one, persona=owner, measure="bias") == hand
        else:
            with pytest.raises(NotComputable, match=f"items of {owner}"):
                bbq.self_rank(one, persona=owner, measure="bias")
    complete = {o for o, part in scores_on_items.groupby("owner") if part["accuracy"].notna().all()}
    if complete == set(scores_on_items["owner"]):
        assert 0 <= bbq.self_count(d, relation="accuracy_last") <= len(complete)
    else:
        with pytest.raises(NotComputable, match="not every persona"):
            bbq.self_count(d, relation="accuracy_last")


def test_companion_average_and_count(fixture) -> None:
    study, d = fixture
    parts = [metrics.own_group_differences(study.rows("bbq", m), study.items["bbq"]) for m in MODELS]
    long = pd.concat(parts)
    cell = long[(long["context_condition"] == "ambig") & (long["question_polarity"] == "nonneg")]
    hand = cell.groupby("persona")["difference"].mean().mean() * 100
    assert bbq.companion_average(d, table="own_group", condition="ambig", polarity="nonneg") == pytest.approx(hand)
    ambig = long[long["context_condition"] == "ambig"].groupby(["persona", "question_polarity"])["difference"].mean()
    assert bbq.companion_count(d, table="own_group", condition="ambig") == int((ambig > 0).sum())


def test_table7_oracle_and_correlations(fixture) -> None:
    study, d = fixture
    ranks = bbq_tables.group_ranks(study, bbq_tables.category_accuracy(study)).table
    row = ranks[(ranks["scope"] == bbq_tables.ACROSS) & (ranks["group"] == "ethnicity")
                & (ranks["column"] == "Race_ethnicity")]
    assert bbq.table7_rank(d, group="ethnicity", column="Race_ethnicity") == row["mean_rank"].iloc[0]
    with pytest.raises(NotComputable, match="demo bbq items"):
        bbq.oracle(d)
    items = study.items["bbq"]
    targeted = items[items["target_loc"].notna()]
    oracle = dataclasses.replace(d, item_notes={})
    assert bbq.oracle(oracle) == pytest.approx((targeted["context_condition"] == "ambig").mean())
    with pytest.raises(NotComputable, match="0/0"):
        bbq.oracle(oracle, measure="bias")  # every ambiguous gold answer is "unknown"
    assoc, sims = d.table("associations", significance.build_associations)
    cos = sims[sims["comparison"] == rq3.COMPARISONS["attitudes"]].set_index("model")["cosine"]
    expected = int((cos[list(MODELS)] > cos[rq3.RANDOM]).sum())
    assert significance.models_above_baseline(d, kind="attitudes") == expected
    r = {m: assoc.attitudes[m].r.loc["altruism", "racist beliefs"] for m in MODELS}
    assert significance.models_with_signs(d, kind="attitudes", row="altruism",
                                          signs={"racist beliefs": -1}) == sum(v < 0 for v in r.values())
