"""Reading search terms: backslash escapes, wildcards, anchors, LIKE patterns, numbers, UUIDs.

A raw term still carries CQL's masking: ``*`` (any characters), ``?`` (one character), ``^`` (anchor at
the start or end) and ``\\`` (the next character is literal). A trailing lone backslash is a literal
backslash, as in CQL2PgJSON.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal, InvalidOperation

from mod_users.cql.errors import invalid

Chars = list[tuple[str, bool]]  # (character, escaped)

# Characters that PostgreSQL's unaccent rules turn into a quote, a backslash, '%' or '_'. Inside a LIKE
# pattern or a text-search lexeme those would become syntax after f_unaccent() ran on the parameter, so
# they are replaced by their unaccented form *before* escaping. tests/cql/test_unaccent_specials.py checks
# this table against the server's unaccent dictionary.
UNACCENT_SPECIALS = {
    "\u0149": "'n",  # latin small letter n preceded by apostrophe
    "\u02b9": "'",  # modifier letter prime
    "\u02bb": "'",  # modifier letter turned comma
    "\u02bc": "'",  # modifier letter apostrophe
    "\u02bd": "'",  # modifier letter reversed comma
    "\u02c8": "'",  # modifier letter vertical line
    "\u2018": "'",  # left single quotation mark
    "\u2019": "'",  # right single quotation mark
    "\u201b": "'",  # single high-reversed-9 quotation mark
    "\u2032": "'",  # prime
    "\uff07": "'",  # fullwidth apostrophe
    "\u2216": "\\",  # set minus
    "\ufe68": "\\",  # small reverse solidus
    "\uff3c": "\\",  # fullwidth reverse solidus
    "\ufe6a": "%",  # small percent sign
    "\uff05": "%",  # fullwidth percent sign
    "\uff3f": "_",  # fullwidth low line
}

# A literal prefix longer than this is not worth more to a b-tree range; the bound keeps the prefix
# within the index's 600 characters even after unaccent expands characters (at most 5 to 1).
MAX_INDEXED_PREFIX = 100

_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", re.ASCII)
_UUID_LOW = "00000000-0000-0000-0000-000000000000"
_UUID_HIGH = "ffffffff-ffff-ffff-ffff-ffffffffffff"


def scan(raw: str) -> Chars:
    """The term's characters with whether a backslash masked each one."""
    chars: Chars = []
    i, n = 0, len(raw)
    while i < n:
        if raw[i] == "\\":
            chars.append((raw[i + 1], True) if i + 1 < n else ("\\", True))
            i += 2
        else:
            chars.append((raw[i], False))
            i += 1
    return chars


def literal(raw: str) -> Chars:
    """The term read with ``/unmasked``: escapes resolved, no character is a wildcard."""
    return [(c, True) for c, _ in scan(raw)]


def unescape(raw: str) -> str:
    """The term's text with escapes resolved (wildcards kept as plain characters)."""
    return "".join(c for c, _ in scan(raw))


def text_of(chars: Chars) -> str:
    """The characters as plain text."""
    return "".join(c for c, _ in chars)


def is_wildcard(item: tuple[str, bool]) -> bool:
    """Whether the character is an unmasked ``*`` or ``?``."""
    return not item[1] and item[0] in "*?"


def has_wildcard(chars: Chars) -> bool:
    """Whether any character is an unmasked ``*`` or ``?``."""
    return any(is_wildcard(item) for item in chars)


def strip_anchors(chars: Chars, position: int) -> Chars:
    """Drop an unmasked ``^`` at the start and at the end; reject one anywhere else.

    For ``==`` and ``<>``, which compare the whole value, the anchors change nothing.
    """
    start = 1 if chars and chars[0] == ("^", False) else 0
    end = len(chars) - 1 if len(chars) > start and chars[-1] == ("^", False) else len(chars)
    inner = chars[start:end]
    if ("^", False) in inner:
        raise invalid(
            "'^' (anchor) is only allowed at the start or the end of a term; write '\\^' for a literal caret", position
        )
    return inner


def _like_literal(c: str, remove_accents: bool) -> str:
    text = UNACCENT_SPECIALS.get(c, c) if remove_accents else c
    return "".join("\\" + ch if ch in "\\%_" else ch for ch in text)


def like_pattern(chars: Chars, remove_accents: bool) -> str:
    """The LIKE pattern (backslash escape) for the characters: ``*`` → ``%``, ``?`` → ``_``."""
    out: list[str] = []
    for c, escaped in chars:
        if not escaped and c == "*":
            out.append("%")
        elif not escaped and c == "?":
            out.append("_")
        else:
            out.append(_like_literal(c, remove_accents))
    return "".join(out)


def literal_prefix_pattern(chars: Chars, remove_accents: bool) -> str | None:
    """``prefix%`` for the literal characters before the first wildcard, or None if there are none."""
    prefix: list[str] = []
    for item in chars[:MAX_INDEXED_PREFIX]:
        if is_wildcard(item):
            break
        prefix.append(_like_literal(item[0], remove_accents))
    return "".join(prefix) + "%" if prefix else None


def is_match_anything(chars: Chars) -> bool:
    """Whether the characters are only unmasked ``*`` (a pattern matching every value)."""
    return bool(chars) and all(item == ("*", False) for item in chars)


def parse_number(raw: str) -> Decimal | None:
    """The term as a number if it is written like one (``4``, ``-1.5``, ``4e0``), else None.

    Numbers beyond what PostgreSQL's numeric type takes comfortably are refused (None).
    """
    text = unescape(raw)
    if len(text) > 300 or not _NUMBER.fullmatch(text):
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern only admits valid literals
        return None
    return number if -1000 <= number.adjusted() <= 1000 else None


def parse_uuid(text: str) -> uuid.UUID | None:
    """The text as a UUID if it has the canonical 8-4-4-4-12 hex form, else None."""
    return uuid.UUID(text) if _UUID.fullmatch(text) else None


def uuid_range(prefix: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The smallest and largest UUID starting with ``prefix``, or None if no UUID does."""
    if len(prefix) > len(_UUID_LOW):
        return None
    low = parse_uuid(prefix + _UUID_LOW[len(prefix) :])
    high = parse_uuid(prefix + _UUID_HIGH[len(prefix) :])
    if low is None or high is None:
        return None
    return low, high


def quote(text: str, *, prefix: bool = False) -> str:
    """A quoted CQL term that matches ``text`` literally (its ``* ? ^ \\ "`` masked), for a query built
    from data; with ``prefix`` the term matches every value that starts with ``text``."""
    masked = re.sub(r'([\\"*?^])', r"\\\1", text)
    return f'"{masked}{"*" if prefix else ""}"'
