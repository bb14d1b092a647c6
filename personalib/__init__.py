"""personalib: reproduction package for Araujo & Roth (2024), "Helpful assistant or fruitful
facilitator? Investigating how personas affect language model behavior" (arXiv 2407.02099).

The study's rules are in METHODS.md (shared with the project); docs/DESIGN.md maps them to modules.
"""

__version__ = "0.1.0"

DATASETS: tuple[str, ...] = ("truthfulqa", "mmlu", "bbq", "attitudes", "toxicity")
