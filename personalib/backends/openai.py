"""The `openai` backend: chat completions through the official client (issue 4 item 2; METHODS 2).

Any OpenAI-compatible server works through `api.base_url` (vllm serve, TGI, Ollama, llama.cpp
server; see docs/backends.md). Rules:

- Bounded concurrency: at most `api.concurrency` requests in flight (threads sharing one client);
  requests are pulled from the input lazily, so a run of millions holds only that many at a time.
- Retries (personalib.backends.api): each request is tried at most `api.max_retries + 1` times; a
  request that fails that many times in a row, or fails with a non-retryable error, stops the run
  with a PersonalibError. Every result finished before that has already been yielded (the engine
  stores as it receives), the requests in flight are let finish (without further retries) and
  yielded too, and nothing new is sent.
- Decoding: temperature, top_p, max_tokens and seed from `Decoding` (METHODS 2: 0, 1, 100, 42);
  each Result records the answer's `system_fingerprint`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from personalib.backends import api
from personalib.backends.base import Decoding, Request, Result
from personalib.errors import PersonalibError


class OpenAIBackend(api.ApiBackendBase):
    """Chat completions with bounded concurrency and bounded retries (module doc).

    Settings: `concurrency` and those of `api.ApiBackendBase` (key, base_url, timeout, retries).
    """

    name = "openai"

    def __init__(self, model_id: str, *, concurrency: int = 16, **settings: Any) -> None:
        if concurrency < 1:
            raise PersonalibError(f"openai backend: concurrency must be >= 1, got {concurrency}")
        super().__init__(model_id, **settings)
        self.concurrency = concurrency

    def describe(self) -> dict[str, Any]:
        """Model id, endpoint, concurrency and retry policy, fingerprints seen (never the key)."""
        return {**super().describe(), "concurrency": self.concurrency}

    def generate(self, requests: Iterable[Request], decoding: Decoding) -> Iterator[Result]:
        """Yield one Result per Request as each finishes; raise PersonalibError at the failure bound."""
        source = iter(requests)
        stop = threading.Event()
        pending: set[Future[Result]] = set()
        failure: PersonalibError | None = None
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="personalib-openai")
        try:
            while True:
                while failure is None and len(pending) < self.concurrency:
                    request = next(source, None)
                    if request is None:
                        break
                    api.messages_of(request, self.name)
                    pending.add(pool.submit(self._one, request, decoding, stop))
                if not pending:
                    break
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                finished: list[Result] = []
                for future in done:
                    try:
                        finished.append(future.result())
                    except api.Stopped:
                        continue
                    except PersonalibError as exc:
                        if failure is None:
                            failure = exc
                            stop.set()
                yield from finished
            if failure is not None:
                raise failure
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)

    def _one(self, request: Request, decoding: Decoding, stop: threading.Event) -> Result:
        body = api.chat_body(self.model_id, request.messages, decoding)

        def call() -> Result:
            return api.result_from_completion(request.key, self._client.chat.completions.create(**body))

        return self._seen(self._call(call, f"request {request.key}", stop))
