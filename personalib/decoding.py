"""Decoding parameters and the study's defaults (METHODS 2), the one place they are stated.

Model params (`personalib.params`, field `decoding`) take their defaults from `Decoding()`; the
backends receive a `Decoding` with each call. `PARAPHRASE_DECODING` is how the study sampled its
auxiliary GPT-4 paraphrases (METHODS 3b; `personalib.paraphrase`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PARAPHRASE_DECODING", "Decoding"]


@dataclass(frozen=True)
class Decoding:
    """Decoding parameters (METHODS 2): greedy, 100 new tokens; OpenAI temperature 0, top_p 1, seed 42."""

    max_new_tokens: int = 100
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = 42


PARAPHRASE_DECODING = Decoding(max_new_tokens=1000, temperature=1.0, top_p=0.95, seed=42)
"""The study's auxiliary generations (control personas, instruction paraphrases; METHODS 3b)."""
