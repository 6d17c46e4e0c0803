"""Quoting what a client sent in a message meant for it: never without bound.

Error texts quote the client's input (a value, a field name, a header) so that it can find its mistake;
a quoted value is cut to QUOTED characters and a whole message to MESSAGE, so that a 380 KB array or a
5,000-digit number is not sent back whole. Everything that builds a client-facing text uses these.
"""

from __future__ import annotations

QUOTED = 100
MESSAGE = 1000


def shorten(text: str, limit: int = QUOTED) -> str:
    """``text``, or its first ``limit`` characters and a note of how many were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"
