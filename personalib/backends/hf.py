"""The `hf` backend: transformers batched greedy generation (issue 4 item 2; METHODS 2).

Rules:

- Input: `Request.prompt` is the text already rendered once by `personalib.prompts.render` (chat
  template applied, exactly one BOS) and is tokenised with `add_special_tokens=False`, so nothing is
  added twice (the original's double BOS, METHODS 2). A Request with only `messages` is rendered
  here, once, with the same `render` (the tokenizer's chat template).
- Batching: requests are tokenised together, sorted by length (longest first, so an out-of-memory
  error shows up in the first batch), cut into batches of `batch_size`, LEFT-padded (the attention
  mask hides the padding, so a prompt's greedy answer does not depend on its batch neighbours up to
  floating-point rounding; exact in float32) and generated greedily with `max_new_tokens` from
  `Decoding`. Results are yielded as each batch finishes.
- Out of memory (torch.cuda.OutOfMemoryError or a RuntimeError saying "out of memory"): the batch
  size is halved and the same batch retried; at batch size 1 the run stops with a PersonalibError.
  The smaller size is kept for the rest of the run.
- dtype `auto` (`resolve_dtype`): bfloat16 on CUDA when the GPU supports it, else float16 on CUDA;
  on CPU bfloat16 when the CPU has native bf16 instructions (oneDNN reports bf16 support: AVX512-BF16
  or AMX), else float32. Measured on the project's 2-core AMD EPYC (AVX512-BF16), embedded model,
  one batch of 32 persona prompts, 4 new tokens, one thread, three runs each: bfloat16 4.2-4.7 s,
  float32 8.2-9.0 s, so bf16 is the faster choice there. bf16 rounding can make a batched answer
  differ from the same prompt run alone; set `dtype: float32` where bit-stable outputs matter more
  than speed (the demo model does).
- Finish reason: "stop" when the model emitted an end-of-sequence token, "length" otherwise.
"""

from __future__ import annotations

import copy
import gc
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch

from personalib.backends.base import Decoding, Request, Result
from personalib.errors import PersonalibError

log = logging.getLogger("personalib.backends.hf")

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


def cpu_has_native_bf16() -> bool:
    """True when oneDNN reports native bf16 support on this CPU (AVX512-BF16 / AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_device(setting: str | None = None) -> torch.device:
    """`setting` ("cpu", "cuda", "cuda:1", ...) or CUDA when available, else CPU."""
    if setting:
        device = torch.device(setting)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise PersonalibError(f"device {setting!r} asked for, but no CUDA GPU is available; use device cpu")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_dtype(setting: str, device: torch.device) -> torch.dtype:
    """The torch dtype for params `dtype` on `device` (`auto`: rule in the module doc)."""
    if setting != "auto":
        if setting not in DTYPES:
            raise PersonalibError(f"unknown dtype {setting!r}: use auto, {', '.join(DTYPES)}")
        return DTYPES[setting]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_native_bf16() else torch.float32


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA out-of-memory errors (and RuntimeErrors saying "out of memory")."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


class HFBackend:
    """Batched greedy generation with a loaded transformers model (module doc)."""

    name = "hf"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        model_id: str,
        revision: str | None = None,
        batch_size: int = 32,
        weights: dict[str, Any] | None = None,
    ) -> None:
        if batch_size < 1:
            raise PersonalibError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.revision = revision
        self.batch_size = batch_size
        self.configured_batch_size = batch_size
        self.weights = weights or {}
        self._pad_id = _pad_id(tokenizer, model)
        self._stop_ids = _stop_ids(model, tokenizer)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def describe(self) -> dict[str, Any]:
        """Model id, revision, chat template sha256, dtype, device, batch sizes, library versions."""
        import transformers

        from personalib.prompts import template_fingerprint

        return {
            "backend": self.name, "model_id": self.model_id, "revision": self.revision,
            "chat_template_sha256": template_fingerprint(self.tokenizer), "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device), "batch_size": self.configured_batch_size, "batch_size_now": self.batch_size,
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "transformers": transformers.__version__,
            "weights": self.weights,
        }  # fmt: skip

    def close(self) -> None:
        """Drop the model and free accelerator memory."""
        self.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def encode(self, requests: Iterable[Request]) -> list[tuple[Request, list[int]]]:
        """Token ids of each request (rendered prompt, add_special_tokens=False), longest first."""
        requests = list(requests)
        texts = [self._text(r) for r in requests]
        if not texts:
            return []
        ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        order = sorted(range(len(requests)), key=lambda i: -len(ids[i]))
        return [(requests[i], list(ids[i])) for i in order]

    def generate(self, requests: Iterable[Request], decoding: Decoding) -> Iterator[Result]:
        """Yield one Result per Request, batch by batch (module doc: batching, OOM halving)."""
        if decoding.temperature not in (0, 0.0):
            raise PersonalibError(
                f"the hf backend decodes greedily (METHODS 2), but decoding.temperature = {decoding.temperature}; set it to 0"
            )
        encoded = self.encode(requests)
        config = self._generation_config(decoding)
        start = 0
        while start < len(encoded):
            batch = encoded[start : start + self.batch_size]
            try:
                results = self._run_batch(batch, config)
            except Exception as exc:  # noqa: BLE001 - only out-of-memory is handled, the rest re-raised
                if not is_out_of_memory(exc):
                    raise
                self._halve(exc)
                continue
            start += len(batch)
            yield from results

    def _halve(self, exc: BaseException) -> None:
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        if self.batch_size == 1:
            raise PersonalibError(
                f"{self.model_id}: out of memory even at batch size 1 on {self.device} ({exc}); use a "
                "larger GPU, a smaller dtype (params dtype) or fewer max_new_tokens"
            ) from None
        self.batch_size = max(1, self.batch_size // 2)
        log.warning("%s: out of memory; batch size halved to %d", self.model_id, self.batch_size)

    def _text(self, request: Request) -> str:
        if request.prompt is not None:
            return request.prompt
        if not request.messages:
            raise PersonalibError(f"request {request.key} has neither a prompt nor messages")
        if not getattr(self.tokenizer, "chat_template", None):
            raise PersonalibError(
                f"request {request.key} has only chat messages, but the tokenizer of {self.model_id} has no chat "
                "template; render the prompt first (personalib.prompts.render with placement completion)"
            )
        from personalib.prompts import render

        messages = [dict(m) for m in request.messages]
        return render(messages, self.tokenizer, "system" if messages[0]["role"] == "system" else "user")

    def _generation_config(self, decoding: Decoding) -> Any:
        config = copy.deepcopy(self.model.generation_config)
        config.do_sample = False
        config.num_beams = 1
        config.temperature = None
        config.top_p = None
        config.top_k = None
        config.max_new_tokens = decoding.max_new_tokens
        config.max_length = None
        config.pad_token_id = self._pad_id
        config.eos_token_id = sorted(self._stop_ids) or None
        return config

    def _run_batch(self, batch: list[tuple[Request, list[int]]], config: Any) -> list[Result]:
        """Left-pad one batch, generate greedily, cut each answer at its first stop token."""
        width = max(len(ids) for _, ids in batch)
        input_ids = torch.full((len(batch), width), self._pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (_, ids) in enumerate(batch):
            if ids:
                input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
                attention[row, width - len(ids) :] = 1
        device = self.device
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids.to(device), attention_mask=attention.to(device), generation_config=config
            )
        new_tokens = output[:, width:].tolist()
        results = []
        for (request, ids), tokens in zip(batch, new_tokens):
            cut = next((i for i, t in enumerate(tokens) if t in self._stop_ids), None)
            kept = tokens if cut is None else tokens[:cut]
            results.append(
                Result(
                    key=request.key,
                    text=self.tokenizer.decode(kept, skip_special_tokens=True),
                    finish_reason="length" if cut is None else "stop",
                    n_input_tokens=len(ids),
                    n_output_tokens=len(kept) + (0 if cut is None else 1),
                )
            )
        return results


def _pad_id(tokenizer: Any, model: Any) -> int:
    for candidate in (getattr(tokenizer, "pad_token_id", None), getattr(model.generation_config, "pad_token_id", None),
                      getattr(tokenizer, "eos_token_id", None)):  # fmt: skip
        if candidate is not None:
            return int(candidate)
    return 0


def _stop_ids(model: Any, tokenizer: Any) -> set[int]:
    ids = getattr(model.generation_config, "eos_token_id", None)
    if ids is None:
        ids = getattr(tokenizer, "eos_token_id", None)
    if ids is None:
        return set()
    return {int(i) for i in (ids if isinstance(ids, (list, tuple)) else [ids])}


# -- loading from params -----------------------------------------------------------------------------
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


def load_hf_backend(model: Any, *, device: str | None = None, dtype: str | None = None, batch_size: int | None = None) -> HFBackend:
    """An HFBackend for params `model` (params.ModelParams): weights per `source`, dtype per `dtype`."""
    from transformers import AutoModelForCausalLM

    where, revision, weights = weights_location(model)
    target = resolve_device(device)
    torch_dtype = resolve_dtype(dtype or model.dtype, target)
    tokenizer = load_tokenizer(model)
    try:
        loaded = AutoModelForCausalLM.from_pretrained(where, revision=revision, dtype=torch_dtype)
    except (OSError, ValueError) as exc:
        raise _not_available(model, where, exc) from None
    return HFBackend(
        loaded.to(target), tokenizer, model_id=model.model_id, revision=model.revision,
        batch_size=batch_size or model.batch_size, weights=weights,
    )  # fmt: skip


def _not_available(model: Any, where: str, exc: BaseException) -> PersonalibError:
    hint = (
        f"download it first on a machine with network: `huggingface-cli download {model.model_id}"
        + (f" --revision {model.revision}`" if model.revision else "`")
        + " (gated models need `huggingface-cli login`), or point params `source:` at a local folder"
        if model.source == "hub" and not Path(where).exists()
        else "check the folder"
    )
    return PersonalibError(f"model {model.name!r}: cannot load {where}: {exc}; {hint}")
