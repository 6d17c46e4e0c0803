"""CQL 1.2 parser: a recursive-descent parser producing :mod:`mod_users.cql.nodes` trees.

Grammar (as cql-java, the parser behind FOLIO's CQL2PgJSON, accepts it)::

    query       ::= clauses [ 'sortBy' sortKey+ ]
    clauses     ::= term ( boolean modifiers term )*        -- left to right, no precedence
    term        ::= '(' clauses ')' | '>' prefixAssignment clauses
                  | index relation modifiers ( '(' clauses ')' | searchTerm )
                  | searchTerm                              -- index and relation from the context
    modifiers   ::= ( '/' name [ comparison value ] )*

Index and relation are inherited by the bare terms inside parentheses (``name==(a or b)`` means
``name==a or name==b``); at the top the context is ``cql.serverChoice =``. Several unquoted words in a
row form one term (``lang = au dk``), as in cql-java, and (as there) only a single word can be an index.

Stricter than cql-java, which takes the keywords ``and`` ``or`` ``not`` ``prox`` ``sortBy`` as words
anywhere and so reads ``or name=a`` as the index "or name": unquoted, a keyword cannot start a search
clause nor be a sort key (quoted, ``"and"``, it can). After a relation it is still a term (``title = and``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mod_users.cql.errors import CQLError
from mod_users.cql.lexer import BOOLEANS, KEYWORDS, Kind, Token, tokenize
from mod_users.cql.nodes import (
    SERVER_CHOICE,
    BooleanNode,
    Modifier,
    Node,
    PrefixNode,
    Query,
    Relation,
    SearchClause,
    SortKey,
)

_UNSENDABLE = re.compile("[\x00\ud800-\udfff]")
NAMED_RELATIONS = frozenset({"adj", "all", "any", "within", "encloses", "exact"})

# Bounds on every way a query nests, so that a hostile query can neither exhaust the stack nor make us
# build a huge tree. Parentheses and prefix assignments (``>p=x query``, which takes the rest of the query
# as its scope) recurse, and share one depth bound, checked before each recursion. A chain of booleans
# is read iteratively but is a tree as deep as it is long: it gets a bound of its own, the translator's
# bound on bind values (each clause of a chain needs one, an id list merged into IN too), far above what a
# URL can carry (aiohttp refuses request lines over 8 KB). Modifier lists are flat, but nothing needs more
# than a handful.
MAX_NESTING = 100
MAX_BOOLEANS = 10_000
MAX_MODIFIERS = 32


@dataclass(frozen=True)
class _Context:
    index: str
    relation: Relation


def parse(query: str) -> Query:
    """Parse a CQL query into a :class:`~mod_users.cql.nodes.Query`; raise CQLError when it is malformed."""
    if not isinstance(query, str):
        raise TypeError("a CQL query must be a str")
    _check_characters(query)
    return _Parser(tokenize(query)).parse_query_with_sort()


def _check_characters(query: str) -> None:
    # PostgreSQL text cannot hold NUL, and a lone surrogate cannot be sent as UTF-8: refuse both here
    # rather than fail when the parameters are sent.
    bad = _UNSENDABLE.search(query)
    if bad:
        raise CQLError(
            f"the query contains the character U+{ord(bad.group()):04X}, which cannot be searched", bad.start() + 1
        )


def named_relation(word: str) -> str | None:
    """The canonical name if ``word`` is a named relation (``any``, ``cql.adj`` ...), else None."""
    lowered = word.lower()
    if lowered.startswith("cql."):
        lowered = lowered[4:]
    return lowered if lowered in NAMED_RELATIONS else None


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0
        self.booleans = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        if token.kind is not Kind.EOF:
            self.i += 1
        return token

    def fail(self, expected: str) -> CQLError:
        return CQLError(f"expected {expected}, got {self.tok.describe()}", self.tok.position)

    def parse_query_with_sort(self) -> Query:
        if self.tok.kind is Kind.EOF:
            raise CQLError("the query is empty", 1)
        root = self.clauses(_Context(SERVER_CHOICE, Relation("=", 1)))
        keys: list[SortKey] = []
        if self.tok.kind is Kind.SORTBY:
            sortby = self.advance()
            while self.tok.kind is not Kind.EOF:
                key = self.sort_key(sortby, first=not keys)
                keys.append(SortKey(key.text, key.position, self.modifiers()))
            if not keys:
                raise self.fail(f"a sort key after '{sortby.text}'")
        if self.tok.kind is Kind.RPAREN:
            raise CQLError("unbalanced ')': there is no '(' to close", self.tok.position)
        if self.tok.kind is not Kind.EOF:
            raise self.fail("a boolean operator (and, or, not) or the end of the query")
        return Query(root, tuple(keys))

    def clauses(self, ctx: _Context) -> Node:
        node = self.term(ctx, None)
        while self.tok.kind not in (Kind.EOF, Kind.RPAREN, Kind.SORTBY):
            if self.tok.kind not in BOOLEANS:
                raise self.fail("a boolean operator (and, or, not) between search clauses")
            op = self.advance()
            self.booleans += 1
            if self.booleans > MAX_BOOLEANS:
                raise CQLError(f"more than {MAX_BOOLEANS} boolean operators (and, or, not, prox)", op.position)
            modifiers = self.modifiers()
            right = self.term(ctx, op)
            node = BooleanNode(op.text.lower(), node, right, op.position, modifiers)
        return node

    def term(self, ctx: _Context, after: Token | None) -> Node:
        if self.tok.kind is Kind.LPAREN:
            return self.parenthesised(ctx)
        if self.tok.kind is Kind.RELATION and self.tok.text == ">":
            return self.prefix(ctx)
        expected = f"a search clause after '{after.text}'" if after else "a search term or an index"
        first = self.clause_start(expected)
        words = self.join_words(first.text)
        if not self.at_relation():
            return SearchClause(
                ctx.index, ctx.relation, words, first.position, first.position, first.kind is Kind.STRING
            )
        if len(words) > len(first.text):
            # As cql-java: only one word can be an index ("lea name=x" lacks a boolean, or quotes).
            raise CQLError(
                f"unexpected relation '{self.tok.text}' after the words '{words}': an index is a "
                "single word (or is a boolean operator missing?)",
                self.tok.position,
            )
        relation = self.relation()
        inner = _Context(words, relation)
        if self.tok.kind is Kind.LPAREN:
            return self.parenthesised(inner)
        shown = f"'{relation.base}' and its modifiers" if relation.modifiers else f"'{relation.base}'"
        term = self.symbol(f"a term after {shown}")
        text = self.join_words(term.text)
        if self.at_relation():
            raise self.fail("a boolean operator (and, or, not) after the search clause")
        return SearchClause(words, relation, text, first.position, term.position, term.kind is Kind.STRING)

    def clause_start(self, expected: str) -> Token:
        """The index or bare term that starts a search clause: a word or a quoted string.

        An unquoted keyword cannot start one ("or name=a", "a not not b", a lone "and"); read as an
        index or a term it would only fail later, misleadingly, or search for the keyword. Quoted
        (``"and"``) it is a term like any other.
        """
        if self.tok.kind in KEYWORDS.values():
            raise CQLError(
                f"expected {expected}, got the keyword '{self.tok.text}' (quote it to use it as a word)",
                self.tok.position,
            )
        return self.symbol(expected)

    def sort_key(self, sortby: Token, first: bool) -> Token:
        """One index after ``sortBy``; keywords are refused (quote a field named like one)."""
        if self.tok.kind is Kind.SORTBY:
            raise CQLError(
                f"'{self.tok.text}' may appear only once: list every sort key after the first '{sortby.text}'",
                self.tok.position,
            )
        if self.tok.kind in BOOLEANS:
            raise CQLError(
                f"expected a sort key, got the keyword '{self.tok.text}' (search clauses go before '{sortby.text}')",
                self.tok.position,
            )
        return self.symbol(f"a sort key after '{sortby.text}'" if first else "a sort key")

    def nest(self, opening: Token) -> None:
        """Enter one level of parentheses or prefix scope; refuse to go deeper than MAX_NESTING."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise CQLError(
                f"parentheses and prefix assignments ('>') nested deeper than {MAX_NESTING} levels",
                opening.position,
            )

    def parenthesised(self, ctx: _Context) -> Node:
        opening = self.advance()
        self.nest(opening)
        node = self.clauses(ctx)
        if self.tok.kind is not Kind.RPAREN:
            raise self.fail(f"')' to close the '(' at column {opening.position}")
        self.advance()
        self.depth -= 1
        return node

    def prefix(self, ctx: _Context) -> Node:
        marker = self.advance()
        name = self.symbol("a prefix name or a context set URI after '>'")
        if self.tok.kind is Kind.RELATION and self.tok.text == "=":
            self.advance()
            uri = self.symbol("a context set URI after '='")
            prefix, identifier = name.text, uri.text
        else:
            prefix, identifier = None, name.text
        self.nest(marker)
        scope = self.clauses(ctx)
        self.depth -= 1
        return PrefixNode(prefix, identifier, scope, marker.position)

    def join_words(self, text: str) -> str:
        # cql-java glues following unquoted words onto a term ("lang = au dk" has the term "au dk").
        while self.tok.kind is Kind.WORD and not self.at_relation():
            text += " " + self.advance().text
        return text

    def at_relation(self) -> bool:
        if self.tok.kind is Kind.RELATION:
            return True
        return self.tok.kind is Kind.WORD and named_relation(self.tok.text) is not None

    def relation(self) -> Relation:
        token = self.advance()
        base = token.text if token.kind is Kind.RELATION else named_relation(token.text)
        assert base is not None
        return Relation(base, token.position, self.modifiers())

    def modifiers(self) -> tuple[Modifier, ...]:
        found: list[Modifier] = []
        while self.tok.kind is Kind.SLASH:
            slash = self.advance()
            if len(found) == MAX_MODIFIERS:
                raise CQLError(f"more than {MAX_MODIFIERS} modifiers in a row", slash.position)
            if self.tok.kind is not Kind.WORD:
                raise self.fail("a modifier name after '/'")
            name = self.advance()
            if self.tok.kind is Kind.RELATION:
                comparison = self.advance()
                value = self.symbol(f"a modifier value after '{name.text}{comparison.text}'")
                found.append(Modifier(name.text.lower(), slash.position, comparison.text, value.text))
            else:
                found.append(Modifier(name.text.lower(), slash.position))
        return tuple(found)

    def symbol(self, expected: str) -> Token:
        if not self.tok.is_symbol:
            raise self.fail(expected)
        return self.advance()
