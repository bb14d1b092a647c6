"""What a built report must show of the uncertainty statistics (shared by the notebook tests on
the fixture stores and the golden demo-store test)."""

from __future__ import annotations

UNCERTAINTY = {  # report -> (table with per-persona intervals, its interval column; gap table)
    "rq1_performance": ("persona_scores", "overall low", "gaps"),
    "rq2_bias": ("bias_scores", "bias_low", "gaps"),
    "rq4_refusals": ("refusal_intervals", "low", "gaps"),
}


def assert_uncertainty_shown(name: str, side: dict, html: str) -> None:
    """The report records per-persona intervals and, beside each top-bottom gap, the gap expected
    by chance, its p-value and the control personas' gap, and says so on the page."""
    if name not in UNCERTAINTY:
        return
    intervals, column, gaps = UNCERTAINTY[name]
    assert column in side["tables"][intervals]["columns"], side["tables"][intervals]["columns"]
    assert {"chance_gap", "p_value", "control_gap"} <= set(side["tables"][gaps]["columns"])
    assert "chance_gap" in html and "95th percentile" in html
