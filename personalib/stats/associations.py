"""Human vs persona associations between attitudes and toxicity ratings (METHODS 6, RQ3).

Two kinds of Pearson correlation matrix are compared between humans and each model:

1. Attitudes x attitudes (7 x 7). Humans: one row per annotator of `largeScale.csv` (its seven
   attitude scores, taken from the annotator's first row). Models: one row per persona (the
   persona's seven questionnaire scores, METHODS 5).
2. Attitudes x annotations (7 x 6). The six annotation columns are mean ratings
   `{off, rac}_{antiBlack, aae, vulgar}`: the mean offensiveness (`off_avg` / measure `off`) or
   racism (`racist` / measure `rac`) rating on the tweets that target Black people, are in African
   American English, or are vulgar (tweet flags `targets_black`, `is_aae`, `vulgar`).
   Humans: per annotator, the mean of *their own* ratings over the flagged tweets *they* rated,
   next to their attitude scores; the correlation runs across annotators. Models: per persona, the
   mean of the persona's ratings over all flagged tweets among the 626, next to the persona's
   attitude scores; the correlation runs across the personas of one model (193 in the study).

Correlations use pairwise-complete rows (an annotator who rated no AAE tweet has no `*_aae` mean)
and are computed with scipy `pearsonr` (r and p). Model and human matrices are compared by cosine
similarity (scipy) of their entries: the upper triangle without the diagonal (21 values) for the
square attitude matrices, all 42 entries (row-major) for the attitude x annotation matrices. The
original rounded correlations to two decimals before the cosine; this package does not round.
Random baseline (as in the study): `np.random.seed(42)` then `np.random.uniform(1, 5,
size=(193, 7))` as attitude scores; for the annotation columns the study seeded 42 again and drew
`np.random.uniform(1, 5, size=193)` six times, in the order of `ANNOTATIONS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.spatial.distance import cosine as _cosine_distance
from scipy.stats import pearsonr

from personalib.errors import PersonalibError
from personalib.stats.result import quiet, require_columns, text_columns

# largeScale.csv attitude column -> questionnaire dimension (attitude_questions.json, METHODS 3).
HUMAN_ATTITUDE_COLUMNS: dict[str, str] = {
    "freeSpeech": "freedom of speech",
    "harmHateSpeech": "harm of hate speech",
    "racism": "racist beliefs",
    "traditionalism": "traditionalism",
    "lingPurism": "language purism",
    "empathy": "empathy",
    "altruism": "altruism",
}
ATTITUDES: tuple[str, ...] = tuple(HUMAN_ATTITUDE_COLUMNS.values())
# Annotation column prefix -> (model measure, human rating column); tweet group -> item flag.
MEASURES: dict[str, str] = {"off": "off_avg", "rac": "racist"}
TWEET_GROUPS: dict[str, str] = {"antiBlack": "targets_black", "aae": "is_aae", "vulgar": "vulgar"}
ANNOTATIONS: tuple[str, ...] = tuple(f"{m}_{g}" for m in MEASURES for g in TWEET_GROUPS)
STUDY_N_PERSONAS = 193
MIN_ROWS = 3


@dataclass(frozen=True)
class CorrelationResult:
    """Pearson correlation matrix `r`, its p-values `p` and pairwise-complete row counts `n`.

    `reason` says which entries are undefined (NaN) and why; None when every entry is defined.
    """

    r: pd.DataFrame
    p: pd.DataFrame
    n: pd.DataFrame
    reason: str | None = None


@dataclass(frozen=True)
class Similarity:
    """Cosine similarity of two correlation matrices over `n` entries; NaN with a reason when
    an entry is undefined in either matrix or a vector is all zeros."""

    value: float
    n: int
    reason: str | None = None


def pearson_matrix(
    table: pd.DataFrame, rows: Sequence[str] | None = None, columns: Sequence[str] | None = None
) -> CorrelationResult:
    """Pearson r and p (scipy `pearsonr`) between the `rows` and `columns` variables of `table`
    over pairwise-complete rows; all numeric columns x all when both are None (METHODS 6).

    An entry is NaN when a variable is constant over the shared rows or fewer than three rows are
    shared; the reason names them.
    """
    rows = list(table.columns) if rows is None else list(rows)
    columns = rows if columns is None else list(columns)
    require_columns(table, [*rows, *columns], "correlation matrix")
    data = table[list(dict.fromkeys([*rows, *columns]))].apply(pd.to_numeric, errors="coerce")
    r = pd.DataFrame(np.nan, index=rows, columns=columns)
    p, n = r.copy(), pd.DataFrame(0, index=rows, columns=columns)
    constant: list[str] = []
    few: list[str] = []
    for a in rows:
        for b in columns:
            pair = data[[a, b]].dropna() if a != b else data[[a]].dropna()
            n.loc[a, b] = len(pair)
            if len(pair) < MIN_ROWS:
                few.append(f"{a} x {b}" if a != b else a)
                continue
            flat = [v for v in dict.fromkeys((a, b)) if pair[v].nunique() == 1]
            if flat:
                constant.extend(v for v in flat if v not in constant)
                continue
            if a == b:
                r.loc[a, b], p.loc[a, b] = 1.0, 0.0
                continue
            with quiet():
                res = pearsonr(pair[a], pair[b])
            r.loc[a, b], p.loc[a, b] = float(res.statistic), float(res.pvalue)
    parts = []
    if constant:
        verb = "has" if len(constant) == 1 else "have"
        parts.append(f"{', '.join(map(repr, constant))} {verb} the same value in every row: "
                     "correlations with it are undefined")
    if few:
        parts.append(f"fewer than {MIN_ROWS} shared rows for {', '.join(few[:6])}"
                     + (f" and {len(few) - 6} more" if len(few) > 6 else ""))
    return CorrelationResult(r, p, n, "; ".join(parts) or None)


def tweet_flags(tweets: pd.DataFrame, *, tweet: str = "tweet_index") -> pd.DataFrame:
    """Per tweet the three flags (`targets_black`, `is_aae`, `vulgar`), indexed by `tweet`.

    `tweets` may be the toxicity items table (two rows per tweet: off and rac); rows are reduced to
    one per tweet, and a tweet whose flags differ between its rows is an error.
    """
    require_columns(tweets, [tweet, *TWEET_GROUPS.values()], "tweet flags")
    flags = tweets[[tweet, *TWEET_GROUPS.values()]].drop_duplicates()
    if flags[tweet].duplicated().any():
        bad = flags.loc[flags[tweet].duplicated(), tweet].tolist()[0]
        raise PersonalibError(f"tweet flags: tweet {bad!r} has conflicting flags in the tweets table")
    return flags.set_index(tweet).astype(bool)


def human_attitudes(annotations: pd.DataFrame, *, annotator: str = "annId") -> pd.DataFrame:
    """One row per annotator (their first row, as the study did) with the seven attitude scores,
    renamed to the questionnaire's dimension names (`ATTITUDES`)."""
    require_columns(annotations, [annotator, *HUMAN_ATTITUDE_COLUMNS], "human attitudes")
    people = annotations.drop_duplicates(annotator).set_index(annotator)
    return people[list(HUMAN_ATTITUDE_COLUMNS)].rename(columns=HUMAN_ATTITUDE_COLUMNS).astype(float)


def human_annotation_means(
    annotations: pd.DataFrame, tweets: pd.DataFrame, *, annotator: str = "annId",
    tweet: str = "tweet_index",
) -> pd.DataFrame:
    """Per annotator, the mean of their own `off_avg` / `racist` ratings over the tweets they rated
    that target Black people, are AAE, or are vulgar (`ANNOTATIONS` columns; NaN when they rated
    no such tweet)."""
    require_columns(annotations, [annotator, tweet, *MEASURES.values()], "human annotation means")
    flags = tweet_flags(tweets, tweet=tweet)
    unknown = sorted(set(annotations[tweet].tolist()) - set(flags.index.tolist()))
    if unknown:
        raise PersonalibError(f"human annotation means: {len(unknown)} tweet(s) in the annotations "
                              f"are not in the tweets table (e.g. {tweet} = {unknown[0]!r})")
    data = annotations.join(flags, on=tweet)
    people = pd.Index(annotations[annotator].drop_duplicates(), name=annotator)
    out = pd.DataFrame(index=people)
    for prefix, rating in MEASURES.items():
        for group, flag in TWEET_GROUPS.items():
            sub = data[data[flag]]
            out[f"{prefix}_{group}"] = sub.groupby(annotator)[rating].mean().reindex(people)
    return out.astype(float)


def persona_annotation_means(
    ratings: pd.DataFrame, tweets: pd.DataFrame, *, value: str = "rating",
    persona: str = "persona", measure: str = "measure", tweet: str = "tweet_index",
) -> pd.DataFrame:
    """Per persona of one model, its mean rating (measure `off` or `rac`) over the flagged tweets
    (`ANNOTATIONS` columns). `ratings`: one row per persona x measure x tweet."""
    require_columns(ratings, [persona, measure, tweet, value], "persona annotation means")
    flags = tweet_flags(tweets, tweet=tweet)
    data = ratings.join(flags, on=tweet)
    if data[list(TWEET_GROUPS.values())].isna().any().any():
        raise PersonalibError("persona annotation means: some rated tweets are not in the tweets "
                              f"table; pass the toxicity items with their '{tweet}' values")
    personas = pd.Index(ratings[persona].drop_duplicates(), name=persona)
    out = pd.DataFrame(index=personas)
    for prefix in MEASURES:
        for group, flag in TWEET_GROUPS.items():
            sub = data[(data[measure] == prefix) & data[flag].astype(bool)]
            out[f"{prefix}_{group}"] = sub.groupby(persona)[value].mean().reindex(personas)
    return out.astype(float)


def attitude_correlations(scores: pd.DataFrame, attitudes: Sequence[str] = ATTITUDES
                          ) -> CorrelationResult:
    """7 x 7 Pearson matrix among the attitudes; rows of `scores` are annotators or personas."""
    return pearson_matrix(scores, list(attitudes))


def attitude_annotation_correlations(
    attitudes: pd.DataFrame, annotation_means: pd.DataFrame,
    attitude_columns: Sequence[str] = ATTITUDES,
) -> CorrelationResult:
    """7 x 6 Pearson matrix (rows attitudes, columns `ANNOTATIONS`) across the rows shared by the
    two tables (annotators, or one model's personas; matched on the index)."""
    require_columns(attitudes, list(attitude_columns), "attitude x annotation correlations")
    require_columns(annotation_means, list(ANNOTATIONS), "attitude x annotation correlations")
    joined = attitudes[list(attitude_columns)].join(annotation_means[list(ANNOTATIONS)], how="inner")
    if joined.empty:
        raise PersonalibError(
            "attitude x annotation correlations: the attitude table and the annotation means share "
            "no row label (annotator id or persona stem); index both by the same ids"
        )
    return pearson_matrix(joined, list(attitude_columns), list(ANNOTATIONS))


def _vector(m: pd.DataFrame, part: str) -> tuple[np.ndarray, list[str]]:
    """Entries of a correlation matrix as a vector, with their labels."""
    if part == "upper":
        if list(m.index) != list(m.columns):
            raise PersonalibError("cosine similarity with part='upper' needs square matrices with "
                                  "the same row and column labels; use part='full'")
        i, j = np.triu_indices(len(m), k=1)
    else:
        i, j = (a.reshape(-1) for a in np.indices(m.shape))
    labels = [f"{m.index[a]} x {m.columns[b]}" for a, b in zip(i, j, strict=True)]
    return m.to_numpy(dtype=float)[i, j], labels


def cosine_similarity(
    a: CorrelationResult | pd.DataFrame, b: CorrelationResult | pd.DataFrame,
    *, part: Literal["upper", "full"] = "upper",
) -> Similarity:
    """Cosine similarity (scipy) of two correlation matrices' entries (METHODS 6): the upper
    triangle without the diagonal (`part="upper"`) or every entry row-major (`part="full"`).
    `b` is aligned to `a`'s labels; NaN with a reason when an entry is undefined in either."""
    ma = a.r if isinstance(a, CorrelationResult) else a
    mb = b.r if isinstance(b, CorrelationResult) else b
    if part not in ("upper", "full"):
        raise PersonalibError(f"cosine similarity: part must be 'upper' or 'full'; got {part!r}")
    if set(ma.index) != set(mb.index) or set(ma.columns) != set(mb.columns):
        raise PersonalibError("cosine similarity: the two matrices have different labels "
                              f"({list(ma.index)} x {list(ma.columns)} vs "
                              f"{list(mb.index)} x {list(mb.columns)})")
    va, labels = _vector(ma, part)
    vb, _ = _vector(mb.loc[ma.index, ma.columns], part)
    undefined = [lab for lab, x, y in zip(labels, va, vb, strict=True) if np.isnan(x) or np.isnan(y)]
    if len(undefined) == len(va):
        return Similarity(float("nan"), len(va), f"all {len(va)} correlations are undefined in one "
                          "of the matrices: the cosine similarity is undefined")
    if undefined:
        more = f" and {len(undefined) - 3} more" if len(undefined) > 3 else ""
        return Similarity(float("nan"), len(va), f"undefined correlation(s) {', '.join(undefined[:3])}"
                          f"{more}: the cosine similarity is undefined")
    if not va.any() or not vb.any():
        return Similarity(float("nan"), len(va), "a correlation vector is all zeros: the cosine "
                                                 "similarity is undefined")
    return Similarity(float(1.0 - _cosine_distance(va, vb)), len(va))


def similarity_table(
    human: CorrelationResult, models: Mapping[str, CorrelationResult],
    random: CorrelationResult | None = None, *, part: Literal["upper", "full"] = "upper",
) -> pd.DataFrame:
    """Cosine similarity of each model's matrix (and of the random baseline, labelled
    "random baseline") with the human matrix: columns model, cosine, n_entries, reason."""
    entries = dict(models)
    if random is not None:
        entries["random baseline"] = random
    rows = []
    for name, result in entries.items():
        sim = cosine_similarity(human, result, part=part)
        rows.append({"model": name, "cosine": sim.value, "n_entries": sim.n, "reason": sim.reason})
    return text_columns(pd.DataFrame(rows, columns=["model", "cosine", "n_entries", "reason"]),
                        ["reason"])


def _legacy_uniform(shapes: Sequence[int | tuple[int, ...]]) -> list[np.ndarray]:
    """`np.random.seed(42)` then `np.random.uniform(1, 5, size=s)` for each shape, exactly as the
    study did with numpy's legacy global RNG; the caller's global RNG state is restored after."""
    state = np.random.get_state()
    try:
        np.random.seed(42)
        return [np.random.uniform(1, 5, size=s) for s in shapes]
    finally:
        np.random.set_state(state)


def random_attitudes(n: int = STUDY_N_PERSONAS) -> pd.DataFrame:
    """The study's random baseline attitude scores: seed 42, uniform(1, 5, size=(n, 7))."""
    (draw,) = _legacy_uniform([(n, len(ATTITUDES))])
    return pd.DataFrame(draw, columns=list(ATTITUDES), index=pd.RangeIndex(n, name="persona"))


def random_annotation_means(n: int = STUDY_N_PERSONAS) -> pd.DataFrame:
    """The study's random annotation means: seed 42 again, then six uniform(1, 5, size=n) draws
    in `ANNOTATIONS` order (off_antiBlack, off_aae, off_vulgar, rac_antiBlack, rac_aae,
    rac_vulgar)."""
    draws = _legacy_uniform([n] * len(ANNOTATIONS))
    return pd.DataFrame(dict(zip(ANNOTATIONS, draws, strict=True)),
                        index=pd.RangeIndex(n, name="persona"))


__all__ = [
    "ANNOTATIONS", "ATTITUDES", "HUMAN_ATTITUDE_COLUMNS", "CorrelationResult", "Similarity",
    "attitude_annotation_correlations", "attitude_correlations", "cosine_similarity",
    "human_annotation_means", "human_attitudes", "pearson_matrix", "persona_annotation_means",
    "random_annotation_means", "random_attitudes", "similarity_table", "tweet_flags",
]
