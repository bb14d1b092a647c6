"""Tests for personalib.claims.compare: every comparison kind and every status."""

from __future__ import annotations

import dataclasses

import pytest

from personalib.claims import (
    DEVIATION,
    DIFFERS,
    NOT_COMPUTABLE,
    REPRODUCED,
    Check,
    Claim,
    evaluate,
    evaluate_check,
    verdict_table,
)
from personalib.claims.compare import compare
from tests.claims.helpers import data


def check(**fields) -> Check:
    base = {"part": "p", "kind": "count", "paper": 3,
            "compute": {"function": "personalib.claims.setup.model_count"}}
    return Check.model_validate({**base, **fields})


def claim(*checks: Check, **fields) -> Claim:
    return Claim.model_validate({"id": "C99", "where": "§1", "claim": "c", "printed": "p",
                                 "checks": [c.model_dump() for c in checks], **fields})


@pytest.mark.parametrize(("fields", "value", "same"), [
    ({"kind": "value", "paper": 38.56, "tolerance": {"decimals": 2}}, 38.555691, True),
    ({"kind": "value", "paper": 38.56, "tolerance": {"decimals": 2}}, 38.5649, True),
    ({"kind": "value", "paper": 38.56, "tolerance": {"decimals": 2}}, 38.5651, False),
    ({"kind": "value", "paper": 22.82, "tolerance": {"decimals": 2}}, 22.8149, False),
    ({"kind": "ratio", "paper": 5, "tolerance": {"decimals": 0}}, 4.945, True),
    ({"kind": "ratio", "paper": 5, "tolerance": {"decimals": 0}}, 4.4, False),
    ({"kind": "value", "paper": 14000, "tolerance": {"absolute": 500}}, 14042, True),
    ({"kind": "count", "paper": 162}, 162, True),
    ({"kind": "count", "paper": 162}, 161, False),
    ({"kind": "count", "paper": {"a": 1, "b": 2}}, {"b": 2, "a": 1}, True),
    ({"kind": "count", "paper": {"a": 1, "b": 2}}, {"a": 1, "b": 3}, False),
    ({"kind": "rank", "paper": 1}, 1, True),
    ({"kind": "ordering", "paper": ["x", "y"]}, ["x", "y"], True),
    ({"kind": "ordering", "paper": ["x", "y"]}, ["y", "x"], False),
    ({"kind": "ordering", "paper": True}, True, True),
    ({"kind": "ordering", "paper": True}, False, False),
    ({"kind": "ordering", "paper": "gpt-4"}, "gpt-4", True),
])
def test_compare_kinds(fields: dict, value: object, same: bool) -> None:
    assert compare(check(**fields), value)[0] is same


def test_statuses() -> None:
    d = data()  # three models
    ok = evaluate_check(claim(check(paper=3)), check(paper=3), d)
    assert ok.status == REPRODUCED and ok.value == 3 and ok.difference == 0
    off = evaluate_check(claim(check(paper=7)), check(paper=7), d)
    assert off.status == DIFFERS and off.difference == -4 and off.reason is None
    explained = claim(check(paper=7), deviation="refusal-panels-model")
    verdict = evaluate_check(explained, explained.checks[0], d)
    assert verdict.status == DEVIATION and verdict.reason.startswith("refusal-panels-model (METHODS 7)")
    pending = check(compute=None, pending="a table of X")
    verdict = evaluate_check(claim(pending), pending, d)
    assert verdict.status == NOT_COMPUTABLE and verdict.reason == "no computation in personalib yet: a table of X"


@pytest.mark.parametrize(("needs", "reason"), [
    ({"models": ["m1", "gpt-4", "zephyr"]}, "models gpt-4, zephyr not in this profile"),
    ({"models": ["m1"], "datasets": ["mmlu"]}, "no mmlu generations for m1 in this profile"),
    ({"datasets": ["bbq"]}, "no bbq generations in this profile"),
    ({"persona_sets": ["control", "mine"]}, "persona set(s) mine not in this profile"),
    ({"personas": ["r1", "a_lawyer"]}, "persona(s) a_lawyer not in this profile"),
    ({"extra": ["bbq-metadata"]}, "BBQ bias metadata"),
    ({"extra": ["human-annotations"]}, "human annotations"),
])
def test_not_computable_says_what_is_missing(needs: dict, reason: str) -> None:
    c = check(needs=needs)
    verdict = evaluate_check(claim(c), c, data())
    assert verdict.status == NOT_COMPUTABLE and reason in verdict.reason
    # the claim-level needs apply to every check
    verdict = evaluate_check(claim(check(), needs=needs), check(), data())
    assert verdict.status == NOT_COMPUTABLE and reason in verdict.reason


def test_computation_errors_become_reasons_and_table() -> None:
    c = check(kind="value", paper=0.5, tolerance={"decimals": 2},
              compute={"function": "personalib.claims.compute.persona_value",
                       "args": {"model": "m1", "metric": "truthfulqa", "persona": "ghost"}})
    verdicts = evaluate([claim(c, check())], data())
    assert [v.status for v in verdicts] == [NOT_COMPUTABLE, REPRODUCED]
    assert verdicts[0].reason == "persona ghost has no truthfulqa score for m1"
    table = verdict_table(verdicts)
    assert list(table.columns) == ["claim", "part", "kind", "reading", "paper", "value", "difference",
                                   "status", "reason", "own"]
    assert table.loc[1, "reason"] is None and table.loc[0, "value"] is None


def test_own_readings_when_the_claims_models_are_missing() -> None:
    """A claim about a named model the profile lacks: not computable, with the same computation
    for each of the profile's models; a claim about all models: the computation over the
    profile's; a profile keeping only some personas: said beside the values, never compared."""
    named = check(kind="value", paper=30.0, tolerance={"decimals": 2}, compute={
        "function": "personalib.claims.compute.gap", "args": {"model": "gpt-3.5", "metric": "truthfulqa"}})
    v = evaluate_check(claim(named, needs={"models": ["gpt-3.5"]}), named, data())
    assert v.status == NOT_COMPUTABLE and v.reason == "model gpt-3.5 not in this profile"
    assert [label for label, _, _ in v.own] == ["m1", "m2", "m3"]
    assert v.own[0][1] == pytest.approx(100 * (0.70 - 0.40)) and v.own[0][2] is None
    every = check(kind="count", paper=7, compute={"function": "personalib.claims.compute.models_in_top",
                                                  "args": {"metric": "truthfulqa", "persona": "r1", "k": 1}})
    v = evaluate_check(claim(every, needs={"models": ["m1", "m2", "m3", "m4"]}), every, data())
    assert v.reason == "model m4 not in this profile" and v.own == (("over m1, m2, m3", 3, None),)
    restricted = dataclasses.replace(data(), restricted="this profile keeps 9 of the 200 personas")
    v = evaluate_check(claim(named, needs={"models": ["gpt-3.5"]}), named, restricted)
    assert v.own[0][0] == "m1 (9 personas)" and v.own[0][1] == pytest.approx(30.0)
    here = check(kind="value", paper=30.0, tolerance={"decimals": 2}, compute={
        "function": "personalib.claims.compute.gap", "args": {"model": "m1", "metric": "truthfulqa"}})
    v = evaluate_check(claim(here, needs={"models": ["m1"]}), here, restricted)
    assert v.status == NOT_COMPUTABLE and v.reason.startswith("this profile keeps 9") and v.own == ()
    assert evaluate_check(claim(here), here, data()).status == REPRODUCED
