"""The one small interface every generation backend implements (METHODS 2: decoding).

A backend turns `Request`s into `Result`s. It never touches the store: the generation engine
(`personalib.generate`) skips stored keys, hands the rest to a backend in chunks and stores each
`Result` as soon as it arrives, so a crash loses at most the chunk in flight.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from personalib.decoding import Decoding

__all__ = ["Backend", "Decoding", "Request", "Result"]


@dataclass(frozen=True)
class Request:
    """One prompt to send.

    `messages` is the chat conversation (list of {"role", "content"}) for chat models; `prompt` is
    the rendered text for completion-style use (base models without a template, or a chat template
    already applied once by `personalib.prompts.render`). Exactly one of them drives the backend:
    API backends send `messages`, the hf backend tokenises `prompt` as is (it builds no prompts).
    `key` is the store key (see personalib.store); `meta` is carried through to the result.
    """

    key: str
    messages: tuple[dict[str, str], ...] | None
    prompt: str | None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Result:
    """The answer to one `Request`: the generated text plus what the backend reports about it."""

    key: str
    text: str
    finish_reason: str | None = None
    n_input_tokens: int | None = None
    n_output_tokens: int | None = None
    system_fingerprint: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Backend(Protocol):
    """A generation backend (`hf`, `openai`, `openai-batch`)."""

    name: str

    def describe(self) -> dict[str, Any]:
        """What the manifest records: model id, revision, chat template hash, dtype, device..."""

    def generate(self, requests: Iterable[Request], decoding: Decoding) -> Iterator[Result]:
        """Yield one Result per Request (any order). Raise `PersonalibError` on a bounded failure."""

    def close(self) -> None:
        """Release resources (model memory, HTTP clients)."""
