"""Helpers for the CQL tests' scratch schemas."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable
from typing import Any

import asyncpg

from mod_users.cql import Index, index_ddl


def drop_schema(kwargs: dict[str, Any], schema: str) -> None:
    """Drop a test module's scratch schema (the tests may run against a persistent DB_HOST database)."""

    async def drop() -> None:
        con = await asyncpg.connect(**kwargs)
        try:
            await con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        finally:
            await con.close()

    asyncio.run(drop())


def load_table(
    kwargs: dict[str, Any],
    schema: str,
    table: str,
    records: Iterable[tuple[uuid.UUID, dict[str, Any]]],
    indexes: Iterable[Index],
    prefix: str,
) -> None:
    """A fresh scratch ``schema`` with ``table`` (id, jsonb) holding ``records`` and the ``indexes``."""

    async def load() -> None:
        con = await asyncpg.connect(**kwargs)
        try:
            await con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            await con.execute(f"CREATE SCHEMA {schema}")
            await con.execute(f"CREATE TABLE {table} (id uuid PRIMARY KEY, jsonb jsonb NOT NULL)")
            await con.executemany(
                f"INSERT INTO {table} VALUES ($1, $2::jsonb)",
                [(rid, json.dumps(r, ensure_ascii=False)) for rid, r in records],
            )
            for n, index in enumerate(indexes):
                await con.execute(index_ddl(index, table, f"{prefix}_{n}_{index.kind}"))
        finally:
            await con.close()

    asyncio.run(load())
