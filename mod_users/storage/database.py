"""Connecting to PostgreSQL: the database itself, the connection pool, the shared extensions."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import ssl
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from mod_users.config import DatabaseSettings
from mod_users.storage.fairness import TenantGate

log = logging.getLogger(__name__)

# The advisory lock key that serialises database-wide DDL (extensions, shared functions) between
# concurrent tenant inits and between several module instances.
_SHARED_DDL_LOCK = 0x6D6F_6475


async def ensure_database(db: DatabaseSettings) -> None:
    """Create ``db.database`` if the server does not have it yet (the embedded cluster starts without it)."""
    try:
        con = await asyncpg.connect(**connect_kwargs(db))
    except asyncpg.InvalidCatalogNameError:
        pass
    else:
        await con.close()
        return
    admin = await asyncpg.connect(**connect_kwargs(db, database="postgres"))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", db.database)
        if not exists:
            # A database name cannot be a bind parameter; quote_ident on the server makes it safe.
            quoted = await admin.fetchval("SELECT quote_ident($1)", db.database)
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # created meanwhile by another process
                await admin.execute(f"CREATE DATABASE {quoted}")
    finally:
        await admin.close()


async def ensure_database_if_reachable(db: DatabaseSettings) -> bool:
    """:func:`ensure_database` for a configured server, which an orchestrator may start after us: when it
    cannot be reached, say so and return False (the service answers 503 until it is), rather than crash-loop.
    Only a database that is missing when the server is reachable is created; one missing later answers 503."""
    try:
        await ensure_database(db)
    except (OSError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError) as exc:
        log.warning(
            "database unreachable at start-up; answering 503 until it is",
            extra={"database": f"{db.host}:{db.port}", "error": repr(exc)},
        )
        return False
    return True


@functools.lru_cache(maxsize=4)
def tls_context(server_pem: str) -> ssl.SSLContext:
    """TLS as RMB sets it up for DB_SERVER_PEM: TLS 1.3 only, the server's certificate checked against the
    given PEM certificate(s) and its name against the host connected to; no unencrypted fallback."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=server_pem)
    # RMB takes "the server certificate, the root CA certificate, or the chain"; Java trusts any of them as an
    # anchor, OpenSSL only a self-signed root unless partial chains are allowed.
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    return context


def connect_kwargs(db: DatabaseSettings, database: str | None = None) -> dict[str, Any]:
    """asyncpg connection arguments for ``db``."""
    kwargs = {
        "host": db.host,
        "port": db.port,
        "user": db.username,
        "password": db.password or None,
        "database": database or db.database,
        "timeout": 10,
        "command_timeout": db.query_timeout_ms / 1000,
    }
    if db.server_pem:
        kwargs["ssl"] = tls_context(db.server_pem)
    return kwargs


async def _init_connection(con: asyncpg.Connection) -> None:
    # jsonb arrives as Python objects and goes out from them; json.dumps keeps non-ASCII as is.
    await con.set_type_codec(
        "jsonb",
        encoder=lambda v: json.dumps(v, ensure_ascii=False),
        decoder=json.loads,
        schema="pg_catalog",
    )


async def _keep_session(con: asyncpg.Connection) -> None:
    """Release a connection as it is. asyncpg's default reset costs a round trip on every release, to
    undo session state we never create: no LISTEN, no session-level locks or settings (our advisory
    locks are transaction-scoped)."""


class _Borrower:
    """One-statement calls, each on a connection borrowed for it (``acquire`` says how)."""

    def acquire(self) -> contextlib.AbstractAsyncContextManager[asyncpg.Connection]:
        raise NotImplementedError

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self.acquire() as con:
            return await con.fetchval(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        async with self.acquire() as con:
            return await con.fetchrow(sql, *args)

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        async with self.acquire() as con:
            return await con.fetch(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        async with self.acquire() as con:
            return await con.execute(sql, *args)


class BoundedPool(_Borrower):
    """The connection pool, from which every borrower waits at most ``timeout`` seconds for a connection:
    a database that hangs, or a pool all of whose connections are stuck, answers DatabaseUnavailable (503)
    in bounded time instead of queueing requests behind it. asyncpg applies the same timeout to a
    release, which bounds the wait for a stuck query's cancellation too.

    Tenants borrow through :meth:`for_tenant`, and a :class:`TenantGate` keeps one tenant from holding
    every connection; calls of the module itself (health, tenant jobs) borrow directly."""

    def __init__(self, pool: asyncpg.Pool, timeout: float, share: int | None = None) -> None:
        self._pool = pool
        self._timeout = timeout
        self.gate = TenantGate(pool.get_max_size(), share)

    def acquire(self, tenant: str | None = None) -> contextlib.AbstractAsyncContextManager[asyncpg.Connection]:
        """A connection for one of ``tenant``'s calls (None: the module's own), within the timeout."""
        return self._borrow(tenant)

    @contextlib.asynccontextmanager
    async def _borrow(self, tenant: str | None) -> AsyncIterator[asyncpg.Connection]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        # The pool is entered only once the gate let us in, with what is left of the timeout.
        async with (
            self.gate.slot(tenant, self._timeout),
            self._pool.acquire(timeout=max(0.001, deadline - loop.time())) as con,
        ):
            try:
                yield con
            except asyncpg.InternalClientError:
                # The protocol lost track of the connection (the server died mid-exchange): it must not
                # go back to the pool for the next borrower to fail on.
                con.terminate()
                raise

    def for_tenant(self, tenant: str) -> TenantPool:
        """The pool as one tenant's calls use it: within the tenant's share of connections."""
        return TenantPool(self, tenant)

    async def close(self) -> None:
        await self._pool.close()

    def terminate(self) -> None:
        self._pool.terminate()


class TenantPool(_Borrower):
    """:class:`BoundedPool` seen by one tenant: every borrowing counts against the tenant's share."""

    def __init__(self, pool: BoundedPool, tenant: str) -> None:
        self._pool = pool
        self.tenant = tenant

    def acquire(self) -> contextlib.AbstractAsyncContextManager[asyncpg.Connection]:
        return self._pool.acquire(self.tenant)


async def create_pool(db: DatabaseSettings, min_size: int = 1) -> BoundedPool:
    """A pool whose connections decode jsonb to Python values, borrowed with ``db.acquire_timeout_ms``."""
    pool = await asyncpg.create_pool(
        **connect_kwargs(db),
        min_size=min(min_size, db.max_pool_size),
        max_size=db.max_pool_size,
        init=_init_connection,
        reset=_keep_session,
    )
    assert pool is not None
    return BoundedPool(pool, db.acquire_timeout_ms / 1000)


async def ensure_shared_objects(con: asyncpg.Connection) -> None:
    """Extensions and the immutable unaccent wrapper that index expressions and CQL translations use.

    ``unaccent()`` is only STABLE, so PostgreSQL refuses it in an index; like RMB we wrap it in an
    IMMUTABLE function (``public.f_unaccent``) naming its dictionary explicitly.
    """
    async with con.transaction():
        await con.execute("SELECT pg_advisory_xact_lock($1)", _SHARED_DDL_LOCK)
        await con.execute("CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public")
        await con.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
        await con.execute(
            "CREATE OR REPLACE FUNCTION public.f_unaccent(text) RETURNS text "
            "AS $$ SELECT public.unaccent('public.unaccent', $1) $$ "
            "LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT"
        )
