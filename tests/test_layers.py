"""Imports run one way: the package's layers as docs/DESIGN.md "Imports" states them, and no cycle.

The table of layers and the table of named exceptions are kept in docs/DESIGN.md only; this test
parses them. Every `import`/`from ... import` of `personalib` in every module counts, including
imports inside functions and under `if TYPE_CHECKING:` (a lazy import hides a dependency, it does
not remove it). A module imports freely within its own layer, and from the layers its row lists;
anything else must be a named exception. A cycle between modules fails whatever the layers.
"""

from __future__ import annotations

import ast
import graphlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "personalib"
DESIGN = ROOT / "docs" / "DESIGN.md"
SECTION = "## Imports"
ALL = "all"


@dataclass(frozen=True)
class Layers:
    """The design's tables: layer of each top-level name, what each layer may import, exceptions."""

    layer_of: dict[str, str]  # top-level name ("personalib" for the root package) -> layer
    allowed: dict[str, frozenset[str]]  # layer -> layers it may import (besides its own)
    exceptions: frozenset[tuple[str, str]]  # (importing module, imported module or package)


def _rows(lines: Iterable[str]) -> list[list[str]]:
    """Cells of a Markdown table's body rows (header and separator dropped)."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    return [r for r in rows[2:] if any(r)]


def _names(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def read_layers(text: str) -> Layers:
    """The tables of the `## Imports` section of a design page: a layer table (layer, modules,
    may import) and an exception table (module, imports, why), in this order."""
    if SECTION not in text:
        raise AssertionError(f"docs/DESIGN.md has no section starting {SECTION!r}")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    tables: list[list[str]] = [[]]
    for line in section.splitlines():
        if line.strip().startswith("|"):
            tables[-1].append(line)
        elif tables[-1]:
            tables.append([])
    tables = [t for t in tables if t]
    assert len(tables) >= 2, "the Imports section needs a layer table and an exception table"
    layer_of: dict[str, str] = {}
    allowed: dict[str, frozenset[str]] = {}
    for layer, modules, may in _rows(tables[0]):
        for name in _names(modules):
            assert name not in layer_of, f"{name} is in two layers ({layer_of[name]}, {layer})"
            layer_of[name] = layer
        allowed[layer] = frozenset(_names(may))
    for layer, may in allowed.items():
        unknown = may - set(allowed) - {ALL}
        assert not unknown, f"layer {layer} may import unknown layer(s) {sorted(unknown)}"
    exceptions = frozenset((module, target) for row in _rows(tables[1])
                           for module in _names(row[0]) for target in _names(row[1]))
    return Layers(layer_of, allowed, exceptions)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(root: Path) -> dict[str, list[tuple[str, int]]]:
    """{module: [(imported module or package of `root`'s package, line)]} for every module under
    `root`, imports inside functions included. `from a import b` counts as importing `a.b` when
    that is a module, else `a`."""
    paths = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    top = root.name
    out: dict[str, list[tuple[str, int]]] = {}
    for module, path in paths.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        found: list[tuple[str, int]] = []
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                found += [(alias.name, node.lineno) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, *([base] if base else [])])
                found += [(f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base, node.lineno)
                          for a in node.names]
        out[module] = [(t, line) for t, line in found if t == top or t.startswith(top + ".")]
    return out


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def layer_violations(imports: dict[str, list[tuple[str, int]]], layers: Layers) -> list[str]:
    """Every import against the flow, and every module or table entry in no layer."""
    problems = []
    names = {_top(m) for m in imports}
    for name in sorted(names - set(layers.layer_of)):
        problems.append(f"module {name!r} is in no layer: add it to the layer table of docs/DESIGN.md")
    for name in sorted(set(layers.layer_of) - names):
        problems.append(f"the layer table of docs/DESIGN.md lists {name!r}, which is not a module")
    for module, targets in sorted(imports.items()):
        src = layers.layer_of.get(_top(module))
        for target, line in targets:
            dst = layers.layer_of.get(_top(target))
            if src is None or dst is None or src == dst:
                continue
            may = layers.allowed[src]
            if ALL in may or dst in may:
                continue
            if any(module == a and (target == b or target.startswith(b + ".")) for a, b in layers.exceptions):
                continue
            problems.append(f"{module} (line {line}) imports {target}: layer {src!r} may not import layer {dst!r}")
    for a, b in sorted(layers.exceptions):
        if not any(t == b or t.startswith(b + ".") for t, _ in imports.get(a, [])):
            problems.append(f"exception {a} -> {b} in docs/DESIGN.md is no longer needed: remove it")
    return problems


def import_cycle(imports: dict[str, list[tuple[str, int]]]) -> list[str] | None:
    """One cycle of modules importing each other (first module repeated at the end), or None."""
    graph = {m: {t for t, _ in targets if t in imports and t != m} for m, targets in imports.items()}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return list(reversed(exc.args[1]))
    return None


# --- the package ------------------------------------------------------------------------------


def test_the_package_follows_the_layers_of_the_design() -> None:
    layers = read_layers(DESIGN.read_text(encoding="utf-8"))
    problems = layer_violations(imports_of(PACKAGE), layers)
    assert not problems, "imports against docs/DESIGN.md \"Imports\":\n" + "\n".join(problems)


def test_no_import_cycle_between_modules() -> None:
    cycle = import_cycle(imports_of(PACKAGE))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


# --- the checker, on a small package planted in tmp_path --------------------------------------

TABLES = """# design

## Imports

| layer | modules | may import |
|---|---|---|
| base | `pkg`, `errors` | |
| core | `core` | `base` |
| top | `cli` | `all` |

| module | imports | why |
|---|---|---|
{exception}

## Next section
"""


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, source in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return root


CLEAN = {
    "errors.py": "class Oops(Exception):\n    pass\n",
    "core/__init__.py": "from pkg.errors import Oops\n",
    "core/work.py": "from . import helper\nfrom pkg import errors\n",
    "core/helper.py": "import pkg.errors\n",
    "cli.py": "from pkg.core import work\n",
}


def test_checker_passes_a_clean_package(tmp_path: Path) -> None:
    root = _plant(tmp_path, CLEAN)
    layers = read_layers(TABLES.format(exception=""))
    assert layer_violations(imports_of(root), layers) == []
    assert import_cycle(imports_of(root)) is None


def test_checker_names_an_import_against_the_flow_even_inside_a_function(tmp_path: Path) -> None:
    root = _plant(tmp_path, {**CLEAN, "errors.py": "def late():\n    from pkg.core import work\n"})
    problems = layer_violations(imports_of(root), read_layers(TABLES.format(exception="")))
    assert problems == ["pkg.errors (line 2) imports pkg.core.work: layer 'base' may not import layer 'core'"]


def test_checker_accepts_a_named_exception_and_flags_a_stale_one(tmp_path: Path) -> None:
    root = _plant(tmp_path, {**CLEAN, "errors.py": "from pkg.core import helper\n"})
    named = read_layers(TABLES.format(exception="| `pkg.errors` | `pkg.core` | planted |"))
    assert layer_violations(imports_of(root), named) == []
    stale = layer_violations(imports_of(_plant(tmp_path / "clean", CLEAN)), named)
    assert stale == ["exception pkg.errors -> pkg.core in docs/DESIGN.md is no longer needed: remove it"]


def test_checker_flags_a_module_in_no_layer_and_a_listed_module_that_is_gone(tmp_path: Path) -> None:
    root = _plant(tmp_path, {**CLEAN, "extra.py": ""})
    problems = layer_violations(imports_of(root), read_layers(TABLES.format(exception="").replace(", `errors`", ", `gone`")))
    assert any("module 'errors' is in no layer" in p for p in problems)
    assert any("module 'extra' is in no layer" in p for p in problems)
    assert any("lists 'gone', which is not a module" in p for p in problems)


def test_checker_finds_an_import_cycle_within_a_layer(tmp_path: Path) -> None:
    root = _plant(tmp_path, {**CLEAN, "core/helper.py": "def f():\n    from pkg.core.work import g\n"})
    cycle = import_cycle(imports_of(root))
    assert cycle is not None and cycle[0] == cycle[-1]
    assert {"pkg.core.work", "pkg.core.helper"} <= set(cycle)
    assert layer_violations(imports_of(root), read_layers(TABLES.format(exception=""))) == []


@pytest.mark.parametrize("broken", ["no section", "## Imports\n\n| layer | modules | may import |\n|---|---|---|\n| a | `x` | `nowhere` |\n\n| m | i | w |\n|---|---|---|\n"])
def test_checker_refuses_a_broken_table(broken: str) -> None:
    with pytest.raises(AssertionError):
        read_layers(broken)
