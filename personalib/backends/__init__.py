"""Generation backends behind one small interface (`personalib.backends.base`; docs/DESIGN.md).

`create(model_params, **overrides)` builds the backend named by params `backend`:

- `hf` (`personalib.backends.hf`): transformers, batched greedy generation; overrides `device`,
  `dtype`, `batch_size`, `mode` and `compile` (params `generation`).
- `openai` (`personalib.backends.openai`): chat completions via the official client against
  api.openai.com or any OpenAI-compatible server (`api.base_url`); overrides `api_key`, `base_url`,
  `concurrency`, `max_retries`, `timeout_s`, `backoff_base_s`, `backoff_cap_s`.
- `openai-batch` (`personalib.backends.openai_batch`): the Batch API, resumable through a state
  folder: `state_dir` (default `<cache>/openai-batch/<model name>`; the engine should pass one
  beside its store), `poll_interval_s`, `max_wait_s`, `max_requests_per_batch`, plus the
  `openai` overrides except concurrency.

Heavy libraries (torch, transformers, openai) are imported only by the backend that needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from personalib.backends.base import Backend, Decoding, Request, Result
from personalib.errors import PersonalibError
from personalib.paths import cache_dir

__all__ = ["BACKENDS", "Backend", "Decoding", "Request", "Result", "create", "load_tokenizer"]

BACKENDS: tuple[str, ...] = ("hf", "openai", "openai-batch")
_HF_OPTIONS = frozenset({"device", "dtype", "batch_size", "mode", "compile"})
_API_OPTIONS = frozenset({"api_key", "base_url", "max_retries", "timeout_s", "backoff_base_s", "backoff_cap_s"})
_BATCH_OPTIONS = _API_OPTIONS | {"state_dir", "poll_interval_s", "max_wait_s", "max_requests_per_batch"}


def create(model: Any, **overrides: Any) -> Backend:
    """The backend for params `model` (`personalib.params.ModelParams`), by `model.backend`.

    `overrides` replace params settings for this run (module doc lists them per backend); an
    unknown override or backend raises PersonalibError.
    """
    kind = model.backend
    if kind == "hf":
        _check(kind, overrides, _HF_OPTIONS)
        from personalib.backends.hf_load import load_hf_backend

        return load_hf_backend(model, **overrides)
    if kind == "openai":
        _check(kind, overrides, _API_OPTIONS | {"concurrency"})
        from personalib.backends.openai import OpenAIBackend

        settings = _api_settings(model, overrides)
        return OpenAIBackend(model.model_id, concurrency=overrides.get("concurrency", model.api.concurrency), **settings)
    if kind == "openai-batch":
        _check(kind, overrides, _BATCH_OPTIONS)
        from personalib.backends.openai_batch import OpenAIBatchBackend

        settings = _api_settings(model, overrides)
        state_dir = Path(overrides.pop("state_dir", None) or cache_dir() / "openai-batch" / model.name)
        extra = {k: overrides[k] for k in ("poll_interval_s", "max_wait_s", "max_requests_per_batch") if k in overrides}
        return OpenAIBatchBackend(model.model_id, state_dir=state_dir, **settings, **extra)
    raise PersonalibError(
        f"model {model.name!r}: unknown backend {kind!r} (params/models/{model.name}.yaml field `backend`): "
        f"use one of {', '.join(BACKENDS)}"
    )


def load_tokenizer(model: Any) -> Any:
    """The local tokenizer of an hf model (for dry runs and token counts); None for API backends."""
    if model.backend != "hf":
        return None
    from personalib.backends.hf_load import load_tokenizer as load

    return load(model)


def _check(kind: str, overrides: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise PersonalibError(f"backend {kind}: unknown option(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _api_settings(model: Any, overrides: dict[str, Any]) -> dict[str, Any]:
    """Key, endpoint, retry and timeout settings from params `api`, with overrides applied."""
    from personalib.backends.api import resolve_api_key

    settings = model.api
    if settings is None:
        raise PersonalibError(f"model {model.name!r}: backend {model.backend} needs an `api:` section in params/models/{model.name}.yaml")
    base_url = overrides.get("base_url", settings.base_url)
    where = f"model {model.name!r} (params/models/{model.name}.yaml)"
    api_key = overrides.get("api_key") or resolve_api_key(settings.api_key_env, base_url, where)
    return {
        "api_key": api_key, "base_url": base_url, "label": model.name,
        "max_retries": overrides.get("max_retries", settings.max_retries),
        "timeout_s": overrides.get("timeout_s", settings.timeout_s),
        **{k: overrides[k] for k in ("backoff_base_s", "backoff_cap_s") if k in overrides},
    }  # fmt: skip
