"""SQL fragments with bind parameters, identifier checks and JSON paths.

A fragment is a sequence of SQL text pieces and :class:`Param` objects. Placeholders are numbered only
when the final statement is rendered, so that a sub-expression dropped by constant folding leaves no
unused parameter behind (PostgreSQL cannot infer the type of a parameter it never sees).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# One JSON key of an index name, and a column or schema name: ASCII letters, digits, underscore.
_KEY = r"[A-Za-z0-9_]+"
FIELD_PATTERN = re.compile(rf"{_KEY}(?:\.{_KEY})*", re.ASCII)
IDENTIFIER_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
QUALIFIED_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*", re.ASCII)

CASTS = ("text", "numeric", "uuid")


@dataclass(frozen=True)
class Param:
    """A value that goes to PostgreSQL as a bind parameter, with the explicit cast its placeholder gets."""

    value: Any
    cast: str

    def __post_init__(self) -> None:
        if self.cast not in CASTS:
            raise ValueError(f"unknown parameter cast {self.cast!r}")


Piece = str | Param


class Sql:
    """An immutable SQL fragment: text pieces and parameters."""

    __slots__ = ("pieces",)

    def __init__(self, *pieces: Piece | Sql) -> None:
        flat: list[Piece] = []
        for piece in pieces:
            if isinstance(piece, Sql):
                flat.extend(piece.pieces)
            else:
                flat.append(piece)
        self.pieces: tuple[Piece, ...] = tuple(flat)

    def __add__(self, other: Piece | Sql) -> Sql:
        return Sql(self, other)

    def __radd__(self, other: Piece) -> Sql:
        return Sql(other, self)

    def __repr__(self) -> str:
        return f"Sql({self.pieces!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sql) and self.pieces == other.pieces

    def __hash__(self) -> int:
        return hash(self.pieces)

    @property
    def is_true(self) -> bool:
        return self.pieces == ("TRUE",)

    @property
    def is_false(self) -> bool:
        return self.pieces == ("FALSE",)


TRUE = Sql("TRUE")
FALSE = Sql("FALSE")


def join(separator: str, fragments: Iterable[Sql]) -> Sql:
    """The fragments with ``separator`` between them."""
    pieces: list[Piece | Sql] = []
    for n, fragment in enumerate(fragments):
        if n:
            pieces.append(separator)
        pieces.append(fragment)
    return Sql(*pieces)


def param(value: Any, cast: str) -> Sql:
    """A fragment holding one parameter placeholder."""
    return Sql(Param(value, cast))


class Renderer:
    """Numbers parameters ``$1 … $n`` in order of first use; equal parameters share a number."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._numbers: dict[tuple[str, type, Any], int] = {}

    def render(self, fragment: Sql) -> str:
        out: list[str] = []
        for piece in fragment.pieces:
            if isinstance(piece, Param):
                key = (piece.cast, type(piece.value), piece.value)
                number = self._numbers.get(key)
                if number is None:
                    self.values.append(piece.value)
                    number = self._numbers[key] = len(self.values)
                out.append(f"${number}::{piece.cast}")
            else:
                out.append(piece)
        return "".join(out)


def check_column(name: str, what: str) -> str:
    """Return ``name`` if it is a plain or dotted-qualified SQL identifier, else raise ValueError."""
    if not isinstance(name, str) or not QUALIFIED_PATTERN.fullmatch(name):
        raise ValueError(f"{what} must be an SQL identifier (letters, digits, underscore, dots): {name!r}")
    return name


def is_field(name: str) -> bool:
    """Whether ``name`` is an index name this translator turns into a JSON path."""
    return FIELD_PATTERN.fullmatch(name) is not None


def json_text(json_column: str, field: str) -> str:
    """``jsonb->'a'->>'b'``: the field as text (NULL when absent or JSON null)."""
    keys = field.split(".")
    head = "".join(f"->'{key}'" for key in keys[:-1])
    return f"{json_column}{head}->>'{keys[-1]}'"


def json_value(json_column: str, field: str) -> str:
    """``jsonb->'a'->'b'``: the field as jsonb."""
    return json_column + "".join(f"->'{key}'" for key in field.split("."))


def fold_case_accents(expression: str | Sql, case_sensitive: bool, remove_accents: bool) -> Sql:
    """Wrap a text expression so that it compares case- and/or accent-insensitively.

    The same wrapping builds index expressions and query expressions, which is what lets the planner
    match them.
    """
    wrapped = Sql(expression)
    if remove_accents:
        wrapped = Sql("public.f_unaccent(", wrapped, ")")
    if not case_sensitive:
        wrapped = Sql("lower(", wrapped, ")")
    return wrapped


def sql_text(fragment: Sql) -> str:
    """The SQL text of a fragment without parameters (index expressions, ORDER BY keys)."""
    if any(isinstance(piece, Param) for piece in fragment.pieces):
        raise ValueError("fragment has parameters")
    return "".join(piece for piece in fragment.pieces if isinstance(piece, str))
