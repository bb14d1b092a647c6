"""What a claim is recomputed from: per-persona scores of a profile's models and the setup tables.

`ClaimData.scores` is a long per-persona table with the columns `model, persona_set, persona,
category, metric, value` (the shape of `analysis.rq1.persona_scores`, with the score named in
`metric`). Metric names (METHODS 4-5):

- `truthfulqa`, `mmlu`, `bbq` (accuracies) and `overall` (their mean);
- `mmlu:field:<field>` (mean of the accuracies of the field's subjects: `STEM`, `humanities`,
  `social sciences`, `other`) and `mmlu:subjects:<group>` (of an expert group's subjects, METHODS 5
  "Expert personas": `technology`, `law`, `psychology`, `healthcare`);
- `bias` and `unknown` (BBQ bias and unknown frequency; need the BBQ metadata);
- `refusal:<task>` for the six refusal tasks (`attitudes`, `offensiveness`, `racism`,
  `truthfulqa`, `mmlu`, `bbq`), `refusal:average` (their mean) and `refusal:attitudes_original`
  (the 27 attitude prompts with the original instruction, variant 0);
- `attitude:<dimension>` (e.g. `attitude:altruism`), `off` and `rac` (mean toxicity ratings) and,
  with the human annotations, `aoff` and `arac` (Krippendorff's alpha against the human mean).

`claim_data(study)` builds it from a `personalib.analysis.Study` one model at a time (one model x
dataset of scored rows in memory at once) with the `personalib.metrics` functions; any other
source of the same table works as well. Computations that need more than per-persona scores
(omnibus tests, self-bias ranks, correlations with the humans) ask `ClaimData.table(name, build)`
for a table built once from the study, only when a check needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from personalib import DATASETS, metrics
from personalib.errors import PersonalibError
from personalib.metrics.experts import EXPERT_GROUPS
from personalib.metrics.refusals import TASKS as REFUSAL_TASKS

SCORE_COLUMNS = ["model", "persona_set", "persona", "category", "metric", "value"]


class NotComputable(Exception):
    """A claim cannot be recomputed from this profile; the message says what is missing."""


@dataclass(frozen=True)
class ClaimData:
    """Per-persona scores, personas, items and annotations of one profile's models, and the study
    they come from (for the tables a few computations build from it, `table`)."""

    scores: pd.DataFrame
    personas: pd.DataFrame
    items: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    datasets: Mapping[str, frozenset[str]] = field(default_factory=dict)
    annotations: pd.DataFrame | None = None
    study: Any = field(default=None, repr=False, compare=False)
    built: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    set_personas: pd.DataFrame | None = None
    restricted: str | None = None
    item_notes: Mapping[str, str] = field(default_factory=dict)
    """`set_personas`: every persona of the profile's persona sets (the setup counts), when the
    profile keeps only some of them (`personas`: the kept ones); `restricted`: then, why the pool
    of all personas (or of a category) is not the study's; `item_notes`: per dataset, why its
    items are not the whole dataset (the package's demo items, a row limit)."""

    def table(self, name: str, build: Callable[[Any], Any]) -> Any:
        """The table `name`, built once by `build(study)` and kept (NotComputable without a study)."""
        if name not in self.built:
            if self.study is None:
                raise NotComputable(f"the {name} table needs the generations (a loaded study), "
                                    "not only per-persona scores")
            self.built[name] = build(self.study)
        return self.built[name]

    def for_reading(self) -> ClaimData:
        """The same data without the pool restriction: for values shown, never compared."""
        return replace(self, restricted=None)


def _melt(table: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """A wide per-persona metrics table (index KEYS) as long rows of the named columns."""
    cols = [c for c in names if c in table.columns]
    long = table[cols].rename(columns=names).reset_index()
    long = long.melt(id_vars=list(metrics.KEYS), var_name="metric", value_name="value")
    long = long.astype({k: str for k in metrics.KEYS})
    return long.dropna(subset=["value"])


def _mmlu_subsets(rows: pd.DataFrame) -> pd.DataFrame:
    """Per persona: the mean of the subject accuracies of each field and expert subject group."""
    subject = metrics.mmlu_subject_accuracy(rows)
    fields = (rows[["subject", "field"]].drop_duplicates().astype(str).set_index("subject")["field"]
              if "field" in rows else pd.Series(dtype=str))
    out = {}
    for name in sorted(set(fields)):
        cols = [s for s in subject.columns if fields.get(str(s)) == name]
        out[f"mmlu:field:{name}"] = subject[cols].mean(axis=1)
    for group, (_, subjects) in EXPERT_GROUPS.items():
        cols = [s for s in subjects if s in subject.columns]
        if cols:
            out[f"mmlu:subjects:{group}"] = subject[cols].mean(axis=1)
    return pd.DataFrame(out, index=subject.index)


def dataset_scores(rows: pd.DataFrame, dataset: str, annotations: pd.DataFrame | None = None) -> list[pd.DataFrame]:
    """The long per-persona metrics of one model's scored rows of one dataset (module doc)."""
    parts = [_melt(metrics.refusal_rates(rows), {t: f"refusal:{t}" for t in REFUSAL_TASKS})]
    if dataset == "truthfulqa":
        parts.append(_melt(metrics.truthfulqa_accuracy(rows).to_frame("truthfulqa"), {"truthfulqa": "truthfulqa"}))
    elif dataset == "mmlu":
        parts.append(_melt(metrics.mmlu_accuracy(rows).to_frame("mmlu"), {"mmlu": "mmlu"}))
        subsets = _mmlu_subsets(rows)
        parts.append(_melt(subsets, {c: c for c in subsets.columns}))
    elif dataset == "bbq":
        parts.append(_melt(metrics.bbq_accuracy(rows), {"bbq": "bbq"}))
        if rows["target_loc"].notna().any():
            parts.append(_melt(metrics.bbq_bias(rows), {"bias": "bias", "unknown_freq": "unknown"}))
    elif dataset == "attitudes":
        table = metrics.attitude_scores(rows)
        parts.append(_melt(table, {c: f"attitude:{c}" for c in table.columns}))
        original = rows[rows["variant"].astype("Int64") == 0]
        if len(original):
            parts.append(_melt(metrics.refusal_rates(original), {"attitudes": "refusal:attitudes_original"}))
    elif dataset == "toxicity":
        parts.append(_melt(metrics.toxicity_scores(rows), {"off": "off", "rac": "rac"}))
        if annotations is not None and not annotations.empty:
            parts.append(_melt(metrics.toxicity_alpha(rows, annotations), {"off": "aoff", "rac": "arac"}))
    return parts


def _combined(long: pd.DataFrame, metric: str, parts: tuple[str, ...]) -> pd.DataFrame:
    """Per persona the mean of `parts` (NaN unless the persona has all of them) as `metric`."""
    wide = long[long["metric"].isin(parts)].pivot_table(index=list(metrics.KEYS), columns="metric",
                                                        values="value", aggfunc="first")
    if wide.empty or any(p not in wide.columns for p in parts):
        return long.iloc[:0]
    mean = wide[list(parts)].mean(axis=1, skipna=False).rename("value").reset_index()
    return mean.assign(metric=metric).dropna(subset=["value"])


def model_scores(rows_of: Callable[[str], pd.DataFrame], datasets: list[str],
                 annotations: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every per-persona metric of one model (module doc), reading its scored rows one dataset
    at a time through `rows_of(dataset)`."""
    parts = []
    for dataset in datasets:
        rows = rows_of(dataset)
        if len(rows):
            parts += dataset_scores(rows, dataset, annotations)
    if not parts:
        return pd.DataFrame(columns=[*metrics.KEYS, "metric", "value"])
    long = pd.concat(parts, ignore_index=True)
    overall = _combined(long, "overall", ("truthfulqa", "mmlu", "bbq"))
    average = _combined(long, "refusal:average", tuple(f"refusal:{t}" for t in REFUSAL_TASKS))
    return pd.concat([long, overall, average], ignore_index=True)


def _finish(parts: list[pd.DataFrame], categories: Mapping[str, str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=SCORE_COLUMNS)
    long = pd.concat(parts, ignore_index=True)
    long["category"] = long["persona"].map(dict(categories)).fillna("unknown")
    long["value"] = long["value"].astype(float)
    return long[SCORE_COLUMNS]


def claim_scores(scored: pd.DataFrame, categories: Mapping[str, str],
                 annotations: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every per-persona metric the claims use, from a scored table (`personalib.metrics.score`)
    of one or more models (small data); `categories` maps persona stem -> category (METHODS 1)."""
    parts = []
    for _, own in scored.groupby("model", sort=False, observed=True):
        present = [d for d in DATASETS if (own["dataset"].astype(str) == d).any()]
        parts.append(model_scores(lambda d, own=own: own[own["dataset"].astype(str) == d], present, annotations))
    return _finish(parts, categories)


def _subsets(study: Any) -> tuple[pd.DataFrame | None, str | None, dict[str, str]]:
    """(every persona of the study's persona sets, why the pool is restricted, why some datasets'
    items are not the whole dataset) when the profile keeps a subset of either."""
    from personalib.analysis.data import persona_table

    full, restricted = None, None
    if study.profile.personas is not None:
        full = persona_table(list(study.profile.persona_sets))
        full = full[full["persona_set"].isin(study.persona_sets)].reset_index(drop=True)
        kept = len(study.personas)
        if kept < len(full):
            restricted = (f"this profile keeps {kept} of the {len(full)} personas of its persona sets "
                          "(its `personas` list): ranks, gaps and shares over all personas or a "
                          "category are not the study's")
    notes = {}
    for dataset in DATASETS:
        specs = [study.profile.datasets_for(m)[dataset] for m in study.models
                 if dataset in study.profile.datasets_for(m)]
        if specs and all(s.demo for s in specs):
            notes[dataset] = f"this profile reads the package's demo {dataset} items, not the dataset"
        elif specs and all(s.demo or s.limit for s in specs):
            notes[dataset] = f"this profile keeps only the first {max(s.limit or 0 for s in specs)} {dataset} items"
    return full, restricted, notes


def claim_data(study: Any) -> ClaimData:
    """ClaimData of a `personalib.analysis.Study`: the per-persona scores computed one model and
    dataset at a time (`study.rows`), its personas, items and annotations, what the profile keeps
    of the persona sets and datasets, and the study itself for the computations that build
    further tables (`ClaimData.table`)."""
    parts, datasets = [], {}
    for model in study.models_present:
        have = [d for d in study.datasets if study.has(d, model)]
        datasets[model] = frozenset(have)
        parts.append(model_scores(lambda d, m=model: study.rows(d, m), have, study.annotations))
    full, restricted, notes = _subsets(study)
    return ClaimData(_finish(parts, study.persona_categories()), study.personas, dict(study.items),
                     tuple(study.models_present), datasets, study.annotations, study,
                     set_personas=full, restricted=restricted, item_notes=notes)


def scores_of(data: ClaimData, model: str, metric: str) -> pd.Series:
    """persona -> value of one model and metric; NotComputable naming what is missing."""
    if model not in data.models:
        raise NotComputable(f"model {model} not in this profile")
    part = data.scores[(data.scores["model"] == model) & (data.scores["metric"] == metric)]
    if part.empty:
        raise NotComputable(f"no {metric} scores for {model} in this profile")
    if part["persona"].duplicated().any():
        raise PersonalibError(f"{model} {metric}: a persona has two scores (two persona sets share "
                              "a stem); keep one")
    return part.set_index("persona")["value"].astype(float)


def study_models(data: ClaimData) -> tuple[str, ...]:
    """The profile's models with generations (NotComputable when there is none)."""
    if not data.models:
        raise NotComputable("no model with generations in this profile")
    return data.models


def pool(data: ClaimData, category: str | None = None) -> list[str]:
    """The personas of the profile (or of one category), in the profile's order; NotComputable
    when the profile keeps only some personas of its sets (`ClaimData.restricted`)."""
    if data.restricted:
        raise NotComputable(data.restricted)
    people = data.personas if category is None else data.personas[data.personas["category"] == category]
    if people.empty:
        raise NotComputable(f"no persona of category {category!r} in this profile")
    return list(dict.fromkeys(people["persona"]))


def complete(values: pd.Series, people: list[str], what: str) -> pd.Series:
    """`values` restricted to `people`, all of whom must have one (else NotComputable)."""
    have = values.reindex(people).dropna()
    if len(have) < len(people):
        raise NotComputable(f"{what} needs every persona of the pool: {len(have)} of {len(people)} "
                            "have a score")
    return have


__all__ = ["ClaimData", "NotComputable", "SCORE_COLUMNS", "claim_data", "claim_scores", "complete",
           "dataset_scores", "model_scores", "pool", "scores_of", "study_models"]
