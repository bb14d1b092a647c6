"""Model params and run profiles: one pydantic schema (docs/DESIGN.md "Params").

`params/models/<name>.yaml` describes one model (backend, model id and revision, persona
placement, decoding: METHODS 2); `params/profiles/<name>.yaml` describes a run (models, datasets
and their sources, persona sets, store and report folders). Every file is validated on load: an
unknown key, a wrong type or a bad value raises `ConfigError` naming the file, the field (dotted
path) and the value, and saying what is allowed. Profiles are also checked against the world: their
models, datasets (`personalib.tasks.registry`: the study's and `params/tasks/*.yaml`), persona sets
and persona stems must exist.

Relative paths inside a profile (persona-set files, dataset `files`, `store`, `reports`) are
relative to the project root (`personalib.paths.project_root()`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from personalib.decoding import Decoding
from personalib.errors import ConfigError
from personalib.paths import params_dir, project_root
from personalib.personas import BUILTIN_SETS, Persona, load_persona_set, select_personas
from personalib.tasks import registry
from personalib.yamlfile import describe_error, read_mapping

API_BACKENDS: frozenset[str] = frozenset({"openai", "openai-batch"})
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _known_dataset(name: str) -> str:
    """A dataset name of the registry (the study's, or a task file in params/tasks/)."""
    known = registry.names()
    if name not in known:
        listed = ", ".join(repr(n) for n in known[:-1]) + f" or {known[-1]!r}"
        raise ValueError(f"Input should be {listed} (or add a task file {registry.user_tasks_dir()}/{name}.yaml)")
    return name


DatasetName = Annotated[str, AfterValidator(_known_dataset)]


class _Strict(BaseModel):
    """Base: unknown keys are errors (extra="forbid"); instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_STUDY_DECODING = Decoding()


class DecodingParams(_Strict):
    """Decoding (METHODS 2); the defaults are the study's (`personalib.decoding.Decoding`)."""

    max_new_tokens: int = Field(_STUDY_DECODING.max_new_tokens, ge=1)
    temperature: float = Field(_STUDY_DECODING.temperature, ge=0.0)
    top_p: float = Field(_STUDY_DECODING.top_p, gt=0.0, le=1.0)
    seed: int | None = _STUDY_DECODING.seed


class DecodingOverride(_Strict):
    """A profile's partial override of the models' decoding (e.g. a small demo max_new_tokens)."""

    max_new_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    seed: int | None = None


class ApiParams(_Strict):
    """OpenAI-compatible API settings; the key itself is read from the env variable `api_key_env`."""

    base_url: str | None = None
    api_key_env: str | None = "OPENAI_API_KEY"  # null: a local server (base_url) that needs no key
    concurrency: int = Field(16, ge=1)
    max_retries: int = Field(6, ge=0)
    timeout_s: float = Field(60.0, gt=0.0)
    usd_per_1m_input: float | None = Field(None, ge=0.0)
    usd_per_1m_output: float | None = Field(None, ge=0.0)

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(
                "must be the NAME of an environment variable (e.g. OPENAI_API_KEY), never the key "
                "itself: secrets come from the environment only"
            )
        return value

    @model_validator(mode="after")
    def _key_or_local(self) -> ApiParams:
        problem = key_source_problem(self.api_key_env, self.base_url)
        if problem:
            raise ValueError(problem)
        return self


def key_source_problem(api_key_env: str | None, base_url: str | None) -> str | None:
    """Why an API endpoint cannot get a key, or None: `api_key_env: null` (no key sent) is only for
    a local server given in `base_url`; the OpenAI API needs the NAME of the key's variable."""
    if api_key_env is None and not base_url:
        return ("api_key_env is null, which is only for a local server given in base_url (vllm serve, "
                "TGI, Ollama); the OpenAI API needs a key: set api_key_env to the NAME of the environment "
                "variable holding it")
    return None


class GenerationParams(_Strict):
    """How the hf backend batches (docs/backends.md "hf"): `mode` padded | static | continuous, or
    auto (static on a CUDA GPU, padded on a CPU); `compile` torch.compile of the decoding step
    (auto: on a CUDA GPU for static and continuous; true needs a CUDA GPU)."""

    mode: Literal["auto", "padded", "static", "continuous"] = "auto"
    compile: Literal["auto", True, False] = "auto"

    @model_validator(mode="after")
    def _compile_needs_a_cache_to_compile(self) -> GenerationParams:
        if self.mode == "padded" and self.compile is True:
            raise ValueError("compile: true needs mode static or continuous (the padded mode's dynamic cache is not compiled)")
        return self


class ModelParams(_Strict):
    """One model of a run: `params/models/<name>.yaml` (DESIGN "Params")."""

    name: str = Field(min_length=1)
    display_name: str = Field(min_length=1)
    release_folder: str | None = None
    backend: Literal["hf", "openai", "openai-batch"]
    model_id: str = Field(min_length=1)
    revision: str | None = None
    persona_placement: Literal["auto", "system", "user"] = "auto"
    prompt_format: Literal["chat", "completion"] = "chat"
    decoding: DecodingParams = DecodingParams()
    batch_size: int = Field(32, ge=1)
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    generation: GenerationParams = GenerationParams()
    source: str = Field("hub", min_length=1)
    api: ApiParams | None = None
    tokenizer: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _api_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("backend") in API_BACKENDS and data.get("api") is None:
            return {**data, "api": {}}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> ModelParams:
        if self.backend in API_BACKENDS:
            if self.prompt_format != "chat":
                raise ValueError(f"prompt_format 'completion' needs a local tokenizer; backend {self.backend!r} takes chat messages only")
            if self.source != "hub":
                raise ValueError(f"source {self.source!r} is for the hf backend; API models use source: hub")
            if "generation" in self.model_fields_set:
                raise ValueError(f"generation: settings are for the hf backend; backend {self.backend!r} batches on the server")
        elif self.api is not None:
            raise ValueError("api: settings are only for the openai and openai-batch backends")
        if self.prompt_format == "completion" and self.persona_placement == "system":
            raise ValueError("persona_placement 'system' needs a chat template; completion prompts prepend the persona (use user or auto)")
        return self

    @property
    def is_api(self) -> bool:
        """True for the OpenAI-compatible API backends (no local model or tokenizer)."""
        return self.backend in API_BACKENDS


class DatasetSpec(_Strict):
    """Where a dataset's items come from: the keyword arguments of `load_task` plus a row limit."""

    demo: bool = False
    subsample: bool = False
    files: dict[str, str] = Field(default_factory=dict)
    allow_partial: bool = False
    limit: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _demo_or_files(self) -> DatasetSpec:
        if self.demo and self.files:
            raise ValueError("demo: true reads the package's demo items; remove `files` or set demo: false")
        return self

    def merged(self, override: DatasetSpec) -> DatasetSpec:
        """This spec with the fields that `override` sets explicitly replaced (checked again)."""
        return DatasetSpec._demo_or_files(self.model_copy(update=override.model_dump(exclude_unset=True)))

    def task_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `personalib.tasks.load_task` (file paths resolved, DESIGN)."""
        kwargs: dict[str, Any] = {"demo": self.demo, "subsample": self.subsample,
                                  "allow_partial": self.allow_partial}
        kwargs.update({key: resolve_path(value) for key, value in self.files.items()})
        return kwargs


class Profile(_Strict):
    """A run: `params/profiles/<name>.yaml` (DESIGN "Params")."""

    name: str = Field(min_length=1)
    description: str = ""
    models: list[str] = Field(min_length=1)
    datasets: dict[DatasetName, DatasetSpec] = Field(min_length=1)
    model_datasets: dict[str, dict[DatasetName, DatasetSpec]] = Field(default_factory=dict)
    persona_sets: list[str] = Field(min_length=1)
    personas: list[str] | None = None
    decoding: DecodingOverride | None = None
    store: str = Field(min_length=1)
    reports: str = Field(min_length=1)
    parsing: Literal["faithful", "strict"] = "faithful"
    generations: Literal["generate", "released"] = "generate"

    @model_validator(mode="after")
    def _consistent(self) -> Profile:
        for label, values in (("models", self.models), ("persona_sets", self.persona_sets)):
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise ValueError(f"{label}: listed twice: {', '.join(dupes)}")
        for model, overrides in self.model_datasets.items():
            if model not in self.models:
                raise ValueError(f"model_datasets.{model}: not one of the profile's models ({', '.join(self.models)})")
            for dataset in overrides:
                if dataset not in self.datasets:
                    raise ValueError(f"model_datasets.{model}.{dataset}: dataset not in the profile's datasets")
        for model in [None, *self.model_datasets]:
            for dataset, spec in self.datasets_for(model).items():
                if spec.subsample and registry.spec(dataset).subsample is None:
                    where = f"model_datasets.{model}.{dataset}" if model else f"datasets.{dataset}"
                    having = [n for n, s in registry.specs().items() if s.subsample]
                    raise ValueError(f"{where}.subsample: the study's subsample exists for "
                                     f"{' and '.join(having)} only")
        return self

    def datasets_for(self, model: str | None) -> dict[str, DatasetSpec]:
        """The datasets one model runs: `datasets`, with the model's `model_datasets` fields on top."""
        specs = dict(self.datasets)
        for dataset, override in self.model_datasets.get(model or "", {}).items():
            specs[dataset] = specs[dataset].merged(override)
        return specs

    def persona_set_refs(self) -> list[str | Path]:
        """`persona_sets` as `load_persona_set` arguments: built-in names, or resolved file paths."""
        return [name if name in BUILTIN_SETS else resolve_path(name) for name in self.persona_sets]

    def load_personas(self) -> dict[str, list[Persona]]:
        """Set name -> personas of each persona set, restricted to `personas` when it is given."""
        result: dict[str, list[Persona]] = {}
        for ref in self.persona_set_refs():
            personas = select_personas(load_persona_set(ref), self.personas)
            if personas:
                result[personas[0].set_name] = personas
        return result

    def store_path(self) -> Path:
        """The generation store folder."""
        return resolve_path(self.store)

    def reports_path(self) -> Path:
        """The reports folder."""
        return resolve_path(self.reports)


def resolve_path(value: str | Path) -> Path:
    """A profile path: absolute as is, relative to the project root otherwise (`~` expanded)."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else project_root() / path


def effective_decoding(model: ModelParams, profile: Profile | None = None) -> Decoding:
    """The model's decoding with the profile's override applied (METHODS 2; DESIGN "Params")."""
    values = model.decoding.model_dump()
    if profile is not None and profile.decoding is not None:
        values.update(profile.decoding.model_dump(exclude_unset=True))
    return Decoding(**values)


def settings_for(model: ModelParams, decoding: Any) -> str:
    """The settings fingerprint (`personalib.store.settings_fingerprint`) of `model`'s answers
    with `decoding` (its effective decoding)."""
    from personalib.store.keys import settings_fingerprint

    return settings_fingerprint(
        model.model_id, model.revision, decoding, placement=model.persona_placement,
        prompt_format=model.prompt_format, interface="api" if model.is_api else "local",
    )  # fmt: skip


def settings_of(model: ModelParams, profile: Profile | None = None) -> str:
    """The settings fingerprint of the answers `model` gives under `profile`: `released` on a
    profile whose generations are the study's release."""
    from personalib.store.schema import RELEASED_SETTINGS

    if profile is not None and profile.generations == "released":
        return RELEASED_SETTINGS
    return settings_for(model, effective_decoding(model, profile))


def list_models() -> list[str]:
    """Names of the model params files in `params/models/`."""
    return sorted(p.stem for p in (params_dir() / "models").glob("*.yaml"))


def list_profiles() -> list[str]:
    """Names of the profiles in `params/profiles/`."""
    return sorted(p.stem for p in (params_dir() / "profiles").glob("*.yaml"))


def load_model(name_or_path: str | Path) -> ModelParams:
    """Validated `ModelParams` of a model name (`params/models/<name>.yaml`) or a YAML path."""
    path = _locate("model", "models", name_or_path, list_models)
    model = _parse(path, ModelParams)
    if model.name != path.stem:
        raise ConfigError(f"model params file {path}: field `name` = {model.name!r} must equal the file stem {path.stem!r}")
    return model


def load_profile(name_or_path: str | Path) -> Profile:
    """Validated `Profile` of a profile name (`params/profiles/<name>.yaml`) or a YAML path.

    Besides the schema, checks that every model has a valid params file and every persona set
    and listed persona stem exists.
    """
    path = _locate("profile", "profiles", name_or_path, list_profiles)
    profile = _parse(path, Profile)
    if profile.name != path.stem:
        raise ConfigError(f"profile file {path}: field `name` = {profile.name!r} must equal the file stem {path.stem!r}")
    for model in profile.models:
        try:
            load_model(model)
        except ConfigError as exc:
            raise ConfigError(f"profile file {path}: field `models` entry {model!r}: {exc}") from exc
    stems: set[str] = set()
    for name, ref in zip(profile.persona_sets, profile.persona_set_refs()):
        try:
            personas = load_persona_set(ref)
        except ConfigError as exc:
            relative = name not in BUILTIN_SETS and not Path(name).expanduser().is_absolute()
            hint = f" (relative paths in a profile are read from {project_root()})" if relative else ""
            raise ConfigError(f"profile file {path}: field `persona_sets` entry {name!r}{hint}: {exc}") from exc
        set_stems = {p.stem for p in personas}
        if profile.personas is not None and not set_stems & set(profile.personas):
            raise ConfigError(
                f"profile file {path}: persona set {name!r} keeps no persona: none of its stems is "
                "listed in `personas`; list some of them or remove the set"
            )
        stems |= set_stems
    missing = [s for s in profile.personas or [] if s not in stems]
    if missing:
        raise ConfigError(
            f"profile file {path}: field `personas` lists stems found in no persona set of the "
            f"profile: {', '.join(missing)} (stems: spaces -> '_', e.g. a_white_person)"
        )
    return profile


def _locate(kind: str, folder: str, name_or_path: str | Path, available: Any) -> Path:
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise ConfigError(f"{kind} file {path} not found")
        return path
    path = params_dir() / folder / f"{text}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"unknown {kind} {text!r}: available in {params_dir() / folder}: "
            f"{', '.join(available()) or '(none)'}; or give the path of a {kind} YAML file"
        )
    return path


def _parse(path: Path, schema: type[_Strict]) -> Any:
    label = "model params file" if schema is ModelParams else "profile file"
    data = read_mapping(path, label)
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        problems = "\n  ".join(describe_error(err, schema) for err in exc.errors())
        raise ConfigError(f"{label} {path}: {exc.error_count()} invalid field(s):\n  {problems}") from None
