"""Tests for personalib.claims.schema: the package's claims file is valid and covers CLAIMS.md;
a bad file is rejected with a message naming the claim and the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from personalib.claims import CLAIMS_FILE, load_claims
from personalib.errors import ConfigError

CLAIMS_MD = Path(__file__).resolve().parents[2].parent / "shared" / "CLAIMS.md"


def test_package_file_is_valid() -> None:
    claims = load_claims(CLAIMS_FILE)
    ids = [c.id for c in claims]
    assert len(ids) == len(set(ids)) == 96
    assert sum(ch.compute is not None for c in claims for ch in c.checks) >= 120
    for claim in claims:
        for check in claim.checks:
            assert check.reading is None or check.reading.split(":")[0].split("/")[0] in claim.ambiguity


def _claims_md() -> str:
    if not CLAIMS_MD.is_file():
        pytest.skip(f"{CLAIMS_MD} not found (it sits beside the project)")
    return CLAIMS_MD.read_text(encoding="utf-8")


def test_every_claim_of_claims_md_is_in_the_file() -> None:
    text = _claims_md()
    listed = set(re.findall(r"^\| ([CS]\d{2}) \|", text, flags=re.M))
    assert listed == {c.id for c in load_claims()}


def test_printed_values_match_claims_md() -> None:
    """Every value printed at 2 decimals appears in the claim's own row of CLAIMS.md."""
    text = _claims_md()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| ([CS]\d{2}) \|.*$", text, flags=re.M)}
    checked = 0
    for claim in load_claims():
        for check in claim.checks:
            tol = check.tolerance
            if check.kind == "value" and tol and tol.decimals == 2 and abs(float(check.paper)) >= 1:
                assert f"{float(check.paper):.2f}" in rows[claim.id], (claim.id, check.part)
                checked += 1
    assert checked >= 20


def _write(tmp_path: Path, claims: list[dict]) -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"claims": claims}, sort_keys=False))
    return path


def _claim(**check) -> dict:
    base = {"part": "p", "kind": "count", "paper": 3,
            "compute": {"function": "personalib.claims.setup.model_count"}}
    return {"id": "C01", "where": "§1", "claim": "three models", "printed": "3",
            "checks": [{**base, **check}]}


@pytest.mark.parametrize(("change", "message"), [
    ({"colour": "red"}, r"claim C01, unknown key checks\.0\.colour"),
    ({"kind": "size"}, r"claim C01, field checks\.0\.kind = 'size'"),
    ({"compute": {"function": "personalib.claims.setup.no_such"}}, r"no_such' does not exist"),
    ({"compute": {"function": "os.getcwd"}}, "must be a function of personalib"),
    ({"compute": None}, "exactly one of `compute`"),
    ({"tolerance": {"decimals": 2}}, "compares exactly: remove `tolerance`"),
    ({"kind": "value", "paper": 3.5}, "needs a `tolerance`"),
    ({"kind": "value", "paper": 3.5, "tolerance": {"decimals": 1, "absolute": 0.1}}, "exactly one of `decimals`"),
    ({"kind": "ordering", "paper": 3}, "kind ordering needs a list"),
    ({"reading": "the big one"}, "starts with the CLAIMS.md A-note"),
])
def test_bad_checks_are_named(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_claims(_write(tmp_path, [_claim(**change)]))
    assert str(tmp_path / "claims.yaml") in str(info.value)


def test_bad_claims_are_named(tmp_path: Path) -> None:
    bad_deviation = {**_claim(), "deviation": "made-up"}
    with pytest.raises(ConfigError, match=r"claim C01, field deviation = 'made-up': unknown deviation"):
        load_claims(_write(tmp_path, [bad_deviation]))
    with pytest.raises(ConfigError, match="C01 appears twice"):
        load_claims(_write(tmp_path, [_claim(), _claim()]))
    with pytest.raises(ConfigError, match=r"claim X1, field id = 'X1': a claim id is C or S"):
        load_claims(_write(tmp_path, [{**_claim(), "id": "X1"}]))
    without_id = {k: v for k, v in _claim().items() if k != "id"}
    with pytest.raises(ConfigError, match=r"claim #1, field id: missing"):
        load_claims(_write(tmp_path, [without_id]))
    with pytest.raises(ConfigError, match=r"claim C01, field needs\.datasets = \['tqa'\]: unknown dataset"):
        load_claims(_write(tmp_path, [{**_claim(), "needs": {"datasets": ["tqa"]}}]))
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_claims(tmp_path / "list.yaml")
