"""Configuration files in YAML: read one mapping, validate it with a pydantic model, and say what
is wrong naming the file and the field (params, task files, the claims file).

Every problem is a `ConfigError` (exit 2, no traceback): a file that cannot be read as YAML, a file
that is not a mapping, and each invalid field as `field <dotted path> = <value>: <what is wrong>`,
`unknown key <path>; allowed here: ...` or `field <path>: missing (required)`.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel

from personalib.errors import ConfigError

__all__ = ["describe_error", "read_mapping"]


def read_mapping(path: Path, label: str, expected: str = "a mapping of fields") -> dict[str, Any]:
    """The mapping that the YAML file at `path` holds; `label` names the kind of file in errors."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{label} {path}: cannot be read as YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{label} {path}: expected {expected}, got {type(data).__name__}")
    return data


def describe_error(err: Any, schema: type[BaseModel] | None = None, where: str = "") -> str:
    """One pydantic error as `field <dotted path> = <value>: <what is wrong / allowed>`; for an
    unknown key the keys allowed at that place (when `schema` is given); `where` is put first."""
    loc = ".".join(str(part) for part in err["loc"])
    if err["type"] == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(schema, err["loc"][:-1])) if schema is not None else ""
        return f"{where}unknown key {loc}" + (f"; allowed here: {allowed}" if allowed else "")
    if err["type"] == "missing":
        return f"{where}field {loc}: missing (required)"
    message = err["msg"].removeprefix("Value error, ")
    if not loc:
        return f"{where}{message}"
    value = repr(err.get("input"))
    value = value if len(value) <= 80 else value[:77] + "..."
    return f"{where}field {loc} = {value}: {message}"


def _allowed_keys(schema: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model found at `loc` (walking fields, dict values and list items)."""
    node: Any = schema
    for part in loc:
        node = _unwrap(node)
        if isinstance(node, type) and issubclass(node, BaseModel):
            node = node.model_fields[part].annotation
        elif get_origin(node) is dict:
            node = get_args(node)[1]
        elif get_origin(node) is list:
            node = get_args(node)[0]
    node = _unwrap(node)
    return list(node.model_fields) if isinstance(node, type) and issubclass(node, BaseModel) else []


def _unwrap(node: Any) -> Any:
    """`X | None` -> X."""
    while get_origin(node) in (Union, types.UnionType):
        node = next(arg for arg in get_args(node) if arg is not type(None))
    return node
