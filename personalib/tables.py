"""Checks on the pandas tables that functions of the package take as input."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from personalib.errors import PersonalibError

__all__ = ["require_columns"]


def require_columns(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise PersonalibError naming the columns `what` (the table's role) needs that `table` lacks,
    and the columns it has (docs/DESIGN.md lists each table's columns)."""
    if not isinstance(table, pd.DataFrame):
        raise PersonalibError(f"{what} needs a pandas DataFrame; got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise PersonalibError(
            f"{what} needs column(s) {missing}; the table has {list(table.columns)} (see docs/DESIGN.md "
            "for the columns of each table, or pass the matching column-name arguments)"
        )
