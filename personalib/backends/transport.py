"""HTTP for the `openai` backend's chat completions: one keep-alive urllib3 pool, JSON in and out.

Why not the official client here: against a server that answers at once, the official `openai`
client spends about 1.2 ms of CPU per chat completion (request options, headers, pydantic models),
plain httpx about 0.4 ms and a urllib3 pool about 0.2 ms (benchmarks/bench_api.py), and a
vLLM node answers thousands of short requests per second. The wire format is the same (the
OpenAI chat-completions protocol); the Batch API keeps the official client.

Rules:

- HTTP/1.1 with keep-alive: one pool of at most `connections` connections (the backend's
  concurrency), reused for every request, so no connection is opened per request.
- `POST {base_url}/chat/completions` with `Authorization: Bearer <key>` and the JSON body; the
  key is held in the pool's headers only.
- urllib3's own retries and redirects are off (the backend retries, bounded); `timeout_s` bounds
  connecting and each read, as the official client's timeout does.
- A non-2xx reply raises `HTTPStatusError` (status, the server's error message, headers for
  Retry-After); a 2xx reply that is not a JSON object raises `MalformedResponse`; connection
  errors and timeouts raise urllib3's exceptions (`urllib3.exceptions.HTTPError`).
- Proxies and certificates as the official client: `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` and
  `NO_PROXY` from the environment (`proxy_for`), certificates verified against certifi's bundle.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import urllib3

__all__ = ["DEFAULT_BASE_URL", "ChatTransport", "HTTPStatusError", "MalformedResponse", "encode_body", "proxy_for"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class MalformedResponse(ValueError):
    """The server answered 200 with a body that is not a usable chat completion."""


class HTTPStatusError(Exception):
    """The server answered with a non-2xx status."""

    def __init__(self, status_code: int, message: str, headers: Mapping[str, str]) -> None:
        super().__init__(f"HTTP {status_code}: {message}")
        self.status_code = status_code
        self.message = message
        self.headers = headers  # case-insensitive (urllib3's HTTPHeaderDict)


def encode_body(body: dict[str, Any]) -> bytes:
    """UTF-8 JSON without spaces, as the official client (and httpx) encode a request body."""
    return _ENCODER.encode(body).encode()


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for `url` (`<scheme>_proxy`, `all_proxy`, minus `no_proxy`)."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


def _ca_certs() -> str | None:
    try:
        import certifi
    except ImportError:  # the system's default certificates
        return None
    return certifi.where()


class ChatTransport:
    """POST chat completions over one keep-alive pool (module doc); thread-safe."""

    def __init__(self, base_url: str | None, api_key: str, *, timeout_s: float, connections: int) -> None:
        self.url = (base_url or DEFAULT_BASE_URL).rstrip("/") + "/chat/completions"
        headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json", "Accept": "application/json"}
        options: dict[str, Any] = {
            "num_pools": 4, "maxsize": connections, "block": True, "headers": headers, "retries": False,
            "timeout": urllib3.Timeout(connect=timeout_s, read=timeout_s),
        }  # fmt: skip
        if self.url.startswith("https:"):
            options["ca_certs"] = _ca_certs()
        proxy = proxy_for(self.url)
        self.proxy = proxy
        self._pool = urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        self._headers = headers
        self._direct = None if proxy else self._pool.connection_from_url(self.url)  # the one host's pool
        self._path = urllib3.util.parse_url(self.url).request_uri

    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """The JSON object the server answered to `body` (module doc for the errors raised)."""
        if self._direct is None:  # through the proxy
            response = self._pool.request("POST", self.url, body=encode_body(body), redirect=False)
        else:  # the host's own pool: no URL parsing and pool lookup per request
            response = self._direct.urlopen("POST", self._path, body=encode_body(body), headers=self._headers,
                                            retries=False, redirect=False)  # fmt: skip
        if not 200 <= response.status < 300:
            raise HTTPStatusError(response.status, _error_message(response.data), response.headers)
        try:
            data = json.loads(response.data)
        except ValueError as exc:
            raise MalformedResponse(f"not JSON: {exc}") from None
        return data

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.clear()


def _error_message(raw: bytes) -> str:
    """The server's `error.message` (the OpenAI error shape), else the start of the body."""
    try:
        data = json.loads(raw)
        message = data["error"]["message"] if isinstance(data.get("error"), dict) else data.get("error")
        if message:
            return str(message)
    except (ValueError, AttributeError, KeyError, TypeError):
        pass
    return raw[:200].decode("utf-8", "replace") or "(empty body)"
