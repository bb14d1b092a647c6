"""Shared API rules: key from the environment, retry classification, backoff, result parsing."""

from __future__ import annotations

import json
import random
import threading

import httpx2
import openai
import pytest
import urllib3

from personalib.backends import api
from personalib.backends.transport import HTTPStatusError
from personalib.backends.base import Decoding
from personalib.errors import ConfigError, PersonalibError


def _status_error(status: int, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx2.Response(status, headers=headers or {}, request=request, content=b"{}")
    cls = {429: openai.RateLimitError, 500: openai.InternalServerError, 401: openai.AuthenticationError}.get(status, openai.APIStatusError)
    return cls(f"status {status}", response=response, body=None)


def test_key_comes_from_the_named_variable(monkeypatch) -> None:
    monkeypatch.setenv("PERSONALIB_TEST_KEY", "sk-abc")
    assert api.resolve_api_key("PERSONALIB_TEST_KEY", None, "model x") == "sk-abc"
    monkeypatch.delenv("PERSONALIB_TEST_KEY")
    with pytest.raises(PersonalibError, match="PERSONALIB_TEST_KEY") as caught:
        api.resolve_api_key("PERSONALIB_TEST_KEY", None, "model x")
    assert "export PERSONALIB_TEST_KEY" in str(caught.value)


def test_null_key_variable_only_for_a_local_server() -> None:
    assert api.resolve_api_key(None, "http://127.0.0.1:8000/v1", "model x") == api.NO_KEY
    with pytest.raises(ConfigError, match="api_key_env is null"):
        api.resolve_api_key(None, None, "model x")


@pytest.mark.parametrize(
    ("exc", "retry"),
    [
        (_status_error(429), True),
        (_status_error(500), True),
        (_status_error(503), True),
        (_status_error(408), True),
        (_status_error(401), False),
        (_status_error(400), False),
        (_status_error(404), False),
        (openai.APITimeoutError(request=httpx2.Request("POST", "http://x")), True),
        (openai.APIConnectionError(request=httpx2.Request("POST", "http://x")), True),
        (json.JSONDecodeError("bad", "{", 0), True),
        (api.MalformedResponse("no choices"), True),
        (KeyError("x"), False),
        (HTTPStatusError(429, "slow down", {}), True),
        (HTTPStatusError(502, "bad gateway", {}), True),
        (HTTPStatusError(409, "conflict", {}), True),
        (HTTPStatusError(401, "bad key", {}), False),
        (HTTPStatusError(400, "bad request", {}), False),
        (urllib3.exceptions.ReadTimeoutError(None, "/v1/chat/completions", "read timed out"), True),
        (urllib3.exceptions.NewConnectionError(None, "connection refused"), True),
        (urllib3.exceptions.ProtocolError("connection reset"), True),
    ],
)
def test_retry_classification(exc: BaseException, retry: bool) -> None:
    assert api.is_retryable(exc) is retry


def test_retry_after_headers() -> None:
    assert api.retry_after_s(_status_error(429, {"retry-after-ms": "250"})) == pytest.approx(0.25)
    assert api.retry_after_s(_status_error(429, {"Retry-After": "3"})) == 3.0
    assert api.retry_after_s(_status_error(429)) is None
    headers = urllib3.HTTPHeaderDict({"Retry-After": "2"})  # case-insensitive, as urllib3 hands them over
    assert api.retry_after_s(HTTPStatusError(429, "slow down", headers)) == 2.0


def test_errors_of_the_lean_http_path_are_described_like_the_clients() -> None:
    assert api.describe_error(HTTPStatusError(401, "invalid api key", {}), None) == "HTTP 401: invalid api key"
    assert api.describe_error(urllib3.exceptions.ReadTimeoutError(None, "/v1", "read timed out"), None) == "timed out"
    assert api.describe_error(urllib3.exceptions.ProtocolError("reset by peer"), None).startswith("connection error")


def test_backoff_is_exponential_with_jitter_capped_and_honours_retry_after() -> None:
    rng = random.Random(0)
    waits = [[api.backoff_s(a, 1.0, 60.0, rng) for _ in range(200)] for a in range(8)]
    for attempt, values in enumerate(waits):
        bound = min(60.0, 2.0**attempt)
        assert all(0.5 * bound <= w < bound for w in values)
        assert len(set(values)) > 100  # jittered, not a fixed schedule
    assert api.backoff_s(0, 1.0, 60.0, rng, retry_after=10.0) == 10.0
    assert api.backoff_s(0, 1.0, 5.0, rng, retry_after=100.0) == 5.0


def test_call_with_retries_is_bounded() -> None:
    calls = []

    def failing() -> None:
        calls.append(1)
        raise _status_error(500)

    policy = api.RetryPolicy(max_retries=3, base_s=0.001, cap_s=0.002)
    with pytest.raises(PersonalibError, match="failed 4 times in a row"):
        api.call_with_retries(failing, what="polling", label="m", policy=policy, secret=None)
    assert len(calls) == 4
    outcomes = iter([_status_error(429), _status_error(500), "done"])

    def flaky() -> str:
        item = next(outcomes)
        if isinstance(item, Exception):
            raise item
        return item

    assert api.call_with_retries(flaky, what="x", label="m", policy=policy, secret=None) == "done"


def test_stop_event_interrupts_the_wait() -> None:
    stop = threading.Event()

    def failing() -> None:
        stop.set()
        raise _status_error(500)

    policy = api.RetryPolicy(max_retries=5, base_s=30.0, cap_s=30.0)
    with pytest.raises(api.Stopped):
        api.call_with_retries(failing, what="x", label="m", policy=policy, secret=None, stop=stop)


def test_errors_are_scrubbed_of_the_key() -> None:
    secret = "sk-live-SECRET-123456"
    err = _status_error(401)
    err.message = f"Incorrect API key provided: {secret}"
    assert secret not in api.describe_error(err, secret)
    with pytest.raises(PersonalibError) as caught:
        api.call_with_retries(lambda: (_ for _ in ()).throw(err), what="x", label="m", policy=api.RetryPolicy(), secret=secret)
    assert secret not in str(caught.value) and "***" in str(caught.value)


def test_chat_body_and_result() -> None:
    messages = ({"role": "user", "content": "hi"},)
    body = api.chat_body("gpt-x", messages, Decoding(max_new_tokens=100, temperature=0.0, top_p=1.0, seed=42))
    assert body == {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.0,
                    "top_p": 1.0, "max_tokens": 100, "seed": 42}  # fmt: skip
    assert list(body) == ["model", "messages", "max_tokens", "seed", "temperature", "top_p"]  # the official client's order
    assert "seed" not in api.chat_body("gpt-x", messages, Decoding(seed=None))
    completion = {"id": "c1", "model": "gpt-x", "system_fingerprint": "fp_1",
                  "choices": [{"message": {"role": "assistant", "content": "B"}, "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": 12, "completion_tokens": 1}}  # fmt: skip
    result = api.result_from_completion("k", completion)
    assert (result.text, result.finish_reason, result.n_input_tokens, result.n_output_tokens, result.system_fingerprint) == (
        "B", "stop", 12, 1, "fp_1")  # fmt: skip
    for broken in ({"choices": []}, {"id": "x"}, "{not json", {"choices": [{"text": "B"}]}):
        with pytest.raises(api.MalformedResponse):
            api.result_from_completion("k", broken)
