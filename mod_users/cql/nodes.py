"""The CQL syntax tree that :func:`mod_users.cql.parse` returns.

Positions are 1-based columns in the query string, kept so that the translator can point at the part of
the query it rejects.
"""

from __future__ import annotations

from dataclasses import dataclass

SERVER_CHOICE = "cql.serverChoice"


@dataclass(frozen=True)
class Modifier:
    """``/name`` or ``/name<comparison>value`` after a relation, a boolean or a sort key.

    ``name`` is lower-cased (modifier names are case-insensitive); ``value`` keeps its escapes.
    """

    name: str
    position: int
    comparison: str | None = None
    value: str | None = None


@dataclass(frozen=True)
class Relation:
    """A relation: a symbol (``=``, ``==``, ``<>``, ``<``, ``>``, ``<=``, ``>=``) or a lower-cased name
    (``adj``, ``all``, ``any``, ``within``, ``encloses``, ``exact``) plus its modifiers."""

    base: str
    position: int
    modifiers: tuple[Modifier, ...] = ()


@dataclass(frozen=True)
class SearchClause:
    """``index relation term``; a bare term has index ``cql.serverChoice`` and the inherited relation.

    ``term`` is the raw term: backslash escapes and the wildcards ``*`` ``?`` ``^`` are still in it.
    """

    index: str
    relation: Relation
    term: str
    position: int  # where the clause starts (its index, or its term when bare)
    term_position: int
    quoted: bool = False


@dataclass(frozen=True)
class BooleanNode:
    """``left op right`` with op one of ``and``, ``or``, ``not``, ``prox``."""

    op: str
    left: Node
    right: Node
    position: int  # of the operator
    modifiers: tuple[Modifier, ...] = ()


@dataclass(frozen=True)
class PrefixNode:
    """``> prefix = "uri" query`` (a context-set prefix assignment)."""

    prefix: str | None
    uri: str
    query: Node
    position: int


Node = SearchClause | BooleanNode | PrefixNode


@dataclass(frozen=True)
class SortKey:
    """One key after ``sortBy``: an index and its modifiers (``/sort.descending``, ``/number`` ...)."""

    index: str
    position: int
    modifiers: tuple[Modifier, ...] = ()


@dataclass(frozen=True)
class Query:
    """A whole CQL query: the search tree and the sort keys (empty without ``sortBy``)."""

    root: Node
    sort_keys: tuple[SortKey, ...] = ()
