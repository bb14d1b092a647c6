"""benchmarks/bench_api.py in small: the instant server, every bare client, one tiny engine run.

The benchmark itself (`python -m benchmarks api`, or `--quick`) takes minutes: it is run by
`make bench`, not here.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from benchmarks import bare_client, bench_api
from benchmarks.instant_server import ANSWER
from personalib.backends.transport import ChatTransport


@pytest.fixture(scope="module")
def server():
    server = bench_api.Server()
    yield server
    server.stop()


def test_instant_server_answers_keep_alive_and_pipelined_requests(server) -> None:
    transport = ChatTransport(server.base_url, "unused", timeout_s=5, connections=1)
    for _ in range(3):
        assert transport.post(bare_client.body(1))["choices"][0]["message"]["content"] == ANSWER
    port = int(server.base_url.split(":")[2].split("/")[0])
    request = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    other = b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request + other + request)  # three requests in one write
        data = b""
        while data.count(b"HTTP/1.1 ") < 3 or not data.endswith(b"}"):
            data += sock.recv(65536)
    assert re.findall(rb"HTTP/1.1 (\d{3})", data) == [b"200", b"404", b"200"]


@pytest.mark.parametrize("kind", bare_client.KINDS)
def test_every_bare_client_gets_its_answers(server, kind: str) -> None:
    bare_client.run(kind, server.base_url, 20, 4)


def test_tiny_engine_run_stores_every_entry_once(server, tmp_path: Path) -> None:
    row = bench_api.engine_run(server, tmp_path, n_personas=2, concurrency=4)
    assert row["requests"] == 2 * 108 and row["store"] == {"rows": 216, "distinct_entries": 216, "ok": True}
    assert row["requests_per_s"] > 0 and row["max_rss_mib"] > 0
