"""What the two OpenAI-API backends share: the key, the client, the retry rule, the result.

Rules (METHODS 2 and 7 "unbounded API retries"):

- The key is read from the environment variable named by params `api.api_key_env`, never from a
  file, and never logged, stored or returned; error messages are scrubbed of it. A local
  OpenAI-compatible server that needs no key (vllm serve, TGI, Ollama, llama.cpp server) is reached
  with `api.base_url` set and `api.api_key_env: null`.
- The HTTP clients' own retries are off (the official client's `max_retries=0` for the Batch API,
  urllib3's for chat completions, `personalib.backends.transport`); the backends retry
  themselves, bounded: 429, 5xx, 408/409, timeouts, connection errors and malformed bodies are
  retried with exponential backoff and jitter (a server's Retry-After is honoured, capped);
  anything else (400, 401, 403, 404, 422) stops at once. Both clients' errors are classified alike.
- Decoding (METHODS 2): temperature 0, top_p 1, seed 42, max_tokens 100 by default; the seed is sent
  and the answer's `system_fingerprint` recorded.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import urllib3

from personalib.backends.base import Decoding, Result
from personalib.backends.transport import HTTPStatusError, MalformedResponse
from personalib.errors import ConfigError, PersonalibError
from personalib.params import key_source_problem
from personalib.redact import mask

if TYPE_CHECKING:
    import openai

log = logging.getLogger("personalib.backends.api")
T = TypeVar("T")

NO_KEY = "no-key-needed"
"""Placeholder sent to a local server configured with `api_key_env: null` (it ignores the header)."""

_RETRY_STATUS = frozenset({408, 409, 429})


class Stopped(Exception):
    """A call gave up waiting because the run is stopping (not a failure of its own)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: at most `max_retries` retries after the first try, waits from `backoff_s`."""

    max_retries: int = 6
    base_s: float = 1.0
    cap_s: float = 60.0


def call_with_retries(
    call: Callable[[], T],
    *,
    what: str,
    label: str,
    policy: RetryPolicy,
    secret: str | None,
    stop: threading.Event | None = None,
    on_retry: Callable[[], None] | None = None,
) -> T:
    """`call()` retried on retryable errors (module doc) at most `policy.max_retries` times.

    Raises PersonalibError (key scrubbed) on a non-retryable error or after `max_retries + 1`
    failures in a row, and `Stopped` when `stop` is set while waiting.
    """
    rng: random.Random | None = None
    attempts = policy.max_retries + 1
    for attempt in range(attempts):
        if stop is not None and stop.is_set():
            raise Stopped
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - classified right below
            reason = describe_error(exc, secret)
            hint = "what finished before is kept; rerun the same command to continue (only what is missing is sent)"
            if not is_retryable(exc):
                raise PersonalibError(f"{label}: {what} was rejected ({reason}); stopping: {hint}") from None
            if attempt + 1 == attempts:
                raise PersonalibError(
                    f"{label}: {what} failed {attempts} times in a row (last: {reason}); stopping at the "
                    f"retry bound (params api.max_retries = {policy.max_retries}): {hint}; if the server is "
                    "rate limiting, lower api.concurrency or raise api.max_retries"
                ) from None
            rng = rng or random.Random()
            delay = backoff_s(attempt, policy.base_s, policy.cap_s, rng, retry_after_s(exc))
            if on_retry is not None:
                on_retry()
            log.info("%s: retry %d/%d of %s in %.2fs (%s)", label, attempt + 1, policy.max_retries, what, delay, reason)
            if stop is None:
                time.sleep(delay)
            elif stop.wait(delay):
                raise Stopped from None
    raise AssertionError("unreachable")  # pragma: no cover


def resolve_api_key(api_key_env: str | None, base_url: str | None, where: str) -> str:
    """The API key from the environment variable `api_key_env` (module doc).

    `api_key_env: null` is allowed only with a `base_url` (`personalib.params.key_source_problem`).
    Raises PersonalibError naming the variable when it is unset or empty.
    """
    problem = key_source_problem(api_key_env, base_url)
    if problem:
        raise ConfigError(f"{where}: api.{problem}")
    if api_key_env is None:
        return NO_KEY
    key = os.environ.get(api_key_env, "")
    if not key:
        raise PersonalibError(
            f"{where}: the environment variable {api_key_env} (params api.api_key_env) is not set: "
            f"export {api_key_env}=<your key> (keys are read from the environment only, never from a file)"
            + ("" if base_url is None else "; a local server that needs no key can use api_key_env: null")
        )
    return key


def make_client(*, api_key: str, base_url: str | None, timeout_s: float) -> openai.OpenAI:
    """The official client with its own retries off (this package retries, bounded)."""
    import openai  # only the Batch API needs it (a second's import)

    return openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0)


def _openai() -> Any:
    """The `openai` module when something imported it (else no error can be one of its own)."""
    return sys.modules.get("openai")


def is_retryable(exc: BaseException) -> bool:
    """True for 429, 5xx, 408/409, timeouts, connection errors and malformed bodies (module doc)."""
    oa = _openai()
    if oa and isinstance(exc, (oa.APITimeoutError, oa.APIConnectionError, oa.APIResponseValidationError)):
        return True
    if isinstance(exc, urllib3.exceptions.HTTPError):  # timeouts, refused/reset connections, protocol errors
        return True
    if isinstance(exc, HTTPStatusError) or (oa and isinstance(exc, oa.APIStatusError)):
        return exc.status_code in _RETRY_STATUS or exc.status_code >= 500
    return isinstance(exc, ValueError)  # json.JSONDecodeError, MalformedResponse


def retry_after_s(exc: BaseException) -> float | None:
    """The server's requested wait (`retry-after-ms` or `Retry-After` seconds), if any."""
    headers = exc.headers if isinstance(exc, HTTPStatusError) else getattr(getattr(exc, "response", None), "headers", None)
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue
    return None


def backoff_s(attempt: int, base_s: float, cap_s: float, rng: random.Random, retry_after: float | None = None) -> float:
    """Wait before retry number `attempt` (0-based): exponential with jitter, Retry-After honoured.

    min(cap, base * 2**attempt) scaled by a uniform factor in [0.5, 1); a server's Retry-After, when
    longer, wins (still capped at `cap_s`).
    """
    delay = min(cap_s, base_s * (2**attempt)) * (0.5 + rng.random() / 2)
    if retry_after is not None:
        delay = max(delay, min(cap_s, retry_after))
    return delay


def describe_error(exc: BaseException, secret: str | None) -> str:
    """A one-line account of a failed call, with the key scrubbed."""
    oa = _openai()
    if isinstance(exc, HTTPStatusError) or (oa and isinstance(exc, oa.APIStatusError)):
        text = f"HTTP {exc.status_code}: {exc.message}"
    elif isinstance(exc, urllib3.exceptions.TimeoutError) or (oa and isinstance(exc, oa.APITimeoutError)):
        text = "timed out"
    elif isinstance(exc, urllib3.exceptions.HTTPError) or (oa and isinstance(exc, oa.APIConnectionError)):
        text = f"connection error: {exc}"
    elif isinstance(exc, ValueError):
        text = f"malformed response body: {exc}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return scrub(text, secret)


def scrub(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` replaced by `***`."""
    return mask(text, [secret] if secret and secret != NO_KEY else [])


def chat_body(model_id: str, messages: Any, decoding: Decoding) -> dict[str, Any]:
    """The chat-completions request body for one conversation (METHODS 2 decoding).

    Keys in the order the official client sends them, so that `transport.encode_body` gives the
    same bytes as the official client.
    """
    body: dict[str, Any] = {"model": model_id, "messages": [dict(m) for m in messages], "max_tokens": decoding.max_new_tokens}
    if decoding.seed is not None:
        body["seed"] = decoding.seed
    body["temperature"] = decoding.temperature
    body["top_p"] = decoding.top_p
    return body


def result_from_completion(key: str, completion: Any) -> Result:
    """A `Result` from a chat completion (client object or its JSON dict).

    Raises MalformedResponse when the body has no choice or message.
    """
    data = completion.model_dump() if hasattr(completion, "model_dump") else completion
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise MalformedResponse(f"not JSON: {exc}") from exc
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices[0], dict) or not isinstance(choices[0].get("message"), dict):
        raise MalformedResponse("no choices[0].message in the response body")
    choice = choices[0]
    usage = data.get("usage") or {}
    return Result(
        key=key,
        text=choice["message"].get("content") or "",
        finish_reason=choice.get("finish_reason"),
        n_input_tokens=usage.get("prompt_tokens"),
        n_output_tokens=usage.get("completion_tokens"),
        system_fingerprint=data.get("system_fingerprint"),
        extra={"response_id": data.get("id"), "response_model": data.get("model")},
    )


class ApiBackendBase:
    """What both API backends hold: model id, endpoint, timeout, the retry policy, the key
    (private; never described) and the fingerprints seen. Each backend makes its own HTTP client."""

    name = "api"
    tokenizer = None  # API models: no local tokenizer; the engine sends messages

    def __init__(
        self,
        model_id: str,
        *,
        api_key: str,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 6,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 60.0,
        label: str | None = None,
    ) -> None:
        if max_retries < 0 or timeout_s <= 0:
            raise PersonalibError(f"{self.name} backend: max_retries must be >= 0 and timeout_s > 0 (got {max_retries}, {timeout_s})")
        self.model_id = model_id
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.policy = RetryPolicy(max_retries, backoff_base_s, backoff_cap_s)
        self.label = label or model_id
        self._secret = api_key
        self._fingerprints: set[str] = set()
        self._retries = 0
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        """Model id, endpoint, timeout and retry policy, fingerprints seen (never the key)."""
        with self._lock:
            fingerprints, retries = sorted(self._fingerprints), self._retries
        return {
            "backend": self.name, "model_id": self.model_id, "base_url": self.base_url or "https://api.openai.com/v1",
            "timeout_s": self.timeout_s, "max_retries": self.policy.max_retries,
            "backoff": {"base_s": self.policy.base_s, "cap_s": self.policy.cap_s, "jitter": "x U[0.5, 1)"},
            "system_fingerprints": fingerprints, "retries_so_far": retries,
        }  # fmt: skip

    def _call(self, call: Callable[[], T], what: str, stop: threading.Event | None = None) -> T:
        return call_with_retries(
            call, what=what, label=self.label, policy=self.policy, secret=self._secret, stop=stop, on_retry=self._count_retry
        )

    def _count_retry(self) -> None:
        with self._lock:
            self._retries += 1

    def _seen(self, result: Result) -> Result:
        if result.system_fingerprint and result.system_fingerprint not in self._fingerprints:
            with self._lock:
                self._fingerprints.add(result.system_fingerprint)
        return result


def messages_of(request: Any, backend: str) -> tuple[dict[str, str], ...]:
    """The request's chat messages; API backends send chat messages only."""
    if not request.messages:
        raise PersonalibError(
            f"the {backend} backend sends chat messages, but request {request.key} has none (only a rendered "
            "prompt); API models take prompt_format: chat"
        )
    return request.messages
