"""CQL to a parameterised PostgreSQL WHERE condition and ORDER BY list over a JSONB column.

Booleans are evaluated left to right as written (CQL has no precedence); ``a not b`` is
``a AND (b) IS NOT TRUE`` so that records where ``b`` is NULL (the field is missing) count as "not b",
as in CQL2PgJSON. Clauses that are always true or false (``cql.allRecords=1``, ``name=*``,
``id=<not a uuid>``) are folded away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mod_users.cql.errors import invalid, unsupported
from mod_users.cql.fields import ORDER_INDEXES, FieldClauses
from mod_users.cql.indexes import FOREIGN_KEY, Catalog, Index, folded_text, foreign_key_column, truncated
from mod_users.cql.modifiers import relation_options, sort_options
from mod_users.cql.nodes import BooleanNode, Node, PrefixNode, SearchClause, SortKey
from mod_users.cql.parser import parse
from mod_users.cql.sql import FALSE, TRUE, Renderer, Sql, check_column, is_field, join, json_value
from mod_users.cql.terms import has_wildcard, scan, strip_anchors
from mod_users.cql.uuids import uuid_condition, uuid_in_list

ALL_RECORDS = "cql.allrecords"
SERVER_CHOICE = "cql.serverchoice"
PRIMARY_KEY = "id"

# PostgreSQL's planning time grows faster than linearly with the number of conditions (about 0.4 s for
# 500 word searches, 7 s for 1000); refuse bigger queries rather than tie up the database.
MAX_CONDITIONS = 500
# The wire protocol counts parameters in 16 bits (asyncpg allows 32767); stay well below.
MAX_PARAMETERS = 10_000
# Each sort key is an expression computed for every matching row and compared on ties: 1100 keys kept the
# database busy for 30 s. No client needs more than a few; refuse more than this many.
MAX_SORT_KEYS = 10


@dataclass(frozen=True)
class _ListKey:
    """Exact matches that can merge into one IN list: same index, same modifiers."""

    index: str
    modifiers: tuple[tuple[str, str | None, str | None], ...]


@dataclass(frozen=True)
class Translation:
    """The SQL for a CQL query.

    ``where``: a condition with ``$1 … $n`` placeholders (``TRUE`` when every record matches);
    ``order_by``: the ORDER BY list without the keywords (``""`` without ``sortBy``);
    ``params``: the values for the placeholders, in order (str, decimal.Decimal or uuid.UUID, matching
    the ``::text``, ``::numeric`` and ``::uuid`` casts on the placeholders).
    """

    where: str
    order_by: str
    params: list[Any]


def translate(
    query: str,
    json_column: str = "jsonb",
    *,
    indexes: Sequence[Index] = (),
    server_choice: Sequence[str] = (),
    id_column: str = "id",
) -> Translation:
    """Translate a CQL query for a table whose records are in ``json_column``.

    ``indexes`` declares the table's indexes (the translator then emits the expressions they serve and
    honours their case/accent settings); ``server_choice`` lists the fields a bare term searches;
    ``id_column`` is the uuid primary-key column that the index ``id`` means. Raises CQLError (with the
    column in the query) for a query that is malformed or cannot be answered, ValueError for a bad
    ``json_column``, ``id_column`` or ``server_choice``.
    """
    check_column(json_column, "json_column")
    check_column(id_column, "id_column")
    fields = tuple(server_choice)
    for field in fields:
        if not isinstance(field, str) or not (field == PRIMARY_KEY or is_field(field)):
            raise ValueError(f"server_choice fields must be dotted paths: {field!r}")
    parsed = parse(query)
    translator = _Translator(json_column, id_column, Catalog(indexes), fields)
    where = translator.node(parsed.root)
    order_by = translator.sort(parsed.sort_keys)
    renderer = Renderer()
    translation = Translation(renderer.render(where), renderer.render(order_by), renderer.values)
    if len(translation.params) > MAX_PARAMETERS:
        raise invalid(f"the query needs more than {MAX_PARAMETERS} values; split it", 1)
    return translation


class _Translator:
    def __init__(self, json_column: str, id_column: str, catalog: Catalog, server_choice: tuple[str, ...]) -> None:
        self.json_column = json_column
        self.id_column = id_column
        self.catalog = catalog
        self.server_choice = server_choice
        self.fields = FieldClauses(json_column, catalog)
        self.conditions = 0

    def node(self, node: Node) -> Sql:
        # Walk the left spine iteratively: "a or b or c …" nests to the left as deep as it is long.
        spine: list[BooleanNode] = []
        while isinstance(node, BooleanNode):
            spine.append(node)
            node = node.left
        op: str | None = None
        run: list[Node | Sql] = [node]  # operands of the current run of one operator, leaves untranslated
        for boolean in reversed(spine):
            self.check_boolean(boolean)
            next_op = "or" if boolean.op == "or" else "and"
            if op is not None and next_op != op:
                run = [self.run(op, run)]
            op = next_op
            if boolean.op == "not":
                run.append(negation(self.operand(boolean.right)))
            elif isinstance(boolean.right, BooleanNode):
                run.append(self.node(boolean.right))
            else:
                run.append(boolean.right)
        return self.run(op or "and", run)

    def operand(self, item: Node | Sql) -> Sql:
        if isinstance(item, Sql):
            return item
        if isinstance(item, BooleanNode):
            return self.node(item)
        return self.leaf(item)

    def run(self, op: str, items: list[Node | Sql]) -> Sql:
        if op == "or":
            items = self.group_lists(items)
        return combine(op, [self.operand(item) for item in items])

    def group_lists(self, items: list[Node | Sql]) -> list[Node | Sql]:
        """Merge OR-ed exact matches on one index (``id==(a or b or …)``) into one IN list.

        PostgreSQL plans a long chain of OR-ed conditions in more than linear time; an IN list is one
        condition that a b-tree index serves with a single scan.
        """
        groups: dict[_ListKey, list[SearchClause]] = {}
        ordered: list[Node | Sql | _ListKey] = []
        for item in items:
            if isinstance(item, SearchClause) and (key := self.list_key(item)) is not None:
                if key not in groups:
                    groups[key] = []
                    ordered.append(key)
                groups[key].append(item)
            else:
                ordered.append(item)
        result: list[Node | Sql] = []
        for entry in ordered:
            if not isinstance(entry, _ListKey):
                result.append(entry)
            elif len(groups[entry]) == 1:
                result.append(groups[entry][0])
            else:
                result.append(self.in_list(entry, groups[entry]))
        return result

    def list_key(self, clause: SearchClause) -> _ListKey | None:
        index, relation = clause.index, clause.relation
        if index.lower() in (ALL_RECORDS, SERVER_CHOICE) or not (index == PRIMARY_KEY or is_field(index)):
            return None
        if index == PRIMARY_KEY or self.catalog.get(index, FOREIGN_KEY) is not None:
            simple = relation.base in ("=", "==") and not relation.modifiers and clause.term.strip("*") != ""
            return _ListKey(index, ()) if simple and "*" not in clause.term else None
        if relation.base != "==":
            return None
        options = relation_options(relation.modifiers)
        if options.array or options.number or not options.masked:
            return None
        if has_wildcard(strip_anchors(scan(clause.term), clause.term_position)):
            return None
        return _ListKey(index, tuple((m.name, m.comparison, m.value) for m in relation.modifiers))

    def in_list(self, key: _ListKey, clauses: list[SearchClause]) -> Sql:
        self.count(clauses[0])
        if key.index == PRIMARY_KEY:
            return uuid_in_list(self.id_column, clauses)
        if self.catalog.get(key.index, FOREIGN_KEY) is not None:
            return uuid_in_list(foreign_key_column(self.id_column, key.index), clauses)
        return self.fields.in_list(key.index, clauses)

    def count(self, clause: SearchClause) -> None:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise invalid(
                f"the query has more than {MAX_CONDITIONS} search conditions (a list of == terms "
                "on one index counts once)",
                clause.position,
            )

    def check_boolean(self, boolean: BooleanNode) -> None:
        if boolean.op == "prox":
            raise unsupported("prox (proximity) is not supported; use adj for adjacent words", boolean.position)
        if boolean.modifiers:
            modifier = boolean.modifiers[0]
            raise unsupported(f"boolean modifier /{modifier.name} is not supported", modifier.position)

    def leaf(self, node: Node) -> Sql:
        if isinstance(node, PrefixNode):
            raise unsupported("prefix assignments ('>') are not supported", node.position)
        assert isinstance(node, SearchClause)
        index = node.index.lower()
        if index == ALL_RECORDS:
            return TRUE
        if index == SERVER_CHOICE:
            if not self.server_choice:
                raise invalid(
                    "a bare search term needs server-choice fields (cql.serverChoice), and this "
                    "collection has none; name the field to search, e.g. name=value",
                    node.position,
                )
            return combine("or", [self.field(field, node) for field in self.server_choice])
        return self.field(node.index, node)

    def field(self, field: str, clause: SearchClause) -> Sql:
        self.count(clause)
        if field == PRIMARY_KEY:
            return uuid_condition(self.id_column, clause, field, primary_key=True)
        if not is_field(field):
            raise invalid(
                f"invalid index name {field!r}: use letters, digits, underscores and dots (e.g. personal.lastName)",
                clause.position,
            )
        if self.catalog.get(field, FOREIGN_KEY) is not None:
            column = foreign_key_column(self.id_column, field)
            return uuid_condition(column, clause, field, primary_key=False)
        return self.fields.condition(field, clause)

    def sort(self, keys: Sequence[SortKey]) -> Sql:
        if len(keys) > MAX_SORT_KEYS:
            raise invalid(
                f"sortBy takes at most {MAX_SORT_KEYS} sort keys, got {len(keys)}", keys[MAX_SORT_KEYS].position
            )
        return join(", ", (self.sort_key(key) for key in keys))

    def sort_key(self, key: SortKey) -> Sql:
        options = sort_options(key.modifiers)
        direction = " DESC" if options.descending else ""
        field = key.index
        if field == PRIMARY_KEY:
            return Sql(self.id_column + direction)
        if not is_field(field) or field.lower() in (ALL_RECORDS, SERVER_CHOICE):
            raise invalid(f"cannot sort by {field!r}: name a field (letters, digits, underscores, dots)", key.position)
        if self.catalog.get(field, FOREIGN_KEY) is not None:
            return Sql(foreign_key_column(self.id_column, field) + direction)
        if options.number:
            # jsonb's order (strings, then numbers numerically, then booleans): no cast that could fail.
            return Sql(json_value(self.json_column, field) + direction)
        folded = self.fields.folding(field, options.folding, ORDER_INDEXES)
        value = folded_text(self.json_column, field, folded.case_sensitive, folded.remove_accents)
        if folded.btree:
            # The b-tree index holds the first 600 characters; the full value breaks ties among long ones.
            return Sql(truncated(value), direction, ", ", value, direction)
        return Sql(value, direction)


def negation(operand: Sql) -> Sql:
    """The right side of CQL's NOT: true where ``operand`` is false or NULL (a missing field)."""
    if operand.is_true:
        return FALSE
    if operand.is_false:
        return TRUE
    return Sql("(", operand, ") IS NOT TRUE")


def combine(op: str, operands: list[Sql]) -> Sql:
    """``(a) AND (b) …`` or ``(a) OR (b) …`` with TRUE/FALSE folded away."""
    absorbing, neutral = (FALSE, TRUE) if op == "and" else (TRUE, FALSE)
    kept: list[Sql] = []
    for operand in operands:
        if operand == absorbing:
            return absorbing
        if operand != neutral:
            kept.append(operand)
    if not kept:
        return neutral
    if len(kept) == 1:
        return kept[0]
    return join(f" {op.upper()} ", (Sql("(", operand, ")") for operand in kept))
