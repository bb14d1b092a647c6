"""The `hf` backend: transformers batched greedy generation (METHODS 2).

Rules:

- Input: `Request.prompt` is the text already rendered once by `personalib.prompts.render` (chat
  template applied, exactly one BOS) and is tokenised with `add_special_tokens=False`, so nothing is
  added twice (the original's double BOS, METHODS 2). The backend never builds prompts: a Request
  without `prompt` is refused (the engine renders; the chat template's hash is in the run manifest).
- Ordering: the requests of one `generate` call (one engine chunk) are tokenised together and
  sorted by length, longest first (so an out-of-memory error shows up in the first batch).
- Modes (params `generation.mode`; `resolve_generation`: `auto` is `static` on a CUDA GPU and
  `padded` on a CPU):
  - `padded`: batches of `batch_size`, LEFT-padded (the attention mask hides the padding), generated
    greedily by `model.generate` with the dynamic KV cache. A batch runs until its last row stops.
  - `static`: the same batches with transformers' static KV cache, sized to the batch's prompt
    width rounded up to `WIDTH_STEP` plus `max_new_tokens` and never shrunk within a run, so that
    with `compile` transformers compiles the decoding step once (torch.compile, mode
    "reduce-overhead": CUDA graphs) and reuses it; with `compile` a smaller last batch is filled
    up with copies of its last row (their answers are dropped) to keep the compiled shape.
  - `continuous`: transformers' continuous batching (`personalib.backends.hf_continuous`): up to
    `batch_size` requests in flight in a paged KV cache; a finished request leaves at once and
    the next one takes its place, so no row is decoded after it stopped.
  `compile` (params `generation.compile`; `auto` = on a CUDA GPU for static and continuous) needs
  a CUDA GPU. If torch.compile fails, the run goes on uncompiled with a warning, and `describe()`
  records the error.
- Batch invariance: in float32 on a CPU each prompt gets the answer it gets alone, in every mode
  (tested on the embedded model), so answers do not depend on how requests were batched (shards,
  chunks, batch size). In bf16/fp16, and on GPUs whose kernels change with the batch shape, the
  rounding of a row depends on its batch, so a batched answer can differ from the same prompt
  batched differently; `describe()` says which case a run is in.
- Out of memory (torch.cuda.OutOfMemoryError or a RuntimeError saying "out of memory"): the batch
  size is halved and the same batch retried; at batch size 1 the run stops with a PersonalibError.
  The smaller size is kept for the rest of the run.
- dtype `auto` (`resolve_dtype`): bfloat16 on CUDA when the GPU supports it, else float16 on CUDA;
  on CPU bfloat16 when the CPU has native bf16 instructions (oneDNN reports bf16 support: AVX512-BF16
  or AMX), else float32. Measured on the project's 2-core AMD EPYC (AVX512-BF16), embedded model,
  one batch of 32 persona prompts, 4 new tokens, one thread, three runs each: bfloat16 4.2-4.7 s,
  float32 8.2-9.0 s, so bf16 is the faster choice there, but not batch-invariant; the demo sets
  `dtype: float32`.
- Answer caps: `generate(..., caps={key: n})` stops a request after n new tokens (at most
  `max_new_tokens`) as if its stop token came there; benchmarks use it to replay the study's
  answer lengths on a random-weight model, which never stops by itself.
- Finish reason: "stop" when the model emitted an end-of-sequence token, "length" otherwise.
"""

from __future__ import annotations

import copy
import gc
import inspect
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import torch

from personalib.backends.base import Decoding, Request, Result
from personalib.backends.hf_continuous import CompileFailed, generate_continuous
from personalib.errors import PersonalibError

log = logging.getLogger("personalib.backends.hf")

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
MODES = ("padded", "static", "continuous")
WIDTH_STEP = 64  # static mode: prompt widths rounded up to this, so few distinct cache shapes are compiled


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


def resolve_generation(mode: str, compile: bool | str, device: torch.device) -> tuple[str, bool]:
    """(mode, compile) for params `generation` on `device`: `auto` mode is static on a CUDA GPU and
    padded on a CPU; `auto` compile is on for static and continuous on a CUDA GPU (module doc)."""
    gpu = device.type == "cuda"
    if mode == "auto":
        mode = "static" if gpu else "padded"
    if mode not in MODES:
        raise PersonalibError(f"unknown generation mode {mode!r}: use auto, {', '.join(MODES)}")
    if compile == "auto":
        compile = gpu and mode != "padded"
    if compile and mode == "padded":
        raise PersonalibError("generation.compile: true needs mode static or continuous (padded batches use the "
                              "dynamic KV cache, which is not compiled)")
    if compile and not gpu:
        raise PersonalibError(f"generation.compile: true needs a CUDA GPU, but the model runs on {device}; "
                              "set compile: auto or false")
    return mode, bool(compile)


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
        mode: str = "padded",
        compile: bool = False,
    ) -> None:
        if batch_size < 1:
            raise PersonalibError(f"batch_size must be >= 1, got {batch_size}")
        if mode not in MODES:
            raise PersonalibError(f"unknown generation mode {mode!r}: use {', '.join(MODES)}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.revision = revision
        self.batch_size = batch_size
        self.configured_batch_size = batch_size
        self.weights = weights or {}
        self.mode = mode
        self.compile = compile
        self.compile_error: str | None = None
        self.cache_len = 0  # static mode: the KV cache length, grown (never shrunk) as batches need
        self.paged: dict[str, Any] = {}  # continuous mode: the paged cache settings of the last call
        self._static_cache: tuple[tuple[int, int], Any] | None = None  # static mode: ((rows, length), cache)
        forward = inspect.signature(type(model).forward).parameters  # transformers 5 renamed the cache argument
        self._cache_kwarg = "cache" if "cache" in forward else "past_key_values"
        self._pad_id = _pad_id(tokenizer, model)
        self._stop_ids = _stop_ids(model, tokenizer)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def describe(self) -> dict[str, Any]:
        """Model id, revision, dtype, device, library versions, and the batch settings that decide
        whether answers depend on batching (module doc)."""
        import transformers

        return {
            "backend": self.name, "model_id": self.model_id, "revision": self.revision,
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device), "batch_size": self.configured_batch_size, "batch_size_now": self.batch_size,
            "generation": self.batch_settings(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "transformers": transformers.__version__, "weights": self.weights,
        }  # fmt: skip

    def batch_settings(self) -> dict[str, Any]:
        """Mode, ordering, cache, compile and attention of this backend (stored in run manifests)."""
        cache = {"padded": "dynamic", "static": "static", "continuous": "paged"}[self.mode]
        return {
            "mode": self.mode, "continuous_batching": self.mode == "continuous", "cache_implementation": cache,
            "compile": self.compile, "compile_error": self.compile_error,
            "ordering": "each call's requests sorted by prompt length, longest first"
                        + ("; admitted in that order, up to batch_size in flight" if self.mode == "continuous"
                           else "; cut into left-padded batches of batch_size"),
            "attention": getattr(self.model.config, "_attn_implementation", None),
            "static_cache_len": self.cache_len or None, "paged_cache": self.paged or None,
            "batch_invariant": self.dtype == torch.float32 and self.device.type == "cpu",
        }  # fmt: skip

    def close(self) -> None:
        """Drop the model and free accelerator memory."""
        self.model = self._static_cache = None
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

    def generate(
        self, requests: Iterable[Request], decoding: Decoding, *, caps: Mapping[str, int] | None = None
    ) -> Iterator[Result]:
        """Yield one Result per Request (module doc: ordering, modes, OOM halving, answer caps)."""
        if decoding.temperature not in (0, 0.0):
            raise PersonalibError(
                f"the hf backend decodes greedily (METHODS 2), but decoding.temperature = {decoding.temperature}; set it to 0"
            )
        encoded = self.encode(requests)
        config = self._generation_config(decoding)
        limits = {r.key: max(1, min(int(caps[r.key]), decoding.max_new_tokens)) for r, _ in encoded if caps and r.key in caps}
        if self.mode == "continuous":
            yield from generate_continuous(self, encoded, config, limits)
            return
        start = 0
        while start < len(encoded):
            batch = encoded[start : start + self.batch_size]
            try:
                results = self._run_batch(batch, config, limits)
            except Exception as exc:  # noqa: BLE001 - out-of-memory and compile failures are handled, the rest re-raised
                self.recover(exc)
                continue
            start += len(batch)
            yield from results

    def recover(self, exc: BaseException) -> None:
        """After a failed batch: halve the batch on out-of-memory, drop compile when torch.compile
        failed (module doc); re-raise anything else."""
        if self.compile and isinstance(exc, (torch._dynamo.exc.TorchDynamoException, CompileFailed)):
            self.compile = False
            self.compile_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]
            log.warning("%s: torch.compile failed (%s); generating without compile", self.model_id, self.compile_error)
            return
        if not is_out_of_memory(exc):
            raise exc
        self._static_cache = None
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
        if request.prompt is None:
            raise PersonalibError(
                f"request {request.key} has no rendered prompt: the hf backend takes the model input text "
                "(personalib.prompts.render, applied once by the generation engine), not chat messages"
            )
        return request.prompt

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

    def _use_static_cache(self, config: Any, rows: int, width: int) -> Any:
        """Set `config` to compile on or off and return a static KV cache for `rows` sequences of
        `width` + max_new_tokens tokens, its length grown, never shrunk, within the run; the same
        cache object (reset) while the shape stays, so compiled CUDA graphs replay on the same
        memory. Sliding-window layers whose window is at least that length (never reached) get
        plain static layers: transformers' sliding static layer keeps a Python counter that makes
        torch.compile recompile at every new length."""
        from transformers import CompileConfig, StaticCache
        from transformers.cache_utils import StaticLayer

        self.cache_len = max(self.cache_len, width + config.max_new_tokens)
        config.disable_compile = not self.compile
        if self.compile:
            config.compile_config = CompileConfig(fullgraph=False, dynamic=False, mode="reduce-overhead")
        if self._static_cache is not None and self._static_cache[0] == (rows, self.cache_len):
            with torch.inference_mode():  # its tensors were made in inference mode
                self._static_cache[1].reset()
            return self._static_cache[1]
        self._static_cache = None  # free the old one first
        cache = StaticCache(config=self.model.config, max_cache_len=self.cache_len)
        for index, layer in enumerate(cache.layers):
            if getattr(layer, "is_sliding", False) and layer.max_cache_len >= self.cache_len:
                cache.layers[index] = StaticLayer(max_cache_len=self.cache_len)
        self._static_cache = ((rows, self.cache_len), cache)
        return cache

    def _run_batch(self, batch: list[tuple[Request, list[int]]], config: Any, limits: Mapping[str, int]) -> list[Result]:
        """Left-pad one batch, generate greedily, cut each answer at its cap and first stop token."""
        rows = list(batch)
        width = max(len(ids) for _, ids in rows)
        limit = config.max_new_tokens
        config = copy.deepcopy(config)
        cache = {}
        if self.mode == "static":
            if self.compile:  # every batch in the compiled shape
                rows += [rows[-1]] * (self.batch_size - len(rows))
            width = -(-width // WIDTH_STEP) * WIDTH_STEP
            cache[self._cache_kwarg] = self._use_static_cache(config, len(rows), width)
        config.max_new_tokens = max(limits.get(r.key, limit) for r, _ in batch)  # the batch stops with its last row
        input_ids = torch.full((len(rows), width), self._pad_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for row, (_, ids) in enumerate(rows):
            if ids:
                input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
                attention[row, width - len(ids) :] = 1
        device = self.device
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids.to(device), attention_mask=attention.to(device), generation_config=config, **cache
            )
        new_tokens = output[: len(batch), width:].tolist()
        return [
            self.result(request, ids, tokens[: limits.get(request.key, limit)])
            for (request, ids), tokens in zip(batch, new_tokens)
        ]

    def result(self, request: Request, ids: list[int], tokens: list[int]) -> Result:
        """The Result of one request from its generated tokens: cut at the first stop token."""
        cut = next((i for i, t in enumerate(tokens) if t in self._stop_ids), None)
        kept = tokens if cut is None else tokens[:cut]
        return Result(
            key=request.key,
            text=self.tokenizer.decode(kept, skip_special_tokens=True),
            finish_reason="length" if cut is None else "stop",
            n_input_tokens=len(ids),
            n_output_tokens=len(kept) + (0 if cut is None else 1),
        )


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
