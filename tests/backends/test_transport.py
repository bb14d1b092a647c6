"""The openai backend's HTTP path against the fake server: keep-alive, errors, bodies, proxies."""

from __future__ import annotations

import json

import pytest
import urllib3

from personalib.backends import api
from personalib.backends.transport import ChatTransport, HTTPStatusError, encode_body, proxy_for
from tests.fake_openai_server import Faults, fake_answer

BODY = {"model": "m", "messages": [{"role": "user", "content": "Grüße \"quoted\" \\ ✓"}], "max_tokens": 5}


def test_posts_json_and_reads_the_answer_over_one_connection(fake_openai) -> None:
    server = fake_openai(api_key="sk-right")
    transport = ChatTransport(server.base_url, "sk-right", timeout_s=5, connections=2)
    answers = [transport.post(BODY)["choices"][0]["message"]["content"] for _ in range(5)]
    assert answers == [fake_answer("m", BODY["messages"])] * 5
    logged = server.requests("/v1/chat/completions")
    assert [e.body for e in logged] == [BODY] * 5 and all(e.authorization for e in logged)
    assert transport._direct.num_connections == 1  # noqa: SLF001 - sequential requests reuse one kept-alive connection
    transport.close()


def test_error_status_raises_with_the_servers_message(fake_openai) -> None:
    server = fake_openai(api_key="sk-right")
    with pytest.raises(HTTPStatusError) as caught:
        ChatTransport(server.base_url, "sk-wrong", timeout_s=5, connections=1).post(BODY)
    assert caught.value.status_code == 401 and caught.value.message == "invalid api key"
    assert not api.is_retryable(caught.value)


def test_rate_limit_carries_retry_after_and_malformed_bodies_are_retryable(fake_openai) -> None:
    transport = ChatTransport(fake_openai(Faults(rate_429=1.0, retry_after_s=0.25)).base_url, "k", timeout_s=5, connections=1)
    with pytest.raises(HTTPStatusError) as caught:
        transport.post(BODY)
    assert caught.value.status_code == 429 and api.retry_after_s(caught.value) == pytest.approx(0.25)
    transport = ChatTransport(fake_openai(Faults(rate_malformed=1.0)).base_url, "k", timeout_s=5, connections=1)
    with pytest.raises(api.MalformedResponse) as broken:
        transport.post(BODY)
    assert api.is_retryable(broken.value)


def test_timeouts_and_refused_connections_are_urllib3_errors_the_retry_rule_retries(fake_openai) -> None:
    server = fake_openai(Faults(rate_timeout=1.0, timeout_sleep_s=1.0))
    with pytest.raises(urllib3.exceptions.HTTPError) as caught:
        ChatTransport(server.base_url, "k", timeout_s=0.2, connections=1).post(BODY)
    assert api.is_retryable(caught.value) and api.describe_error(caught.value, None) == "timed out"
    with pytest.raises(urllib3.exceptions.HTTPError) as refused:
        ChatTransport("http://127.0.0.1:9/v1", "k", timeout_s=1, connections=1).post(BODY)
    assert api.is_retryable(refused.value)


def test_body_is_compact_utf8_json_in_the_given_key_order() -> None:
    expected = '{"model":"m","messages":[{"role":"user","content":"Grüße \\"quoted\\" \\\\ ✓"}],"max_tokens":5}'
    assert encode_body(BODY) == expected.encode("utf-8")
    assert json.loads(encode_body(BODY)) == BODY


def test_proxy_from_the_environment_as_the_official_client(monkeypatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert proxy_for("https://api.openai.com/v1/chat/completions") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert proxy_for("https://api.openai.com/v1/chat/completions") == "http://proxy.example:3128"
    assert proxy_for("http://127.0.0.1:8000/v1/chat/completions") is None
    assert ChatTransport("https://api.openai.com/v1", "k", timeout_s=1, connections=1).proxy == "http://proxy.example:3128"
