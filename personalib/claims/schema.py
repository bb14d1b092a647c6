"""The schema of `personalib/data/claims.yaml`: the paper's checkable claims as data.

Each claim (id `Cnn` for a result, `Snn` for a setup count) says in one line what the paper claims,
the value(s) as printed, what it needs (models, datasets, persona sets, extra files), the METHODS 7
deviation that explains a known difference (an id of `personalib.deviations`), the ambiguity notes
it depends on (CLAIMS.md's A-notes) and one or more *checks*. A check is one comparable number or
ordering: its comparison kind, the paper's value, the tolerance, the reading of an A-note it
follows (a claim with two readings has a check per reading), and how it is recomputed: a function
of `personalib` named by its dotted path, with keyword arguments; or, when the package has no such
computation yet, `pending` saying what it needs.

`load_claims()` validates the file: an unknown key, a bad value, an unknown deviation id or a
function that does not exist raises `ConfigError` naming the file, the claim id and the field.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from personalib import DATASETS
from personalib.deviations import DEVIATIONS
from personalib.errors import ConfigError
from personalib.paths import DATA_DIR
from personalib.yamlfile import describe_error, read_mapping

CLAIMS_FILE = DATA_DIR / "claims.yaml"
Kind = Literal["value", "ordering", "count", "rank", "ratio"]
Extra = Literal["bbq-metadata", "human-annotations", "study-subsamples"]
ID = re.compile(r"^[CS]\d{2}$")
READING = re.compile(r"^A\d{2}(/A\d{2})?: ")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Needs(_Strict):
    """What a claim or check needs from the profile: models (params names), datasets, persona
    sets, `personas` (stems, or `all` for every persona of the named sets) and extra files."""

    models: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    persona_sets: tuple[str, ...] = ()
    personas: tuple[str, ...] | Literal["all"] = ()
    extra: tuple[Extra, ...] = ()

    @field_validator("datasets")
    @classmethod
    def _known_datasets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [d for d in value if d not in DATASETS]
        if bad:
            raise ValueError(f"unknown dataset(s) {bad}; known: {', '.join(DATASETS)}")
        return value


class Tolerance(_Strict):
    """`decimals`: equal at the paper's printed precision, |x - paper| <= 0.5 * 10^-decimals;
    `absolute`: |x - paper| <= absolute. Exactly one of them."""

    decimals: int | None = Field(default=None, ge=0, le=6)
    absolute: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one(self) -> Tolerance:
        if (self.decimals is None) == (self.absolute is None):
            raise ValueError("give exactly one of `decimals` and `absolute`")
        return self

    @property
    def bound(self) -> float:
        """The largest difference that still counts as equal (plus float slack)."""
        base = 0.5 * 10 ** -self.decimals if self.decimals is not None else float(self.absolute)
        return base + 1e-9


class Computation(_Strict):
    """A function of personalib (dotted path) and its keyword arguments."""

    function: str
    args: dict[str, Any] = Field(default_factory=dict)

    @field_validator("function")
    @classmethod
    def _exists(cls, value: str) -> str:
        resolve(value)
        return value


def resolve(path: str) -> Callable[..., Any]:
    """The function named by a dotted path inside personalib; ValueError when there is none."""
    if not path.startswith("personalib."):
        raise ValueError(f"{path!r}: a claim's computation must be a function of personalib")
    module, _, name = path.rpartition(".")
    try:
        func = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise ValueError(f"{path!r} does not exist in this version of personalib") from None
    if not callable(func):
        raise ValueError(f"{path!r} is not a function")
    return func


class Check(_Strict):
    """One comparable part of a claim."""

    part: str = Field(min_length=1)
    kind: Kind
    paper: float | int | bool | str | list[str] | dict[str, int]
    tolerance: Tolerance | None = None
    unit: str | None = None
    reading: str | None = None
    needs: Needs = Needs()
    compute: Computation | None = None
    pending: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Check:
        if (self.compute is None) == (self.pending is None):
            raise ValueError("give exactly one of `compute` (the function) and `pending` (what a "
                             "computation still needs)")
        numeric = isinstance(self.paper, int | float) and not isinstance(self.paper, bool)
        if self.kind in ("value", "ratio"):
            if not numeric:
                raise ValueError(f"kind {self.kind} needs a number as `paper`; got {self.paper!r}")
            if self.tolerance is None:
                raise ValueError(f"kind {self.kind} needs a `tolerance` (decimals or absolute)")
        elif self.tolerance is not None:
            raise ValueError(f"kind {self.kind} compares exactly: remove `tolerance`")
        if self.kind in ("count", "rank") and not (
                (numeric and float(self.paper).is_integer()) or isinstance(self.paper, dict | str)):
            raise ValueError(f"kind {self.kind} needs an integer, a mapping of integers or a name "
                             f"as `paper`; got {self.paper!r}")
        if self.kind == "ordering" and not isinstance(self.paper, list | bool | str):
            raise ValueError(f"kind ordering needs a list of names, a name or true/false as `paper`; "
                             f"got {self.paper!r}")
        if self.reading is not None and not READING.match(self.reading):
            raise ValueError("`reading` starts with the CLAIMS.md A-note it follows, e.g. 'A13: ...'")
        return self


class Claim(_Strict):
    """One claim of the paper."""

    id: str
    where: str
    claim: str = Field(min_length=1)
    printed: str
    needs: Needs = Needs()
    deviation: str | None = None
    ambiguity: tuple[str, ...] = ()
    checks: tuple[Check, ...] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not ID.match(value):
            raise ValueError("a claim id is C or S and two digits, as in CLAIMS.md (C01, S10)")
        return value

    @field_validator("claim")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value.strip():
            raise ValueError("what is claimed fits on one line")
        return value.strip()

    @field_validator("deviation")
    @classmethod
    def _deviation(cls, value: str | None) -> str | None:
        known = [d.id for d in DEVIATIONS]
        if value is not None and value not in known:
            raise ValueError(f"unknown deviation {value!r}; known (personalib.deviations): "
                             f"{', '.join(known)}")
        return value

    @field_validator("ambiguity")
    @classmethod
    def _notes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [a for a in value if not re.match(r"^A\d{2}$", a)]
        if bad:
            raise ValueError(f"ambiguity notes are CLAIMS.md A-note ids such as A13; got {bad}")
        return value


class ClaimsFile(_Strict):
    """The whole file: a list of claims with unique ids. Top-level keys starting with `x-` hold
    YAML anchors (shared lists) and are ignored."""

    claims: tuple[Claim, ...]

    @model_validator(mode="before")
    @classmethod
    def _drop_anchors(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not str(k).startswith("x-")}
        return data

    @model_validator(mode="after")
    def _unique(self) -> ClaimsFile:
        seen: set[str] = set()
        for claim in self.claims:
            if claim.id in seen:
                raise ValueError(f"claim id {claim.id} appears twice")
            seen.add(claim.id)
        return self


def _describe(err: dict[str, Any], raw: dict[str, Any]) -> str:
    """One validation error as `claim <id>, field <path> = <value>: <message>`."""
    loc = list(err["loc"])
    where = ""
    if len(loc) >= 2 and loc[0] == "claims" and isinstance(loc[1], int):
        entries = raw.get("claims") or []
        entry = entries[loc[1]] if loc[1] < len(entries) else None
        ident = entry.get("id") if isinstance(entry, dict) else None
        where = f"claim {ident or f'#{loc[1] + 1}'}, "
        loc = loc[2:]
    field = tuple(p for p in loc if not (isinstance(p, str) and "[" in p)) or ("(entry)",)
    return describe_error({**err, "loc": field}, where=where)


def load_claims(path: str | Path = CLAIMS_FILE) -> tuple[Claim, ...]:
    """The validated claims of a claims file (default: the package's claims.yaml)."""
    path = Path(path)
    raw = read_mapping(path, "claims file", "a mapping with a `claims` list")
    try:
        return ClaimsFile.model_validate(raw).claims
    except ValidationError as exc:
        problems = "\n  ".join(dict.fromkeys(_describe(e, raw) for e in exc.errors()))
        raise ConfigError(f"claims file {path}: {exc.error_count()} problem(s):\n  {problems}") from None


__all__ = ["CLAIMS_FILE", "Check", "Claim", "ClaimsFile", "Computation", "Needs", "Tolerance",
           "load_claims", "resolve"]
