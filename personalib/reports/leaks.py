"""Secret check: no API key or token from the environment may end up in a written report.

papermill records only the injected parameters, never the environment; still, a notebook cell
could print a key (e.g. `os.environ`). Every file a report writes is scanned for the secret values of the
environment (`personalib.redact.secret_values`: variables such as OPENAI_API_KEY or HF_TOKEN), as
written, HTML-escaped or JSON-escaped.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from personalib.redact import secret_values
from personalib.reports.execute import ReportError


class SecretLeakError(ReportError):
    """A written report contains the value of a secret environment variable."""


def _forms(value: str) -> set[str]:
    return {value, html.escape(value), html.escape(value, quote=False), json.dumps(value)[1:-1]}


def find_secrets(paths: Iterable[Path], environ: Mapping[str, str] | None = None
                 ) -> list[tuple[Path, str]]:
    """(file, variable name) for every secret value found in the files."""
    secrets = secret_values(environ)
    found: list[tuple[Path, str]] = []
    if not secrets:
        return found
    for path in paths:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        for name, value in sorted(secrets.items()):
            if any(form in text for form in _forms(value)):
                found.append((Path(path), name))
    return found


def check_no_secrets(paths: Iterable[Path], environ: Mapping[str, str] | None = None, *,
                     delete: bool = True) -> None:
    """Raise SecretLeakError naming the variables and files (never the values) when found.

    With `delete`, the offending files are removed first so the secret does not stay on disk.
    """
    found = find_secrets(list(paths), environ)
    if not found:
        return
    if delete:
        for path in {p for p, _ in found}:
            path.unlink(missing_ok=True)
    where = "; ".join(f"{name} in {path}" for path, name in found)
    raise SecretLeakError(
        f"a report contained the value of a secret environment variable ({where}); "
        + ("the file(s) were deleted. " if delete else "")
        + "Remove the cell output that shows it (do not print os.environ or API clients' keys)."
    )
