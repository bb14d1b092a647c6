"""Per-persona metrics of the four research questions (METHODS 5), one module each.

    from personalib.metrics import score, performance_scores, bbq_bias, refusal_rates
    scored = score(generations, {"bbq": bbq.items(), ...}, mode="faithful")
    performance_scores(scored)          # truthfulqa, mmlu, bbq, overall per persona

`score()` (module `scoring`) parses every generation and joins it to its item; every metric takes
its result. Values are indexed by `KEYS` (model, persona_set, persona). Undefined values are NaN
and the reason is in `notes_of(table)`.
"""

from personalib.metrics.attitudes import attitude_scores, statement_means
from personalib.metrics.bias import bbq_bias, category_bias
from personalib.metrics.common import notes_of
from personalib.metrics.experts import EXPERT_GROUPS, expert_member_ranks, expert_ranks
from personalib.metrics.performance import (
    bbq_accuracy,
    bbq_condition_accuracy,
    mmlu_accuracy,
    mmlu_subject_accuracy,
    performance_scores,
    truthfulqa_accuracy,
)
from personalib.metrics.refusals import refusal_rates
from personalib.metrics.scoring import KEYS, per_item, score
from personalib.metrics.selfbias import (
    load_group_mapping,
    own_group_differences,
    self_accuracy_differences,
    self_bias,
)
from personalib.metrics.toxicity import human_means, toxicity_alpha, toxicity_scores

__all__ = [
    "EXPERT_GROUPS", "KEYS", "attitude_scores", "bbq_accuracy", "bbq_bias", "bbq_condition_accuracy",
    "category_bias", "expert_member_ranks", "expert_ranks", "human_means", "load_group_mapping",
    "mmlu_accuracy", "mmlu_subject_accuracy", "notes_of", "own_group_differences", "per_item",
    "performance_scores", "refusal_rates", "score", "self_accuracy_differences", "self_bias",
    "statement_means", "toxicity_alpha", "toxicity_scores", "truthfulqa_accuracy",
]
