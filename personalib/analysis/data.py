"""What a research-question notebook analyses: one profile's scored generations (METHODS 4-5).

    from personalib.analysis import load_study
    study = load_study(profile="demo", store="store/demo", models=["gemma3-270m-demo"],
                       persona_sets=["regular", "empty", "control"], parsing="faithful")
    study.scored            # one row per generation, parsed and scored, with `persona_category`
    study.items["bbq"]      # the items each dataset was asked with (union over the models)
    study.notes             # plain-language notes on what is missing (a model without generations...)

The notebooks' parameters (docs/reports.md) are exactly `load_study`'s arguments, so every notebook
starts the same way and never repeats loading code. Generations come from the store, whether the
package generated them or imported the original study's release (DESIGN "Generations table").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from personalib import DATASETS
from personalib.errors import PersonalibError, SourceMissingError
from personalib.metrics import score
from personalib.params import DatasetSpec, Profile, load_profile, resolve_path
from personalib.personas import BUILTIN_SETS, load_persona_set
from personalib.runplan import load_items
from personalib.store import Store

__all__ = ["Study", "load_study", "persona_table"]


@dataclass
class Study:
    """The scored generations of some models of one profile, with what the analysis needs besides."""

    profile: Profile
    models: list[str]
    persona_sets: list[str]
    parsing: str
    store: Path
    scored: pd.DataFrame
    items: dict[str, pd.DataFrame]
    personas: pd.DataFrame
    annotations: pd.DataFrame | None
    manifests: list[dict[str, Any]]
    demo: bool
    notes: list[str] = field(default_factory=list)

    def rows(self, dataset: str, model: str | None = None) -> pd.DataFrame:
        """The scored rows of one dataset (and model); empty when there are none."""
        mask = self.scored["dataset"] == dataset
        if model is not None:
            mask &= self.scored["model"] == model
        return self.scored[mask]

    def persona_categories(self) -> dict[str, str]:
        """Persona stem -> category (a regular category, `control` or `empty`; METHODS 1)."""
        return _categories(self.personas)

    @property
    def datasets(self) -> list[str]:
        """Datasets with at least one generation, in the study's order."""
        present = set(self.scored["dataset"].astype(str).unique()) if len(self.scored) else set()
        return [d for d in DATASETS if d in present]

    @property
    def models_present(self) -> list[str]:
        """Models with at least one generation, in the requested order."""
        present = set(self.scored["model"].astype(str).unique()) if len(self.scored) else set()
        return [m for m in self.models if m in present]


def persona_table(persona_sets: Sequence[str | Path]) -> pd.DataFrame:
    """One row per persona of the given sets: persona_set, persona (stem), text, category (METHODS 1)."""
    rows = []
    for ref in persona_sets:
        for p in load_persona_set(ref if isinstance(ref, Path) or ref in BUILTIN_SETS else resolve_path(ref)):
            rows.append({"persona_set": p.set_name, "persona": p.stem, "text": p.text,
                         "category": p.category})
    return pd.DataFrame(rows, columns=["persona_set", "persona", "text", "category"])


def _spec_key(spec: DatasetSpec) -> str:
    return spec.model_dump_json()


def _items_for(profile: Profile, models: Sequence[str], datasets: set[str],
               cache: dict[tuple[str, str], pd.DataFrame | None],
               notes: list[str]) -> dict[str, dict[str, pd.DataFrame]]:
    """model -> dataset -> items, loading each distinct dataset spec once; a dataset whose source
    is missing (no network, no user-supplied file) is left out with a note saying how to get it."""
    out: dict[str, dict[str, pd.DataFrame]] = {}
    for model in models:
        specs = profile.datasets_for(model)
        out[model] = {}
        for name in DATASETS:
            if name not in datasets or name not in specs:
                continue
            key = (name, _spec_key(specs[name]))
            if key not in cache:
                try:
                    cache[key] = load_items(name, specs[name])
                except SourceMissingError as exc:
                    cache[key] = None
                    notes.append(f"{name}: its items cannot be loaded, so its generations are left "
                                 f"out: {exc}")
            if cache[key] is not None:
                out[model][name] = cache[key]
    return out


def load_study(profile: str | Profile, store: str | Path, models: Sequence[str],
               persona_sets: Sequence[str], parsing: str = "faithful") -> Study:
    """Read the store's generations of `models` x `persona_sets`, join them to the profile's items
    and score them (`personalib.metrics.score`, METHODS 4 faithful or strict parsing).

    A model, dataset or persona set without generations is not an error: it is left out and said
    in `notes`, so a notebook can report what it cannot compute. A generation whose item the
    profile does not define is an error naming the model and dataset.
    """
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    store_path = resolve_path(store)
    if not store_path.exists():
        raise PersonalibError(
            f"generation store {store_path} does not exist: run `python -m personalib generate "
            f"--profile {prof.name}` (or `import-release` for the released profile) first")
    st = Store(store_path)
    personas = persona_table(list(persona_sets))
    set_names = sorted(personas["persona_set"].unique())
    gens = st.generations(models=list(models), persona_sets=set_names)
    notes: list[str] = []
    if prof.personas is not None:
        personas = personas[personas["persona"].isin(prof.personas)].reset_index(drop=True)
    cache: dict[tuple[str, str], pd.DataFrame | None] = {}
    items_by_model = _items_for(prof, models, set(gens["dataset"].unique()), cache, notes)
    parts = []
    for model in models:
        own = gens[gens["model"] == model]
        if own.empty:
            notes.append(f"{model}: no generations in {store_path} for persona sets "
                         f"{', '.join(set_names)}; it is left out")
            continue
        present = set(own["dataset"])
        unknown = sorted(present - set(items_by_model[model]))
        outside = [d for d in unknown if d not in prof.datasets_for(model)]
        if outside:
            notes.append(f"{model}: generations for {', '.join(outside)} are not in the profile's "
                         "datasets; they are left out")
        # not in the profile, or its source is missing (noted by _items_for): nothing to score with
        own = own[~own["dataset"].isin(unknown)]
        try:
            parts.append(score(own.reset_index(drop=True), items_by_model[model], mode=parsing))
        except PersonalibError as exc:
            raise PersonalibError(f"{model} in {store_path}: {exc}") from None
        missing = [d for d in prof.datasets_for(model) if d not in present]
        if missing:
            notes.append(f"{model}: no generations for {', '.join(missing)}")
    scored = pd.concat(parts, ignore_index=True) if parts else score(gens.iloc[:0], {}, mode=parsing)
    # the persona's category in its own column: `category` is the BBQ item's category (METHODS 5)
    scored["persona_category"] = scored["persona"].map(_categories(personas)).fillna("unknown").astype(str)
    items = {}
    for (name, _), table in cache.items():
        if table is None:
            continue
        items[name] = table if name not in items else pd.concat(
            [items[name], table]).drop_duplicates("item_id", ignore_index=True)
    annotations = None
    if "toxicity" in items:  # its source loaded above, so the annotations load too
        spec = next(prof.datasets_for(m)["toxicity"] for m in models if "toxicity" in prof.datasets_for(m))
        from personalib.tasks import load_task

        annotations = load_task("toxicity", **spec.task_kwargs()).annotations()
    demo = any(spec.demo for m in models for spec in prof.datasets_for(m).values())
    return Study(prof, list(models), set_names, parsing, store_path, scored, items, personas,
                 annotations, st.manifests(), demo, notes)


def _categories(personas: pd.DataFrame) -> dict[str, str]:
    """Stem -> category when a stem appears in several sets (the first set's category wins)."""
    return dict(personas.drop_duplicates("persona")[["persona", "category"]].itertuples(index=False))
