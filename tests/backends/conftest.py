"""Fixtures for the backend tests: the fake OpenAI server and one embedded-model hf backend per session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fake_openai_server import FakeOpenAIServer, Faults


@pytest.fixture
def fake_openai() -> Iterator[Callable[..., FakeOpenAIServer]]:
    """Factory: `fake_openai(Faults(...), batch_polls=..., api_key=...)` starts a server, stopped after the test."""
    servers: list[FakeOpenAIServer] = []

    def start(faults: Faults | None = None, **options: Any) -> FakeOpenAIServer:
        server = FakeOpenAIServer(faults, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def embedded_hf() -> Iterator[Any]:
    """The hf backend on the embedded Gemma 3 270M on CPU in float32 (bit-stable across batch
    sizes, which the batching tests compare; the demo params say the same).

    Converted once into the test cache (tests/conftest.py sets PERSONALIB_CACHE), loaded once per session.
    """
    from personalib.backends import create
    from personalib.params import load_model

    backend = create(load_model("gemma3-270m-demo"), device="cpu", dtype="float32")
    yield backend
    backend.close()
