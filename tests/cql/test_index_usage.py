"""The translator's expressions are the ones the declared indexes are built on: the planner uses them.

Sequential scans are switched off so that the plan shows an index whenever one can serve the query.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from mod_users.cql import Index, index_ddl, translate

from .dbutil import drop_schema

SCHEMA = "cql_index_usage"
TABLE = f"{SCHEMA}.items"
GROUP = uuid.UUID("77777777-7777-7777-7777-777777777777")
INDEXES = {
    "items_name_btree": Index("name", "btree"),
    "items_name_ft": Index("name", "fulltext"),
    "items_email_gin": Index("email", "gin"),
    "items_code_unique": Index("code", "unique"),
    "items_last_name_cs": Index("personal.lastName", "btree", case_sensitive=True, remove_accents=False),
    "items_group_fk": Index("groupId", "foreign_key"),
}


@pytest.fixture(scope="module")
def items(cql_db: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """3000 generated records with the INDEXES, analysed."""
    rng = random.Random(3)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(400)]

    def record(n: int) -> tuple[uuid.UUID, str, uuid.UUID]:
        group = GROUP if n % 100 == 0 else uuid.UUID(int=rng.getrandbits(128))
        document = {
            "name": f"{rng.choice(words)} {rng.choice(words)}",
            "email": f"{rng.choice(words)}@x.org",
            "code": f"c{n:05d}",
            "personal": {"lastName": rng.choice(words).title()},
            "groupId": str(group),
        }
        return uuid.UUID(int=rng.getrandbits(128)), json.dumps(document), group

    async def load() -> None:
        con = await asyncpg.connect(**cql_db)
        try:
            await con.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            await con.execute(f"CREATE SCHEMA {SCHEMA}")
            await con.execute(f"CREATE TABLE {TABLE} (id uuid PRIMARY KEY, jsonb jsonb NOT NULL, groupId uuid)")
            await con.executemany(f"INSERT INTO {TABLE} VALUES ($1, $2::jsonb, $3)", [record(n) for n in range(3000)])
            for name, index in INDEXES.items():
                await con.execute(index_ddl(index, TABLE, name))
            await con.execute(f"ANALYZE {TABLE}")
        finally:
            await con.close()

    asyncio.run(load())
    yield cql_db
    drop_schema(cql_db, SCHEMA)


async def plan(db: dict[str, Any], query: str, limit: bool = False) -> str:
    translation = translate(query, indexes=list(INDEXES.values()))
    sql = f"SELECT jsonb FROM {TABLE} WHERE {translation.where}"
    if translation.order_by:
        sql += f" ORDER BY {translation.order_by}"
    if limit:
        sql += " LIMIT 10"
    con = await asyncpg.connect(**db)
    try:
        await con.execute("SET enable_seqscan = off")
        rows = await con.fetch("EXPLAIN " + sql, *translation.params)
    finally:
        await con.close()
    return "\n".join(row[0] for row in rows)


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ('name=="abc def"', "items_name_btree"),
        ("name==(abc or def or ghi)", "items_name_btree"),
        ("name<abc", "items_name_btree"),
        ("name>=/ignoreCase/ignoreAccents m", "items_name_btree"),
        ("name>/string 10", "items_name_btree"),
        ("name=abc", "items_name_ft"),
        ('name all "abc def"', "items_name_ft"),
        ("name any abc*", "items_name_ft"),
        ("name=/respectAccents abc", "items_name_ft"),
        ('name adj/respectCase/respectAccents "abc def"', "items_name_ft"),
        ("email==*bcd*", "items_email_gin"),
        ("email==abc@x.org", "items_email_gin"),
        ("code==c00042", "items_code_unique"),
        ("personal.lastName==Abc", "items_last_name_cs"),
        (f"groupId=={GROUP}", "items_group_fk"),
        ("groupId=7777*", "items_group_fk"),
        ("id==11111111-1111-1111-1111-111111111111", "items_pkey"),
        ("id=1*", "items_pkey"),
    ],
)
async def test_index_serves_query(items: dict[str, Any], query: str, index: str) -> None:
    assert index in await plan(items, query)


async def test_prefix_pattern_uses_btree_with_c_collation(items: dict[str, Any]) -> None:
    con = await asyncpg.connect(**items)
    try:
        collation = await con.fetchval("SELECT datcollate FROM pg_database WHERE datname = current_database()")
    finally:
        await con.close()
    if collation not in ("C", "POSIX"):
        pytest.skip(f"b-tree LIKE prefix search needs the C collation; this database uses {collation}")
    assert "items_name_btree" in await plan(items, "name==abc*")


async def test_sort_with_limit_reads_the_btree_in_order(items: dict[str, Any]) -> None:
    query_plan = await plan(items, "cql.allRecords=1 sortBy name", limit=True)
    assert "items_name_btree" in query_plan and "Seq Scan" not in query_plan


async def test_modifier_that_changes_folding_cannot_use_the_index(items: dict[str, Any]) -> None:
    assert "items_name_btree" not in await plan(items, 'name==/respectCase "abc def"')
