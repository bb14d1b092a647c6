"""Statistics of the study (METHODS 6), computed with statsmodels, scipy and pingouin.

- `omnibus`: Cochran's Q (items x personas, binary outcomes) and Friedman (statements or tweets x
  personas) per model and dataset / attitude / measure.
- `consistency`: Kendall tau-b cross-model consistency of persona rankings within categories.
- `associations`: human vs persona Pearson correlation matrices, cosine similarity, random baseline.
- `disparity`: std ratios against control personas, arbitrary refusals, top/bottom personas.
- uncertainty: `outcomes` (items x personas outcome classes of one model and dataset),
  `composite` (per-persona scores from per-stratum counts), `intervals` (Wilson and stratified
  bootstrap intervals), `permutation` (within-item permutation null of the top-bottom gap, control
  gap), `pairwise` (McNemar with Holm's correction for pairs named in advance).

Degenerate data (one persona, identical answers, one model, constant control scores) never raises:
results carry NaN and a plain-language `reason`. docs/statistics.md describes each test.
"""

from personalib.stats.associations import (
    ANNOTATIONS,
    ATTITUDES,
    HUMAN_ATTITUDE_COLUMNS,
    CorrelationResult,
    Similarity,
    attitude_annotation_correlations,
    attitude_correlations,
    cosine_similarity,
    human_annotation_means,
    human_attitudes,
    pearson_matrix,
    persona_annotation_means,
    random_annotation_means,
    random_attitudes,
    similarity_table,
    tweet_flags,
)
from personalib.stats.composite import (
    Score,
    bbq_accuracy,
    bbq_bias,
    rate,
    score_values,
    stratum_mean,
    study_outcomes,
    study_scores,
)
from personalib.stats.consistency import (
    CONSISTENCY_THRESHOLD,
    consensus_ranking,
    cross_model_consistency,
)
from personalib.stats.disparity import (
    CONTROL,
    SYNONYM_PAIRS,
    refusal_pairs,
    score_gap,
    std_ratios,
    top_bottom,
)
from personalib.stats.intervals import bootstrap_scores, interval_table, score_intervals, wilson_interval
from personalib.stats.omnibus import (
    STUDY_FAMILIES,
    cochrans_q,
    cochrans_q_table,
    effect_size,
    friedman,
    friedman_attitudes,
    friedman_table,
    friedman_toxicity,
)
from personalib.stats.outcomes import Outcomes, encode, from_long
from personalib.stats.pairwise import holm, mcnemar_pairs
from personalib.stats.permutation import (
    GapNull,
    control_gap,
    describe_gap,
    gap_null,
    gap_result,
    gap_table,
    permutation_gap,
    permutation_nulls,
)
from personalib.stats.result import StatResult, to_matrix

__all__ = [
    "ANNOTATIONS", "ATTITUDES", "CONSISTENCY_THRESHOLD", "CONTROL", "HUMAN_ATTITUDE_COLUMNS",
    "STUDY_FAMILIES", "SYNONYM_PAIRS", "CorrelationResult", "GapNull", "Outcomes", "Score",
    "Similarity", "StatResult", "attitude_annotation_correlations", "attitude_correlations",
    "bbq_accuracy", "bbq_bias", "bootstrap_scores", "cochrans_q", "cochrans_q_table",
    "consensus_ranking", "control_gap", "cosine_similarity", "cross_model_consistency",
    "describe_gap", "effect_size", "encode", "friedman", "friedman_attitudes", "friedman_table",
    "friedman_toxicity", "from_long", "gap_null", "gap_result", "gap_table", "holm",
    "interval_table", "human_annotation_means",
    "human_attitudes", "mcnemar_pairs", "pearson_matrix", "permutation_gap", "permutation_nulls",
    "persona_annotation_means", "random_annotation_means", "random_attitudes", "rate",
    "refusal_pairs", "score_gap", "score_intervals", "score_values", "similarity_table",
    "std_ratios", "stratum_mean", "study_outcomes", "study_scores", "to_matrix", "top_bottom",
    "tweet_flags", "wilson_interval",
]
