"""Store appends on a background thread, so that sending never waits for a disk.

A part is written with two fsyncs (the file and its folder, `personalib.store`); on a network
filesystem that takes tens of milliseconds, during which a backend with requests in flight would
run dry if the engine waited. `PartWriter` writes the parts one at a time on its own thread, in
the order they were submitted.

Rules: at most one part is in the writer at a time (`submit` waits until the previous one is
stored), so a crash loses at most that part plus what the engine had not handed over yet. A
failed write stops the writer: the error is raised in the engine's thread at the next `submit`
or at `close`, and nothing submitted after it is written. `close` waits until every part
submitted before it is stored, also when the engine is stopping (Ctrl-C, SIGTERM, a failure).
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from personalib.store import Store

__all__ = ["PartWriter"]


class PartWriter:
    """Appends parts to `store` on one background thread (module doc)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rows_written = 0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="personalib-store-writer")
        self._thread.start()

    def submit(self, rows: Any) -> None:
        """Hand over one part (anything `Store.append` takes); waits while the previous one is written."""
        self._queue.join()
        self._raise()
        self._queue.put(rows)

    def close(self) -> int:
        """Wait until every submitted part is stored, stop the thread; returns the rows written."""
        self._queue.put(None)
        self._thread.join()
        self._raise()
        return self.rows_written

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while True:
            rows = self._queue.get()
            try:
                if rows is None:
                    return
                if self._error is None:
                    self.store.append(rows)
                    self.rows_written += len(rows)
            except BaseException as exc:  # noqa: BLE001 - raised in the engine's thread
                self._error = exc
            finally:
                self._queue.task_done()
