"""Continuous batching for the `hf` backend (mode `continuous`): transformers' own manager.

Rules:

- The requests of one call enter transformers' continuous-batching manager
  (`model.continuous_batching_context_manager`, the machinery behind `generate_batch`) in the order
  given (longest prompt first), each with its own `max_new_tokens` (its cap, else the decoding's).
  At most `batch_size` requests are in flight; a request that stops (stop token or cap) leaves at
  once and the next waiting one takes its place, so no row is decoded after it stopped.
- The paged KV cache is sized for the work, not for the free memory: `batch_size` requests of the
  longest prompt plus `max_new_tokens`, in pages of `PAGE_SIZE` tokens (transformers would otherwise
  reserve most of the device's free memory, 60% of the RAM on a CPU). Prefix sharing between
  requests is off, so a request's cache holds only what it computed itself.
- Attention: flash attention when the `flash_attn` package is installed (transformers switches to
  it), else SDPA over the paged cache. With `compile`, transformers' compile level 1
  (torch.compile of the forward, dynamic shapes).
- Failures: a request that comes back with an error stops the call after the others finished; when
  the error is out of memory the batch size is halved and the unfinished requests run again
  (`HFBackend.recover`), any other error is raised as a PersonalibError naming it.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Iterator, Mapping
from importlib.util import find_spec
from typing import Any

import torch

from personalib.backends.base import Request, Result
from personalib.errors import PersonalibError

PAGE_SIZE = 32  # tokens per cache page: a 200-token request wastes at most 31 slots
MAX_BATCH_TOKENS = {"cuda": 8192, "cpu": 2048}  # tokens per forward pass (prefill chunks + decoding rows)


class CompileFailed(RuntimeError):
    """torch.compile failed in a mode that reports errors as text (continuous batching)."""


def generate_continuous(
    backend: Any, encoded: list[tuple[Request, list[int]]], config: Any, limits: Mapping[str, int]
) -> Iterator[Result]:
    """Yield one Result per encoded request as it finishes (module doc)."""
    todo = list(encoded)
    while todo:
        finished: set[str] = set()
        try:
            for result in _run(backend, todo, config, limits):
                finished.add(result.key)
                yield result
            return
        except Exception as exc:  # noqa: BLE001 - recover() re-raises what it does not handle
            backend.recover(exc)
        todo = [row for row in todo if row[0].key not in finished]


def cb_config(backend: Any, encoded: list[tuple[Request, list[int]]], max_new_tokens: int) -> Any:
    """The ContinuousBatchingConfig for one call (module doc: cache sizing, no prefix sharing)."""
    from transformers import ContinuousBatchingConfig

    per_request = math.ceil((max(len(ids) for _, ids in encoded) + max_new_tokens) / PAGE_SIZE)
    in_flight = min(backend.batch_size, len(encoded))
    wanted = {
        "page_size": PAGE_SIZE, "num_blocks": in_flight * per_request + 2,
        "max_batch_tokens": MAX_BATCH_TOKENS.get(backend.device.type, 2048), "max_requests_per_batch": in_flight,
        "allow_block_sharing": False, "auto_switch_to_flash": find_spec("flash_attn") is not None,
        "default_compile_level": 1 if backend.compile else 0,
    }  # fmt: skip
    known = {f.name for f in dataclasses.fields(ContinuousBatchingConfig)}
    settings = {k: v for k, v in wanted.items() if k in known}
    backend.paged = dict(settings)
    return ContinuousBatchingConfig(**settings)


def _run(backend: Any, todo: list[tuple[Request, list[int]]], config: Any, limits: Mapping[str, int]) -> Iterator[Result]:
    """One pass of the manager over `todo`; raises on the first failed request once all returned."""
    model = backend.model
    settings = cb_config(backend, todo, config.max_new_tokens)
    options = {"generation_config": config, "continuous_batching_config": settings, "block": True,
               "timeout": 60, "warmup": backend.compile}  # fmt: skip
    accepted = inspect.signature(model.continuous_batching_context_manager).parameters
    failures: list[str] = []
    with torch.inference_mode(), model.continuous_batching_context_manager(
        **{k: v for k, v in options.items() if k in accepted}
    ) as manager:
        for index, (request, ids) in enumerate(todo):
            manager.add_request(ids, request_id=str(index), max_new_tokens=limits.get(request.key, config.max_new_tokens))
        waiting = len(todo)
        while waiting:
            output = manager.get_result(timeout=1)
            if output is None:
                if not manager.is_running():
                    failures.append("the continuous-batching thread stopped without answering every request")
                    break
                continue
            if not output.is_finished():
                continue
            waiting -= 1
            if output.error is not None:
                failures.append(str(output.error))
                continue
            request, ids = todo[int(output.request_id)]
            yield backend.result(request, ids, list(output.generated_tokens))
    if failures:
        raise _failure(backend, failures)


def _failure(backend: Any, failures: list[str]) -> Exception:
    """The exception for `HFBackend.recover`: out of memory, a compile error, or a PersonalibError."""
    first = failures[0]
    if "out of memory" in first.lower():
        return torch.cuda.OutOfMemoryError(first)
    if backend.compile and any(word in first for word in ("dynamo", "inductor", "BackendCompilerFailed")):
        return CompileFailed(first)
    return PersonalibError(
        f"{backend.model_id}: continuous batching failed for {len(failures)} request(s): {first}; "
        "rerun to resume, or set params generation.mode: padded"
    )
