"""A real HTTP server on 127.0.0.1 that speaks the OpenAI protocol, for tests.

It serves the chat-completions endpoint and the Batch API (files + batches) with deterministic
answers (`fake_answer`: derived from the model and the messages, so a test can check every answer),
and injects faults at set rates: 429 with Retry-After, 500, timeouts (the reply is delayed past the
client's timeout) and malformed JSON bodies. Which request fails is seeded: the fate of the n-th
attempt of a given request body is a function of (seed, body, n), so a run's faults do not depend on
thread timing. Every request is logged (`requests()`).

    from tests.fake_openai_server import FakeOpenAIServer, Faults
    with FakeOpenAIServer(Faults(rate_429=0.2, seed=1)) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)

The server holds no real key and writes nothing to disk.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Faults", "FakeOpenAIServer", "LogEntry", "fake_answer"]

CHAT_PATH = "/v1/chat/completions"
FINAL_BATCH_STATES = ("completed", "failed", "expired", "cancelled")


def fake_answer(model: str, messages: list[dict[str, Any]]) -> str:
    """The server's deterministic answer to a conversation (what tests expect back)."""
    digest = hashlib.sha256(json.dumps([model, messages], sort_keys=True).encode()).hexdigest()
    return f"answer {digest[:16]}"


@dataclass
class Faults:
    """Fault rates (each a probability per attempt; they add up) and their parameters."""

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_timeout: float = 0.0
    rate_malformed: float = 0.0
    seed: int = 0
    retry_after_s: float = 0.01
    """Sent as `retry-after-ms` and (rounded up) `Retry-After` with every 429."""
    timeout_sleep_s: float = 2.0
    """How long a "timeout" reply is held back (longer than the client's timeout)."""
    always_fail: str | None = None
    """Requests whose body contains this text always get a 500 (a request that never succeeds)."""
    paths: tuple[str, ...] = (CHAT_PATH,)
    """Path prefixes the random faults apply to (e.g. add "/v1/batches" to fault the polling)."""
    batch_line_error_rate: float = 0.0
    """Share of a batch's requests that end in the batch's error file instead of its output."""
    latency_s: float = 0.0
    """Added to every chat-completion reply (lets concurrency build up)."""


@dataclass
class LogEntry:
    """One request as the server saw it."""

    method: str
    path: str
    status: int
    outcome: str  # ok | 429 | 500 | timeout | malformed | client-error
    body: Any = None
    authorization: bool = False
    at: float = field(default_factory=time.time)


class FakeOpenAIServer:
    """ThreadingHTTPServer in a daemon thread on a random 127.0.0.1 port (module doc)."""

    def __init__(self, faults: Faults | None = None, *, batch_polls: int = 2, api_key: str | None = None) -> None:
        self.faults = faults or Faults()
        self.batch_polls = batch_polls
        """GETs of a batch before it completes (validating -> in_progress -> completed)."""
        self.api_key = api_key
        """When set, requests without `Authorization: Bearer <api_key>` get 401."""
        self.system_fingerprint = "fp_fake_0001"
        self._lock = threading.Lock()
        self._log: list[LogEntry] = []
        self._attempts: dict[str, int] = {}
        self._ids = 0
        self._in_flight = 0
        self.max_in_flight = 0
        """Most chat-completion requests the server was handling at once."""
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> FakeOpenAIServer:
        handler = type("Handler", (_Handler,), {"server_state": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>/v1`, the client's base_url."""
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    # -- inspection ------------------------------------------------------------------------------
    def requests(self, path: str | None = None, method: str | None = None, outcome: str | None = None) -> list[LogEntry]:
        """Logged requests, optionally those whose path starts with `path`, of `method`/`outcome`."""
        with self._lock:
            entries = list(self._log)
        return [
            e for e in entries
            if (path is None or e.path.startswith(path)) and (method is None or e.method == method)
            and (outcome is None or e.outcome == outcome)
        ]  # fmt: skip

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    # -- internals used by the handler -----------------------------------------------------------
    def record(self, entry: LogEntry) -> None:
        with self._lock:
            self._log.append(entry)

    def fate(self, path: str, raw: bytes) -> str:
        """ok | 429 | 500 | timeout | malformed for this attempt of this request (module doc)."""
        f = self.faults
        if f.always_fail and f.always_fail.encode() in raw:
            return "500"
        if not any(path.startswith(p) for p in f.paths):
            return "ok"
        digest = hashlib.sha256(path.encode() + b"\0" + raw).hexdigest()
        with self._lock:
            attempt = self._attempts.get(digest, 0)
            self._attempts[digest] = attempt + 1
        u = random.Random(f"{f.seed}:{digest}:{attempt}").random()
        for outcome, rate in (("429", f.rate_429), ("500", f.rate_500), ("timeout", f.rate_timeout), ("malformed", f.rate_malformed)):
            if u < rate:
                return outcome
            u -= rate
        return "ok"

    def enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def new_id(self, prefix: str) -> str:
        with self._lock:
            self._ids += 1
            n = self._ids
        return f"{prefix}{n:06d}{random.Random(n).getrandbits(32):08x}"

    def chat_completion(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = fake_answer(body["model"], body["messages"])
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        return {
            "id": self.new_id("chatcmpl-"), "object": "chat.completion", "created": int(time.time()),
            "model": body["model"], "system_fingerprint": self.system_fingerprint,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 2, "total_tokens": prompt_tokens + 2},
        }  # fmt: skip

    def add_file(self, content: bytes, purpose: str, filename: str) -> dict[str, Any]:
        file_id = self.new_id("file-")
        obj = {
            "id": file_id, "object": "file", "bytes": len(content), "created_at": int(time.time()),
            "filename": filename, "purpose": purpose, "status": "processed",
        }  # fmt: skip
        with self._lock:
            self.files[file_id] = {"object": obj, "content": content}
        return obj

    def advance_batch(self, batch_id: str) -> dict[str, Any]:
        """One poll of a batch: step its status; on completion write its output and error files."""
        with self._lock:
            batch = self.batches[batch_id]
            if batch["status"] in FINAL_BATCH_STATES:
                return _public(batch)
            batch["_polls"] += 1
            if batch["_polls"] < self.batch_polls:
                batch["status"] = "in_progress"
                batch["in_progress_at"] = batch["in_progress_at"] or int(time.time())
                return _public(batch)
            content = self.files[batch["input_file_id"]]["content"]
        ok_lines, error_lines = [], []
        for line in content.decode("utf-8").splitlines():
            if not line.strip():
                continue
            request = json.loads(line)
            custom_id = request["custom_id"]
            u = random.Random(f"{self.faults.seed}:line:{custom_id}").random()
            request_id = self.new_id("req_")
            if u < self.faults.batch_line_error_rate:
                error_lines.append({
                    "id": self.new_id("batch_req_"), "custom_id": custom_id,
                    "response": {"status_code": 500, "request_id": request_id,
                                 "body": {"error": {"message": "injected server error", "type": "server_error"}}},
                    "error": None,
                })  # fmt: skip
            else:
                ok_lines.append({
                    "id": self.new_id("batch_req_"), "custom_id": custom_id,
                    "response": {"status_code": 200, "request_id": request_id, "body": self.chat_completion(request["body"])},
                    "error": None,
                })  # fmt: skip
        output = self.add_file(_jsonl(ok_lines), "batch_output", "output.jsonl")
        errors = self.add_file(_jsonl(error_lines), "batch_output", "errors.jsonl") if error_lines else None
        with self._lock:
            batch.update(
                status="completed", completed_at=int(time.time()), output_file_id=output["id"],
                error_file_id=errors["id"] if errors else None,
                request_counts={"total": len(ok_lines) + len(error_lines), "completed": len(ok_lines), "failed": len(error_lines)},
            )  # fmt: skip
            return _public(batch)


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8")


def _public(batch: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in batch.items() if not k.startswith("_")}


class _Handler(BaseHTTPRequestHandler):
    server_state: FakeOpenAIServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr logging
        return

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    # -- dispatch --------------------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        counted = self.path.startswith(CHAT_PATH)
        if counted:
            self.server_state.enter()
        try:
            self._dispatch(method)
        finally:
            if counted:
                self.server_state.leave()

    def _dispatch(self, method: str) -> None:
        state = self.server_state
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?", 1)[0]
        auth = self.headers.get("Authorization", "")
        entry = LogEntry(method, path, 0, "", authorization=bool(auth))
        if state.api_key is not None and auth != f"Bearer {state.api_key}":
            return self._finish(entry, 401, {"error": {"message": "invalid api key", "type": "invalid_request_error"}}, "client-error")
        fate = state.fate(path, raw)
        entry.body = _json_or_none(raw) if not path.startswith("/v1/files") or method == "GET" else None
        if fate == "429":
            headers = {"retry-after-ms": str(int(state.faults.retry_after_s * 1000)), "Retry-After": str(max(1, round(state.faults.retry_after_s)))}
            return self._finish(entry, 429, {"error": {"message": "rate limit (injected)", "type": "rate_limit_error"}}, "429", headers)
        if fate == "500":
            return self._finish(entry, 500, {"error": {"message": "server error (injected)", "type": "server_error"}}, "500")
        if fate == "timeout":  # logged now; the late reply goes to a client that has given up
            entry.status, entry.outcome = 504, "timeout"
            state.record(entry)
            state.wait(state.faults.timeout_sleep_s)
            return self._send(504, b'{"error": {"message": "too late (injected timeout)"}}', "application/json")
        if path == CHAT_PATH and state.faults.latency_s:
            state.wait(state.faults.latency_s)
        try:
            status, body = self._route(method, path, raw)
        except (ValueError, KeyError, TypeError) as exc:
            return self._finish(entry, 400, {"error": {"message": f"bad request: {exc}", "type": "invalid_request_error"}}, "client-error")
        if fate == "malformed" and status == 200:
            self._send(200, b'{"id": "chatcmpl-broken", "choices": [{"mess', "application/json")
            entry.status, entry.outcome = 200, "malformed"
            return state.record(entry)
        return self._finish(entry, status, body, "ok" if status < 400 else "client-error")

    def _route(self, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        state = self.server_state
        parts = path.strip("/").split("/")
        if method == "POST" and path == CHAT_PATH:
            body = json.loads(raw)
            _check_chat(body)
            return 200, state.chat_completion(body)
        if method == "POST" and path == "/v1/files":
            content, purpose, filename = self._multipart(raw)
            return 200, state.add_file(content, purpose, filename)
        if method == "GET" and len(parts) == 4 and parts[:2] == ["v1", "files"] and parts[3] == "content":
            if parts[2] not in state.files:
                return 404, {"error": {"message": f"no file {parts[2]}"}}
            return 200, state.files[parts[2]]["content"]
        if method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "files"]:
            found = state.files.get(parts[2])
            return (200, found["object"]) if found else (404, {"error": {"message": f"no file {parts[2]}"}})
        if method == "POST" and path == "/v1/batches":
            return self._create_batch(json.loads(raw))
        if len(parts) >= 3 and parts[:2] == ["v1", "batches"]:
            if parts[2] not in state.batches:
                return 404, {"error": {"message": f"no batch {parts[2]}"}}
            if method == "GET" and len(parts) == 3:
                return 200, state.advance_batch(parts[2])
            if method == "POST" and parts[3:] == ["cancel"]:
                state.batches[parts[2]]["status"] = "cancelled"
                return 200, _public(state.batches[parts[2]])
        return 404, {"error": {"message": f"unknown endpoint {method} {path}"}}

    def _create_batch(self, body: dict[str, Any]) -> tuple[int, Any]:
        state = self.server_state
        if body.get("input_file_id") not in state.files:
            return 400, {"error": {"message": f"unknown input_file_id {body.get('input_file_id')!r}"}}
        if body.get("endpoint") != CHAT_PATH or body.get("completion_window") != "24h":
            return 400, {"error": {"message": "endpoint must be /v1/chat/completions and completion_window 24h"}}
        for line in state.files[body["input_file_id"]]["content"].decode("utf-8").splitlines():
            request = json.loads(line)
            if request.get("method") != "POST" or request.get("url") != CHAT_PATH or "custom_id" not in request:
                return 400, {"error": {"message": f"bad batch line: {line[:80]}"}}
            _check_chat(request["body"])
        now = int(time.time())
        batch = {
            "id": state.new_id("batch_"), "object": "batch", "endpoint": CHAT_PATH, "errors": None,
            "input_file_id": body["input_file_id"], "completion_window": "24h", "status": "validating",
            "output_file_id": None, "error_file_id": None, "created_at": now, "in_progress_at": None,
            "expires_at": now + 86400, "completed_at": None, "failed_at": None, "expired_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0}, "metadata": body.get("metadata"),
            "_polls": 0,
        }  # fmt: skip
        with state._lock:
            state.batches[batch["id"]] = batch
        return 200, _public(batch)

    def _multipart(self, raw: bytes) -> tuple[bytes, str, str]:
        header = f"Content-Type: {self.headers.get('Content-Type')}\r\n\r\n".encode()
        message = BytesParser(policy=policy.default).parsebytes(header + raw)
        content, purpose, filename = None, None, "upload.jsonl"
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name == "file":
                content = part.get_payload(decode=True)
                filename = part.get_filename() or filename
            elif name == "purpose":
                purpose = part.get_content().strip()
        if content is None or purpose is None:
            raise ValueError("multipart upload needs `file` and `purpose`")
        return content, purpose, filename

    # -- replies ---------------------------------------------------------------------------------
    def _finish(self, entry: LogEntry, status: int, body: Any, outcome: str, headers: dict[str, str] | None = None) -> None:
        entry.status, entry.outcome = status, outcome
        self.server_state.record(entry)
        if isinstance(body, bytes):
            self._send(status, body, "application/octet-stream", headers)
        else:
            self._send(status, json.dumps(body).encode(), "application/json", headers)

    def _send(self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a "timeout" reply)


def _check_chat(body: dict[str, Any]) -> None:
    if not isinstance(body.get("model"), str):
        raise ValueError("`model` is required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("`messages` must be a non-empty list")
    for m in messages:
        if m.get("role") not in ("system", "user", "assistant") or not isinstance(m.get("content"), str):
            raise ValueError(f"bad message {m!r}")


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        return None
