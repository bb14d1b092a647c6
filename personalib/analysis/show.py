"""Displaying results in a notebook: tables with their reasons, plain-language notes.

Degenerate data (no rows, constant or missing values) never shows as a wall of NaN: `table()` drops all-empty columns,
writes an undefined value as "n/a", and lists each distinct `reason` once under the table;
`note()` says plainly what could not be computed and why. Outside a notebook (plain Python,
tests) both print text.

Notes, headings, captions and table cells carry names users chose (persona sets, categories,
personas, models), and reports are opened in browsers and mailed around, so every text shown here
is HTML-escaped: nothing a persona file holds can become markup or script in a report.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

import pandas as pd

from personalib.analysis.result import Result

REASON = "reason"
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")


def _display(obj: object, text: str, *, raw: bool = False) -> None:
    from IPython import get_ipython

    if get_ipython() is None:
        print(text)
        return
    from IPython.display import display

    display(obj, raw=raw)


def _show_html(markup: str, text: str) -> None:
    """Display `markup` (built from escaped text only) with `text` as its plain form."""
    _display({"text/html": markup, "text/plain": text}, text, raw=True)


def text_html(text: str) -> str:
    """`text` as HTML: every character escaped, then `**bold**` and `` `code` `` marks rendered
    (the only Markdown the package's own notes use), so user text never becomes markup."""
    escaped = html.escape(str(text), quote=True)
    return _CODE.sub(r"<code>\1</code>", _BOLD.sub(r"<strong>\1</strong>", escaped))


def note(text: str) -> None:
    """Show one plain-language note (what cannot be computed, and why)."""
    _show_html(f"<blockquote><p><strong>Note.</strong> {text_html(text)}</p></blockquote>",
               f"Note. {text}")


def notes(texts: Iterable[str]) -> None:
    """Show each distinct non-empty note once, in order."""
    for text in dict.fromkeys(t for t in texts if isinstance(t, str) and t.strip()):
        note(text)


def heading(text: str, level: int = 3) -> None:
    """A heading inside a cell's output (used where a cell loops over models); `text` escaped."""
    level = min(max(int(level), 1), 6)
    _show_html(f"<h{level}>{html.escape(str(text))}</h{level}>", str(text))


def tidy(frame: pd.DataFrame | pd.Series, *, digits: int = 3) -> tuple[pd.DataFrame, list[str]]:
    """The table as shown and its notes: index kept as columns, the `reason` column taken out,
    all-empty columns dropped, floats rounded."""
    df = frame.to_frame() if isinstance(frame, pd.Series) else frame.copy()
    if not isinstance(df.index, pd.RangeIndex) or any(n is not None for n in df.index.names):
        df = df.reset_index()
    reasons: list[str] = []
    if REASON in df.columns:
        reasons = [str(r) for r in df[REASON].dropna().unique() if str(r).strip()]
        df = df.drop(columns=REASON)
    df = df.loc[:, [c for c in df.columns if df[c].notna().any()]]
    for col in df.columns:
        if pd.api.types.is_float_dtype(df[col]):
            df[col] = df[col].round(digits)
    return df, reasons


def table(frame: Result | pd.DataFrame | pd.Series, *, caption: str | None = None, digits: int = 3,
          empty: str = "nothing to show", hide: tuple[str, ...] = ()) -> None:
    """Show a result table (columns in `hide` left out); an empty one is a note saying `empty`,
    undefined cells read n/a and the reasons (a `reason` column, a `Result`'s notes) follow as
    notes."""
    extra = list(frame.notes) if isinstance(frame, Result) else []
    frame = frame.table if isinstance(frame, Result) else frame
    if hide:
        frame = frame.drop(columns=[c for c in hide if c in frame.columns])
    df, reasons = tidy(frame, digits=digits)
    reasons += extra
    if df.empty or df.shape[1] == 0:
        note(f"{caption + ': ' if caption else ''}{empty}")
        notes(reasons)
        return
    styler = (df.style.hide(axis="index")
              .format(precision=digits, na_rep="n/a", escape="html")
              .format_index(escape="html", axis=1))
    if caption:
        styler = styler.set_caption(html.escape(caption))
    _display(styler, (caption + "\n" if caption else "") + df.to_string(index=False, na_rep="n/a"))
    notes(reasons)


def figure(fig: object) -> None:
    """Show a figure once (as an embedded PNG in the report) and close it; None shows nothing
    (the figure function has already said why there was nothing to draw)."""
    if fig is None:
        return
    import matplotlib.pyplot as plt

    _display(fig, "[figure]")
    plt.close(fig)  # type: ignore[arg-type]
