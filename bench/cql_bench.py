"""CQL benchmark: parse+translate throughput, and search latency on 100,000 records with/without indexes.

    python bench/cql_bench.py [--records 100000] [--seconds 2]

Uses the PostgreSQL named by DB_HOST (DB_PORT, DB_USERNAME, DB_PASSWORD, DB_DATABASE) if set, else a
throwaway embedded cluster. Works in the scratch schema ``cql_bench``, which it drops at the end. Not part
of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mod_users.config import DatabaseSettings, load_settings
from mod_users.cql import Index, index_ddl, parse, translate
from mod_users.storage.database import connect_kwargs, ensure_shared_objects
from mod_users.storage.embedded import database_session

SCHEMA = "cql_bench"
TABLE = f"{SCHEMA}.records"
INDEXES = {
    "records_name_btree": Index("name", "btree"),
    "records_name_ft": Index("name", "fulltext"),
    "records_email_gin": Index("email", "gin"),
    "records_barcode_unique": Index("barcode", "unique"),
}
SERVER_CHOICE = ("name", "email", "barcode")

TRANSLATE_MIX = [
    "name==abc*",
    'name=="Lea Long"',
    "Lea Long",
    "name=lea and email==*example* sortBy name/sort.descending",
    "personal.lastName==smith* or personal.firstName==john* sortBy personal.lastName personal.firstName",
    "active==true and patronGroup==3684a786-6671-4268-8ed0-9db82ebca60b sortBy username",
    "id==(11111111-1111-1111-1111-111111111111 or 22222222-2222-2222-2222-222222222222 or "
    "33333333-3333-3333-3333-333333333333)",
    "cql.allRecords=1 not expirationDate<2020-01-01",
    "barcode>/number 1000 and barcode<=/number 2000",
    '(name any "jo ka lea" or email=example.com) and (active==true or active==false) sortBy name',
]


def main() -> None:
    """Run both benchmarks and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per throughput measurement")
    args = parser.parse_args()
    translate_throughput(args.seconds)
    with database() as settings:
        asyncio.run(search_latency(settings, args.records))


def translate_throughput(seconds: float) -> None:
    """Queries per second for parse() alone and for translate(), over TRANSLATE_MIX."""
    indexes = list(INDEXES.values())
    print(f"parse + translate throughput ({len(TRANSLATE_MIX)} different queries, one core)")
    for label, work in (
        ("parse", parse),
        ("translate", lambda q: translate(q, indexes=indexes, server_choice=SERVER_CHOICE)),
    ):
        rate = _rate(work, seconds)
        print(f"  {label:<10} {rate:>10,.0f} queries/s   {1e6 / rate:6.1f} µs/query")
    print()


def _rate(work: Callable[[str], Any], seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for query in TRANSLATE_MIX:
            work(query)
        done += len(TRANSLATE_MIX)
    return done / (time.perf_counter() - start)


def database() -> AbstractContextManager[DatabaseSettings]:
    """DB_HOST's server, or a throwaway embedded cluster for the duration of the block."""
    return database_session(load_settings().db, durable=False)


async def search_latency(settings: DatabaseSettings, records: int) -> None:
    """Latency of typical searches before and after the INDEXES exist, with the plans' node names."""
    con = await asyncpg.connect(**connect_kwargs(settings))
    try:
        await ensure_shared_objects(con)
        started = time.perf_counter()
        await _load(con, records)
        print(
            f"search latency on {records:,} records (loaded in {time.perf_counter() - started:.1f} s; "
            "median of repeated runs, including planning)"
        )
        word = await con.fetchval(f"SELECT split_part(jsonb->>'name', ' ', 1) FROM {TABLE} LIMIT 1")
        prefix = word[:3]
        searches = [
            (f'name=="{prefix}*"', "", f'name=="{prefix}*"'),
            (f"name={word}", "", f"name={word} (word)"),
            ("cql.allRecords=1 sortBy name", " LIMIT 10", "sortBy name, LIMIT 10"),
            (f"name={word} sortBy name", " LIMIT 10", f"name={word} sortBy name, LIMIT 10"),
            ("email==*bcd*", "", "email==*bcd* (inner wildcard)"),
            ("barcode==00012345", "", "barcode==00012345"),
        ]
        rows: list[tuple[str, str, str, str]] = []
        for declared in (False, True):
            if declared:
                for name, index in INDEXES.items():
                    await con.execute(index_ddl(index, TABLE, name))
                await con.execute(f"ANALYZE {TABLE}")
            for query, suffix, label in searches:
                ms, count, plan = await _measure(con, query, suffix, declared)
                rows.append((label, "declared" if declared else "none", f"{ms:8.2f}", f"{count:>6} {plan}"))
        _print_table(["query", "indexes", "ms", "rows  plan"], rows)
    finally:
        await con.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        await con.close()


async def _load(con: asyncpg.Connection, records: int) -> None:
    await con.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    await con.execute(f"CREATE SCHEMA {SCHEMA}")
    await con.execute(f"CREATE TABLE {TABLE} (id uuid PRIMARY KEY, jsonb jsonb NOT NULL)")
    # 5000 pseudo-words of letters (md5 digits mapped to letters); names are two of them.
    await con.execute(
        f"""
        WITH words AS (
          SELECT array_agg(translate(substr(md5(i::text), 1, 3 + i % 6), '0123456789', 'ghijklmnop')) AS w
          FROM generate_series(1, 5000) AS i)
        INSERT INTO {TABLE}
        SELECT gen_random_uuid(),
               jsonb_build_object(
                 'name', initcap(w[1 + (random() * 4999)::int] || ' ' || w[1 + (random() * 4999)::int]),
                 'email', w[1 + (random() * 4999)::int] || '@example.org',
                 'barcode', lpad(g::text, 8, '0'),
                 'active', g % 3 <> 0)
        FROM generate_series(1, $1::int) AS g, words""",
        records,
    )
    await con.execute(f"ANALYZE {TABLE}")


async def _measure(con: asyncpg.Connection, query: str, suffix: str, declared: bool) -> tuple[float, int, str]:
    translation = translate(query, indexes=list(INDEXES.values()) if declared else [])
    sql = f"SELECT jsonb FROM {TABLE} WHERE {translation.where}"
    if translation.order_by:
        sql += f" ORDER BY {translation.order_by}"
    sql += suffix
    timings: list[float] = []
    count = 0
    deadline = time.perf_counter() + 3.0
    while len(timings) < 5 or (time.perf_counter() < deadline and len(timings) < 50):
        start = time.perf_counter()
        count = len(await con.fetch(sql, *translation.params))
        timings.append((time.perf_counter() - start) * 1000)
    explained = await con.fetchval("EXPLAIN (FORMAT JSON) " + sql, *translation.params)
    plan = json.loads(explained)[0]["Plan"] if isinstance(explained, str) else explained[0]["Plan"]
    return statistics.median(timings[1:]), count, " > ".join(_nodes(plan))


def _nodes(plan: dict[str, Any]) -> Iterator[str]:
    """Node names of a plan, depth first, with the index each index node uses."""
    name = plan["Node Type"]
    if "Index Name" in plan:
        name += f" ({plan['Index Name']})"
    yield name
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _print_table(header: list[str], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in [tuple(header), *rows]) for i in range(len(header))]
    line = "  ".join("-" * width for width in widths)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
