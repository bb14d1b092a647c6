"""The paper's checkable claims (`personalib/data/claims.yaml`) and their recomputation.

    from personalib.claims import claim_data, evaluate, load_claims, verdict_table
    verdicts = evaluate(load_claims(), claim_data(study))   # study = analysis.load_study(...)
    verdict_table(verdicts)     # claim, part, kind, reading, paper, value, difference, status, reason

- `schema`: the pydantic schema of the claims file and `load_claims` (clear errors naming the
  claim and field);
- `data`: `ClaimData` (per-persona scores, personas, items) and `claim_data(study)`;
- `compute`, `crossmodel`, `setup`: the computations a claim names (per-persona scores of one
  model; across models; setup counts);
- `compare`: comparison with the paper and the status of each check.
"""

from personalib.claims.compare import (
    DEVIATION,
    DIFFERS,
    NOT_COMPUTABLE,
    REPRODUCED,
    STATUSES,
    Verdict,
    evaluate,
    evaluate_check,
    verdict_table,
)
from personalib.claims.data import ClaimData, NotComputable, claim_data, claim_scores
from personalib.claims.schema import CLAIMS_FILE, Check, Claim, load_claims

__all__ = [
    "CLAIMS_FILE", "DEVIATION", "DIFFERS", "NOT_COMPUTABLE", "REPRODUCED", "STATUSES", "Check",
    "Claim", "ClaimData", "NotComputable", "Verdict", "claim_data", "claim_scores", "evaluate",
    "evaluate_check", "load_claims", "verdict_table",
]
