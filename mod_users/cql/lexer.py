"""CQL tokens: words, quoted strings, symbolic relations, parentheses, '/', keywords.

The lexical rules are those of the CQL parser FOLIO uses (cql-java): an unquoted word runs until
whitespace or one of ``( ) / < > =``; a quoted string runs to the next unescaped ``"`` and keeps its
backslash escapes verbatim (the translator interprets them, since ``\\*`` must stay distinguishable
from ``*``); ``and``, ``or``, ``not``, ``prox`` and ``sortBy`` are keywords in any letter case.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from mod_users.cql.errors import CQLError


class Kind(Enum):
    """Token kinds."""

    WORD = "word"
    STRING = "quoted string"
    LPAREN = "'('"
    RPAREN = "')'"
    SLASH = "'/'"
    RELATION = "relation"
    AND = "and"
    OR = "or"
    NOT = "not"
    PROX = "prox"
    SORTBY = "sortBy"
    EOF = "end of query"


KEYWORDS = {"and": Kind.AND, "or": Kind.OR, "not": Kind.NOT, "prox": Kind.PROX, "sortby": Kind.SORTBY}
BOOLEANS = (Kind.AND, Kind.OR, Kind.NOT, Kind.PROX)

_WHITESPACE = " \t\r\n"
_WORD_STOP = "()/<>=" + _WHITESPACE


@dataclass(frozen=True)
class Token:
    """One token; ``text`` is the word, the string's content (without quotes) or the symbol."""

    kind: Kind
    text: str
    position: int  # 1-based column of the token's first character

    def describe(self) -> str:
        """How an error message names this token."""
        if self.kind is Kind.EOF:
            return "end of query"
        if self.kind is Kind.STRING:
            return f'"{_shorten(self.text)}"'
        return f"'{_shorten(self.text)}'"

    @property
    def is_symbol(self) -> bool:
        """Whether the parser may take this token as an index, a term or a value."""
        return self.kind in (Kind.WORD, Kind.STRING) or self.kind in KEYWORDS.values()


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tokenize(query: str) -> list[Token]:
    """Split ``query`` into tokens, ending with an EOF token; raise CQLError for an unterminated string."""
    tokens: list[Token] = []
    i, n = 0, len(query)
    while True:
        while i < n and query[i] in _WHITESPACE:
            i += 1
        if i == n:
            tokens.append(Token(Kind.EOF, "", n + 1))
            return tokens
        c = query[i]
        start = i
        if c == "(":
            tokens.append(Token(Kind.LPAREN, c, start + 1))
            i += 1
        elif c == ")":
            tokens.append(Token(Kind.RPAREN, c, start + 1))
            i += 1
        elif c == "/":
            tokens.append(Token(Kind.SLASH, c, start + 1))
            i += 1
        elif c in "<>=":
            pair = query[i : i + 2]
            symbol = pair if pair in ("==", "<>", "<=", ">=") else c
            tokens.append(Token(Kind.RELATION, symbol, start + 1))
            i += len(symbol)
        elif c == '"':
            i, text = _quoted(query, i)
            tokens.append(Token(Kind.STRING, text, start + 1))
        else:
            while i < n and query[i] not in _WORD_STOP:
                i += 1
            word = query[start:i]
            tokens.append(Token(KEYWORDS.get(word.lower(), Kind.WORD), word, start + 1))


def _quoted(query: str, start: int) -> tuple[int, str]:
    """Scan the quoted string opening at ``start``; return the index after it and its raw content."""
    i, n = start + 1, len(query)
    chars: list[str] = []
    while i < n and query[i] != '"':
        if query[i] == "\\":
            if i == n - 1:
                break
            chars.append(query[i])
            i += 1
        chars.append(query[i])
        i += 1
    if i >= n:
        raise CQLError("unterminated quoted string (missing closing '\"')", start + 1)
    return i + 1, "".join(chars)
