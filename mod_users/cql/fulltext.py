"""Word relations (``=``, ``adj``, ``all``, ``any``) as PostgreSQL text search with the 'simple' config.

As in CQL2PgJSON, the field's text becomes ``to_tsvector('simple', f_unaccent(text))`` and each word of
the term becomes its own ``to_tsquery('simple', f_unaccent('''word'''))`` (``:*`` for ``word*``); the
words are combined with ``<->`` (``=`` and ``adj``: a phrase), ``&&`` (``all``) or ``||`` (``any``).
Quoting a word makes PostgreSQL's parser split it the same way it split the stored text
(``abc-def`` → ``'abc-def' <-> 'abc' <-> 'def'``). Combining per-word queries rather than joining the
words into one query string keeps words without lexemes (``-``) from leaving gaps in a phrase.

Every word is a bind parameter. The quote, which would end the lexeme, and the backslash, which would
escape, are replaced by a comma, which the parser treats as a separator just like it treats them.
"""

from __future__ import annotations

from mod_users.cql.errors import invalid
from mod_users.cql.indexes import text_vector
from mod_users.cql.sql import FALSE, TRUE, Sql, param
from mod_users.cql.terms import UNACCENT_SPECIALS, scan

PHRASE = ("=", "adj")
WORD_RELATIONS = ("=", "adj", "all", "any")

_WHITESPACE = " \t\r\n\f\v"

# Each word is a to_tsquery() call nested in the next; PostgreSQL's parser gives up a few thousand deep.
MAX_WORDS = 256


def fulltext_condition(text: Sql, raw_term: str, relation: str, remove_accents: bool, position: int) -> Sql:
    """The condition that ``text`` (a text expression) matches the term's words under ``relation``."""
    term = raw_term.strip(_WHITESPACE)
    if term == "*":
        return TRUE  # CQL2PgJSON: "=*" matches every record, also those without the field
    lexemes = tsquery_lexemes(term, remove_accents, position)
    if lexemes is None:
        return Sql(text, " IS NOT NULL")
    if not lexemes:
        return FALSE
    queries = [_word_query(lexeme, remove_accents) for lexeme in lexemes]
    combined = queries[0]
    for query in queries[1:]:
        if relation in PHRASE:
            combined = Sql("tsquery_phrase(", combined, ", ", query, ")")
        else:
            combined = Sql(combined, " && " if relation == "all" else " || ", query)
    return Sql(text_vector(text, remove_accents), " @@ (", combined, ")")


def _word_query(lexeme: str, remove_accents: bool) -> Sql:
    value = param(lexeme, "text")
    if remove_accents:
        value = Sql("public.f_unaccent(", value, ")")
    return Sql("to_tsquery('simple', ", value, ")")


def tsquery_lexemes(term: str, remove_accents: bool, position: int) -> list[str] | None:
    """The quoted lexemes (``'word'`` or ``'word':*``) of the term's words.

    None means the term has no words at all (empty, or only stand-alone ``*``): CQL2PgJSON then matches
    every record where the field has a value. A word can still yield no lexeme in PostgreSQL (``-``).
    """
    lexemes: list[str] = []
    saw_star_word = False
    for word in _split_words(scan(term)):
        if all(item == ("*", False) for item in word):
            saw_star_word = True
            continue
        lexemes.append(_lexeme(word, remove_accents, position))
    if not lexemes:
        return None if saw_star_word or not term else []
    if len(lexemes) > MAX_WORDS:
        raise invalid(f"a search term may have at most {MAX_WORDS} words", position)
    return lexemes


def _split_words(chars: list[tuple[str, bool]]) -> list[list[tuple[str, bool]]]:
    words: list[list[tuple[str, bool]]] = [[]]
    for item in chars:
        if not item[1] and item[0] in _WHITESPACE:
            if words[-1]:
                words.append([])
        else:
            words[-1].append(item)
    return [word for word in words if word]


def _lexeme(word: list[tuple[str, bool]], remove_accents: bool, position: int) -> str:
    out: list[str] = []
    prefix = False
    for n, (c, escaped) in enumerate(word):
        if not escaped and c == "*":
            if n != len(word) - 1:
                raise invalid(
                    "'*' (truncation) is only supported at the end of a word in full-text "
                    "searches (=, adj, all, any); use == for other wildcards",
                    position,
                )
            prefix = True
        elif not escaped and c == "?":
            raise invalid(
                "'?' (single-character wildcard) is not supported in full-text searches "
                "(=, adj, all, any); use == instead",
                position,
            )
        elif not escaped and c == "^":
            raise invalid(
                "'^' (anchoring) is not supported in full-text searches (=, adj, all, any); "
                "use == instead, or write '\\^' for a literal caret",
                position,
            )
        else:
            out.append(_safe(c, remove_accents))
    text = "".join(out)
    return f"'{text}':*" if prefix else f"'{text}'"


def _safe(c: str, remove_accents: bool) -> str:
    if remove_accents:
        c = UNACCENT_SPECIALS.get(c, c)
    return c.replace("'", ",").replace("\\", ",")
