"""The bare-client ceiling: chat completions as fast as one client process sends them, no store.

    python -m benchmarks.bare_client KIND --base-url URL --requests N --concurrency C

KIND is `openai-threads` / `openai-async` (the official client, `OpenAI` with C threads or
`AsyncOpenAI` with C asyncio tasks), `httpx-threads` / `httpx-async` (plain httpx, the JSON body
posted and the response's JSON read back) or `urllib3-threads` (the HTTP library under the
`openai` backend, `personalib.backends.transport`, used the same way as httpx). Every client keeps C keep-alive HTTP/1.1 connections
(pool limits = C, so no connection is closed and reopened between requests), sends the same body
shape as the `openai` backend (a persona system message, a demo prompt, METHODS 2 decoding) with a
different question each time, and reads each answer's text. Prints one JSON line: requests,
seconds, requests_per_s, cpu_s (this process), max_rss_mib.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

KINDS = ("openai-threads", "openai-async", "httpx-threads", "httpx-async", "urllib3-threads")


def body(i: int) -> dict[str, Any]:
    """The i-th request body: what the `openai` backend sends for one persona x item."""
    return {
        "model": "instant",
        "messages": [
            {"role": "system", "content": f"You are persona number {i % 1000}."},
            {"role": "user", "content": f"Question {i}: which answer is correct?\nA. yes\nB. no\nC. unknown\nAnswer:"},
        ],
        "temperature": 0.0, "top_p": 1.0, "max_tokens": 100, "seed": 42,
    }  # fmt: skip


def _threads(n: int, concurrency: int, send: Callable[[int], str]) -> None:
    counter = iter(range(n))
    lock = threading.Lock()

    def loop() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            send(i)

    workers = [threading.Thread(target=loop) for _ in range(concurrency)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


async def _tasks(n: int, concurrency: int, send: Callable[[int], Any]) -> None:
    counter = iter(range(n))

    async def loop() -> None:
        for i in counter:  # one iterator shared by every task: each index is sent once
            await send(i)

    await asyncio.gather(*(loop() for _ in range(concurrency)))


def run(kind: str, base_url: str, n: int, concurrency: int) -> None:
    """Send `n` requests with `concurrency` in flight using client `kind` (module doc)."""
    if kind.startswith("openai"):
        import openai

        if kind == "openai-threads":
            client = openai.OpenAI(api_key="unused", base_url=base_url, max_retries=0, timeout=60,
                                   http_client=openai.DefaultHttpxClient(limits=_limits(concurrency)))  # fmt: skip
            _threads(n, concurrency, lambda i: client.chat.completions.create(**body(i)).choices[0].message.content)
        else:
            aclient = openai.AsyncOpenAI(api_key="unused", base_url=base_url, max_retries=0, timeout=60,
                                         http_client=openai.DefaultAsyncHttpxClient(limits=_limits(concurrency)))  # fmt: skip

            async def one(i: int) -> str:
                return (await aclient.chat.completions.create(**body(i))).choices[0].message.content

            asyncio.run(_tasks(n, concurrency, one))
        return
    if kind == "urllib3-threads":
        import urllib3

        pool = urllib3.PoolManager(maxsize=concurrency, block=True, retries=False, timeout=60)
        url = base_url.rstrip("/") + "/chat/completions"
        headers = {"authorization": "Bearer unused", "content-type": "application/json"}
        _threads(n, concurrency, lambda i: _text(pool.request("POST", url, body=json.dumps(body(i)).encode(), headers=headers)))
        return
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    url = base_url.rstrip("/") + "/chat/completions"
    headers = {"authorization": "Bearer unused"}
    if kind == "httpx-threads":
        with httpx.Client(limits=limits, timeout=60) as sync:
            _threads(n, concurrency, lambda i: _text(sync.post(url, json=body(i), headers=headers)))
        return

    async def main() -> None:
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:

            async def one(i: int) -> str:
                return _text(await client.post(url, json=body(i), headers=headers))

            await _tasks(n, concurrency, one)

    asyncio.run(main())


def _limits(concurrency: int) -> Any:
    """`concurrency` keep-alive connections, as a `Limits` of the official client's HTTP library
    (httpx, or its fork httpx2 in recent versions; the client's own default keeps 100)."""
    from openai._constants import DEFAULT_CONNECTION_LIMITS

    return type(DEFAULT_CONNECTION_LIMITS)(max_connections=concurrency, max_keepalive_connections=concurrency)


def _text(response: Any) -> str:
    status = getattr(response, "status_code", None) or response.status
    if status != 200:
        raise RuntimeError(f"HTTP {status}")
    return json.loads(response.content if hasattr(response, "content") else response.data)["choices"][0]["message"]["content"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    start, cpu = time.perf_counter(), time.process_time()
    run(args.kind, args.base_url, args.requests, args.concurrency)
    seconds = time.perf_counter() - start
    print(json.dumps({
        "kind": args.kind, "concurrency": args.concurrency, "requests": args.requests, "seconds": seconds,
        "requests_per_s": args.requests / seconds, "cpu_s": time.process_time() - cpu,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
