"""The `openai-batch` backend: the OpenAI Batch API, half the price (METHODS 2).

Rules:

- One JSONL line per request: `{"custom_id": <store key>, "method": "POST", "url":
  "/v1/chat/completions", "body": {model, messages, temperature, top_p, max_tokens, seed}}`;
  at most 50,000 lines (and ~190 MB) per batch, so a larger run is split into several batches.
- Each batch is uploaded (`purpose=batch`), created (`/v1/chat/completions`, 24h window), polled
  until it ends, and its output and error files are downloaded; results are yielded batch by batch.
- Resumable: every step is recorded at once in a state folder (`personalib.backends.batch_state`),
  so a restarted run finds the batches already submitted for its keys and collects them instead of
  resubmitting. A batch is marked collected only after all its answers were yielded.
- Requests that end without an answer (error file lines, an expired or failed batch) are reported
  at the end in one PersonalibError; the answers yielded before are kept, and a rerun resubmits only
  what is missing. `max_wait_s` bounds how long one call waits: past it, the run stops with a
  message and a later rerun collects the batches still running.
- HTTP calls (upload, create, poll, download) are retried with the bounded policy of
  `personalib.backends.api`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from personalib.backends import api
from personalib.backends.base import Decoding, Request, Result
from personalib.backends.batch_state import BatchEntry, BatchState
from personalib.errors import PersonalibError

log = logging.getLogger("personalib.backends.openai_batch")

ENDPOINT = "/v1/chat/completions"
COMPLETION_WINDOW = "24h"
MAX_REQUESTS_PER_BATCH = 50_000
MAX_BYTES_PER_BATCH = 190 * 1024 * 1024  # the API's limit is 200 MB per input file
FINAL_STATES = frozenset({"completed", "failed", "expired", "cancelled"})


class OpenAIBatchBackend(api.ApiBackendBase):
    """The Batch API with a resumable state folder (module doc).

    Settings: the state folder, polling, batch size and those of `api.ApiBackendBase`.
    """

    name = "openai-batch"

    def __init__(
        self,
        model_id: str,
        *,
        state_dir: Path,
        poll_interval_s: float = 30.0,
        max_wait_s: float | None = None,
        max_requests_per_batch: int = MAX_REQUESTS_PER_BATCH,
        **settings: Any,
    ) -> None:
        if not 1 <= max_requests_per_batch <= MAX_REQUESTS_PER_BATCH:
            raise PersonalibError(f"openai-batch: max_requests_per_batch must be 1..{MAX_REQUESTS_PER_BATCH}, got {max_requests_per_batch}")
        super().__init__(model_id, **settings)
        self._client = api.make_client(api_key=self._secret, base_url=self.base_url, timeout_s=self.timeout_s)
        self.state_dir = Path(state_dir)
        self.poll_interval_s = poll_interval_s
        self.max_wait_s = max_wait_s
        self.max_requests_per_batch = max_requests_per_batch
        self._batch_ids: list[str] = []

    def describe(self) -> dict[str, Any]:
        """Model id, endpoint, window, state folder, batch ids, retries, fingerprints (never the key)."""
        return {
            **super().describe(), "endpoint": ENDPOINT, "completion_window": COMPLETION_WINDOW,
            "state_dir": str(self.state_dir), "max_requests_per_batch": self.max_requests_per_batch,
            "batch_ids": list(self._batch_ids),
        }  # fmt: skip

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    # -- the run ---------------------------------------------------------------------------------
    def generate(self, requests: Iterable[Request], decoding: Decoding) -> Iterator[Result]:
        """Submit what is not in flight yet, collect every batch holding a requested key, yield."""
        wanted = {r.key: r for r in requests}
        for request in wanted.values():
            api.messages_of(request, self.name)
        missing: dict[str, str] = {}
        with BatchState(self.state_dir) as state:
            mine = self._resume(state, wanted)
            covered = {key for entry in mine for key in state.custom_ids(entry)}
            todo = [r for key, r in wanted.items() if key not in covered]
            for lines in self._split([self._line(r, decoding) for r in todo]):
                mine.append(state.new_entry(lines))
            for entry in mine:
                self._submit(state, entry)
            deadline = None if self.max_wait_s is None else time.monotonic() + self.max_wait_s
            while mine:
                for entry in list(mine):
                    batch = self._call(lambda e=entry: self._client.batches.retrieve(e.batch_id), f"polling batch {entry.batch_id}")
                    if batch.status != entry.status:
                        entry.status = batch.status
                        state.save()
                        log.info("%s: batch %s is %s", self.label, entry.batch_id, batch.status)
                    if batch.status not in FINAL_STATES:
                        continue
                    yield from self._collect(state, entry, batch, wanted, missing)
                    entry.collected = True
                    state.save()
                    mine.remove(entry)
                if mine and deadline is not None and time.monotonic() >= deadline:
                    ids = ", ".join(str(e.batch_id) for e in mine)
                    raise PersonalibError(
                        f"{self.label}: {len(mine)} batch(es) still running after {self.max_wait_s:g} s ({ids}); "
                        f"their state is saved in {state.path}: rerun the same command later to collect them "
                        "(nothing is resubmitted)"
                    )
                if mine:
                    time.sleep(self.poll_interval_s)
        if missing:
            sample = "; ".join(f"{k}: {v}" for k, v in list(missing.items())[:3])
            raise PersonalibError(
                f"{self.label}: {len(missing)} of {len(wanted)} requests got no answer from the Batch API "
                f"(e.g. {sample}); the answers received are kept: rerun the same command to resubmit only "
                "the missing ones"
            )

    def _resume(self, state: BatchState, wanted: dict[str, Request]) -> list[BatchEntry]:
        """Uncollected batches of the state that hold requested keys (others stay for a later run)."""
        mine = []
        for entry in state.active():
            if any(key in wanted for key in state.custom_ids(entry)):
                log.info("%s: resuming %s (batch %s, status %s)", self.label, entry.name, entry.batch_id, entry.status)
                mine.append(entry)
        return mine

    def _line(self, request: Request, decoding: Decoding) -> dict[str, Any]:
        body = api.chat_body(self.model_id, request.messages, decoding)
        return {"custom_id": request.key, "method": "POST", "url": ENDPOINT, "body": body}

    def _split(self, lines: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        """Consecutive groups of at most `max_requests_per_batch` lines and MAX_BYTES_PER_BATCH bytes."""
        group: list[dict[str, Any]] = []
        size = 0
        for line in lines:
            n = len(json.dumps(line, ensure_ascii=False).encode("utf-8")) + 1
            if group and (len(group) >= self.max_requests_per_batch or size + n > MAX_BYTES_PER_BATCH):
                yield group
                group, size = [], 0
            group.append(line)
            size += n
        if group:
            yield group

    def _submit(self, state: BatchState, entry: BatchEntry) -> None:
        """Upload the entry's file and create its batch, whichever is not done yet; record each."""
        if entry.input_file_id is None:
            content = state.request_bytes(entry)
            uploaded = self._call(
                lambda: self._client.files.create(file=(entry.requests_file, content), purpose="batch"),
                f"uploading {entry.requests_file}",
            )
            entry.input_file_id = uploaded.id
            state.save()
        if entry.batch_id is None:
            batch = self._call(
                lambda: self._client.batches.create(
                    input_file_id=entry.input_file_id, endpoint=ENDPOINT, completion_window=COMPLETION_WINDOW,
                    metadata={"personalib": entry.name},
                ),
                f"creating the batch for {entry.requests_file}",
            )  # fmt: skip
            entry.batch_id, entry.status = batch.id, batch.status
            state.save()
            log.info("%s: submitted %s as batch %s (%d requests)", self.label, entry.name, batch.id, entry.n_requests)
        self._batch_ids.append(entry.batch_id)

    def _collect(
        self, state: BatchState, entry: BatchEntry, batch: Any, wanted: dict[str, Request], missing: dict[str, str]
    ) -> Iterator[Result]:
        """Yield the answers of a finished batch; note every requested key it did not answer."""
        answered: set[str] = set()
        if batch.status == "failed":
            errors = getattr(getattr(batch, "errors", None), "data", None) or []
            entry.errors = [f"{getattr(e, 'code', '')}: {getattr(e, 'message', '')}" for e in errors][:20]
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            lines = self._call(lambda f=file_id: _json_lines(self._client.files.content(f).text), f"downloading {file_id}")
            for line in lines:
                key, result, error = self._parse_line(line)
                if key not in wanted or key in answered:
                    continue
                if result is None:
                    missing[key] = error
                    continue
                answered.add(key)
                missing.pop(key, None)
                yield self._seen(result)
        reason = f"batch {entry.batch_id} ended {batch.status}" + (f" ({'; '.join(entry.errors)})" if entry.errors else "")
        for key in wanted.keys() & set(state.custom_ids(entry)):
            if key not in answered:
                missing.setdefault(key, reason)

    @staticmethod
    def _parse_line(line: dict[str, Any]) -> tuple[str, Result | None, str]:
        """(custom_id, Result or None, error text) of one output/error file line."""
        key = line["custom_id"]
        if line.get("error"):
            return key, None, str(line["error"].get("message", line["error"]))
        response = line.get("response") or {}
        if response.get("status_code") != 200:
            body = response.get("body") or {}
            message = (body.get("error") or {}).get("message", "") if isinstance(body, dict) else ""
            return key, None, f"HTTP {response.get('status_code')}: {message}"
        try:
            return key, api.result_from_completion(key, response.get("body")), ""
        except api.MalformedResponse as exc:
            return key, None, str(exc)



def _json_lines(text: str) -> list[dict[str, Any]]:
    """The objects of a downloaded JSONL file; a truncated or garbled download raises MalformedResponse."""
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError as exc:
            raise api.MalformedResponse(f"line {number} of the downloaded file is not JSON ({exc})") from None
        if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str):
            raise api.MalformedResponse(f"line {number} of the downloaded file has no custom_id")
        lines.append(line)
    return lines
