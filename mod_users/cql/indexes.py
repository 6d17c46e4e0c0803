"""Declared indexes on JSONB fields, and the SQL expressions that both their DDL and queries use.

An index can only serve a query whose expression is the same as the index's. Both sides are therefore
built here, by the same functions, from the same :class:`Index` declaration.

Kinds (mirroring RMB's schema.json ``index``, ``uniqueIndex``, ``ginIndex``, ``fullTextIndex`` and
``foreignKeys``):

``btree``
    ``left(lower(public.f_unaccent(jsonb->>'f')), 600)``. Serves ``==``, ``<``/``<=``/``>``/``>=``,
    ``==abc*`` (prefix ``LIKE``, with the database's C collation) and ``sortBy``. Like RMB it keeps the
    first 600 characters so that long values still fit into a b-tree entry; queries add the exact
    comparison on the whole value.
``unique``
    ``lower(public.f_unaccent(jsonb->>'f'))`` in a UNIQUE index. Serves ``==`` and ``sortBy``.
``gin``
    ``lower(public.f_unaccent(jsonb->>'f'))`` with ``public.gin_trgm_ops`` (pg_trgm). Serves ``==`` /
    ``<>`` with wildcards anywhere (``==*abc*``) and exact ``==``.
``fulltext``
    ``to_tsvector('simple', public.f_unaccent(jsonb->>'f'))`` in a GIN index. Serves the word relations
    ``=``, ``adj``, ``all``, ``any``. Always case-insensitive (text search folds case).
``foreign_key``
    The field's value is also kept in a uuid column named like the field with dots turned into
    underscores (RMB's foreignKeys); the field is then searched like ``id`` (uuid comparisons and
    ranges), through a b-tree index on that column.

``case_sensitive`` drops ``lower()`` and ``remove_accents=False`` drops ``f_unaccent()``; a search on
the field uses the same folding unless a relation modifier (``/respectCase`` ...) asks for another.
``array_subfield`` and ``array_modifiers`` configure the ``/@name=value`` relation modifiers for a field
that holds an array of objects (RMB's arraySubfield / arrayModifiers).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mod_users.cql.sql import (
    IDENTIFIER_PATTERN,
    Sql,
    check_column,
    fold_case_accents,
    is_field,
    json_text,
    sql_text,
)

BTREE = "btree"
UNIQUE = "unique"
GIN = "gin"
FULLTEXT = "fulltext"
FOREIGN_KEY = "foreign_key"
KINDS = (BTREE, UNIQUE, GIN, FULLTEXT, FOREIGN_KEY)

# Characters of the folded value that a b-tree index keeps (RMB uses the same 600).
BTREE_PREFIX_LENGTH = 600


@dataclass(frozen=True)
class Index:
    """A declared index on a JSONB field (dotted path such as ``personal.lastName``)."""

    field: str
    kind: str
    case_sensitive: bool = False
    remove_accents: bool = True
    array_subfield: str | None = None
    array_modifiers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.field, str) or not is_field(self.field):
            raise ValueError(f"index field must be a dotted path of letters, digits, underscores: {self.field!r}")
        if self.kind not in KINDS:
            raise ValueError(f"index kind must be one of {', '.join(KINDS)}: {self.kind!r}")
        if self.kind == FULLTEXT and self.case_sensitive:
            raise ValueError(f"a fulltext index cannot be case sensitive (text search folds case): {self.field}")
        object.__setattr__(self, "array_modifiers", tuple(self.array_modifiers))
        for name in (self.array_subfield, *self.array_modifiers):
            if name is not None and not is_field(name):
                raise ValueError(f"array subfield / modifier must be a dotted path: {name!r}")


def folded_text(json_column: str, field: str, case_sensitive: bool, remove_accents: bool) -> Sql:
    """``lower(public.f_unaccent(jsonb->>'field'))`` or the variant the flags ask for."""
    return fold_case_accents(json_text(json_column, field), case_sensitive, remove_accents)


def truncated(expression: Sql) -> Sql:
    """``left(expression, 600)``, the form b-tree indexes store."""
    return Sql("left(", expression, f", {BTREE_PREFIX_LENGTH})")


def text_vector(text: Sql, remove_accents: bool) -> Sql:
    """``to_tsvector('simple', …)`` of a text expression (what fulltext indexes store)."""
    inner = Sql("public.f_unaccent(", text, ")") if remove_accents else text
    return Sql("to_tsvector('simple', ", inner, ")")


def foreign_key_column(id_column: str, field: str) -> str:
    """The uuid column that holds a foreign-key field; it is in the id column's table, so it gets the
    same qualifier as ``id_column`` (none for ``id``)."""
    qualifier, _, _ = id_column.rpartition(".")
    column = field.replace(".", "_")
    return f"{qualifier}.{column}" if qualifier else column


def index_expression(index: Index, json_column: str = "jsonb") -> str:
    """The SQL expression ``index`` is built on (and that queries on its field use)."""
    check_column(json_column, "json_column")
    if index.kind == FOREIGN_KEY:
        return foreign_key_column("", index.field)
    if index.kind == FULLTEXT:
        return sql_text(text_vector(Sql(json_text(json_column, index.field)), index.remove_accents))
    folded = folded_text(json_column, index.field, index.case_sensitive, index.remove_accents)
    return sql_text(truncated(folded) if index.kind == BTREE else folded)


def index_ddl(index: Index, qualified_table: str, index_name: str, json_column: str = "jsonb") -> str:
    """``CREATE [UNIQUE] INDEX IF NOT EXISTS <index_name> ON <qualified_table> USING … (…)``."""
    check_column(qualified_table, "qualified_table")
    if not IDENTIFIER_PATTERN.fullmatch(index_name):
        raise ValueError(f"index_name must be an SQL identifier: {index_name!r}")
    expression = index_expression(index, json_column)
    unique = "UNIQUE " if index.kind == UNIQUE else ""
    if index.kind == GIN:
        method, key = "gin", f"({expression}) public.gin_trgm_ops"
    elif index.kind == FULLTEXT:
        method, key = "gin", f"({expression})"
    elif index.kind == FOREIGN_KEY:
        method, key = "btree", expression
    else:
        method, key = "btree", f"({expression})"
    return f"CREATE {unique}INDEX IF NOT EXISTS {index_name} ON {qualified_table} USING {method} ({key})"


class Catalog:
    """The declared indexes, looked up by field and kind."""

    def __init__(self, indexes: Iterable[Index]) -> None:
        self._by_field: dict[str, dict[str, Index]] = {}
        for index in indexes:
            if not isinstance(index, Index):
                raise TypeError(f"indexes must be mod_users.cql.Index values, got {index!r}")
            self._by_field.setdefault(index.field, {}).setdefault(index.kind, index)

    def get(self, field: str, kind: str) -> Index | None:
        """The index of that kind on that field, if declared."""
        return self._by_field.get(field, {}).get(kind)

    def first(self, field: str, kinds: Sequence[str]) -> Index | None:
        """The first declared index on ``field`` among ``kinds``, in that order of preference."""
        for kind in kinds:
            found = self.get(field, kind)
            if found is not None:
                return found
        return None
