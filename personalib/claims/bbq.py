"""Claim computations on BBQ beyond per-persona scores (METHODS 5): self-bias ranks (the paper's
Table 2), the companion tables on own-group items (Tables 8 and 9), the persona-group accuracy
ranks per BBQ category (Table 7) and the oracle that answers every item correctly.

Self-bias (A08): for each persona whose demographic is a BBQ group (the persona -> group mapping,
`personalib/data/bbq_persona_groups.yaml`), the items in which exactly one non-unknown answer
belongs to that group are its own items. On them every persona of the model gets a BBQ accuracy
and a bias (METHODS 5); each is averaged over the profile's models and the mapped persona is
ranked among all personas (bias ascending: less biased is better; accuracy descending). Its
overall ranks rank the cross-model means of BBQ bias and accuracy on all items.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from personalib import metrics
from personalib.claims.crossmodel import mean_ranks
from personalib.claims.data import ClaimData, NotComputable, pool, study_models
from personalib.metrics.selfbias import own_answers

SELF_COLUMNS = ["model", "owner", "persona", "accuracy", "bias"]


def _bbq_models(study: Any) -> list[str]:
    return [m for m in study.models_present if study.has("bbq", m)]


def build_self_scores(study: Any) -> pd.DataFrame:
    """Per model, mapped persona present (`owner`) and persona: accuracy and bias on the owner's
    items (one model at a time)."""
    mapping = metrics.load_group_mapping()
    present = study.present_personas("bbq")
    rows = []
    for model in _bbq_models(study):
        scored = study.rows("bbq", model)
        items = study.sources[(model, "bbq")][1]
        item_ids = scored["item_id"].astype(str)
        for owner, group in mapping.items():
            if owner not in present:
                continue
            own = own_answers(items, group)
            sub = scored[item_ids.isin(own.index).to_numpy()]
            if sub.empty:
                continue
            acc = metrics.bbq_accuracy(sub)["bbq"].droplevel(["model", "persona_set"])
            bias = (metrics.bbq_bias(sub)["bias"].droplevel(["model", "persona_set"])
                    if sub["target_loc"].notna().any() else pd.Series(np.nan, index=acc.index))
            rows.append(pd.DataFrame({"model": model, "owner": owner, "persona": acc.index.astype(str),
                                      "accuracy": acc.to_numpy(), "bias": bias.reindex(acc.index).to_numpy()}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=SELF_COLUMNS)


def _self_ranks(data: ClaimData, measure: str) -> tuple[pd.Series, dict[str, str]]:
    """owner -> the rank of its own cross-model mean `measure` on its items among the pool, and
    why an owner has none (some persona lacks the measure on its items in some model)."""
    people = pool(data)
    table = data.table("self_scores", build_self_scores)
    table = table[table["model"].isin(study_models(data))]
    if table.empty:
        raise NotComputable("no persona of the persona -> BBQ group mapping has BBQ answers here")
    ranks, missing = {}, {}
    for owner, part in table.groupby("owner", sort=False):
        wide = part.pivot_table(index="persona", columns="model", values=measure, aggfunc="first")
        wide = wide.reindex(index=people, columns=list(study_models(data)))
        if wide.isna().any().any():
            missing[owner] = (f"self-{measure} on the items of {owner}: not every persona has a "
                              f"{measure} on them in every model")
            continue
        means = wide.mean(axis=1)
        ranks[owner] = int(means.rank(ascending=measure == "bias", method="min")[owner])
    return pd.Series(ranks, dtype="Int64"), missing


def self_rank(data: ClaimData, *, persona: str, measure: str = "bias") -> int:
    """A mapped persona's self-bias (`measure="bias"`) or self-accuracy rank (Table 2)."""
    ranks, missing = _self_ranks(data, measure)
    if persona in missing:
        raise NotComputable(missing[persona])
    if persona not in ranks.index:
        raise NotComputable(f"persona {persona} has no own BBQ items with answers here")
    return int(ranks[persona])


def self_count(data: ClaimData, *, relation: str) -> int:
    """How many mapped personas satisfy `relation` (Table 2): `bias_better` (self-bias rank <
    overall bias rank), `bias_first` (self-bias rank 1), `accuracy_worse` (self-accuracy rank >
    overall accuracy rank), `accuracy_last` (self-accuracy rank = the number of personas); every
    mapped persona of the profile needs its rank."""
    measure = "bias" if relation.startswith("bias") else "accuracy"
    own, missing = _self_ranks(data, measure)
    if missing:
        raise NotComputable(next(iter(missing.values())) + f" (and {len(missing) - 1} more)" * (len(missing) > 1))
    if relation == "bias_first":
        return int((own == 1).sum())
    if relation == "accuracy_last":
        return int((own == len(pool(data))).sum())
    overall = mean_ranks(data, metric="bias" if measure == "bias" else "bbq", ascending=measure == "bias")
    overall = overall.reindex(own.index)
    if relation == "bias_better":
        return int((own < overall).sum())
    if relation == "accuracy_worse":
        return int((own > overall).sum())
    raise NotComputable(f"unknown relation {relation!r}")


def build_companions(study: Any) -> pd.DataFrame:
    """Tables (a) and (b) of METHODS 5 per model: persona, table, context condition, polarity,
    difference (persona minus all personas) on the persona's own items."""
    parts = []
    for model in _bbq_models(study):
        scored = study.rows("bbq", model)
        items = study.sources[(model, "bbq")][1]
        for name, fn in (("accuracy", metrics.self_accuracy_differences),
                         ("own_group", metrics.own_group_differences)):
            long = fn(scored, items)
            if len(long):
                parts.append(long.assign(model=model, table=name, persona=long["persona"].astype(str)))
    columns = ["model", "table", "persona", "context_condition", "question_polarity", "difference"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def _companion(data: ClaimData, table: str) -> pd.DataFrame:
    """persona x (condition, polarity) differences averaged over the models (A09: persona minus
    the average, METHODS 5); every mapped persona present must have them in every model."""
    long = data.table("companions", build_companions)
    long = long[(long["table"] == table) & long["model"].isin(study_models(data))]
    if long.empty:
        raise NotComputable("no companion table: no mapped persona has own BBQ items here")
    wide = long.pivot_table(index=["persona", "context_condition", "question_polarity"], columns="model",
                            values="difference", aggfunc="first").reindex(columns=list(study_models(data)))
    if wide.isna().any().any():
        raise NotComputable(f"companion table {table}: a persona lacks a cell in some model")
    return wide.mean(axis=1).unstack(["context_condition", "question_polarity"])


def companion_average(data: ClaimData, *, table: str, condition: str, polarity: str,
                      scale: float = 100.0) -> float:
    """The Average row of Table 8 (`table="accuracy"`) or 9 (`"own_group"`): the mean over the
    mapped personas of the cross-model mean difference in one cell, times `scale`."""
    wide = _companion(data, table)
    if (condition, polarity) not in wide.columns:
        raise NotComputable(f"no {condition} / {polarity} items of the mapped personas here")
    return float(wide[(condition, polarity)].mean()) * scale


def companion_count(data: ClaimData, *, table: str, condition: str, above: bool = True) -> int:
    """How many cells of one context condition (both polarities, every mapped persona) of a
    companion table are above 0 (below with `above=False`) (C47)."""
    wide = _companion(data, table)
    cells = wide[[c for c in wide.columns if c[0] == condition]]
    return int(((cells > 0) if above else (cells < 0)).sum().sum())


def table7_rank(data: ClaimData, *, group: str, column: str, best: bool = False) -> float:
    """Table 7: a persona group's mean (or best member's) BBQ accuracy rank on one BBQ category's
    items (`column`, or `overall`), ranked on the cross-model mean (A07; METHODS 5 per category)."""
    from personalib.analysis import bbq_tables

    pool(data)
    ranks = data.table("table7", lambda s: bbq_tables.group_ranks(s, bbq_tables.category_accuracy(s)).table)
    scope = bbq_tables.ACROSS if len(study_models(data)) > 1 else study_models(data)[0]
    row = ranks[(ranks["scope"] == scope) & (ranks["group"] == group) & (ranks["column"] == column)]
    if row.empty or pd.isna(row["mean_rank"].iloc[0]):
        raise NotComputable(f"no {group} member with a BBQ accuracy on {column} here")
    return float(row["best_rank" if best else "mean_rank"].iloc[0])


def oracle(data: ClaimData, *, measure: str = "unknown_freq") -> float:
    """The score of a pseudo-persona that answers every BBQ item with its gold answer (C35):
    `unknown_freq` or `bias` (METHODS 5), from the items alone."""
    if "bbq" in data.item_notes:
        raise NotComputable(data.item_notes["bbq"])
    items = data.items.get("bbq")
    if items is None or "target_loc" not in items or not items["target_loc"].notna().any():
        raise NotComputable("the BBQ bias metadata (additional_metadata.csv) is not loaded")
    generations = pd.DataFrame({"model": "oracle", "persona_set": "oracle", "persona": "gold",
                                "dataset": "bbq", "item_id": items["item_id"].astype(str),
                                "text": items["gold"].astype(str)})
    scored = metrics.score(generations, {"bbq": items})
    value = float(metrics.bbq_bias(scored)[measure].iloc[0])
    if np.isnan(value):
        raise NotComputable(f"the oracle's {measure} is undefined: in ambiguous contexts every gold "
                            "answer is 'unknown', so b = 2 n_biased / n_not_unknown - 1 is 0/0 there "
                            "(METHODS 5); the paper's 0 takes s_AMB as 0")
    return value


__all__ = ["build_companions", "build_self_scores", "companion_average", "companion_count", "oracle",
           "self_count", "self_rank", "table7_rank"]
