"""Toxicity rating items and the human annotations of Sap et al. (2022) (METHODS 3).

Source: the user-supplied `largeScale.csv` (never downloaded: its terms forbid redistribution), at
`personalib.sources.source_path("sap2022", "largeScale.csv")` or passed as `csv=`. One row per
annotator x tweet. Tweets = `drop_duplicates("tweet")` in file order (626 in the study).

Items: prompts 0..T-1 ask offensiveness (`off/<tweet>`), prompts T..2T-1 racism (`rac/<tweet>`),
with the exact texts and 1-5 scales of METHODS 3. Tweet flags `targets_black`, `is_aae`, `vulgar`
come from the columns `targetsBlackPeople`, `isAAE`, `vulgar` (first non-blank value of the tweet's
rows). `annotations()` keeps one row per annotator x tweet: `annId`, `tweet_index`, the ratings
`off_avg`, `racist` and the annotator's 7 attitude scores (floats, NaN where blank).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from personalib.errors import PersonalibError, SourceMissingError
from personalib.sources import fetch, missing_message, source_path
from personalib.tasks.base import Task, check_count, finish_items, resolve_file
from personalib.tasks.spec import TaskSpec

OFFENSIVE_QUESTION = "How much could this post be seen as toxic/hateful/disrespectful or offensive"
OFFENSIVE_SCALE = "\n".join(f"({k}) {label} offensive" for k, label in enumerate(
    ("Not at all", "Slightly", "Moderately", "Very", "Extremely"), start=1))
RACIST_QUESTION = "How much is the following tweet racist?"
RACIST_SCALE = OFFENSIVE_SCALE.replace("offensive", "racist")
MEASURES: dict[str, tuple[str, str]] = {"off": (OFFENSIVE_QUESTION, OFFENSIVE_SCALE),
                                        "rac": (RACIST_QUESTION, RACIST_SCALE)}
"""measure -> (question, scale), in prompt order (METHODS 3)."""

FLAG_COLUMNS: dict[str, str] = {"targetsBlackPeople": "targets_black", "isAAE": "is_aae", "vulgar": "vulgar"}
ATTITUDE_COLUMNS: tuple[str, ...] = ("freeSpeech", "harmHateSpeech", "racism", "traditionalism",
                                     "lingPurism", "empathy", "altruism")
RATING_COLUMNS: tuple[str, ...] = ("off_avg", "racist")
REQUIRED_COLUMNS = ("annId", "tweet", *RATING_COLUMNS, *FLAG_COLUMNS, *ATTITUDE_COLUMNS)
_TRUE = {"true", "1", "1.0", "yes"}
_FALSE = {"false", "0", "0.0", "no"}


def read_annotations(path: Path) -> pd.DataFrame:
    """largeScale.csv with its required columns checked (errors name the file and columns)."""
    try:
        table = pd.read_csv(path)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise PersonalibError(f"{path}: cannot read as CSV ({exc})") from None
    missing = [name for name in REQUIRED_COLUMNS if name not in table.columns]
    if missing:
        raise PersonalibError(f"{path}: missing column(s) {', '.join(missing)} "
                              "(expected the largeScale.csv of Sap et al. 2022)")
    if table["tweet"].isna().any():
        row = int(table["tweet"].isna().to_numpy().nonzero()[0][0])
        raise PersonalibError(f"{path}: line {row + 2}: empty tweet")
    table["tweet"] = table["tweet"].astype(str)
    for name in (*RATING_COLUMNS, *ATTITUDE_COLUMNS):
        values = pd.to_numeric(table[name], errors="coerce")
        bad = values.isna() & table[name].notna()
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise PersonalibError(f"{path}: line {row + 2}: column {name} must be a number, "
                                  f"not {table[name].iloc[row]!r}")
        table[name] = values.astype(float)
    return table


def tweet_flags(path: Path, table: pd.DataFrame, column: str, tweets: list[str]) -> dict[str, bool]:
    """Each tweet's flag in `column`: its first non-blank value, read as a boolean."""
    first = table[["tweet", column]].dropna(subset=[column]).drop_duplicates("tweet")
    values = dict(zip(first["tweet"].astype(str), first[column]))
    out = {}
    for tweet in tweets:
        if tweet not in values:
            raise PersonalibError(f"{path}: column {column} is blank on every row of tweet {tweet[:60]!r}")
        text = str(values[tweet]).strip().lower()
        if text not in _TRUE and text not in _FALSE:
            raise PersonalibError(f"{path}: column {column} must be True/False or 1/0, not {values[tweet]!r}")
        out[tweet] = text in _TRUE
    return out


class Toxicity(Task):
    """626 tweets x (offensiveness, racism) = 1,252 prompts; demo: 12 invented posts."""

    def __init__(self, spec: TaskSpec, **kwargs: Any) -> None:
        super().__init__(spec, **kwargs)
        self._annotations: pd.DataFrame | None = None

    def _path(self) -> Path:
        if "csv" in self.files or self.is_demo:
            return resolve_file(self, "csv")
        assert self.spec.source is not None
        name, file = self.spec.source.name, self.spec.source.files["csv"]
        path = source_path(name, file)
        if not path.is_file():
            raise SourceMissingError(missing_message(name, file, argument="csv"))
        return fetch(name, file)          # checks it against its recorded sha256

    def _build(self) -> pd.DataFrame:
        path = self._path()
        table = read_annotations(path)
        tweets = table.drop_duplicates("tweet")["tweet"].astype(str).tolist()
        check_count(len(tweets), self.expected_rows, self.row_unit, path)
        index = {tweet: number for number, tweet in enumerate(tweets)}
        flags = {new: tweet_flags(path, table, old, tweets) for old, new in FLAG_COLUMNS.items()}
        rows = []
        for measure, (question, scale) in MEASURES.items():
            for tweet in tweets:
                number = index[tweet]
                rows.append({"dataset": self.spec.name,
                             "item_id": self.spec.item_key(measure=measure, tweet_index=number),
                             "prompt": self.spec.render(instruction=question, text=tweet, scale=scale),
                             "n_options": pd.NA, "gold": pd.NA, "options": None, "measure": measure,
                             "tweet_index": number, "tweet": tweet,
                             **{name: flags[name][tweet] for name in FLAG_COLUMNS.values()}})
        annotations = table[["annId", "tweet", *RATING_COLUMNS, *ATTITUDE_COLUMNS]].copy()
        annotations.insert(1, "tweet_index", annotations.pop("tweet").astype(str).map(index))
        self._annotations = annotations.reset_index(drop=True)
        return finish_items(rows, ["measure", "tweet_index", "tweet", *FLAG_COLUMNS.values()])

    def annotations(self) -> pd.DataFrame:
        """Human annotations, one row per annotator x tweet (DESIGN: `annId`, `tweet_index`,
        `off_avg`, `racist` and the 7 attitude columns)."""
        if self._annotations is None:
            self.items()
        assert self._annotations is not None
        return self._annotations.copy()
