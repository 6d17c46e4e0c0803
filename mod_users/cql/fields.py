"""Search clauses on JSONB fields, relation by relation.

``=`` ``adj`` ``all`` ``any``
    word search (see :mod:`mod_users.cql.fulltext`); ``=/number`` compares numerically. Case and accent
    modifiers are ignored, as RMB does: case is always folded, accents as the fulltext index folds them.
``==`` / ``<>``
    the whole value, equal or not; with ``*`` / ``?`` a LIKE pattern. Case- and accent-insensitive
    unless the field's index or a modifier says otherwise. Numbers and booleans compare as their JSON
    text (``active==true``).
``<`` ``<=`` ``>`` ``>=``
    string order of the folded text; a number term against a JSON number compares numerically, whatever
    indexes the field has (``/string`` keeps the string order). A b-tree index serves the string order.
``/number``
    numeric comparison; values that are not numbers (nor numeric strings) never match.
``/@name=value``
    array modifiers, as RMB: the array's elements are searched (see :meth:`FieldClauses.array`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mod_users.cql.errors import invalid, unsupported
from mod_users.cql.fulltext import WORD_RELATIONS, fulltext_condition
from mod_users.cql.indexes import (
    BTREE,
    BTREE_PREFIX_LENGTH,
    FULLTEXT,
    GIN,
    UNIQUE,
    Catalog,
    Index,
    folded_text,
    truncated,
)
from mod_users.cql.modifiers import Folding, RelationOptions, relation_options
from mod_users.cql.nodes import SearchClause
from mod_users.cql.sql import FALSE, Sql, fold_case_accents, join, json_text, json_value, param
from mod_users.cql.terms import (
    has_wildcard,
    is_match_anything,
    like_pattern,
    literal,
    literal_prefix_pattern,
    parse_number,
    scan,
    strip_anchors,
    text_of,
    unescape,
)

log = logging.getLogger(__name__)

RANGE = ("<", "<=", ">", ">=")
_NON_STRICT = {"<": "<=", "<=": "<=", ">": ">=", ">=": ">="}

# Preference among a field's indexes when they disagree on case/accent folding (RMB's order for ==).
EXACT_INDEXES = (GIN, BTREE, UNIQUE)
ORDER_INDEXES = (BTREE, UNIQUE, GIN)

# Strings PostgreSQL's numeric input accepts and that cannot overflow it; no backslashes, so the literal
# means the same whatever standard_conforming_strings says.
_NUMERIC_TEXT = "'^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]{1,4})?$'"
_ELEMENT = "cql_element"


def _fits_index(term: str) -> bool:
    """Whether a term's folded form is surely shorter than the b-tree's indexed prefix (unaccent turns
    one character into at most five), so comparing prefixes is comparing whole values."""
    return len(term) * 5 < BTREE_PREFIX_LENGTH


@dataclass(frozen=True)
class Folded:
    """How a clause folds case and accents, and whether the field's b-tree index uses the same folding."""

    case_sensitive: bool
    remove_accents: bool
    btree: bool


class FieldClauses:
    """Builds the condition of a search clause on a JSONB field."""

    def __init__(self, json_column: str, catalog: Catalog) -> None:
        self.json_column = json_column
        self.catalog = catalog

    def condition(self, field: str, clause: SearchClause) -> Sql:
        """The condition for ``clause`` applied to ``field``."""
        relation = clause.relation.base
        options = relation_options(clause.relation.modifiers)
        if relation in ("within", "encloses", "exact"):
            raise unsupported(
                f"relation '{relation}' is not supported (use =, ==, <>, <, <=, >, >=, adj, all, any)",
                clause.relation.position,
            )
        if options.array:
            return self.array(field, clause, options)
        if options.number:
            if relation in ("adj", "all", "any"):
                raise invalid(f"/number does not work with '{relation}'", clause.relation.position)
            return self.number(field, clause)
        if relation in WORD_RELATIONS:
            return self.words(Sql(json_text(self.json_column, field)), field, clause, options)
        if relation in ("==", "<>"):
            return self.exact(Sql(json_text(self.json_column, field)), field, clause, options)
        return self.range(field, clause, options)

    def folding(self, field: str, folding: Folding, preference: tuple[str, ...]) -> Folded:
        """Resolve folding: modifiers, else the field's preferred index, else case/accent-insensitive."""
        index = self.catalog.first(field, preference)
        case_sensitive = folding.case_sensitive
        if case_sensitive is None:
            case_sensitive = index.case_sensitive if index else False
        remove_accents = folding.remove_accents
        if remove_accents is None:
            remove_accents = index.remove_accents if index else True
        btree = self.catalog.get(field, BTREE)
        folding_pair = (case_sensitive, remove_accents)
        same = btree is not None and (btree.case_sensitive, btree.remove_accents) == folding_pair
        return Folded(case_sensitive, remove_accents, same)

    def words(self, text: Sql, field: str, clause: SearchClause, options: RelationOptions) -> Sql:
        """``=``, ``adj``, ``all``, ``any`` as text search, folded as the field's fulltext index folds.

        As in RMB, case and accent modifiers are ignored here: text search always folds case, and
        folding accents other than the index does would only make the index useless (a sequential scan).
        """
        index = self.catalog.get(field, FULLTEXT)
        remove_accents = index.remove_accents if index else True
        _log_ignored_folding(field, options.folding, remove_accents)
        term = clause.term if options.masked else _mask_all(clause.term)
        return fulltext_condition(text, term, clause.relation.base, remove_accents, clause.term_position)

    def exact(
        self, text: Sql, field: str, clause: SearchClause, options: RelationOptions, btree_allowed: bool = True
    ) -> Sql:
        """``==`` and ``<>``: the whole (folded) value, or a LIKE pattern when the term has wildcards."""
        chars = scan(clause.term) if options.masked else literal(clause.term)
        if options.masked:
            chars = strip_anchors(chars, clause.term_position)
        folded = self.folding(field, options.folding, EXACT_INDEXES)
        cs, ra = folded.case_sensitive, folded.remove_accents
        btree = folded.btree and btree_allowed
        value = fold_case_accents(text, cs, ra)
        negate = clause.relation.base == "<>"
        if not has_wildcard(chars):
            term = fold_case_accents(param(text_of(chars), "text"), cs, ra)
            if negate:
                return Sql(value, " <> ", term)
            equal = Sql(value, " = ", term)
            if not btree:
                return equal
            if _fits_index(text_of(chars)):
                # The whole term fits in the indexed prefix, so the prefix comparison alone is exact; a
                # second, redundant condition would make the planner underestimate matches (it
                # multiplies their selectivities), and totalRecords with it.
                return Sql(truncated(value), " = ", term)
            return Sql(truncated(value), " = ", truncated(term), " AND ", equal)
        if is_match_anything(chars):
            return FALSE if negate else Sql(text, " IS NOT NULL")
        pattern = fold_case_accents(param(like_pattern(chars, ra), "text"), cs, ra)
        if negate:
            return Sql(value, " NOT LIKE ", pattern)
        like = Sql(value, " LIKE ", pattern)
        prefix = literal_prefix_pattern(chars, ra) if btree else None
        if prefix is None:
            return like
        # Values starting with the literal prefix: a range the b-tree index can serve.
        indexed = fold_case_accents(param(prefix, "text"), cs, ra)
        if prefix == like_pattern(chars, ra):
            return Sql(truncated(value), " LIKE ", indexed)  # "abc*": the prefix test is the whole test
        return Sql(truncated(value), " LIKE ", indexed, " AND ", like)

    def in_list(self, field: str, clauses: list[SearchClause]) -> Sql:
        """OR-ed ``==`` clauses without wildcards on one field, sharing their modifiers, as one IN list."""
        options = relation_options(clauses[0].relation.modifiers)
        folded = self.folding(field, options.folding, EXACT_INDEXES)
        cs, ra = folded.case_sensitive, folded.remove_accents
        value = folded_text(self.json_column, field, cs, ra)
        texts = [text_of(strip_anchors(scan(c.term), c.term_position)) for c in clauses]
        terms = [fold_case_accents(param(text, "text"), cs, ra) for text in texts]
        listed = Sql(value, " IN (", join(", ", terms), ")")
        if not folded.btree:
            return listed
        if all(_fits_index(text) for text in texts):
            return Sql(truncated(value), " IN (", join(", ", terms), ")")
        return Sql(truncated(value), " IN (", join(", ", (truncated(t) for t in terms)), ") AND ", listed)

    def range(self, field: str, clause: SearchClause, options: RelationOptions) -> Sql:
        """``<`` ``<=`` ``>`` ``>=`` in string order; numerically when a number term meets a JSON number.

        The numeric comparison does not depend on the field's indexes: declaring an index must never
        change what a query finds. ``/string`` asks for the string order even for a number term.
        """
        op = clause.relation.base
        folded = self.folding(field, options.folding, ORDER_INDEXES)
        cs, ra = folded.case_sensitive, folded.remove_accents
        value = folded_text(self.json_column, field, cs, ra)
        term = fold_case_accents(param(unescape(clause.term), "text"), cs, ra)
        compare = Sql(value, f" {op} ", term)
        number = None if options.string else parse_number(clause.term)
        if number is None:
            if folded.btree:
                # The b-tree index holds the first 600 characters: compare those (what the index serves),
                # then the whole values for the order among long values sharing that prefix.
                return Sql(truncated(value), f" {_NON_STRICT[op]} ", truncated(term), " AND ", compare)
            return compare
        # A text index cannot serve a numeric order, so there is no index condition to add here.
        jsonb = json_value(self.json_column, field)
        return Sql(
            f"CASE WHEN jsonb_typeof({jsonb}) = 'number' THEN ({jsonb})::numeric {op} ",
            param(number, "numeric"),
            " ELSE ",
            compare,
            " END",
        )

    def number(self, field: str, clause: SearchClause) -> Sql:
        """``/number``: a numeric comparison that is never attempted on a value that is not a number."""
        number = parse_number(clause.term)
        if number is None:
            raise invalid(f"/number needs a number, got {unescape(clause.term)!r}", clause.term_position)
        op = {"==": "=", "=": "="}.get(clause.relation.base, clause.relation.base)
        jsonb = json_value(self.json_column, field)
        text = json_text(self.json_column, field)
        numeric = (
            f"CASE WHEN jsonb_typeof({jsonb}) = 'number' THEN ({jsonb})::numeric "
            f"WHEN jsonb_typeof({jsonb}) = 'string' AND length({text}) <= 300 "
            f"AND {text} ~ {_NUMERIC_TEXT} THEN ({text})::numeric END"
        )
        return Sql(numeric, f" {op} ", param(number, "numeric"))

    def array(self, field: str, clause: SearchClause, options: RelationOptions) -> Sql:
        """Array modifiers: search the objects of the array ``field`` (RMB's arraySubfield/arrayModifiers).

        ``/@name`` (no value) searches the term in the element's ``name`` instead of the index's
        ``array_subfield`` (several: any of them); ``/@name=value`` also requires the same element's
        ``name`` to contain the words of ``value``.
        """
        relation = clause.relation.base
        if relation in WORD_RELATIONS:
            index = self.catalog.get(field, FULLTEXT)
        elif relation in ("==", "<>"):
            index = self.catalog.first(field, EXACT_INDEXES)
        else:
            raise unsupported(f"array modifiers (/@…) do not work with '{relation}'", clause.relation.position)
        if options.number:
            raise unsupported("/number cannot be combined with array modifiers (/@…)", clause.relation.position)
        subfields: list[str] = []
        filters: list[Sql] = []
        remove_accents = index.remove_accents if index else True
        for modifier in options.array:
            name = _array_name(index, modifier.name[1:])
            if name is None:
                raise invalid(
                    f"Unsupported relation modifier {modifier.name}: no such array modifier is declared for {field}",
                    modifier.position,
                )
            if modifier.comparison is None:
                subfields.append(name)
            elif modifier.comparison != "=":
                raise invalid(
                    f"Unsupported comparison for relation modifier {modifier.name}: only = is supported",
                    modifier.position,
                )
            else:
                element = Sql(json_text(f"{_ELEMENT}.c", name))
                filters.append(
                    fulltext_condition(element, modifier.value or "", "=", remove_accents, modifier.position)
                )
        if not subfields:
            if index is None or index.array_subfield is None:
                raise invalid(
                    f"No arraySubfield defined for index {field}: name the element field to search with /@name",
                    clause.relation.position,
                )
            subfields.append(index.array_subfield)
        plain = RelationOptions(options.folding, masked=options.masked)
        matches = [
            self._element_match(Sql(json_text(f"{_ELEMENT}.c", name)), field, clause, plain) for name in subfields
        ]
        where = join(" OR ", (Sql("(", m, ")") for m in matches))
        if filters:
            where = join(" AND ", [Sql("(", where, ")"), *(Sql("(", f, ")") for f in filters)])
        jsonb = json_value(self.json_column, field)
        exists = Sql(
            f"EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof({jsonb}) = 'array' "
            f"THEN {jsonb} END) AS {_ELEMENT}(c) WHERE ",
            where,
            ")",
        )
        if relation in WORD_RELATIONS:
            # The whole field's words first: that part is what a fulltext index on the field serves.
            whole = self.words(Sql(json_text(self.json_column, field)), field, clause, plain)
            return Sql("(", whole, ") AND ", exists)
        return exists

    def _element_match(self, text: Sql, field: str, clause: SearchClause, options: RelationOptions) -> Sql:
        if clause.relation.base in WORD_RELATIONS:
            return self.words(text, field, clause, options)
        return self.exact(text, field, clause, options, btree_allowed=False)


def _array_name(index: Index | None, wanted: str) -> str | None:
    """The declared array modifier or subfield matching ``wanted`` case-insensitively."""
    if index is None:
        return None
    for name in (*index.array_modifiers, index.array_subfield):
        if name is not None and name.lower() == wanted.lower():
            return name
    return None


def _log_ignored_folding(field: str, folding: Folding, remove_accents: bool) -> None:
    """Say (at debug level) which case or accent modifier a word search did not follow."""
    ignored = []
    if folding.case_sensitive:
        ignored.append("/respectCase")
    if folding.remove_accents is not None and folding.remove_accents != remove_accents:
        ignored.append("/ignoreAccents" if folding.remove_accents else "/respectAccents")
    if ignored:
        log.debug(
            "ignoring %s in a word search on %s: text search folds case, and accents as the "
            "field's fulltext index does",
            " ".join(ignored),
            field,
        )


def _mask_all(term: str) -> str:
    """The term with every wildcard character masked (for ``/unmasked``); whitespace still separates words."""
    return "".join("\\" + c if c in "*?^\\" else c for c in unescape(term))
