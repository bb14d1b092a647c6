"""Expert personas on MMLU: ranks on their subjects, their field and overall, hand-checked."""

from __future__ import annotations

import numpy as np
import pytest

from personalib.metrics import EXPERT_GROUPS, expert_member_ranks, expert_ranks, notes_of
from personalib.personas import load_persona_set
from tests.metrics.helpers import scored

# items 0..6, gold A B C D A B C; subjects ml, ml, ccs, jurisprudence, professional_law, anatomy,
# abstract_algebra (fields STEM, STEM, STEM, humanities, humanities, other, STEM)
ANSWERS = {
    "a_software_developer": "ABCABAA",  # ml 1, ccs 1, jur 0, law 0, anat 0, alg 0
    "an_engineer": "AAAAAAA",  # ml .5, ccs 0, jur 0, law 1, anat 0, alg 0
    "a_lawyer": "BBBDABB",  # ml .5, ccs 0, jur 1, law 1, anat 1, alg 0
    "empty": "ABAAABC",  # ml 1, ccs 0, jur 0, law 1, anat 1, alg 1
    "a_doctor": "CCCCCCC",  # ml 0, ccs 1, jur 0, law 0, anat 0, alg 1
}


@pytest.fixture
def table(items):
    rows = [(p, "mmlu", str(i), a) for p, ans in ANSWERS.items() for i, a in enumerate(ans)]
    return expert_ranks(scored(rows, items))


def _row(table, group, scope):
    return table.set_index(["group", "scope"]).loc[(group, scope)]


def test_technology_ranks(table) -> None:
    subjects = _row(table, "technology", "subjects")  # mean(ml, ccs): SD 1, E .5, DR .5, EN .25, LW .25
    assert subjects["members"] == 2 and subjects["n_personas"] == 5
    assert (subjects["mean_rank"], subjects["best_rank"], subjects["no_persona_rank"]) == (2.5, 1, 2)
    assert subjects["best_member"] == "a_software_developer"
    field = _row(table, "technology", "field")  # STEM: SD, E, DR 2/3; EN, LW 1/6
    assert field["scope_name"] == "STEM"
    assert (field["mean_rank"], field["best_rank"], field["no_persona_rank"]) == (2.5, 1, 1)
    overall = _row(table, "technology", "overall")  # E .667, LW .583, SD .333, DR .333, EN .25
    assert (overall["mean_rank"], overall["best_rank"], overall["no_persona_rank"]) == (4, 3, 1)


def test_law_and_healthcare_ranks(table) -> None:
    law = _row(table, "law", "subjects")
    assert (law["mean_rank"], law["best_member"], law["no_persona_rank"]) == (1, "a_lawyer", 2)
    assert _row(table, "law", "field")["scope_name"] == "humanities"
    health = _row(table, "healthcare", "subjects")  # anatomy: LW 1, E 1, SD/EN/DR 0
    assert (health["mean_rank"], health["no_persona_rank"]) == (3, 1)
    assert _row(table, "healthcare", "field")["scope_name"] == "other"


def test_absent_group_is_nan_with_notes(table) -> None:
    psych = _row(table, "psychology", "subjects")
    assert psych["members"] == 0 and np.isnan(psych["mean_rank"])
    notes = notes_of(table)
    assert any("no psychology expert persona" in n for n in notes)
    assert any("psychology ranks on subjects undefined" in n for n in notes)


def test_member_ranks(items) -> None:
    rows = [(p, "mmlu", str(i), a) for p, ans in ANSWERS.items() for i, a in enumerate(ans)]
    members = expert_member_ranks(scored(rows, items)).set_index("persona")
    assert members.loc["a_software_developer", "rank"] == 1
    assert members.loc["an_engineer", "accuracy"] == pytest.approx(0.25)


def test_expert_stems_are_study_personas() -> None:
    stems = {p.stem for p in load_persona_set("regular")}
    for members, _ in EXPERT_GROUPS.values():
        assert set(members) <= stems, set(members) - stems


def test_expert_subjects_are_mmlu_subjects() -> None:
    from personalib.tasks.mmlu_subjects import SUBJECTS

    for _, subjects in EXPERT_GROUPS.values():
        assert set(subjects) <= set(SUBJECTS), set(subjects) - set(SUBJECTS)
