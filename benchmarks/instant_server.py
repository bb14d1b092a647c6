"""An OpenAI-protocol server that answers every chat completion at once, for throughput benchmarks.

    python -m benchmarks.instant_server [--port 0]     # prints "port <n>" on stdout, serves until SIGTERM/SIGINT

One asyncio process on 127.0.0.1, HTTP/1.1 with keep-alive (and pipelining): every `POST
.../chat/completions` gets the same prebuilt 200 response (a fixed short text, usage counts, a
system fingerprint) without parsing the JSON body, any other request a 404. No sleeps, no fault
injection: it measures what a client can send, not what a server can compute, and its own CPU
time is printed by the benchmark so that a saturated server would show. For faults and answers that
depend on the request, use tests/fake_openai_server.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

ANSWER = "B"
"""The fixed text of every answer (short, like a multiple-choice letter)."""

_COMPLETION = json.dumps(
    {
        "id": "chatcmpl-instant", "object": "chat.completion", "created": 1700000000, "model": "instant",
        "system_fingerprint": "fp_instant",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 1, "total_tokens": 41},
    },
    separators=(",", ":"),
).encode()
_OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(_COMPLETION), _COMPLETION)
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


class _Connection(asyncio.Protocol):
    """One keep-alive connection: cut the byte stream into requests, answer each at once."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        out = []
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = bytes(buffer[:end]).lower()
            length = 0
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : stop if stop >= 0 else len(head)])
            if len(buffer) < end + 4 + length:
                break
            request_line = head[: head.find(b"\r\n")]
            out.append(_OK if request_line.startswith(b"post ") and b"/chat/completions" in request_line else _NOT_FOUND)
            del buffer[: end + 4 + length]
        if out:
            self.transport.write(b"".join(out))  # type: ignore[union-attr]


async def serve(port: int = 0) -> None:
    """Serve on 127.0.0.1:`port` (0: any free port), print `port <n>`, run until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Connection, "127.0.0.1", port, backlog=4096)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
