"""Secrets: which names hold one, which environment values are secrets, and masking them.

The one rule the package uses wherever a secret could leak (run manifests, API error messages,
written reports). A name holds a secret when it ends in a word such as `api_key`, `token`,
`secret`, `password`, `auth` or `credentials` (after the start or a `_`/`-`), or in `_KEY` after
anything (`OPENAI_API_KEY`, `HF_TOKEN`, `MY_SERVICE_KEY`); case does not matter. `api_key_env`
(the NAME of the variable) and `key` (a store key) are not secrets. An environment value is a
secret when its variable's name holds one and it is at least `MIN_LENGTH` characters long (shorter
values are too generic to look for).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

__all__ = ["MASK", "MIN_LENGTH", "is_secret_name", "mask", "secret_values"]

_SECRET_NAME = re.compile(
    r"(^|[_-])(api[_-]?key|secret|secret[_-]?key|access[_-]?key|private[_-]?key|password|passwd|token"
    r"|access[_-]?token|auth|authorization|credentials?)$|.[_-]key$",
    re.IGNORECASE,
)
MIN_LENGTH = 8
"""Environment values shorter than this are not taken for secrets."""
MASK = "***"
_MIN_MASKED = 4  # a known key shorter than this is not masked (it would garble the text)


def is_secret_name(name: str) -> bool:
    """True when a dict key or environment variable `name` holds a secret (module doc)."""
    return bool(_SECRET_NAME.search(name))


def secret_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """{variable name: value} of the secrets in `environ` (default: this process's environment)."""
    env = os.environ if environ is None else environ
    return {name: value for name, value in env.items() if is_secret_name(name) and len(value) >= MIN_LENGTH}


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of each secret replaced by `MASK`."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_MASKED and secret in text:
            text = text.replace(secret, MASK)
    return text
