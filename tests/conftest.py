"""Session-wide fixtures: one real PostgreSQL for the whole run.

With ``DB_HOST`` set the configured server is used; otherwise one throwaway private cluster is started
with the same code ``mod-users serve`` uses. Tests share the *address*, never a pool: pytest-aiohttp gives
each test its own event loop, and an asyncpg pool belongs to one loop.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from mod_users.app import init_app
from mod_users.config import DatabaseSettings, Settings, load_settings
from mod_users.contract import Contract, load_contract
from mod_users.storage.database import connect_kwargs
from mod_users.storage.embedded import database_session
from mod_users.storage.migrations import purge_tenant
from mod_users.storage.tenants import TenantSchema
from mod_users.tenant.api import run_init


@pytest.fixture(scope="session")
def db_settings() -> Iterator[DatabaseSettings]:
    """Connection settings of the PostgreSQL server the tests run against."""
    with database_session(load_settings().db, durable=False) as db:
        yield db


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Service settings as the environment gives them (the contract is this checkout's)."""
    return load_settings()


@functools.cache
def contract_of(contract_dir: Path) -> Contract:
    """The contract, read once per run: most tests build an app, and reading the RAML is most of that."""
    return load_contract(contract_dir / "ramls", contract_dir / "schemas")


@pytest.fixture
async def app_client(aiohttp_client, settings, db_settings):
    """An in-process client of a fresh application on the test database."""
    return await aiohttp_client(init_app(settings, db_settings, contract_of(settings.contract_dir)))


async def _init_tenant(
    db: DatabaseSettings, tenant: str, settings: Settings, reference: bool, sample: bool = False
) -> None:
    from aiohttp import web

    app = init_app(settings, db, contract_of(settings.contract_dir))
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        params = [
            {"key": "loadReference", "value": str(reference).lower()},
            {"key": "loadSample", "value": str(sample).lower()},
        ]
        await run_init(app, TenantSchema(tenant), {"module_to": "mod-users-0.1.0", "parameters": params})
    finally:
        await runner.cleanup()


async def _purge_tenant(db: DatabaseSettings, tenant: str) -> None:
    con = await asyncpg.connect(**connect_kwargs(db))
    try:
        await purge_tenant(con, TenantSchema(tenant))
    finally:
        await con.close()


def unique_tenant(prefix: str = "t") -> str:
    """A tenant name no other test uses (tests may share a configured database)."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def tenant(db_settings, settings) -> Iterator[str]:
    """A tenant initialised once for the session, with reference data. Tests add their own records
    to it and must not assume they are alone in it; use ``fresh_tenant`` for that."""
    name = unique_tenant("s")
    asyncio.run(_init_tenant(db_settings, name, settings, reference=True))
    yield name
    asyncio.run(_purge_tenant(db_settings, name))


@pytest.fixture(scope="session")
def sample_tenant(db_settings, settings) -> Iterator[str]:
    """A tenant initialised once for the session with reference and sample data (the Polaris-style
    organisations, block descriptions, workstations and patrons). Tests must not change the sample records;
    they add their own (see tests/polaris/support.py) and must not assume they are alone."""
    name = unique_tenant("p")
    asyncio.run(_init_tenant(db_settings, name, settings, reference=True, sample=True))
    yield name
    asyncio.run(_purge_tenant(db_settings, name))


@pytest.fixture
def fresh_tenant(db_settings, settings) -> Iterator[str]:
    """A tenant of its own for one test, initialised without reference data, purged afterwards."""
    name = unique_tenant("f")
    asyncio.run(_init_tenant(db_settings, name, settings, reference=False))
    yield name
    asyncio.run(_purge_tenant(db_settings, name))


@pytest.fixture
def fresh_sample_tenant(db_settings, settings) -> Iterator[str]:
    """A tenant of its own for one test, with reference and sample data, purged afterwards: for a test that
    changes the sample records (which tests sharing ``sample_tenant`` must not)."""
    name = unique_tenant("q")
    asyncio.run(_init_tenant(db_settings, name, settings, reference=True, sample=True))
    yield name
    asyncio.run(_purge_tenant(db_settings, name))
