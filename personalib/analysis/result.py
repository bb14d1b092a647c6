"""The one result type of the analysis: a table and the notes that say what it leaves out.

Every function of `personalib.analysis.rq1`..`rq4` that computes a table returns a `Result`; the
notebooks show it with `personalib.analysis.show.table(result)`, which prints the table and then
each note once, and record `result.table`. Notes are plain sentences (what could not be computed
and why, what was left out); they travel beside the table, never inside it (no DataFrame.attrs),
and are never parsed back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

__all__ = ["Result", "notes_of_metric"]


def _clean(notes: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for n in notes if isinstance(n, str) and n.strip()))


@dataclass(frozen=True)
class Result:
    """A result table and its notes (each kept once, in order)."""

    table: pd.DataFrame
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "notes", _clean(self.notes))

    @classmethod
    def of(cls, table: pd.DataFrame, *notes: Iterable[str | None]) -> Result:
        """A result from a table (a metric's notes in its attrs are taken out) and note lists."""
        carried = notes_of_metric(table)
        table.attrs = {}
        return cls(table, tuple(n for group in (carried, *notes) for n in group))  # type: ignore[arg-type]

    def plus(self, *notes: str | None) -> Result:
        """The same table with more notes."""
        return Result(self.table, (*self.notes, *(n for n in notes if n)))

    @property
    def empty(self) -> bool:
        return self.table.empty


def notes_of_metric(table: pd.DataFrame | pd.Series) -> list[str]:
    """The notes a `personalib.metrics` or `personalib.stats` table carries (in its attrs)."""
    return list(getattr(table, "attrs", {}).get("notes", []))
