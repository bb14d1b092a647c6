"""Claim computations for the expert personas on MMLU (the paper's Tables 1 and 6, METHODS 5).

Each expert group (technology, law, psychology, healthcare: `personalib.metrics.EXPERT_GROUPS`)
has its subject group and its field (STEM, humanities, social sciences, other: the field of its
subjects in the MMLU items). Per persona, the accuracy on a subset of subjects is the mean of
those subjects' accuracies (`mmlu:subjects:<group>`, `mmlu:field:<field>`, `mmlu` for all; A05:
the mean of per-subject accuracies), averaged over the profile's models and ranked among all
personas (1 = most accurate, ties sharing the best rank). A group's rank on a scope is the mean of
its members' ranks; its best member's rank is the smallest.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from personalib.claims.crossmodel import mean_ranks
from personalib.claims.data import ClaimData, NotComputable
from personalib.metrics.experts import EXPERT_GROUPS

NO_PERSONA = "empty"
SCOPES = ("subjects", "field", "overall")
FIELDS = ("humanities", "STEM", "social sciences", "other")


def own_field(data: ClaimData, group: str) -> str:
    """The MMLU field of an expert group's subjects (from the MMLU items)."""
    items = data.items.get("mmlu")
    if items is None or "field" not in items:
        raise NotComputable("the MMLU items (with their fields) are not loaded in this profile")
    subjects = EXPERT_GROUPS[group][1]
    fields = set(items.loc[items["subject"].isin(subjects), "field"].astype(str))
    if len(fields) != 1:
        raise NotComputable(f"the {group} subjects are in {len(fields)} fields in these MMLU items")
    return fields.pop()


def scope_metric(data: ClaimData, group: str, scope: str) -> str:
    """The metric of a group's scope: its subjects, its own field, or MMLU overall; `scope` may
    also name a field (`STEM`, ...)."""
    if scope == "subjects":
        return f"mmlu:subjects:{group}"
    if scope == "field":
        return f"mmlu:field:{own_field(data, group)}"
    if scope == "overall":
        return "mmlu"
    if scope in FIELDS:
        return f"mmlu:field:{scope}"
    raise NotComputable(f"unknown scope {scope!r}: subjects, field, overall or a field")


def _member_ranks(data: ClaimData, group: str, scope: str) -> tuple[pd.Series, int]:
    """The members' ranks on a scope, and no persona's."""
    ranks = mean_ranks(data, metric=scope_metric(data, group, scope))
    members = [m for m in EXPERT_GROUPS[group][0] if m in ranks.index]
    if not members:
        raise NotComputable(f"no {group} expert persona in this profile")
    if NO_PERSONA not in ranks.index:
        raise NotComputable("the no-persona condition (empty) is not in this profile")
    return ranks[members], int(ranks[NO_PERSONA])


def group_rank(data: ClaimData, *, group: str, scope: str, best: bool = False) -> float:
    """The group's mean rank (or its best member's rank) on a scope."""
    ranks, _ = _member_ranks(data, group, scope)
    return float(ranks.min() if best else ranks.mean())


def no_persona_rank(data: ClaimData, *, group: str, scope: str) -> int:
    """No persona's rank on a group's scope (its subjects, its field or overall)."""
    return _member_ranks(data, group, scope)[1]


def best_beats_no_persona(data: ClaimData, *, groups: Sequence[str], scope: str = "subjects") -> int:
    """In how many groups the best member outranks no persona on the scope (C18)."""
    count = 0
    for group in groups:
        ranks, empty = _member_ranks(data, group, scope)
        count += bool(ranks.min() < empty)
    return count


def best_beats_but_mean_loses(data: ClaimData, *, groups: Sequence[str], scope: str = "subjects") -> bool:
    """For every group: best member's rank < no persona's rank < the group's mean rank (C19)."""
    for group in groups:
        ranks, empty = _member_ranks(data, group, scope)
        if not ranks.min() < empty < ranks.mean():
            return False
    return True


def narrowing_groups(data: ClaimData, *, groups: Sequence[str]) -> int:
    """In how many groups the mean rank improves strictly from overall to field to subjects (C20)."""
    count = 0
    for group in groups:
        means = [_member_ranks(data, group, s)[0].mean() for s in ("overall", "field", "subjects")]
        count += bool(means[0] > means[1] > means[2])
    return count


def own_field_best(data: ClaimData, *, groups: Sequence[str]) -> int:
    """In how many groups the own field is the best (lowest mean rank) of the four fields (C23 b)."""
    count = 0
    for group in groups:
        means = {f: _member_ranks(data, group, f)[0].mean() for f in FIELDS}
        count += bool(min(means, key=lambda f: (means[f], f)) == own_field(data, group))
    return count


def own_group_best(data: ClaimData, *, groups: Sequence[str]) -> int:
    """In how many of the groups' own fields the own group has the best mean rank of the groups
    (C23 a)."""
    count = 0
    for group in groups:
        field = own_field(data, group)
        means = {g: _member_ranks(data, g, field)[0].mean() for g in groups}
        count += bool(min(means, key=lambda g: (means[g], g)) == group)
    return count


def beaten_by_no_persona(data: ClaimData, *, groups: Sequence[str], scope: str = "field") -> int:
    """In how many groups no persona outranks both the group's mean and its best member (C25)."""
    count = 0
    for group in groups:
        ranks, empty = _member_ranks(data, group, scope)
        count += bool(empty < ranks.min() and empty < ranks.mean())
    return count


__all__ = ["FIELDS", "beaten_by_no_persona", "best_beats_but_mean_loses", "best_beats_no_persona",
           "group_rank", "narrowing_groups", "no_persona_rank", "own_field", "own_field_best",
           "own_group_best", "scope_metric"]
