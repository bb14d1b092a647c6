"""What a research-question notebook analyses: one profile's scored generations (METHODS 4-5).

    from personalib.analysis import load_study
    study = load_study(profile="demo", store="store/demo", models=["gemma3-270m-demo"],
                       persona_sets=["regular", "empty", "control"], parsing="faithful")
    study.rows("bbq", "gemma3-270m-demo")  # one model's scored BBQ answers (no texts)
    study.counts            # generations and personas per model, persona set and dataset
    study.items["bbq"]      # the items each dataset was asked with (union over the models)
    study.notes             # plain-language notes on what is missing or was left out

The notebooks' parameters (docs/reports.md) are exactly `load_study`'s arguments, so every notebook
starts the same way and never repeats loading code. Generations come from the store, whether the
package generated them or imported the original study's release (DESIGN "Generations table").

Size: `load_study` reads no text and holds no generation. It makes sure every model x dataset has
its outcome table (personalib.outcomes: parsed once per store part, selected by the profile's
settings fingerprint, deduplicated, cached beside the store) and keeps their counts; `rows(dataset,
model)` reads one model x dataset when asked (the last one read is kept), so the analysis of the
study's full size (14.56 M generations per model) runs one model at a time in bounded memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pandas.api.types import union_categoricals

from personalib.errors import PersonalibError, SourceMissingError
from personalib.metrics import score
from personalib.outcomes import Assembled, prepare, present_datasets, scored_frame
from personalib.params import DatasetSpec, Profile, load_model, load_profile, resolve_path, settings_of
from personalib.personas import BUILTIN_SETS, load_persona_set
from personalib.store import Store
from personalib.tasks import registry
from personalib.tasks.registry import load_items, load_task
from personalib.writable import folder_problem

__all__ = ["Study", "load_study", "persona_table"]

COUNT_COLUMNS = ["model", "persona_set", "dataset", "generations", "personas"]


@dataclass
class Study:
    """The scored generations of some models of one profile, with what the analysis needs besides."""

    profile: Profile
    models: list[str]
    persona_sets: list[str]
    parsing: str
    store: Path
    items: dict[str, pd.DataFrame]
    personas: pd.DataFrame
    annotations: pd.DataFrame | None
    manifests: list[dict[str, Any]]
    demo: bool
    notes: list[str] = field(default_factory=list)
    sources: dict[tuple[str, str], tuple[Assembled, pd.DataFrame]] = field(default_factory=dict, repr=False)
    _last: tuple[tuple[str, str], pd.DataFrame] | None = field(default=None, repr=False)
    _all: pd.DataFrame | None = field(default=None, repr=False)

    def rows(self, dataset: str, model: str | None = None) -> pd.DataFrame:
        """The scored rows of one dataset and model (empty when there are none; no texts).

        Without `model`, every model's rows at once: for small data only (a full-size model's BBQ
        answers take about 0.7 GB); the analysis functions ask one model at a time."""
        if model is None:
            frames = [self.rows(dataset, m) for m in self.models_present]
            frames = [f for f in frames if len(f)]
            return _concat(frames) if frames else self._empty()
        key = (model, dataset)
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        if key not in self.sources or self.sources[key][0].rows == 0:
            return self._empty()
        assembled, items = self.sources[key]
        self._last = None  # free the previous table before reading the next
        frame = scored_frame(assembled.path, model, dataset, items, self.parsing)  # type: ignore[arg-type]
        frame["persona_category"] = _category_column(frame["persona"], self.persona_categories())
        self._last = (key, frame)
        return frame

    def model_rows(self, model: str, datasets: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
        """One model's rows of several datasets, only `columns` (those a dataset lacks are NA):
        what a metric over several datasets (overall score, refusal rates) needs, kept slim."""
        frames = []
        for dataset in datasets:
            rows = self.rows(dataset, model)
            if len(rows):
                frames.append(rows[[c for c in columns if c in rows.columns]])
        if not frames:
            return self._empty()[[c for c in columns if c in self._empty().columns]]
        return _concat(frames)

    def present_personas(self, dataset: str | None = None) -> set[str]:
        """Stems of the personas with at least one generation (of `dataset`, or of any)."""
        return {name for (_, d), (a, _) in self.sources.items() if dataset in (None, d)
                for c in a.counts["persona_sets"].values() for name in c["names"]}

    def has(self, dataset: str, model: str | None = None) -> bool:
        """True when the study has generations of `dataset` (of `model`, or of any model)."""
        return any(a.rows for (m, d), (a, _) in self.sources.items() if d == dataset and model in (None, m))

    def with_categories(self, table: pd.DataFrame, *, at: int | None = None) -> pd.DataFrame:
        """`table` (with a `persona` column) with the persona's `category` (METHODS 1: a regular
        category, `control` or `empty`; `unknown` for a persona of no loaded set), inserted at
        column position `at` (default: last). The one place that attaches persona categories."""
        out = table.copy()
        values = out["persona"].astype(str).map(self.persona_categories()).fillna("unknown")
        if "category" in out.columns:
            out = out.drop(columns="category")
        out.insert(len(out.columns) if at is None else at, "category", values)
        return out

    @property
    def scored(self) -> pd.DataFrame:
        """Every scored row of every model and dataset at once, kept once read: for small data
        only (see `rows`); the analysis functions never use it."""
        if self._all is None:
            frames = [self.rows(d, m) for m in self.models_present for d in self.datasets]
            frames = [f for f in frames if len(f)]
            self._all = _concat(frames) if frames else self._empty()
        return self._all

    def _empty(self) -> pd.DataFrame:
        frame = score(pd.DataFrame(columns=["model", "persona_set", "persona", "dataset", "item_id", "text"]),
                      {}, mode=self.parsing)  # type: ignore[arg-type]
        return frame.drop(columns=["text"]).assign(persona_category=pd.Series(dtype="str"))

    @property
    def counts(self) -> pd.DataFrame:
        """Generations and personas analysed per model, persona set and dataset."""
        rows = [{"model": m, "persona_set": s, "dataset": d, "generations": c["rows"], "personas": c["personas"]}
                for (m, d), (a, _) in self.sources.items() for s, c in a.counts["persona_sets"].items()]
        order = {m: i for i, m in enumerate(self.models)}
        table = pd.DataFrame(rows, columns=COUNT_COLUMNS)
        return table.sort_values(["model", "persona_set", "dataset"], key=lambda s: s.map(order) if s.name == "model"
                                 else s.map({d: i for i, d in enumerate(registry.names())}) if s.name == "dataset" else s,
                                 kind="stable", ignore_index=True)

    def persona_categories(self) -> dict[str, str]:
        """Persona stem -> category (a regular category, `control` or `empty`; METHODS 1)."""
        return _categories(self.personas)

    @property
    def datasets(self) -> list[str]:
        """Datasets with at least one generation, in the registry's order (the study's first)."""
        present = {d for (_, d), (a, _) in self.sources.items() if a.rows}
        return [d for d in registry.names() if d in present]

    @property
    def models_present(self) -> list[str]:
        """Models with at least one generation, in the requested order."""
        present = {m for (m, _), (a, _) in self.sources.items() if a.rows}
        return [m for m in self.models if m in present]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate scored frames (of several models or datasets): the union of their columns,
    NA where a frame lacks one, categorical columns' categories united."""
    columns = list(dict.fromkeys(c for f in frames for c in f.columns))
    out = {}
    for col in columns:
        like = next(f[col] for f in frames if col in f.columns)
        values = [f[col] if col in f.columns else _missing(like, len(f)) for f in frames]
        if isinstance(like.dtype, pd.CategoricalDtype):
            out[col] = pd.Series(union_categoricals([v.array for v in values], ignore_order=True))
        else:
            out[col] = pd.concat(values, ignore_index=True)
    return pd.DataFrame(out)


def _missing(like: pd.Series, n: int) -> pd.Series:
    """An all-missing column of `like`'s type and length `n`."""
    if isinstance(like.dtype, pd.CategoricalDtype):
        return pd.Series(pd.Categorical.from_codes([-1] * n, categories=like.cat.categories))
    return pd.Series(pd.array([pd.NA] * n, dtype=like.dtype))


def _category_column(personas: pd.Series, categories: dict[str, str]) -> pd.Categorical:
    stems = personas.cat.categories
    mapped = pd.Index([categories.get(str(s), "unknown") for s in stems])
    return pd.Categorical(mapped[personas.cat.codes.to_numpy()]) if len(stems) else pd.Categorical([])


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


def _items_for(profile: Profile, models: Sequence[str], present: dict[str, set[str]],
               cache: dict[tuple[str, str], pd.DataFrame | None], tasks: dict[tuple[str, str], Any],
               notes: list[str]) -> dict[str, dict[str, pd.DataFrame]]:
    """model -> dataset -> items, loading each distinct dataset spec once; a dataset whose source
    is missing (no network, no user-supplied file) is left out with a note saying how to get it."""
    out: dict[str, dict[str, pd.DataFrame]] = {}
    for model in models:
        specs = profile.datasets_for(model)
        out[model] = {}
        for name in registry.names():
            if name not in specs or name not in present.get(model, set()):
                continue
            key = (name, _spec_key(specs[name]))
            if key not in cache:
                try:
                    tasks[key] = load_task(name, **specs[name].task_kwargs())
                    cache[key] = load_items(name, specs[name], task=tasks[key])
                except SourceMissingError as exc:
                    cache[key] = None
                    notes.append(f"{name}: its items cannot be loaded, so its generations are left "
                                 f"out: {exc}")
            if cache[key] is not None:
                out[model][name] = cache[key]
    return out


def _selection_notes(model: str, sources: dict[tuple[str, str], tuple[Assembled, pd.DataFrame]]) -> list[str]:
    """What the settings selection and deduplication left out for one model, in words."""
    ignored: dict[str, int] = {}
    unknown = 0
    for (m, _), (a, _) in sources.items():
        if m == model:
            for value, n in a.counts["ignored_settings"].items():
                ignored[value] = ignored.get(value, 0) + n
            unknown += a.counts["unknown_settings"]
    notes = []
    if ignored:
        what = ", ".join(f"{n:,} with settings {v}" for v, n in sorted(ignored.items()))
        notes.append(f"{model}: {sum(ignored.values()):,} stored answer(s) made with other settings than the "
                     f"profile's current ones ({sources[next(iter(k for k in sources if k[0] == model))][0].counts['settings']}) "
                     f"are ignored ({what}); rerun `generate` to have every answer of the current settings")
    if unknown:
        notes.append(f"{model}: {unknown:,} stored answer(s) carry no settings fingerprint (written before "
                     "store format 2); they are analysed as made with the current settings. "
                     "`python -m personalib upgrade --store <store>` records their settings from the run manifests")
    return notes


def load_study(profile: str | Profile, store: str | Path, models: Sequence[str],
               persona_sets: Sequence[str], parsing: str = "faithful", *, progress: bool = False) -> Study:
    """The store's generations of `models` x `persona_sets`, joined to the profile's items and
    scored (METHODS 4 faithful or strict parsing), ready to be read one model x dataset at a time.

    A model, dataset or persona set without generations is not an error: it is left out and said
    in `notes`, so a notebook can report what it cannot compute. A generation whose item the
    profile does not define is an error naming the model and dataset. `progress` shows a progress
    bar while new store parts are scored (`python -m personalib report` does this once, before
    the notebooks run).
    """
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    if parsing not in ("faithful", "strict"):
        raise PersonalibError(f"parsing mode must be one of faithful, strict, got {parsing!r}")
    store_path = resolve_path(store)
    if not store_path.exists():
        raise PersonalibError(
            f"generation store {store_path} does not exist: run `python -m personalib generate "
            f"--profile {prof.name}` (or `import-release` for the released profile) first")
    st = Store(store_path, read_only=folder_problem(store_path / "parts") is not None)
    personas = persona_table(list(persona_sets))
    set_names = sorted(personas["persona_set"].unique())
    notes: list[str] = []
    if prof.personas is not None:
        personas = personas[personas["persona"].isin(prof.personas)].reset_index(drop=True)
    cache: dict[tuple[str, str], pd.DataFrame | None] = {}
    tasks: dict[tuple[str, str], Any] = {}
    items_by_model = _items_for(prof, models, present_datasets(st), cache, tasks, notes)
    settings = {m: settings_of(load_model(m), prof) for m in models}
    try:
        ready = prepare(st, items_by_model, settings, set_names, progress=progress)
    except PersonalibError as exc:
        raise PersonalibError(f"in {store_path}: {exc}") from None
    notes += [f"corrupt store part {c.name} ({c.reason}) was set aside to {c.moved_to}; its generations "
              "are missing until generated again" for c in ready.set_aside]
    sources = {key: (a, items_by_model[key[0]][key[1]]) for key, a in ready.assembled.items()}
    for model in models:
        own = {d for (m, d), (a, _) in sources.items() if m == model and a.rows}
        if not own:
            notes.append(f"{model}: no generations in {store_path} for persona sets "
                         f"{', '.join(set_names)}; it is left out")
            continue
        specs = prof.datasets_for(model)
        outside = [d for d in registry.names() if d in ready.present.get(model, set()) and d not in specs]
        if outside:
            notes.append(f"{model}: generations for {', '.join(outside)} are not in the profile's "
                         "datasets; they are left out")
        missing = [d for d in specs if d not in ready.present.get(model, set())]
        if missing:
            notes.append(f"{model}: no generations for {', '.join(missing)}")
        notes += _selection_notes(model, sources)
    items: dict[str, pd.DataFrame] = {}
    for (name, _), table in cache.items():
        if table is None:
            continue
        items[name] = table if name not in items else pd.concat(
            [items[name], table]).drop_duplicates("item_id", ignore_index=True)
    annotations = None
    present = {d for (_, d), (a, _) in sources.items() if a.rows}
    if "toxicity" in items and "toxicity" in present:  # its source loaded above, so the annotations load too
        spec = next(prof.datasets_for(m)["toxicity"] for m in models if "toxicity" in prof.datasets_for(m))
        annotations = tasks[("toxicity", _spec_key(spec))].annotations()
    demo = any(spec.demo for m in models for spec in prof.datasets_for(m).values())
    return Study(prof, list(models), set_names, parsing, store_path, items, personas, annotations,
                 st.manifests(), demo, notes, sources)


def _categories(personas: pd.DataFrame) -> dict[str, str]:
    """Stem -> category when a stem appears in several sets (the first set's category wins)."""
    return dict(personas.drop_duplicates("persona")[["persona", "category"]].itertuples(index=False))
