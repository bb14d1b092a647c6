"""MMLU's 57 subjects as data: subcategory, field and test-split row count.

The subject -> subcategory -> field map is the standard one of the MMLU authors (hendrycks/test
`categories.py`: STEM, humanities, social sciences, other (business, health, misc.)), used by METHODS 5
for the expert-persona analysis; the field "other" stands for "other (business, health, misc.)". Row
counts are those of `cais/mmlu` all/test (14,042 rows); the study's GPT-4 subsample keeps at most 250
rows per subject (`subsample_size()` = 10,219).
"""

from __future__ import annotations

FIELDS: tuple[str, ...] = ("STEM", "humanities", "social sciences", "other")
SUBSAMPLE_PER_SUBJECT = 250

SUBJECTS: dict[str, tuple[str, str, int]] = {
    "abstract_algebra": ("math", "STEM", 100),
    "anatomy": ("health", "other", 135),
    "astronomy": ("physics", "STEM", 152),
    "business_ethics": ("business", "other", 100),
    "clinical_knowledge": ("health", "other", 265),
    "college_biology": ("biology", "STEM", 144),
    "college_chemistry": ("chemistry", "STEM", 100),
    "college_computer_science": ("computer science", "STEM", 100),
    "college_mathematics": ("math", "STEM", 100),
    "college_medicine": ("health", "other", 173),
    "college_physics": ("physics", "STEM", 102),
    "computer_security": ("computer science", "STEM", 100),
    "conceptual_physics": ("physics", "STEM", 235),
    "econometrics": ("economics", "social sciences", 114),
    "electrical_engineering": ("engineering", "STEM", 145),
    "elementary_mathematics": ("math", "STEM", 378),
    "formal_logic": ("philosophy", "humanities", 126),
    "global_facts": ("other", "other", 100),
    "high_school_biology": ("biology", "STEM", 310),
    "high_school_chemistry": ("chemistry", "STEM", 203),
    "high_school_computer_science": ("computer science", "STEM", 100),
    "high_school_european_history": ("history", "humanities", 165),
    "high_school_geography": ("geography", "social sciences", 198),
    "high_school_government_and_politics": ("politics", "social sciences", 193),
    "high_school_macroeconomics": ("economics", "social sciences", 390),
    "high_school_mathematics": ("math", "STEM", 270),
    "high_school_microeconomics": ("economics", "social sciences", 238),
    "high_school_physics": ("physics", "STEM", 151),
    "high_school_psychology": ("psychology", "social sciences", 545),
    "high_school_statistics": ("math", "STEM", 216),
    "high_school_us_history": ("history", "humanities", 204),
    "high_school_world_history": ("history", "humanities", 237),
    "human_aging": ("health", "other", 223),
    "human_sexuality": ("culture", "social sciences", 131),
    "international_law": ("law", "humanities", 121),
    "jurisprudence": ("law", "humanities", 108),
    "logical_fallacies": ("philosophy", "humanities", 163),
    "machine_learning": ("computer science", "STEM", 112),
    "management": ("business", "other", 103),
    "marketing": ("business", "other", 234),
    "medical_genetics": ("health", "other", 100),
    "miscellaneous": ("other", "other", 783),
    "moral_disputes": ("philosophy", "humanities", 346),
    "moral_scenarios": ("philosophy", "humanities", 895),
    "nutrition": ("health", "other", 306),
    "philosophy": ("philosophy", "humanities", 311),
    "prehistory": ("history", "humanities", 324),
    "professional_accounting": ("other", "other", 282),
    "professional_law": ("law", "humanities", 1534),
    "professional_medicine": ("health", "other", 272),
    "professional_psychology": ("psychology", "social sciences", 612),
    "public_relations": ("politics", "social sciences", 110),
    "security_studies": ("politics", "social sciences", 245),
    "sociology": ("culture", "social sciences", 201),
    "us_foreign_policy": ("politics", "social sciences", 100),
    "virology": ("health", "other", 166),
    "world_religions": ("philosophy", "humanities", 171),
}
"""subject -> (subcategory, field, rows in all/test)."""


def subject_field(subject: str) -> str | None:
    """The field (STEM / humanities / social sciences / other) of an MMLU subject; None if unknown."""
    entry = SUBJECTS.get(subject)
    return entry[1] if entry else None


def total_rows() -> int:
    """Rows of MMLU all/test: the sum over the 57 subjects (14,042)."""
    return sum(rows for _, _, rows in SUBJECTS.values())


def subsample_size() -> int:
    """Rows of the study's GPT-4 subsample: at most 250 per subject (METHODS 3; 10,219)."""
    return sum(min(rows, SUBSAMPLE_PER_SUBJECT) for _, _, rows in SUBJECTS.values())
