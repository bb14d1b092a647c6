"""Loading the `hf` backend from model params: weights per `source`, tokenizer, dtype, device and
batching mode (rules of each in `personalib.backends.hf`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from personalib.backends.hf import HFBackend, resolve_device, resolve_dtype, resolve_generation
from personalib.errors import PersonalibError


def weights_location(model: Any) -> tuple[str, str | None, dict[str, Any]]:
    """(from_pretrained path or hub id, revision, provenance) for params `source` (hub | embedded | path)."""
    from personalib.backends import embedded

    if model.source == "embedded":
        folder = embedded.ensure_converted()
        return str(folder), None, {"source": "embedded", **embedded.provenance()}
    if model.source == "hub":
        return model.model_id, model.revision, {"source": "hub", "model_id": model.model_id, "revision": model.revision}
    from personalib.params import resolve_path

    folder = resolve_path(model.source)
    if not folder.is_dir():
        raise PersonalibError(
            f"model {model.name!r}: source folder {folder} not found (params `source:` is hub, embedded or a "
            "local transformers folder)"
        )
    return str(folder), None, {"source": "local", "path": str(folder)}


def load_tokenizer(model: Any) -> Any:
    """The tokenizer of an hf model's params (local files only when the hub is offline)."""
    from transformers import AutoTokenizer

    where, revision, _ = weights_location(model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, revision=revision)
    except (OSError, ValueError) as exc:
        raise _not_available(model, where, exc) from None
    tokenizer.padding_side = "left"
    return tokenizer


def load_hf_backend(
    model: Any, *, device: str | None = None, dtype: str | None = None, batch_size: int | None = None,
    mode: str | None = None, compile: bool | str | None = None,
) -> HFBackend:
    """An HFBackend for params `model` (params.ModelParams): weights per `source`, dtype per `dtype`,
    batching per `generation` (`resolve_generation`); the keyword arguments override the params."""
    from transformers import AutoModelForCausalLM

    where, revision, weights = weights_location(model)
    target = resolve_device(device)
    torch_dtype = resolve_dtype(dtype or model.dtype, target)
    chosen_mode, chosen_compile = resolve_generation(
        mode or model.generation.mode, model.generation.compile if compile is None else compile, target
    )
    tokenizer = load_tokenizer(model)
    try:
        loaded = AutoModelForCausalLM.from_pretrained(where, revision=revision, dtype=torch_dtype)
    except (OSError, ValueError) as exc:
        raise _not_available(model, where, exc) from None
    return HFBackend(
        loaded.to(target), tokenizer, model_id=model.model_id, revision=model.revision,
        batch_size=batch_size or model.batch_size, weights=weights, mode=chosen_mode, compile=chosen_compile,
    )  # fmt: skip


def _not_available(model: Any, where: str, exc: BaseException) -> PersonalibError:
    hint = (
        f"download it first on a machine with network: `hf download {model.model_id}"
        + (f" --revision {model.revision}`" if model.revision else "`")
        + " (gated models need `hf auth login` or HF_TOKEN), or point params `source:` at a local folder"
        if model.source == "hub" and not Path(where).exists()
        else "check the folder"
    )
    return PersonalibError(f"model {model.name!r}: cannot load {where}: {exc}; {hint}")
