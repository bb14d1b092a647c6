"""Token counts and API cost estimates for a planned run (`plan`, `generate --dry-run`). Never downloads.

Which counter a model gets (`token_counter`), first that applies:

1. params `tokenizer:` (a local tokenizer folder) -> that tokenizer;
2. hf models: the model's own tokenizer when it is already on this machine (the hub cache at the
   pinned revision, or the local `source:` folder), loaded with `local_files_only=True`;
3. OpenAI models: tiktoken, when it is installed AND the model's encoding file is already in
   tiktoken's cache (`TIKTOKEN_CACHE_DIR`, `DATA_GYM_CACHE_DIR` or `<tmp>/data-gym-cache`);
4. otherwise an estimate of `CHARS_PER_TOKEN` = 4.0 characters per token (OpenAI's rule of thumb
   for English text).

Input tokens of a run are counted additively: for P personas and I items, the persona statements
are counted once per persona and the prompts once per item, plus a per-conversation overhead
(`OPENAI_TOKENS_PER_MESSAGE` per message and `OPENAI_TOKENS_PER_REPLY` per request, OpenAI's
counting rule, for API models; the chat template's own tokens, measured by rendering one
conversation, for local models with a tokenizer; 0 for the character estimate of a local model).
Output tokens are an upper bound: max_new_tokens per prompt. Every printout names the method.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from personalib.errors import ConfigError
from personalib.params import ModelParams, resolve_path
from personalib.prompts import Placement, build_messages, render

CHARS_PER_TOKEN = 4.0
OPENAI_TOKENS_PER_MESSAGE = 4  # 3 framing tokens + 1 for the role name
OPENAI_TOKENS_PER_REPLY = 3  # every reply is primed with <|start|>assistant<|message|>
TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"


@dataclass(frozen=True)
class TokenCounter:
    """Counts tokens of texts; `method` says how (printed with every estimate)."""

    method: str
    exact: bool
    count_many: Callable[[Sequence[str]], list[float]]
    tokenizer: Any | None = None

    def total(self, texts: Sequence[str]) -> float:
        """Sum of the token counts of `texts`."""
        return float(sum(self.count_many(list(texts)))) if texts else 0.0


def char_estimate() -> TokenCounter:
    """The documented fallback: characters / `CHARS_PER_TOKEN`."""
    return TokenCounter(
        method=f"estimate: {CHARS_PER_TOKEN:g} characters per token",
        exact=False,
        count_many=lambda texts: [len(t) / CHARS_PER_TOKEN for t in texts],
    )


def hf_counter(tokenizer: Any, label: str) -> TokenCounter:
    """Counter from a transformers tokenizer (no special tokens added)."""
    def count(texts: Sequence[str]) -> list[float]:
        return [float(len(ids)) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]
    return TokenCounter(method=f"tokenizer: {label}", exact=True, count_many=count, tokenizer=tokenizer)


def token_counter(model: ModelParams) -> TokenCounter:
    """The best counter available offline for `model` (order in the module doc)."""
    if model.tokenizer:
        folder = resolve_path(model.tokenizer)
        if not folder.is_dir():
            raise ConfigError(
                f"model {model.name!r}: tokenizer folder {folder} not found (params `tokenizer:`); "
                "point it at a local tokenizer folder or set it to null"
            )
        return hf_counter(_load_local_tokenizer(str(folder), None), str(folder))
    if model.backend == "hf" and model.source != "embedded":
        where = model.model_id if model.source == "hub" else str(resolve_path(model.source))
        tok = _try_local_tokenizer(where, model.revision if model.source == "hub" else None)
        if tok is not None:
            return hf_counter(tok, f"{where} (local copy)")
    if model.is_api:
        counter = tiktoken_counter(model.model_id)
        if counter is not None:
            return counter
    return char_estimate()


def tiktoken_counter(model_id: str) -> TokenCounter | None:
    """tiktoken's encoding for an OpenAI model when tiktoken is installed and the encoding is
    cached; None otherwise (checked without any network access)."""
    try:
        import tiktoken
    except ImportError:
        return None
    try:
        name = tiktoken.encoding_name_for_model(model_id)
    except (KeyError, AttributeError):
        return None
    if not tiktoken_cache_file(name).is_file():
        return None
    encoding = tiktoken.get_encoding(name)

    def count(texts: Sequence[str]) -> list[float]:
        return [float(len(ids)) for ids in encoding.encode_ordinary_batch(list(texts))]

    return TokenCounter(method=f"tiktoken: {name} (cached)", exact=True, count_many=count)


def tiktoken_cache_file(encoding_name: str) -> Path:
    """Where tiktoken caches an encoding file (its own rule: sha1 of the file's URL)."""
    folder = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR") \
        or os.path.join(tempfile.gettempdir(), "data-gym-cache")
    key = hashlib.sha1(TIKTOKEN_URL.format(name=encoding_name).encode()).hexdigest()
    return Path(folder) / key


def conversation_overhead(model: ModelParams, counter: TokenCounter, placement: Placement) -> float:
    """Tokens of one conversation beyond its persona statement and prompt (module doc)."""
    n_messages = 2 if placement == "system" else 1
    if model.is_api:
        return float(n_messages * OPENAI_TOKENS_PER_MESSAGE + OPENAI_TOKENS_PER_REPLY)
    if counter.tokenizer is None:
        return 0.0
    probe_statement, probe_prompt = "You are a person.", "Question: ?"
    text = render(build_messages("a person", probe_prompt, placement), counter.tokenizer, placement)
    joiner = [] if placement == "system" else ["\n\n"]
    content = counter.total([probe_statement, probe_prompt, *joiner])
    return max(0.0, counter.total([text]) - content)


def request_overhead(model: ModelParams, counter: TokenCounter, placement: Placement) -> float:
    """Tokens of one request beyond its persona statement and prompt: the conversation overhead,
    plus the "\\n\\n" that joins statement and prompt for `user`/`completion` placement."""
    joiner = 0.0 if placement == "system" else counter.total(["\n\n"])
    return conversation_overhead(model, counter, placement) + joiner


def input_tokens(statements: np.ndarray, prompts: np.ndarray, per_request: float, per_persona: np.ndarray,
                 per_item: np.ndarray) -> float:
    """Input tokens of a set of persona x prompt conversations (additive count, module doc).

    `statements[p]`/`prompts[i]` are the token counts of each persona statement and item prompt;
    the set has `per_persona[p]` conversations of persona p and `per_item[i]` of item i, each with
    `per_request` more tokens (`request_overhead`).
    """
    return float(statements @ per_persona + prompts @ per_item + per_persona.sum() * per_request)


def cost_usd(model: ModelParams, n_input: float | None, n_output: float | None) -> float | None:
    """API cost from the params' prices (usd per 1M input/output tokens); None when unknown."""
    api = model.api
    if api is None or api.usd_per_1m_input is None or api.usd_per_1m_output is None:
        return None
    if n_input is None or n_output is None:
        return None
    return n_input / 1e6 * api.usd_per_1m_input + n_output / 1e6 * api.usd_per_1m_output


def _try_local_tokenizer(where: str, revision: str | None) -> Any | None:
    try:
        return _load_local_tokenizer(where, revision)
    except Exception:  # noqa: BLE001 - not on this machine (OSError, ValueError, ...): use the estimate
        return None


def _load_local_tokenizer(where: str, revision: str | None) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(where, revision=revision, local_files_only=True)
