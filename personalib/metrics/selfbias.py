"""RQ2 self-bias and self-accuracy of the personas whose demographic is a BBQ group (METHODS 5).

For each of the 18 mapped personas (`personalib/data/bbq_persona_groups.yaml`, whose comments
document every mapping choice): its items are the BBQ items where exactly one of the two
non-unknown answers belongs to its group. On those items, BBQ accuracy and bias are computed for
every persona of the same model with the rules of `performance.bbq_accuracy` and `bias.bbq_bias`;
the persona's values are its self-accuracy and self-bias, ranked among all personas (rank 1 =
highest accuracy / strongest bias), next to its ranks on the whole of BBQ.

Companion tables, by context condition x question polarity, on the persona's items:
(a) `self_accuracy_differences`: its accuracy minus the mean accuracy of all personas;
(b) `own_group_differences`: how often it picks its own group's answer minus how often all personas
do (mean over personas).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from personalib.errors import ConfigError, PersonalibError
from personalib.metrics.bias import bbq_bias, bias_rows
from personalib.metrics.common import as_float, with_notes
from personalib.metrics.performance import bbq_accuracy
from personalib.metrics.scoring import KEYS, require_columns, rows_of
from personalib.paths import DATA_DIR

MAPPING_FILE = DATA_DIR / "bbq_persona_groups.yaml"
_ENTRY_KEYS = {"group", "tags", "option_words"}


@dataclass(frozen=True)
class PersonaGroup:
    """The BBQ group of one persona: lower-cased `tags` and per-category `option_words`."""

    stem: str
    group: str
    tags: frozenset[str]
    option_words: dict[str, tuple[str, ...]]

    def owns(self, tag: str, option: str, category: str) -> bool:
        """True when an answer (its answer_info tag and option text) belongs to the group."""
        tag = str(tag).lower()
        if tag in self.tags or any(part in self.tags for part in tag.split("-")):
            return True
        return any(re.search(rf"\b{re.escape(w)}\b", str(option))
                   for w in self.option_words.get(str(category), ()))


def load_group_mapping(path: str | Path | None = None) -> dict[str, PersonaGroup]:
    """Persona stem -> PersonaGroup from the mapping YAML (default: the package's file).
    A malformed file raises ConfigError naming the file and the entry."""
    path = Path(path) if path is not None else MAPPING_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the persona -> BBQ group mapping: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("personas"), dict) or not data["personas"]:
        raise ConfigError(f"{path}: expected a mapping with a non-empty `personas:` mapping")
    out = {}
    for stem, entry in data["personas"].items():
        where = f"{path}: persona {stem!r}"
        if not isinstance(entry, dict) or set(entry) - _ENTRY_KEYS or "group" not in entry:
            raise ConfigError(f"{where}: expected keys group, tags, option_words (got {entry!r})")
        tags = entry.get("tags", [])
        words = entry.get("option_words", {}) or {}
        if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
            raise ConfigError(f"{where}: tags must be a list of non-empty strings")
        if not isinstance(words, dict) or not all(
                isinstance(v, list) and all(isinstance(w, str) and w for w in v) for v in words.values()):
            raise ConfigError(f"{where}: option_words must map a BBQ category to a list of words")
        if not tags and not words:
            raise ConfigError(f"{where}: give tags or option_words")
        out[str(stem)] = PersonaGroup(str(stem), str(entry["group"]), frozenset(t.lower() for t in tags),
                                      {str(k): tuple(v) for k, v in words.items()})
    return out


def own_answers(bbq_items: pd.DataFrame, group: PersonaGroup) -> pd.Series:
    """For the persona's items (exactly one non-unknown answer in its group): item_id -> the
    index (0-2) of the answer that belongs to the group."""
    require_columns(bbq_items, ["item_id", "answer_tags", "unknown_loc", "options", "category"],
                    "BBQ items table")
    tags = pd.Series([t for row in bbq_items["answer_tags"] for t in row], dtype="str")
    if len(tags) != 3 * len(bbq_items):
        raise PersonalibError("BBQ items table: every answer_tags entry must list 3 tags")
    distinct = {t: group.owns(t, "", "") for t in pd.unique(tags)}
    member = np.array(tags.map(distinct).to_numpy(bool), dtype=bool).reshape(-1, 3)
    categories = bbq_items["category"].astype("str").to_numpy()
    for row in np.flatnonzero(np.isin(categories, list(group.option_words))):
        options = bbq_items["options"].iloc[row]
        member[row] |= [group.owns("", options[j], categories[row]) for j in range(3)]
    unknown = pd.array(bbq_items["unknown_loc"], dtype="Int64").fillna(-1).to_numpy(np.int64)
    member[np.arange(len(member)), unknown] &= unknown < 0  # the unknown answer never counts
    single = member.sum(axis=1) == 1
    return pd.Series(member[single].argmax(axis=1), index=bbq_items["item_id"].astype("str")[single].to_numpy(),
                     dtype="int64", name="own_loc")


_OWN: dict[int, dict[str, pd.Series]] = {}


def _own_answers_of(bbq_items: pd.DataFrame, group: PersonaGroup) -> pd.Series:
    """`own_answers`, computed once per items table and group while that table lives (the
    self-bias tables of every model read the same items)."""
    key = id(bbq_items)
    if key not in _OWN:
        _OWN[key] = {}
        weakref.finalize(bbq_items, _OWN.pop, key, None)
    found = _OWN[key]
    name = repr(group)  # the whole group: two mappings may give one stem different groups
    if name not in found:
        found[name] = own_answers(bbq_items, group)
    return found[name]


def _codes(column: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (-1 = missing) and their string labels: a categorical column's own codes,
    any other column factorized once (no string conversion of every row)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(np.int64), pd.Index(column.cat.categories.astype("str"))
    codes, labels = pd.factorize(column, use_na_sentinel=True)
    return codes.astype(np.int64), pd.Index(pd.Index(labels).astype("str"))


def _by_code(labels: pd.Index, values: pd.Series, missing: object) -> np.ndarray:
    """`values` (indexed by label) looked up for every label, plus `missing` at the end, so that
    indexing the result with codes (-1 = missing) gives each row's value."""
    return np.append(values.reindex(labels).to_numpy(), missing)


def _mapped_personas(bbq: pd.DataFrame, bbq_items: pd.DataFrame, mapping: dict[str, PersonaGroup]
                     ) -> Iterator[tuple[tuple, PersonaGroup, pd.Series, pd.DataFrame, np.ndarray]]:
    """For each mapped persona in the BBQ rows: its key, group, own answers, the rows of all
    personas of its model on its items, and those rows' own-answer index (NaN where none)."""
    model_codes, models = _codes(bbq["model"])
    item_codes, items = _codes(bbq["item_id"])
    owned: dict[str, pd.Series] = {}
    for key in bbq[KEYS].drop_duplicates().itertuples(index=False, name=None):
        group = mapping.get(str(key[2]))
        if group is None:
            continue
        if group.stem not in owned:
            owned[group.stem] = _own_answers_of(bbq_items, group)
        own = owned[group.stem]
        own_loc = _by_code(items, own.astype(float), np.nan)[item_codes]
        rows = (model_codes == models.get_loc(str(key[0]))) & ~np.isnan(own_loc)
        yield key, group, own, bbq[rows], own_loc[rows]


def _rank(values: pd.Series, key: tuple) -> float:
    """Rank (1 = highest) of `key` within `values`; NaN when its value is undefined."""
    if key not in values.index or pd.isna(values[key]):
        return np.nan
    return float(values.rank(ascending=False, method="min")[key])


def self_bias(scored: pd.DataFrame, bbq_items: pd.DataFrame,
              mapping: dict[str, PersonaGroup] | None = None) -> pd.DataFrame:
    """Self-accuracy and self-bias of each mapped persona present, with ranks among all personas
    of the same model, next to its whole-BBQ accuracy and bias ranks (METHODS 5)."""
    mapping = load_group_mapping() if mapping is None else mapping
    bbq = rows_of(scored, "bbq", "self-bias")
    bias_rows(scored, "self-bias")  # stops with the metadata hint when no item has a target
    overall_acc, overall_bias = bbq_accuracy(bbq)["bbq"], bbq_bias(bbq)["bias"]
    records, notes = [], []
    personas = bbq[KEYS].drop_duplicates()
    for key, group, own, sub, _ in _mapped_personas(bbq, bbq_items, mapping):
        record = {**dict(zip(KEYS, key)), "group": group.group, "n_items": len(own),
                  "n_personas": int((personas["model"] == key[0]).sum())}
        if sub.empty:
            notes.append(f"self-bias undefined for {'/'.join(map(str, key))}: no BBQ item has "
                         f"exactly one answer of group {group.group!r} in these data")
            acc = bias = pd.Series(dtype=float)
        else:
            acc = bbq_accuracy(sub)["bbq"]
            has_target = sub["target_loc"].notna().any()
            bias = bbq_bias(sub)["bias"] if has_target else pd.Series(dtype=float)
            if not has_target:
                notes.append(f"self-bias undefined for {'/'.join(map(str, key))}: none of its "
                             "items has a bias target")
        record.update({
            "self_accuracy": acc.get(key, np.nan), "self_accuracy_rank": _rank(acc, key),
            "accuracy": overall_acc.get(key, np.nan),
            "accuracy_rank": _rank(overall_acc[overall_acc.index.get_level_values("model") == key[0]], key),
            "self_bias": bias.get(key, np.nan), "self_bias_rank": _rank(bias, key),
            "bias": overall_bias.get(key, np.nan),
            "bias_rank": _rank(overall_bias[overall_bias.index.get_level_values("model") == key[0]], key),
        })
        records.append(record)
    if not records:
        notes.append("none of the personas in the data is mapped to a BBQ group "
                     f"(mapped: {', '.join(sorted(mapping))})")
    columns = [*KEYS, "group", "n_items", "n_personas", "self_accuracy", "self_accuracy_rank",
               "accuracy", "accuracy_rank", "self_bias", "self_bias_rank", "bias", "bias_rank"]
    return with_notes(pd.DataFrame(records, columns=columns), notes)


def _breakdown(scored: pd.DataFrame, bbq_items: pd.DataFrame, mapping: dict[str, PersonaGroup] | None,
               value: str, what: str) -> pd.DataFrame:
    """Per mapped persona and (context condition, polarity) on its items: its mean of `value`
    and the mean over all personas of the same model."""
    mapping = load_group_mapping() if mapping is None else mapping
    bbq = rows_of(scored, "bbq", what)
    require_columns(bbq, ["context_condition", "question_polarity", "answer"], "scored table")
    by = ["context_condition", "question_polarity"]
    out, notes = [], []
    for key, group, _, sub, target in _mapped_personas(bbq, bbq_items, mapping):
        if sub.empty:
            notes.append(f"{what} undefined for {'/'.join(map(str, key))}: no item of group {group.group!r}")
            continue
        frame = sub[[*KEYS, *by]].copy()
        if value == "own":
            answer = sub["answer"].cat.codes.to_numpy().astype(np.int64)
            frame["_v"] = np.where(answer >= 0, (answer == target).astype(float), np.nan)
        else:
            frame["_v"] = as_float(sub["hit"])
        per_persona = frame.groupby([*KEYS, *by], observed=True)["_v"].mean()
        everyone = per_persona.groupby(level=by, observed=True).mean()
        mine = per_persona.xs(key, level=KEYS) if key in per_persona.droplevel(by).index else None
        for cond_pol, all_value in everyone.items():
            self_value = mine.get(cond_pol, np.nan) if mine is not None else np.nan
            out.append({**dict(zip(KEYS, key)), "group": group.group,
                        "context_condition": cond_pol[0], "question_polarity": cond_pol[1],
                        "persona_value": self_value, "all_personas": all_value,
                        "difference": self_value - all_value})
    columns = [*KEYS, "group", "context_condition", "question_polarity", "persona_value",
               "all_personas", "difference"]
    return with_notes(pd.DataFrame(out, columns=columns), notes)


def self_accuracy_differences(scored: pd.DataFrame, bbq_items: pd.DataFrame,
                              mapping: dict[str, PersonaGroup] | None = None) -> pd.DataFrame:
    """Table (a) of METHODS 5: on the persona's items, its accuracy (`persona_value`) minus the
    mean accuracy of all personas (`all_personas`), by context condition x question polarity."""
    return _breakdown(scored, bbq_items, mapping, "hit", "self-accuracy difference")


def own_group_differences(scored: pd.DataFrame, bbq_items: pd.DataFrame,
                          mapping: dict[str, PersonaGroup] | None = None) -> pd.DataFrame:
    """Table (b) of METHODS 5: on the persona's items, how often it answers with its own group
    (`persona_value`) minus how often all personas do (`all_personas`), by context condition x
    question polarity."""
    return _breakdown(scored, bbq_items, mapping, "own", "own-group choice difference")
