"""Stopping a command cleanly: SIGTERM (a scheduler's stop, `kill`) is handled like Ctrl-C."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

EXIT_INTERRUPTED = 130
"""Exit code of a command stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report Ctrl-C)."""


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block SIGTERM raises KeyboardInterrupt, as Ctrl-C (SIGINT) does, so `finally`
    blocks run and the command can say what it kept; the previous handler is restored after."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
