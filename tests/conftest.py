"""Session-wide fixtures: one real PostgreSQL for the whole run.

With ``DB_HOST`` set the configured server is used; otherwise one throwaway private cluster is started
with the same code ``mod-users serve`` uses. Tests share the *address*, never a pool: pytest-aiohttp gives
each test its own event loop, and an asyncpg pool belongs to one loop.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mod_users.config import DatabaseSettings, load_settings
from mod_users.storage.database import ensure_database
from mod_users.storage.embedded import EmbeddedPostgres


@pytest.fixture(scope="session")
def db_settings() -> Iterator[DatabaseSettings]:
    """Connection settings of the PostgreSQL server the tests run against."""
    configured = load_settings().db
    if configured.host:
        asyncio.run(ensure_database(configured))
        yield configured
        return
    cluster = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="mod-users-test-")), durable=False)
    try:
        settings = cluster.start()
        asyncio.run(ensure_database(settings))
        yield settings
    finally:
        cluster.destroy()
