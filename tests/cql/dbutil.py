"""Helpers for the CQL tests' scratch schemas."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg


def drop_schema(kwargs: dict[str, Any], schema: str) -> None:
    """Drop a test module's scratch schema (the tests may run against a persistent DB_HOST database)."""

    async def drop() -> None:
        con = await asyncpg.connect(**kwargs)
        try:
            await con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        finally:
            await con.close()

    asyncio.run(drop())
