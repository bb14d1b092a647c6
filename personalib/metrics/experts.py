"""RQ1 expert personas on MMLU (METHODS 5).

Four expert groups and their MMLU subject groups; each group's personas are ranked among all
personas of the same model (rank 1 = most accurate) on three scopes: the subject group (mean of
its subjects' accuracies), the group's field (mean of the accuracies of every subject of that
field: STEM, humanities, social sciences, other, from the items' `field` column) and MMLU overall
(mean of all subject accuracies). Reported per group and scope: the members' average rank, the
best member and its rank, and the no-persona (`empty`) rank.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from personalib.metrics.common import with_notes
from personalib.metrics.performance import mmlu_subject_accuracy
from personalib.metrics.scoring import KEYS, require_columns, rows_of

EXPERT_GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "technology": (
        ("a_person_in_technology_industry", "a_software_developer", "an_engineer"),
        ("college_computer_science", "computer_security", "high_school_computer_science",
         "machine_learning"),
    ),
    "law": (
        ("a_person_in_law_industry", "a_lawyer"),
        ("international_law", "jurisprudence", "professional_law"),
    ),
    "psychology": (
        ("a_psychologist",),
        ("high_school_psychology", "professional_psychology"),
    ),
    "healthcare": (
        ("a_person_in_medical_industry", "a_doctor", "a_dentist", "a_physician", "an_orthodontist",
         "a_surgeon", "a_veterinarian", "a_nurse", "a_physical_therapist", "an_optometrist",
         "a_anesthesiologist"),
        ("anatomy", "clinical_knowledge", "college_medicine", "human_aging", "medical_genetics",
         "nutrition", "professional_medicine", "virology"),
    ),
}
"""Expert group -> (persona stems, MMLU subjects), METHODS 5."""
NO_PERSONA = "empty"


def _field_of(fields: pd.Series, subjects: tuple[str, ...]) -> str | None:
    found = sorted({fields[s] for s in subjects if s in fields.index})
    return found[0] if len(found) == 1 else None


def expert_ranks(scored: pd.DataFrame) -> pd.DataFrame:
    """Per model, expert group and scope (`subjects`, `field`, `overall`): the members present,
    their mean rank and best rank (with the best member), the no-persona rank, and the number
    of personas ranked. NaN with a note where a scope has no data or no member is present."""
    part = rows_of(scored, "mmlu", "expert ranks")
    require_columns(part, ["subject", "field"], "scored table")
    subject_acc = mmlu_subject_accuracy(part)
    fields = part[["subject", "field"]].drop_duplicates().astype("str").set_index("subject")["field"]
    records, notes = [], []
    for model, acc in subject_acc.groupby(level="model", observed=True):
        personas = acc.index.get_level_values("persona").astype("str")
        for group, (members, subjects) in EXPERT_GROUPS.items():
            field = _field_of(fields, subjects)
            scopes = {
                "subjects": [s for s in subjects if s in acc.columns],
                "field": [s for s in acc.columns if field is not None and fields.get(s) == field],
                "overall": list(acc.columns),
            }
            present = [m for m in members if m in set(personas)]
            if not present:
                notes.append(f"{model}: no {group} expert persona in the data ({', '.join(members)})")
            for scope, cols in scopes.items():
                record = {"model": model, "group": group, "scope": scope,
                          "scope_name": {"subjects": group, "field": field, "overall": "MMLU"}[scope],
                          "members": len(present), "n_personas": len(acc)}
                score = acc[cols].mean(axis=1) if cols else pd.Series(np.nan, index=acc.index)
                if not cols or score.isna().all():
                    notes.append(f"{model}: {group} ranks on {scope} undefined: no MMLU answers "
                                 f"for {'its subjects' if scope == 'subjects' else 'that field'}")
                ranks = pd.Series(score.rank(ascending=False, method="min").to_numpy(), index=personas)
                member_ranks = ranks[present].dropna() if present else pd.Series(dtype=float)
                record.update({
                    "mean_rank": member_ranks.mean() if len(member_ranks) else np.nan,
                    "best_rank": member_ranks.min() if len(member_ranks) else np.nan,
                    "best_member": member_ranks.idxmin() if len(member_ranks) else None,
                    "no_persona_rank": ranks.get(NO_PERSONA, np.nan),
                })
                records.append(record)
    columns = ["model", "group", "scope", "scope_name", "members", "n_personas", "mean_rank",
               "best_rank", "best_member", "no_persona_rank"]
    return with_notes(pd.DataFrame(records, columns=columns), notes)


def expert_member_ranks(scored: pd.DataFrame) -> pd.DataFrame:
    """Per model, expert persona present: its accuracy and rank on its group's subjects
    (rank 1 = most accurate of all personas of the model)."""
    subject_acc = mmlu_subject_accuracy(rows_of(scored, "mmlu", "expert ranks"))
    records = []
    for model, acc in subject_acc.groupby(level="model", observed=True):
        personas = acc.index.get_level_values("persona").astype("str")
        for group, (members, subjects) in EXPERT_GROUPS.items():
            cols = [s for s in subjects if s in acc.columns]
            score = pd.Series(acc[cols].mean(axis=1).to_numpy() if cols else np.nan, index=personas)
            ranks = score.rank(ascending=False, method="min")
            for member in members:
                if member in score.index:
                    records.append({"model": model, "group": group, "persona": member,
                                    "accuracy": score[member], "rank": ranks[member],
                                    "n_personas": len(score)})
    return pd.DataFrame(records, columns=["model", "group", "persona", "accuracy", "rank", "n_personas"])
