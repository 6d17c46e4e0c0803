"""Search clauses on uuid columns: the primary key ``id`` and foreign-key columns.

As CQL2PgJSON does: ``=`` and ``==`` compare the UUID, ``abc*`` becomes ``BETWEEN`` the smallest and
largest UUID with that prefix (the b-tree on the column serves it), ``<`` ``<=`` ``>`` ``>=`` need a
complete UUID, and a term that is not a UUID matches nothing (``<>``: everything) instead of failing.
``""`` and ``*`` mean "has a value" (always true for the primary key); ``==""`` matches nothing.
"""

from __future__ import annotations

from mod_users.cql.errors import invalid, unsupported
from mod_users.cql.nodes import SearchClause
from mod_users.cql.sql import FALSE, TRUE, Sql, join, param
from mod_users.cql.terms import parse_uuid, uuid_range

RANGE = ("<", "<=", ">", ">=")


def uuid_condition(column: str, clause: SearchClause, index: str, primary_key: bool) -> Sql:
    """The condition for ``clause`` on the uuid ``column`` (named ``index`` in the query)."""
    relation = clause.relation
    if relation.modifiers:
        modifier = relation.modifiers[0]
        raise unsupported(
            f"unsupported modifier {modifier.name} for the UUID index {index}: UUID searches take no modifiers",
            modifier.position,
        )
    base, term = relation.base, clause.term
    if base in RANGE:
        value = parse_uuid(term)
        if value is None:
            raise invalid(
                f"{index}{base} needs a complete UUID (8-4-4-4-12 hex digits), got {term!r}", clause.term_position
            )
        return Sql(column, f" {base} ", param(value, "uuid"))
    if base not in ("=", "==", "<>"):
        raise unsupported(
            f"relation '{base}' is not supported for the UUID index {index}; use =, ==, <> "
            "(with a trailing * for a prefix), <, <=, >, >=",
            relation.position,
        )
    equals = base != "<>"
    has_value = TRUE if primary_key else Sql(column, " IS NOT NULL")
    if term == "":
        return FALSE if base == "==" else has_value
    if term.strip("*") == "":
        return has_value if equals else FALSE
    if "*" not in term:
        value = parse_uuid(term)
        if value is None:
            return FALSE if equals else TRUE
        return Sql(column, " = " if equals else " <> ", param(value, "uuid"))
    prefix = term.rstrip("*")
    if "*" in prefix:
        raise invalid(f"only right truncation supported for {index}: '*' may only end the term", clause.term_position)
    bounds = uuid_range(prefix)
    if bounds is None:
        return FALSE if equals else TRUE
    low, high = (param(value, "uuid") for value in bounds)
    between = " BETWEEN " if equals else " NOT BETWEEN "
    return Sql("(", column, between, low, " AND ", high, ")")


def uuid_in_list(column: str, clauses: list[SearchClause]) -> Sql:
    """OR-ed ``=``/``==`` matches of complete UUIDs on one column as ``column IN (…)``; terms that are
    not UUIDs match nothing, as in :func:`uuid_condition`."""
    values = [value for value in (parse_uuid(clause.term) for clause in clauses) if value is not None]
    if not values:
        return FALSE
    return Sql(column, " IN (", join(", ", (param(value, "uuid") for value in values)), ")")
