"""Generated queries: any input either raises CQLError or yields SQL that PostgreSQL runs without error.

A query that cannot be answered must be a 400 (CQLError), never an exception elsewhere and never SQL
that fails at run time (a 500).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from typing import Any

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from mod_users.cql import CQLError, Index, index_ddl, parse, translate

# Hypothesis keeps caches in ./.hypothesis; keep the working tree clean.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "mod-users-hypothesis"))

SCHEMA = "cql_generated"
TABLE = f"{SCHEMA}.things"
INDEXES = (
    Index("name", "btree"),
    Index("name", "fulltext"),
    Index("tags", "gin"),
    Index("list", "fulltext", array_subfield="v", array_modifiers=("k",)),
    Index("ref", "foreign_key"),
)
SERVER_CHOICE = ("name", "n")
RECORDS = [
    {"name": "Søren \\ O'Brien", "n": 12, "b": True, "tags": ["x", "y"], "list": [{"k": "a", "v": "1"}]},
    {"name": "", "n": "12", "b": "false", "tags": {"a": 1}, "list": {"k": "a"}},
    {"name": None, "n": -0.5, "b": None, "tags": "50%_", "list": "nope"},
    {"n": "1e9999", "tags": [], "list": [1, "two", None]},
    {"name": "x" * 700, "n": "NaN", "b": [True]},
]

_SPECIAL = "*?^\\\"'%_ \t()=<>/.-,:&|!@$"
_UNICODE = "øÖé\u2019\u02bc\uff3c\ufe6a\uff3f\u0149Ω"
TEXT = st.text(alphabet=st.sampled_from(list("abcxyz019" + _SPECIAL + _UNICODE)), max_size=12)
INDEX = st.sampled_from(
    [
        "name",
        "n",
        "b",
        "tags",
        "list",
        "ref",
        "id",
        "missing",
        "a.b.c",
        "cql.serverChoice",
        "cql.allRecords",
        "bad;name",
        "Name",
        "name",
        "n",
        "tags",
    ]
)
RELATION = st.sampled_from(["=", "==", "<>", "<", ">", "<=", ">=", "adj", "all", "any", "within", "==", "="])
MODIFIER = st.one_of(
    st.just(""),
    st.just(""),
    st.just(""),
    st.sampled_from(
        [
            "/ignoreCase",
            "/respectCase",
            "/respectAccents",
            "/number",
            "/unmasked",
            "/masked",
            "/string",
            "/@k",
            "/@k=a",
            "/@v",
            "/@x=1",
            "/regexp",
            "/sort.descending",
        ]
    ),
)


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def clauses(draw: st.DrawFn) -> str:
    words = st.sampled_from(
        ["abc", "1*", "12", "1e3", "*", "true", "x*y", "\\*", "11111111-1111-1111-1111-111111111111", "1111*"]
    )
    term = draw(st.one_of(TEXT.map(quoted), words))
    if draw(st.booleans()):
        return term
    return f"{draw(INDEX)} {draw(RELATION)}{draw(MODIFIER)}{draw(MODIFIER)} {term}"


@st.composite
def queries(draw: st.DrawFn) -> str:
    parts = [draw(clauses())]
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["and", "or", "not", "AND", "Or", "NOT", "prox"]))
        right = draw(clauses())
        parts.append(f"{op} ({right})" if draw(st.booleans()) else f"{op} {right}")
    query = " ".join(parts)
    if draw(st.booleans()):
        sort_modifier = st.sampled_from(["", "", "/sort.descending", "/number", "/respectCase", "/x"])
        keys = draw(st.lists(st.tuples(INDEX, sort_modifier), min_size=1, max_size=2))
        query += " sortBy " + " ".join(index + modifier for index, modifier in keys)
    return query


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_raises_cqlerror(text: str) -> None:
    try:
        parse(text)
        translate(text, indexes=INDEXES, server_choice=SERVER_CHOICE)
    except CQLError as err:
        assert err.position >= 1 and str(err).startswith(err.kind)


def test_generated_queries_run(cql_db: dict[str, Any]) -> None:
    loop = asyncio.new_event_loop()
    con = loop.run_until_complete(asyncpg.connect(**cql_db))
    translated = 0

    @settings(max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(queries())
    def run(query: str) -> None:
        nonlocal translated
        try:
            translation = translate(query, indexes=INDEXES, server_choice=SERVER_CHOICE)
        except CQLError:
            return
        sql = f"SELECT count(*) FROM {TABLE} WHERE {translation.where}"
        if translation.order_by:
            sql = f"SELECT id FROM {TABLE} WHERE {translation.where} ORDER BY {translation.order_by}"
        loop.run_until_complete(con.fetch(sql, *translation.params))
        translated += 1

    try:
        loop.run_until_complete(_load(con))
        run()
    finally:
        loop.run_until_complete(con.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        loop.run_until_complete(con.close())
        loop.close()
    assert translated > 80  # enough of the generated queries are answerable to mean something


async def _load(con: asyncpg.Connection) -> None:
    await con.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    await con.execute(f"CREATE SCHEMA {SCHEMA}")
    await con.execute(
        f"CREATE TABLE {TABLE} (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), jsonb jsonb NOT NULL, ref uuid)"
    )
    await con.executemany(
        f"INSERT INTO {TABLE} (jsonb) VALUES ($1::jsonb)", [(json.dumps(record),) for record in RECORDS]
    )
    for n, index in enumerate(INDEXES):
        await con.execute(index_ddl(index, TABLE, f"things_{n}"))
