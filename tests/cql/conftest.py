"""Database access for the CQL tests: connection arguments of the session's server, shared objects ready.

Each test opens and closes its own connection (every test runs in its own event loop).
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from mod_users.storage.database import connect_kwargs, ensure_shared_objects


@pytest.fixture(scope="session")
def cql_db(db_settings) -> dict[str, Any]:
    """asyncpg.connect() arguments for a database that has unaccent, pg_trgm and public.f_unaccent."""
    kwargs = connect_kwargs(db_settings)

    async def prepare() -> None:
        con = await asyncpg.connect(**kwargs)
        try:
            await ensure_shared_objects(con)
        finally:
            await con.close()

    asyncio.run(prepare())
    return kwargs
