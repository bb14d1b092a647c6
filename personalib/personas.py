"""Persona sets (METHODS 1): the study's regular, empty and control personas, and user sets.

Built-in sets (YAML files in `personalib/data/personas/`, exact strings of the study):

- `regular`: 162 personas in 12 categories (`REGULAR_CATEGORIES`), in the study's order;
- `empty`: the no-persona condition: text `""`, stem `empty`, category `empty`;
- `control`: 30 paraphrases of "a helpful assistant" (that one first), category `control`.

User persona sets are YAML (or JSON) files in the same format as the built-in ones::

    name: my-set                 # the set's name (the `persona_set` column of generations)
    description: optional text   # optional
    personas:                    # a non-empty list; each entry is a mapping with
      - {text: a farmer, category: profession}            # text and category (required)
      - {text: a retired nurse, category: profession, stem: nurse_retired}   # stem (optional)

The stem (file stem / `persona` column) is the text with spaces replaced by "_" unless `stem:` is
given. A file is rejected with a `ConfigError` naming the file and the entry when: it is not a
mapping with a `personas` list, an entry has unknown keys, a missing or empty `category`, an empty
`text` (only the study's built-in `empty` persona may be empty), a stem that is not a usable file
stem, two entries share a stem, or a text or stem is longer than `MAX_PERSONA_CHARS` (300; a
category: `MAX_CATEGORY_CHARS`, 100). User set names must differ from the built-in set names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from personalib.errors import ConfigError
from personalib.paths import DATA_DIR

PERSONA_DIR = DATA_DIR / "personas"
BUILTIN_SETS: tuple[str, ...] = ("regular", "empty", "control")
"""The study's persona sets, in the order the study lists them (193 personas in all)."""

REGULAR_CATEGORIES: tuple[str, ...] = (
    "race", "sexuality", "social_class", "gender", "education", "profession_generic", "religious",
    "ideology", "health", "profession_specific", "name_from_country", "political_figure",
)
"""The 12 regular persona categories (METHODS 1), in the study's order."""

EMPTY_STEM = "empty"
MAX_PERSONA_CHARS = 300
"""Most characters a persona `text` (and `stem`) may have; the study's longest persona has 45. A
persona is a short description put in "You are {text}." before every prompt, so a longer one is
a mistake (a pasted document), and it would make every prompt that long."""
MAX_CATEGORY_CHARS = 100
"""Most characters a persona `category` may have (a label in tables and figures)."""
_ENTRY_KEYS = ("text", "category", "stem")
_FILE_KEYS = ("name", "description", "personas")
_BAD_STEM = re.compile(r"[\s/\\\x00]")


@dataclass(frozen=True)
class Persona:
    """One persona: the exact `text` put in "You are {text}.", its category, file stem and set."""

    text: str
    category: str
    stem: str
    set_name: str

    @property
    def is_empty(self) -> bool:
        """True for the no-persona condition (empty persona statement, METHODS 2)."""
        return self.text == ""


def persona_stem(text: str) -> str:
    """File stem of a persona (METHODS 1): spaces -> "_"; the empty persona's stem is `empty`."""
    return text.replace(" ", "_") if text else EMPTY_STEM


def load_persona_set(name: str | Path) -> list[Persona]:
    """Personas of a built-in set (`regular`, `empty`, `control`) or of a YAML/JSON file path.

    Raises ConfigError for an unknown name, a missing file or an invalid file (see module doc).
    """
    if isinstance(name, str) and name in BUILTIN_SETS:
        return list(_builtin(name))
    path = Path(name)
    if not path.is_file():
        raise ConfigError(
            f"unknown persona set {str(name)!r}: use one of {', '.join(BUILTIN_SETS)} or the path "
            "of a persona-set YAML file (format: docs/personas.md)"
        )
    return parse_persona_file(path)


def persona_set_name(name: str | Path) -> str:
    """The set name that `load_persona_set(name)` gives its personas (a file's `name:` field)."""
    if isinstance(name, str) and name in BUILTIN_SETS:
        return name
    personas = load_persona_set(name)
    return personas[0].set_name


def all_personas() -> list[Persona]:
    """The study's 193 personas: 162 regular, then the empty persona, then 30 control (METHODS 1)."""
    return [p for set_name in BUILTIN_SETS for p in _builtin(set_name)]


def persona_categories() -> dict[str, str]:
    """Stem -> category for the study's 193 personas (as `persona_cat.json`, plus control)."""
    return {p.stem: p.category for p in all_personas()}


def select_personas(personas: Iterable[Persona], stems: Sequence[str] | None) -> list[Persona]:
    """Keep the personas whose stem is in `stems` (all when `stems` is None), in their own order."""
    if stems is None:
        return list(personas)
    keep = set(stems)
    return [p for p in personas if p.stem in keep]


@lru_cache(maxsize=None)
def _builtin(name: str) -> tuple[Persona, ...]:
    return tuple(parse_persona_file(PERSONA_DIR / f"{name}.yaml", builtin=True))


def parse_persona_file(path: Path, *, builtin: bool = False) -> list[Persona]:
    """Read and validate one persona-set file (format in the module docstring)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"persona set file {path}: cannot be read as YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"persona set file {path}: expected a mapping with `name` and `personas`, got "
            f"{type(data).__name__}; see docs/personas.md"
        )
    unknown = sorted(set(map(str, data)) - set(_FILE_KEYS))
    if unknown:
        raise ConfigError(
            f"persona set file {path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_FILE_KEYS)}"
        )
    set_name = data.get("name")
    if not isinstance(set_name, str) or not set_name.strip():
        raise ConfigError(f"persona set file {path}: field `name` must be a non-empty string, got {set_name!r}")
    if not builtin and set_name in BUILTIN_SETS:
        raise ConfigError(
            f"persona set file {path}: name {set_name!r} is a built-in set; choose another `name`"
        )
    entries = data.get("personas")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(
            f"persona set file {path}: field `personas` must be a non-empty list of "
            f"{{text, category}} entries, got {entries!r}"
        )
    allow_empty = builtin and set_name == "empty"
    personas: list[Persona] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        persona = _parse_entry(path, index, entry, set_name, allow_empty)
        if persona.stem in seen:
            raise ConfigError(
                f"persona set file {path}: personas[{index}] ({persona.text!r}) has stem "
                f"{persona.stem!r}, already used by personas[{seen[persona.stem]}]; stems must be "
                "unique: change the text or give a distinct `stem:`"
            )
        seen[persona.stem] = index
        personas.append(persona)
    return personas


def _short(value: Any, most: int = 60) -> str:
    """`repr(value)`, cut to `most` characters."""
    text = repr(value)
    return text if len(text) <= most else text[: most - 3] + "..."


def _parse_entry(path: Path, index: int, entry: Any, set_name: str, allow_empty: bool) -> Persona:
    where = f"persona set file {path}: personas[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping like {{text: a farmer, category: profession}}, got {_short(entry)}")
    unknown = sorted(set(map(str, entry)) - set(_ENTRY_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_ENTRY_KEYS)}")
    text = entry.get("text")
    if not isinstance(text, str):
        raise ConfigError(f"{where}: `text` must be a string, got {_short(text)}")
    for field_name, value, most in (("text", text, MAX_PERSONA_CHARS), ("stem", entry.get("stem"), MAX_PERSONA_CHARS),
                                    ("category", entry.get("category"), MAX_CATEGORY_CHARS)):
        if isinstance(value, str) and len(value) > most:
            raise ConfigError(
                f"{where}: `{field_name}` is {len(value):,} characters long ({_short(value)}); at most {most} are "
                f"allowed (a persona is a short description, e.g. 'a retired nurse'; docs/personas.md)"
            )
    if not text.strip() and not (allow_empty and text == ""):
        raise ConfigError(
            f"{where}: `text` is empty; only the study's built-in `empty` set may hold the empty "
            "persona (add `empty` to the profile's persona_sets instead)"
        )
    category = entry.get("category")
    if not isinstance(category, str) or not category.strip():
        raise ConfigError(f"{where} ({_short(text)}): missing or empty `category`; every entry needs one")
    stem = entry.get("stem", persona_stem(text))
    if not isinstance(stem, str) or not stem or _BAD_STEM.search(stem) or stem in {".", ".."}:
        raise ConfigError(
            f"{where} ({_short(text)}): stem {_short(stem)} is not a usable file stem (no whitespace, slashes "
            "or NUL); give a `stem:`"
        )
    return Persona(text=text, category=category, stem=stem, set_name=set_name)
