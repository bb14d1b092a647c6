"""Statistics of the study (METHODS 6), computed with statsmodels, scipy and pingouin.

- `omnibus`: Cochran's Q (items x personas, binary outcomes) and Friedman (statements or tweets x
  personas) per model and dataset / attitude / measure.
- `consistency`: Kendall tau-b cross-model consistency of persona rankings within categories.
- `associations`: human vs persona Pearson correlation matrices, cosine similarity, random baseline.
- `disparity`: std ratios against control personas, arbitrary refusals, top/bottom personas.

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
from personalib.stats.omnibus import (
    STUDY_FAMILIES,
    cochrans_q,
    cochrans_q_table,
    friedman,
    friedman_attitudes,
    friedman_table,
    friedman_toxicity,
)
from personalib.stats.result import StatResult, to_matrix

__all__ = [
    "ANNOTATIONS", "ATTITUDES", "CONSISTENCY_THRESHOLD", "CONTROL", "HUMAN_ATTITUDE_COLUMNS",
    "STUDY_FAMILIES", "SYNONYM_PAIRS", "CorrelationResult", "Similarity", "StatResult",
    "attitude_annotation_correlations", "attitude_correlations", "cochrans_q", "cochrans_q_table",
    "consensus_ranking", "cosine_similarity", "cross_model_consistency", "friedman",
    "friedman_attitudes", "friedman_table", "friedman_toxicity", "human_annotation_means",
    "human_attitudes", "pearson_matrix", "persona_annotation_means", "random_annotation_means",
    "random_attitudes", "refusal_pairs", "score_gap", "similarity_table", "std_ratios",
    "to_matrix", "top_bottom", "tweet_flags",
]
