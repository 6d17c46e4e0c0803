"""The one exception the CQL package raises for bad input."""

from __future__ import annotations

import re

SYNTAX = "syntax error"
UNSUPPORTED = "unsupported feature"
INVALID = "invalid query"

# Messages quote parts of the query (a term, an index, a modifier): each quoted part is cut to QUOTED
# characters, and a message to MESSAGE, so that an error never repeats a long query back.
QUOTED = 60
MESSAGE = 500
_LONG_QUOTE = re.compile(f"'([^']{{{QUOTED}}})[^']+'|\"([^\"]{{{QUOTED}}})[^\"]+\"")
# Longer than a cut quotation with its punctuation, so that one is left alone.
_LONG_WORD = re.compile(rf"(\S{{{QUOTED}}})\S{{11,}}")


def _bounded(message: str) -> str:
    """``message`` with every long quoted part, and every long unquoted word, cut."""
    message = _LONG_QUOTE.sub(lambda m: f"'{m.group(1) or m.group(2)}…'", message)
    message = _LONG_WORD.sub(lambda m: m.group(1) + "…", message)
    return message if len(message) <= MESSAGE else message[: MESSAGE - 1] + "…"


class CQLError(ValueError):
    """A query that cannot be parsed or answered.

    ``position`` is the 1-based column in the query string where the problem was found; ``kind`` says
    whether the query is malformed (``"syntax error"``), uses something this translator does not do
    (``"unsupported feature"``) or is well-formed but meaningless here (``"invalid query"``).
    ``str(err)`` reads ``"syntax error at column 6: expected a term after '=='"``.
    """

    def __init__(self, message: str, position: int = 1, kind: str = SYNTAX) -> None:
        message = _bounded(message)
        super().__init__(message, position)
        self.message = message
        self.position = max(1, position)
        self.kind = kind

    def __str__(self) -> str:
        return f"{self.kind} at column {self.position}: {self.message}"


def unsupported(message: str, position: int) -> CQLError:
    """A CQLError for a valid CQL feature that this translator rejects."""
    return CQLError(message, position, UNSUPPORTED)


def invalid(message: str, position: int) -> CQLError:
    """A CQLError for a well-formed query that cannot be answered (bad field name, bad number, ...)."""
    return CQLError(message, position, INVALID)
