"""Compare a report's recorded key numbers with the golden values of tests/golden/values."""

from __future__ import annotations

import json
import math
from pathlib import Path

VALUES = Path(__file__).resolve().parent / "values"


def golden(store: str) -> dict[str, dict]:
    """The golden {report base: {"headline", "values"}} of one golden store."""
    return json.loads((VALUES / f"{store}.json").read_text(encoding="utf-8"))


def same(a: object, b: object) -> bool:
    """Equal JSON values; floats equal to 1e-9 relative (summation order may differ)."""
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)  # type: ignore[arg-type]
    return a == b


def differences(store: str, base: str, values: dict[str, object]) -> list[str]:
    """What differs between a report's values and the golden ones (empty when all match): every
    golden key must be recorded with the same value; keys added since (new analyses) are not
    compared."""
    want = golden(store)[base]["values"]
    out = [f"{k}: missing (golden {want[k]!r})" for k in want if k not in values]
    out += [f"{k}: {values[k]!r} != golden {want[k]!r}" for k in want if k in values and not same(values[k], want[k])]
    return out
