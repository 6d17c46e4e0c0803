"""Property tests for the CQL translator's safety: whatever a term contains, it reaches PostgreSQL only
as a bind parameter. The SQL text depends on the *shape* of a term (its wildcards, whether it is a
number, where its spaces are) and never on its characters."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from mod_users.cql import CQLError, Index, translate

INDEXES = (Index("name", "btree"), Index("name", "fulltext"), Index("email", "gin"), Index("code", "unique"))
HOSTILE = list("abcXYZ019eE.+- \t'\";:)(%_\\*?^$`|&!@#=<>/,\u2019\uff07\ufe6a\uff05\u00e9\u00f8\u0000")
TERMS = st.text(alphabet=st.sampled_from(HOSTILE), min_size=1, max_size=16)
INDEX_NAMES = st.sampled_from(["name", "email", "code", "plain", "personal.lastName", "id"])
RELATIONS = st.sampled_from(["==", "=", "<>", "<", ">=", "adj", "all", "any"])


def shape(term: str) -> str:
    """The term with its letters and digits replaced by plain ones. Punctuation, spaces and wildcards
    stay: they may rightly change the SQL's structure (word splitting, LIKE versus equality, numbers,
    whether an ``id`` term can be a UUID prefix, which needs hex digits), but which letters a value has
    may not change its text."""
    out = []
    for ch in term:
        if ch in "eE" or not ch.isalnum():
            out.append(ch)
        elif ch.isdigit():
            out.append("1")
        elif ch in "abcdefABCDEF":
            out.append("a")
        else:
            out.append("x")
    return "".join(out)


def _placeholders(sql: str) -> str:
    return re.sub(r"\$\d+", "$n", sql)


def quoted(term: str) -> str:
    return '"' + term.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sql_of(index: str, relation: str, term: str) -> tuple[str, str, list] | None:
    try:
        tr = translate(f"{index} {relation} {quoted(term)} sortBy name", indexes=INDEXES, server_choice=("name",))
    except CQLError:
        return None
    return tr.where, tr.order_by, tr.params


@settings(max_examples=1500, deadline=None, database=None)
@given(INDEX_NAMES, RELATIONS, TERMS)
def test_sql_text_never_depends_on_the_terms_characters(index, relation, term):
    hostile = sql_of(index, relation, term)
    plain = sql_of(index, relation, shape(term))
    if hostile is None or plain is None:
        return  # refused (a CQLError); refusing is always safe
    # Placeholder numbers may differ: equal values share one parameter ("a a" uses $1 twice).
    assert _placeholders(hostile[0]) == _placeholders(plain[0]) and hostile[1] == plain[1]


@settings(max_examples=1000, deadline=None, database=None)
@given(INDEX_NAMES, RELATIONS, TERMS.filter(lambda t: re.search(r"['\";]", t) is not None))
def test_quotes_and_semicolons_of_a_term_never_reach_the_sql_text(index, relation, term):
    found = sql_of(index, relation, term)
    if found is None:
        return
    where, order_by, _ = found
    assert ";" not in where + order_by and '"' not in where + order_by
    # The only quotes in the SQL are those around validated JSON keys and fixed literals.
    for literal in re.findall(r"'([^']*)'", where + order_by):
        assert re.fullmatch(r"[A-Za-z0-9_.]*", literal), literal


@settings(max_examples=500, deadline=None, database=None)
@given(st.text(alphabet=st.sampled_from(list("abXY_.09'\";)(-$ \u00e9")), min_size=1, max_size=20))
def test_hostile_index_names_are_refused_not_embedded(name):
    """An index name reaches SQL only as a validated JSON path: either the query is refused, or the
    name was a plain dotted identifier and appears only inside a quoted key."""
    try:
        tr = translate(f"{quoted(name)} == abc", indexes=INDEXES)
    except CQLError:
        return
    assert re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", name), name
    assert ";" not in tr.where and '"' not in tr.where
    for literal in re.findall(r"'([^']*)'", tr.where):
        assert re.fullmatch(r"[A-Za-z0-9_.]*", literal), literal
