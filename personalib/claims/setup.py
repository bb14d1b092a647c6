"""Setup and data-count claims (S01-S12): counts of personas, categories, items, statements and
annotators in the profile's persona sets and task items (METHODS 1, 3, 3b)."""

from __future__ import annotations

import pandas as pd

from personalib.claims.data import ClaimData, NotComputable

CONTROL_SEED = "a_helpful_assistant"
"""The control persona the 29 paraphrases were made from (METHODS 3b)."""


def _set(data: ClaimData, persona_set: str) -> pd.DataFrame:
    """Every persona of a persona set of the profile (all of them, whatever `personas` keeps)."""
    people = data.set_personas if data.set_personas is not None else data.personas
    part = people[people["persona_set"] == persona_set]
    if part.empty:
        raise NotComputable(f"persona set {persona_set!r} is not in this profile")
    return part


def persona_count(data: ClaimData, *, persona_set: str) -> int:
    """Number of personas in a persona set."""
    return int(_set(data, persona_set)["persona"].nunique())


def personas_in_sets(data: ClaimData, *, persona_sets: list[str]) -> int:
    """Number of distinct personas in the named persona sets together."""
    return int(pd.concat([_set(data, name) for name in persona_sets])["persona"].nunique())


def category_count(data: ClaimData, *, persona_set: str) -> int:
    """Number of persona categories in a persona set."""
    return int(_set(data, persona_set)["category"].nunique())


def category_sizes(data: ClaimData, *, persona_set: str) -> dict[str, int]:
    """Personas per category of a persona set."""
    return {str(k): int(v) for k, v in _set(data, persona_set)["category"].value_counts().items()}


def paraphrase_count(data: ClaimData, *, persona_set: str = "control") -> int:
    """Control personas other than "a helpful assistant": the GPT-4 paraphrases (METHODS 3b)."""
    people = set(_set(data, persona_set)["persona"])
    if CONTROL_SEED not in people:
        raise NotComputable(f"persona set {persona_set!r} lacks {CONTROL_SEED}")
    return len(people) - 1


def paraphrase_top_p(data: ClaimData) -> float:
    """The nucleus-sampling top-p this package uses to regenerate the paraphrases (METHODS 3b)."""
    from personalib.decoding import PARAPHRASE_DECODING

    return float(PARAPHRASE_DECODING.top_p)


def bbq_group_personas(data: ClaimData) -> int:
    """Personas of the profile that the persona -> BBQ group mapping covers (METHODS 5)."""
    from personalib.metrics import load_group_mapping

    stems = set(load_group_mapping())
    people = data.set_personas if data.set_personas is not None else data.personas
    absent = sorted(stems - set(people["persona"]))
    if absent:
        raise NotComputable(f"mapped persona(s) {', '.join(absent[:3])} not in this profile")
    return len(stems)


def _items(data: ClaimData, dataset: str) -> pd.DataFrame:
    if dataset in data.item_notes:
        raise NotComputable(data.item_notes[dataset])
    items = data.items.get(dataset)
    if items is None or len(items) == 0:
        raise NotComputable(f"the {dataset} items are not loaded in this profile")
    return items


def item_count(data: ClaimData, *, dataset: str, subsample: bool = False) -> int:
    """Number of items (prompts) of a dataset; `subsample`: of the study's GPT-4 subsample."""
    items = _items(data, dataset)
    if subsample:
        if "in_subsample" not in items or not items["in_subsample"].any():
            raise NotComputable(f"the {dataset} items carry no study subsample ids")
        items = items[items["in_subsample"].astype(bool)]
    return len(items)


def subsample_share(data: ClaimData, *, dataset: str) -> float:
    """Share of the dataset's items in the study's GPT-4 subsample."""
    return item_count(data, dataset=dataset, subsample=True) / item_count(data, dataset=dataset)


def max_per_group(data: ClaimData, *, dataset: str, group: str, subsample: bool = False) -> int:
    """The largest number of items of one `group` value (e.g. per MMLU subject)."""
    items = _items(data, dataset)
    if subsample:
        item_count(data, dataset=dataset, subsample=True)  # says when there is no subsample
        items = items[items["in_subsample"].astype(bool)]
    if group not in items.columns:
        raise NotComputable(f"the {dataset} items have no {group!r} column")
    return int(items[group].value_counts().max())


def options_per_item(data: ClaimData, *, dataset: str) -> int:
    """The number of answer options of every item (NotComputable when it varies)."""
    counts = set(_items(data, dataset)["n_options"].dropna().astype(int))
    if len(counts) != 1:
        raise NotComputable(f"the {dataset} items have {sorted(counts) or 'no'} options")
    return counts.pop()


def distinct_count(data: ClaimData, *, dataset: str, column: str, hint: str | None = None) -> int:
    """Number of distinct values of an item column (subjects, categories, statements); `hint`
    says where the column could come from when the items lack it."""
    items = _items(data, dataset)
    if column not in items.columns:
        raise NotComputable(f"the {dataset} items have no {column!r} column" + (f" ({hint})" if hint else ""))
    return int(items[column].nunique())


def group_sizes(data: ClaimData, *, dataset: str, group: str, column: str) -> dict[str, int]:
    """Per value of `group`, the number of distinct `column` values (statements per attitude)."""
    items = _items(data, dataset)
    missing = [c for c in (group, column) if c not in items.columns]
    if missing:
        raise NotComputable(f"the {dataset} items have no {missing} column")
    sizes = items.groupby(group, sort=False, observed=True)[column].nunique()
    return {str(k): int(v) for k, v in sizes.items()}


def variants_per_block(data: ClaimData, *, dataset: str, block: str, column: str) -> int:
    """The number of `column` values per `block` (instruction variants per statement); all blocks
    must have the same number."""
    sizes = set(group_sizes(data, dataset=dataset, group=block, column=column).values())
    if len(sizes) != 1:
        raise NotComputable(f"the {dataset} blocks have different numbers of {column}: {sorted(sizes)}")
    return sizes.pop()


def annotator_count(data: ClaimData) -> int:
    """Number of human annotators in the toxicity annotations (`annId`)."""
    if "toxicity" in data.item_notes:
        raise NotComputable(data.item_notes["toxicity"])
    if data.annotations is None:
        raise NotComputable("the human annotations (largeScale.csv) are not loaded in this profile")
    return int(data.annotations["annId"].nunique())


def model_count(data: ClaimData) -> int:
    """Number of models with generations in this profile."""
    return len(data.models)


__all__ = ["annotator_count", "bbq_group_personas", "category_count", "category_sizes", "distinct_count", "group_sizes",
           "item_count", "max_per_group", "model_count", "options_per_item", "paraphrase_count",
           "paraphrase_top_p", "persona_count", "personas_in_sets", "subsample_share",
           "variants_per_block"]
