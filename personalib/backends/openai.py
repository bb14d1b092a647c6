"""The `openai` backend: chat completions on the OpenAI API or any OpenAI-compatible server (METHODS 2).

Any OpenAI-compatible server works through `api.base_url` (vllm serve, TGI, Ollama, llama.cpp
server; see docs/backends.md). Rules:

- Bounded concurrency: at most `api.concurrency` requests in flight, one per worker thread, over
  one keep-alive connection pool (`personalib.backends.transport`). The workers take requests
  from the input one at a time (`streams = True`: the engine hands over a whole dataset at once
  and stores results as they come), so a run of millions holds only that many at a time.
- Retries (personalib.backends.api): each request is tried at most `api.max_retries + 1` times; a
  request that fails that many times in a row, or fails with a non-retryable error, stops the run
  with a PersonalibError. Every result finished before that has already been yielded (the engine
  stores as it receives), the requests in flight are let finish (without further retries) and
  yielded too, and nothing new is sent.
- Decoding: temperature, top_p, max_tokens and seed from `Decoding` (METHODS 2: 0, 1, 100, 42);
  each Result records the answer's `system_fingerprint`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from personalib.backends import api
from personalib.backends.base import Decoding, Request, Result
from personalib.backends.transport import ChatTransport
from personalib.errors import PersonalibError


class OpenAIBackend(api.ApiBackendBase):
    """Chat completions with bounded concurrency and bounded retries (module doc).

    Settings: `concurrency` and those of `api.ApiBackendBase` (key, base_url, timeout, retries).
    """

    name = "openai"
    streams = True  # pulls requests lazily with at most `concurrency` in flight (module doc)

    def __init__(self, model_id: str, *, concurrency: int = 16, **settings: Any) -> None:
        if concurrency < 1:
            raise PersonalibError(f"openai backend: concurrency must be >= 1, got {concurrency}")
        super().__init__(model_id, **settings)
        self.concurrency = concurrency
        self._http = ChatTransport(self.base_url, self._secret, timeout_s=self.timeout_s, connections=concurrency)
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._pulls: set[_Puller] = set()  # the inputs of calls running now

    def describe(self) -> dict[str, Any]:
        """Model id, endpoint, concurrency and retry policy, fingerprints seen (never the key)."""
        http = {"client": "urllib3 keep-alive pool, HTTP/1.1", "connections": self.concurrency,
                "proxy": bool(self._http.proxy)}
        return {**super().describe(), "concurrency": self.concurrency, "http": http}

    def close(self) -> None:
        """Stop the worker threads (a call still running takes nothing new), close the connection pool."""
        for pull in list(self._pulls):
            pull.stop.set()
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        self._http.close()

    def generate(self, requests: Iterable[Request], decoding: Decoding) -> Iterator[Result]:
        """Yield one Result per Request as each finishes; raise PersonalibError at the failure bound.

        `concurrency` worker threads (started on the first call, kept until `close`) take the
        requests from the input one at a time and put what they get on a queue that this
        generator drains; a worker whose request fails stops the others from taking more.
        """
        pull = _Puller(iter(requests), self.concurrency + AHEAD)
        self._pulls.add(pull)
        done: queue.SimpleQueue[Any] = queue.SimpleQueue()
        while len(self._threads) < self.concurrency:
            name = f"personalib-openai-{len(self._threads)}"
            self._threads.append(threading.Thread(target=self._serve, name=name, daemon=True))
            self._threads[-1].start()
        for _ in range(self.concurrency):
            self._jobs.put((pull, done, decoding))
        running = self.concurrency
        failure: PersonalibError | None = None
        try:
            while running:
                outcomes = [done.get()]  # wait for one, then take whatever else is done (fewer wake-ups)
                while True:
                    try:
                        outcomes.append(done.get_nowait())
                    except queue.Empty:
                        break
                for outcome in outcomes:
                    if outcome is _FINISHED:
                        running -= 1
                        continue
                    if not isinstance(outcome, (Result, PersonalibError, api.Stopped)):
                        raise outcome  # the input failed (or a bug): nothing to wait for
                    pull.done()
                    if isinstance(outcome, Result):
                        yield outcome
                    elif isinstance(outcome, PersonalibError):
                        failure = failure or outcome
            if failure is not None:
                raise failure
        finally:  # in-flight requests finish without retries; nothing new is taken
            pull.stop.set()
            while running:
                running -= done.get() is _FINISHED
            self._pulls.discard(pull)

    def _serve(self) -> None:
        """A worker thread: take part in each call's work until `close`."""
        for job in iter(self._jobs.get, None):
            self._work(*job)

    def _work(self, pull: _Puller, done: queue.SimpleQueue, decoding: Decoding) -> None:
        """Send requests taken from `pull` until it is empty or stopped, then put `_FINISHED`."""
        try:
            while (request := pull()) is not None:
                try:
                    api.messages_of(request, self.name)
                    done.put(self._one(request, decoding, pull.stop))
                except PersonalibError as exc:
                    pull.stop.set()  # before anyone takes another request
                    done.put(exc)
        except BaseException as exc:  # noqa: BLE001 - the input failed: handed to the consuming thread
            pull.stop.set()
            done.put(exc)
        finally:
            done.put(_FINISHED)

    def _one(self, request: Request, decoding: Decoding, stop: threading.Event) -> Result:
        body = api.chat_body(self.model_id, request.messages, decoding)

        def call() -> Result:
            return api.result_from_completion(request.key, self._http.post(body))

        return self._seen(self._call(call, f"request {request.key}", stop))


_FINISHED = object()
"""What a worker thread puts on the results queue when it ends."""


AHEAD = 4096
"""Answers the workers may hold for the consuming thread besides the requests in flight: a request
is taken only while fewer than `concurrency + AHEAD` are taken and not consumed yet."""


class _Puller:
    """The input shared by the worker threads: one request at a time, none once `stop` is set, and
    none while `limit` requests are taken and their outcomes not consumed (`done()` per outcome)."""

    def __init__(self, source: Iterator[Request], limit: int) -> None:
        self.source = source
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(limit)

    def __call__(self) -> Request | None:
        while not self._slots.acquire(timeout=0.05):
            if self.stop.is_set():
                return None
        try:
            with self._lock:
                request = None if self.stop.is_set() else next(self.source, None)
        except BaseException:
            self._slots.release()
            raise
        if request is None:
            self._slots.release()
        return request

    def done(self) -> None:
        """The outcome of a request taken was consumed: its slot is free again."""
        self._slots.release()
