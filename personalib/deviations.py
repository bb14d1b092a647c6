"""Every way personalib departs from the original study's code (METHODS 2, 4, 5 and 7), as data.

Reports show `deviations_table()` at their end. Each entry names the fault or choice, what the
original did, what personalib does instead, and where in this package that happens (`path` or
`path:symbol`, checked by the tests to exist). Entries of kind `fix` repair a fault of the
original; `choice` entries are decisions the original left open or that a user can switch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from personalib.errors import PersonalibError
from personalib.parsing import MODES


@dataclass(frozen=True)
class Deviation:
    """One departure from the original analysis."""

    id: str
    methods: str
    kind: str
    fault: str
    original: str
    personalib: str
    where: tuple[str, ...]


DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        "attitude-double-reverse", "7", "fix",
        "double reverse-scoring of attitude items in the paraphrase-variability analysis",
        "reverse-scored items were reversed again in the analysis of the instruction paraphrases, "
        "so those items entered that analysis unreversed",
        "reverse scoring (6 - rating) happens once, when a generation is scored; every attitude "
        "analysis (scores, per-statement means for Friedman) reads that one value",
        ("personalib/metrics/scoring.py:score", "personalib/metrics/attitudes.py:statement_means"),
    ),
    Deviation(
        "bbq-std-ratio-metric", "7", "fix",
        "BBQ std-ratio figure built from accuracy instead of bias/unknown",
        "the std ratio (category std / control std) shown for BBQ bias was computed from the "
        "accuracy scores",
        "std ratios are computed from whichever per-persona metric is passed; the BBQ bias and "
        "unknown-frequency ratios use the bias and unknown-frequency columns",
        ("personalib/stats/disparity.py:std_ratios", "personalib/metrics/bias.py:bbq_bias"),
    ),
    Deviation(
        "refusal-panels-model", "7", "fix",
        "one model dropped from two refusal panels",
        "two refusal-rate panels omitted one of the seven models",
        "refusal rates are computed for every model and persona in the generations; nothing is "
        "filtered by model",
        ("personalib/metrics/refusals.py:refusal_rates",),
    ),
    Deviation(
        "attitudes-five-of-seven", "7", "fix",
        "only 5 of 7 attitudes loaded in one helper",
        "a helper of the human-vs-persona attitude analysis loaded 5 of the 7 attitude dimensions",
        "all 7 dimensions are used everywhere: the attitude scores cover every dimension of the "
        "questionnaire, the correlation analysis lists all 7",
        ("personalib/metrics/attitudes.py:attitude_scores", "personalib/stats/associations.py:ATTITUDES"),
    ),
    Deviation(
        "api-retries", "7", "fix",
        "unbounded API retries",
        "the retry counter was reset inside the retry loop, so the stated limit of 10 retries never "
        "applied: a failing request was retried forever",
        "retries are bounded (max_retries, exponential backoff with jitter); past the bound the run "
        "stops with a clear message and everything done so far stays stored",
        ("personalib/backends/api.py:call_with_retries",),
    ),
    Deviation(
        "dataset-all-paraphrases", "7", "fix",
        "`--dataset all` silently omitting the attitude paraphrases",
        "`--dataset all` ran attitudes, truthfulqa, mmlu, toxicity and bbq but not attitudes_extra "
        "(the 810 paraphrased instructions), which needed a run of its own",
        "the attitudes dataset is the 27 statements x 31 instruction variants (837 prompts); every "
        "run of attitudes asks all of them",
        ("personalib/tasks/attitudes.py:build_items", "personalib/plan.py:select_datasets"),
    ),
    Deviation(
        "hard-coded-paths", "7", "fix",
        "hard-coded output paths",
        "generations and scores were read from and written to fixed relative paths "
        "(./results/..., ./data/...)",
        "cache, store and report locations come from the environment (PERSONALIB_CACHE) and the "
        "profile (`store`, `reports`), overridable on the command line",
        ("personalib/paths.py:cache_dir", "personalib/params.py"),
    ),
    Deviation(
        "pinned-versions", "7", "fix",
        "no pinned versions",
        "dependencies were not pinned to exact versions",
        "every dependency is pinned in requirements.lock (used as pip constraints by make) and "
        "environment.yml",
        ("requirements.lock", "environment.yml"),
    ),
    Deviation(
        "system-role-detection", "2", "fix",
        "system-role support detected from the wrong tokenizer attribute",
        "whether a model takes a system message was read from `tokenizer.use_default_system_prompt` "
        "(a flag about a default system prompt, not about what the chat template accepts; a "
        "missing attribute meant no system role)",
        "placement is explicit per model (params `persona_placement`: system | user | auto); `auto` "
        "probes the chat template itself; the placement used is recorded in every run's manifest",
        ("personalib/prompts.py:resolve_placement", "personalib/prompts.py:template_takes_system"),
    ),
    Deviation(
        "double-bos", "2", "fix",
        "double BOS",
        "the chat-templated string (already starting with BOS) went through the text-generation "
        "pipeline, which tokenised it again with special tokens: two BOS tokens",
        "the conversation is rendered once and tokenised with add_special_tokens=False: one BOS",
        ("personalib/prompts.py:render",),
    ),
    Deviation(
        "parsing-mode", "4", "choice",
        "unparsed answers scored as an answer",
        "an answer that could not be extracted counted as choice \"A\" and an unparsed rating as 3",
        "",  # filled by deviations_table() according to the parsing mode of the run
        ("personalib/parsing.py:parse", "personalib/metrics/scoring.py:score"),
    ),
    Deviation(
        "self-bias-mapping", "5", "choice",
        "self-bias analysis without code",
        "the paper reports self-bias and self-accuracy of 18 personas but the repository has no "
        "code or mapping for it",
        "a documented data file maps each of the 18 personas to BBQ answer tags; an item counts "
        "for a persona when exactly one of its two non-unknown answers is of its group",
        ("personalib/data/bbq_persona_groups.yaml", "personalib/metrics/selfbias.py:own_answers"),
    ),
)

_PARSING = {
    "faithful": "faithful mode (this run): as the original, an unparsed choice counts as \"A\" "
                "and an unparsed rating as 3, so the paper's numbers are reproduced; strict mode "
                "is available",
    "strict": "strict mode (this run): unparsed choices and ratings are missing and left out of "
              "every mean; the original's faithful scoring is the default",
}


def deviations_table(parsing_mode: str = "faithful") -> pd.DataFrame:
    """The deviations as a table (columns id, methods, kind, fault, original, personalib, where),
    the parsing entry worded for `parsing_mode` (faithful or strict)."""
    if parsing_mode not in MODES:
        raise PersonalibError(f"parsing mode must be one of {', '.join(MODES)}, got {parsing_mode!r}")
    records = []
    for dev in DEVIATIONS:
        record = asdict(dev)
        if dev.id == "parsing-mode":
            record["personalib"] = _PARSING[parsing_mode]
        record["where"] = ", ".join(dev.where)
        records.append(record)
    return pd.DataFrame(records, columns=["id", "methods", "kind", "fault", "original", "personalib", "where"])
