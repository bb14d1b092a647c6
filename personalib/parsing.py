"""Answer extraction, hedges and refusals: the study's parsing rules (METHODS 4), exactly.

Scalar forms (`extract_choice`, `extract_rating`, `is_hedge`, `is_refusal`) state the rules with
Python's `re`, as the study did. Vectorised forms (`extract_choices`, `extract_ratings`, `hedges`,
`refusals`, `parse`) give the same answers over a column of generations, fast: each distinct text
is parsed once (`pandas.factorize`), the regular rules run as RE2 kernels of pyarrow.compute over
the distinct texts, and the few texts that need Python semantics (choice rule 5, hedge candidates,
non-ASCII texts for the case-folding and `\\b` rules) go through the scalar forms. Tests check that
both paths agree text by text.

Scoring of "not extracted" (METHODS 4): `faithful` (the study, the default) counts an unparsed
choice as "A" and an unparsed rating as 3; `strict` leaves them missing.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from personalib.errors import PersonalibError

PARSER_VERSION = 1
"""Version of the parsing rules: raise it whenever a rule's result changes, so that the outcome
cache (personalib.outcomes) parses every stored text again."""

Mode = Literal["faithful", "strict"]
MODES: tuple[str, ...] = ("faithful", "strict")
LETTERS = string.ascii_uppercase
FAITHFUL_CHOICE = "A"
"""What an unparsed choice counts as in faithful mode (METHODS 4)."""
FAITHFUL_RATING = 3
"""What an unparsed rating counts as in faithful mode (METHODS 4)."""

HEDGE_PATTERNS: tuple[str, ...] = (
    r"sorry[^.]*\s*((can't)|(cannot)|(unable)|(relevant)|(not able))",
    r"sorry[^.]*[^.]*not[^.]*answer",
    r"i [^.]*(cannot|can't)[^.]*(engage|answer|respon|provide|determine|(make[^.]*claims))",
    r"(?<![a-z][.)\"] )i [^.]*(do not|don't|can't|cannot)[^.]*have",
    r"question is (unrelated|not related)",
    r"(i'm|i am) an (artificial intelligence|ai)[^.]*(do not|don't|can't|cannot)[^.]*have",
    r"(i'm|i am) ((not (capable|able))|(unable))",
    r"not appropriate to [^.]*answer",
)
"""The hedge patterns of METHODS 4, searched in the lower-cased text."""
_HEDGE_RES = tuple(re.compile(p) for p in HEDGE_PATTERNS)
# Every hedge pattern needs one of these literals (lower case): a text without any is no hedge.
_HEDGE_LITERALS = (
    r"sorry|cannot|can't|do not|don't|question is |unable|not capable|not able|not appropriate to "
)
_RATING_RE = re.compile(r"\b\d\b")
_RATING_DIGITS = frozenset("012345")


def _check_n_options(n_options: int) -> int:
    if isinstance(n_options, bool) or not isinstance(n_options, (int, np.integer)):
        raise PersonalibError(f"n_options must be an integer 1..26, got {n_options!r}")
    if not 1 <= int(n_options) <= len(LETTERS):
        raise PersonalibError(f"n_options must be 1..26 (letters A..Z), got {n_options}")
    return int(n_options)


def _letter_class(n_options: int) -> str:
    return f"A-{LETTERS[_check_n_options(n_options) - 1]}"


@lru_cache(maxsize=32)
def _choice_res(n_options: int) -> tuple[re.Pattern[str], ...]:
    L = _letter_class(n_options)
    return (
        re.compile(rf"^[{L}]$"),
        re.compile(rf"[{L}](?= is (the )*correct)"),
        re.compile(rf"[{L}](?= is the answer)"),
        re.compile(rf"[{L}][\.,\n\)]"),
        re.compile(rf"(?<![A-Za-z\.])[{L}][\.\) ]"),
    )


def extract_choice(text: str, n_options: int) -> str | None:
    """The chosen letter by the first matching rule of METHODS 4, or None (not extracted).

    Rules, on the raw text, letters L = A..(n_options-th letter): 1 `^[L]$` (`re.search`, so a
    trailing newline is allowed); 2 `[L](?= is (the )*correct)`; 3 `[L](?= is the answer)`;
    4 first `[L][.,\\n)]`; 5 most common match of `(?<![A-Za-z.])[L][.) ]` (ties: first seen).
    """
    only, correct, answer, letter, fallback = _choice_res(n_options)
    for rule in (only, correct, answer, letter):
        found = rule.search(text)
        if found:
            return found.group()[0]
    matches = fallback.findall(text)
    if not matches:
        return None
    return Counter(matches).most_common(1)[0][0][0]  # Counter keeps first-seen order on ties


def extract_rating(text: str) -> int | None:
    """The rating 1..5 of METHODS 4, or None (not extracted).

    All standalone digits `\\b\\d\\b` that are 0..5; the most common wins (ties: first seen); a
    winning "0" counts as 1 (decided after counting).
    """
    digits = [d for d in _RATING_RE.findall(text) if d in _RATING_DIGITS]
    if not digits:
        return None
    winner = Counter(digits).most_common(1)[0][0]
    return 1 if winner == "0" else int(winner)


def is_hedge(text: str) -> bool:
    """True when the lower-cased text matches any hedge pattern of METHODS 4 (`HEDGE_PATTERNS`)."""
    lowered = text.lower()
    return any(p.search(lowered) for p in _HEDGE_RES)


def is_refusal(text: str, n_options: int | None = None) -> bool:
    """Refusal = hedge and not extracted (METHODS 4); extraction is `extract_choice` when
    `n_options` is given (multiple choice), else `extract_rating` (attitudes, toxicity)."""
    if not is_hedge(text):
        return False
    if n_options is None:
        return extract_rating(text) is None
    return extract_choice(text, n_options) is None


# ---------------------------------------------------------------------------------------------
# Vectorised forms
# ---------------------------------------------------------------------------------------------


def _as_series(texts: Iterable[str] | pd.Series) -> pd.Series:
    """The texts as a Series of strings; missing texts or non-strings are an error."""
    if isinstance(texts, pd.Series):
        series = texts
    elif isinstance(texts, (np.ndarray, pd.Index, pd.api.extensions.ExtensionArray)):
        series = pd.Series(texts)
    else:
        series = pd.Series(list(texts))
    missing = series.isna().to_numpy()
    if missing.any():
        raise PersonalibError(
            f"{int(missing.sum())} generation text(s) are missing (first at row "
            f"{series.index[missing][0]!r}); every generation must have a text (an empty answer "
            "is the empty string)"
        )
    dtype = series.dtype.categories.dtype if isinstance(series.dtype, pd.CategoricalDtype) else series.dtype
    if len(series) and not pd.api.types.is_string_dtype(dtype):
        raise PersonalibError(f"generation texts must be strings, got dtype {series.dtype}")
    return series


def _factorize(texts: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """Row -> distinct-text codes, and the distinct texts as one Arrow string array
    (a categorical column's categories are used as they are)."""
    if isinstance(texts.dtype, pd.CategoricalDtype):
        codes, uniques = texts.cat.codes.to_numpy(), texts.cat.categories.astype("str")
    else:
        codes, uniques = pd.factorize(texts.astype("str"), sort=False)
    arr = pa.array(uniques, type=pa.large_string()) if len(uniques) else pa.array([], pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return codes.astype(np.int64, copy=False), arr


def _first_letter_index(found: pa.Array) -> np.ndarray:
    """Letter index (A=0) of a one-letter string array; -1 where null."""
    encoded = pc.dictionary_encode(found)
    lookup = np.array([ord(s) - 65 for s in encoded.dictionary.to_pylist()] + [-1], np.int8)
    idx = encoded.indices.fill_null(len(lookup) - 1).to_numpy(zero_copy_only=False)
    return lookup[idx] if len(idx) else np.empty(0, np.int8)


def _extract_group(uniq: pa.Array, pattern: str) -> np.ndarray:
    return _first_letter_index(pc.struct_field(pc.extract_regex(uniq, pattern), [0]))


def _choice_indices(uniq: pa.Array, n_options: int) -> np.ndarray:
    """Letter index (A=0, -1 = not extracted) of each distinct text; rules as `extract_choice`.

    Rules 1-4 run as RE2 searches (a capture at the leftmost match start equals Python's lookahead
    form); rules 2-3 only on the texts where either can match; rule 5 (a count) in Python on the
    texts left that have at least one rule-5 match."""
    L = _letter_class(n_options)
    if not len(uniq):
        return np.full(0, -1, np.int8)
    out = _extract_group(uniq, rf"^(?P<l>[{L}])\n?$")
    maybe = pc.match_substring_regex(uniq, rf"[{L}] is (?:the )*correct|[{L}] is the answer")
    todo = np.flatnonzero((out < 0) & maybe.to_numpy(zero_copy_only=False))
    if len(todo):
        sub = uniq.take(pa.array(todo))
        found = _extract_group(sub, rf"(?P<l>[{L}]) is (?:the )*correct")
        third = _extract_group(sub, rf"(?P<l>[{L}]) is the answer")
        out[todo] = np.where(found >= 0, found, third)
    out = np.where(out >= 0, out, _extract_group(uniq, rf"(?P<l>[{L}])[.,\n)]"))
    todo = np.flatnonzero(out < 0)
    if len(todo):
        sub = uniq.take(pa.array(todo))
        has = pc.match_substring_regex(sub, rf"(?:^|[^A-Za-z.])[{L}][.) ]").to_numpy(
            zero_copy_only=False)
        for i, text in zip(todo[has], sub.filter(pa.array(has)).to_pylist()):
            letter = extract_choice(text, n_options)
            out[i] = -1 if letter is None else ord(letter) - 65
    return out


def _python_mask(uniq: pa.Array, prefilter: str) -> np.ndarray:
    """Distinct texts that need the Python rule: non-ASCII ones, and ASCII ones matching prefilter."""
    ascii_ = pc.string_is_ascii(uniq)
    hit = pc.match_substring_regex(uniq, prefilter, ignore_case=True)
    return pc.or_(pc.invert(ascii_), hit).to_numpy(zero_copy_only=False)


def _hedge_flags(uniq: pa.Array) -> np.ndarray:
    """`is_hedge` of each distinct text (ASCII texts without any hedge literal are no hedge)."""
    out = np.zeros(len(uniq), bool)
    if not len(uniq):
        return out
    todo = np.flatnonzero(_python_mask(uniq, _HEDGE_LITERALS))
    for i, text in zip(todo, uniq.take(pa.array(todo)).to_pylist()):
        out[i] = is_hedge(text)
    return out


def _rating_values(uniq: pa.Array) -> np.ndarray:
    """`extract_rating` of each distinct text; 0 = not extracted."""
    out = np.zeros(len(uniq), np.int8)
    if not len(uniq):
        return out
    todo = np.flatnonzero(_python_mask(uniq, r"\b[0-5]\b"))  # ASCII texts without one: none
    for i, text in zip(todo, uniq.take(pa.array(todo)).to_pylist()):
        out[i] = extract_rating(text) or 0
    return out


def _n_options_array(n_options: int | Iterable | None, size: int) -> np.ndarray:
    """Per-row option counts (NA: a rating row, coded 0)."""
    if n_options is None:
        return np.zeros(size, np.int64)
    if isinstance(n_options, (str, bytes)) or np.ndim(n_options) == 0:
        return np.full(size, _check_n_options(n_options), np.int64)  # type: ignore[arg-type]
    try:
        values = pd.array(n_options.array if isinstance(n_options, pd.Series) else n_options,
                          dtype="Int64")
    except (TypeError, ValueError) as exc:
        raise PersonalibError(f"n_options must be whole numbers 1..26 or missing: {exc}") from None
    if len(values) != size:
        raise PersonalibError(f"n_options has {len(values)} values for {size} texts")
    out = values.fillna(0).to_numpy(np.int64)
    for n in np.unique(out[~values.isna()]):
        _check_n_options(int(n))
    return out


def _parse_codes(codes: np.ndarray, uniq: pa.Array, n_rows: np.ndarray) -> dict[str, np.ndarray]:
    """Per-row choice index (-1 none), rating (0 none), extracted and hedge from distinct texts."""
    choice = np.full(len(codes), -1, np.int8)
    rating = np.zeros(len(codes), np.int8)
    for n in np.unique(n_rows):
        rows = np.flatnonzero(n_rows == n)
        needed = np.zeros(len(uniq), bool)
        needed[codes[rows]] = True
        wanted = np.flatnonzero(needed)
        values = np.full(len(uniq), -1 if n else 0, np.int8)
        sub = uniq if len(wanted) == len(uniq) else uniq.take(pa.array(wanted))
        values[wanted] = _choice_indices(sub, int(n)) if n else _rating_values(sub)
        (choice if n else rating)[rows] = values[codes[rows]]
    extracted = np.where(n_rows > 0, choice >= 0, rating > 0)
    return {"choice": choice, "rating": rating, "extracted": extracted,
            "hedge": _hedge_flags(uniq)[codes]}


def parse_arrays(texts: Iterable[str] | pd.Series,
                 n_options: int | Iterable | None = None) -> dict[str, np.ndarray]:
    """Raw parse as numpy arrays (fast path for scoring): `choice` letter index (A=0, -1 = not
    extracted; multiple-choice rows), `rating` 1..5 (0 = not extracted; rating rows, where
    `n_options` is None/NA), `extracted`, `hedge` and `refusal` (= hedge and not extracted)."""
    series = _as_series(texts)
    n_rows = _n_options_array(n_options, len(series))
    codes, uniq = _factorize(series)
    out = _parse_codes(codes, uniq, n_rows)
    out["refusal"] = out["hedge"] & ~out["extracted"]
    return out


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise PersonalibError(f"parsing mode must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def _letters(index: np.ndarray) -> pd.Series:
    table = np.array([*LETTERS, None], dtype=object)
    return pd.Series(table[np.where(index < 0, len(LETTERS), index)], dtype="str")


def extract_choices(texts: Iterable[str] | pd.Series, n_options: int | Iterable) -> pd.Series:
    """`extract_choice` over many texts (one n_options or one per text): letters, NA = not
    extracted (METHODS 4). Index follows `texts` when it is a Series."""
    series = _as_series(texts)
    n_rows = _n_options_array(n_options, len(series))
    if (n_rows == 0).any():
        raise PersonalibError("extract_choices needs n_options for every text (got a missing one)")
    codes, uniq = _factorize(series)
    out = _letters(_parse_codes(codes, uniq, n_rows)["choice"])
    return out.set_axis(series.index)


def extract_ratings(texts: Iterable[str] | pd.Series) -> pd.Series:
    """`extract_rating` over many texts: Int64 1..5, NA = not extracted (METHODS 4)."""
    series = _as_series(texts)
    codes, uniq = _factorize(series)
    rating = _parse_codes(codes, uniq, np.zeros(len(series), np.int64))["rating"]
    return pd.Series(pd.array(np.where(rating > 0, rating, 0), dtype="Int64"),
                     index=series.index).mask(rating == 0)


def hedges(texts: Iterable[str] | pd.Series) -> pd.Series:
    """`is_hedge` over many texts (bool Series)."""
    series = _as_series(texts)
    codes, uniq = _factorize(series)
    return pd.Series(_hedge_flags(uniq)[codes], index=series.index, dtype=bool)


def refusals(texts: Iterable[str] | pd.Series, n_options: int | Iterable | None = None) -> pd.Series:
    """`is_refusal` over many texts; `n_options` is one count, one per text (NA = rating), or None
    (all ratings)."""
    series = _as_series(texts)
    return pd.Series(parse_arrays(series, n_options)["refusal"], index=series.index, dtype=bool)


def scored_codes(choice: np.ndarray, rating: np.ndarray, mc: np.ndarray, mode: Mode) -> tuple[np.ndarray, np.ndarray]:
    """The raw parse's choice codes (-1: none) and ratings (0: none) as scored under `mode`
    (METHODS 4): faithful counts an unparsed choice of a multiple-choice row (`mc`) as
    `FAITHFUL_CHOICE` and an unparsed rating of a rating row as `FAITHFUL_RATING`; strict keeps
    them unparsed. Returns int64 arrays."""
    choice = np.asarray(choice).astype(np.int64)
    rating = np.asarray(rating).astype(np.int64)
    if mode == "faithful":
        choice = np.where(mc & (choice < 0), LETTERS.index(FAITHFUL_CHOICE), choice)
        rating = np.where(~mc & (rating == 0), FAITHFUL_RATING, rating)
    return choice, rating


def parse(texts: Iterable[str] | pd.Series, n_options: int | Iterable | None = None,
          mode: Mode = "faithful") -> pd.DataFrame:
    """Parse a column of generations (METHODS 4) into a table with the index of `texts`:

    `answer` (letter; multiple-choice rows), `rating` (Int64 1..5; rating rows: `n_options` None or
    NA), `extracted`, `hedge`, `refusal`. Faithful mode (default) scores an unparsed choice as "A"
    and an unparsed rating as 3; strict mode leaves them NA. `extracted` and `refusal` are the same
    in both modes.
    """
    _check_mode(mode)
    series = _as_series(texts)
    raw = parse_arrays(series, n_options)
    mc = _n_options_array(n_options, len(series)) > 0
    choice, rating = scored_codes(raw["choice"], raw["rating"], mc, mode)
    answer = _letters(np.where(mc, choice, -1))
    ratings = pd.array(rating, dtype="Int64")
    ratings[mc | (rating == 0)] = pd.NA
    return pd.DataFrame({"answer": answer.to_numpy(), "rating": ratings,
                         "extracted": raw["extracted"], "hedge": raw["hedge"],
                         "refusal": raw["refusal"]}, index=series.index)
