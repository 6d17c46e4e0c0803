"""Creating, upgrading and purging a tenant's schema.

Two mechanisms, as RMB has them: the declared tables and indexes (``tables.py``) are reconciled on every
init — created when missing, indexes no longer declared dropped — and *versioned migrations* run once
each, in order, for changes that declarations cannot express (data rewrites). Applied migrations are
recorded in the schema, so init is idempotent and an upgrade never touches existing records otherwise.
Everything runs in one transaction under a per-tenant advisory lock: two inits cannot interleave, and a
failed upgrade leaves the schema as it was.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg

from mod_users import cql
from mod_users.storage.database import ensure_shared_objects
from mod_users.storage.tables import (
    INDEX_PREFIX,
    POLARIS_COUNTRY_IDS,
    POLARIS_PATRON_ASSOCIATIONS,
    POLARIS_PATRON_BLOCKS,
    POLARIS_PATRONS,
    POLARIS_SEQUENCES,
    POLARIS_STAFF_USER_IDS,
    Table,
)
from mod_users.storage.tenants import IDENTIFIER, TenantSchema, lock_tenant


@dataclass(frozen=True)
class Migration:
    """A one-off change, identified by ``id`` and applied at most once per tenant."""

    id: str
    apply: Callable[[asyncpg.Connection, TenantSchema], Awaitable[None]]


def create_sequences(*names: str) -> Callable[[asyncpg.Connection, TenantSchema], Awaitable[None]]:
    """A migration step creating integer sequences (for example for Polaris ids) in the tenant schema."""

    async def apply(con: asyncpg.Connection, ts: TenantSchema) -> None:
        for name in names:
            await con.execute(f"CREATE SEQUENCE IF NOT EXISTS {ts.table(name)} AS bigint START 1")

    return apply


def int32_cycling(*names: str) -> Callable[[asyncpg.Connection, TenantSchema], Awaitable[None]]:
    """A migration step keeping sequences within Polaris' 32-bit ids: past the largest they start over
    at 1, where allocation skips the numbers already taken (an explicit id of 2147483647 must not make
    the next one unrepresentable)."""

    async def apply(con: asyncpg.Connection, ts: TenantSchema) -> None:
        for name in names:
            await con.execute(f"ALTER SEQUENCE {ts.table(name)} MAXVALUE 2147483647 CYCLE")

    return apply


def strings_to_null(
    tables: Sequence[Table], *fields: str
) -> Callable[[asyncpg.Connection, TenantSchema], Awaitable[None]]:
    """A migration step for top-level fields that became integers: a value stored as a JSON string becomes
    null (for example the FOLIO user uuids once stored in Polaris' integer CreatorID and ModifierID; the
    record's metadata keeps the user)."""

    async def apply(con: asyncpg.Connection, ts: TenantSchema) -> None:
        for table in tables:
            for field in fields:
                await con.execute(
                    f"UPDATE {ts.table(table.name)} SET jsonb = jsonb_set(jsonb, $1::text[], 'null'::jsonb) "
                    "WHERE jsonb_typeof(jsonb -> $2) = 'string'",
                    [field],
                    field,
                )

    return apply


def in_order(
    *steps: Callable[..., Callable[[asyncpg.Connection, TenantSchema], Awaitable[None]]],
) -> Callable[..., Callable[[asyncpg.Connection, TenantSchema], Awaitable[None]]]:
    """Several migration steps over the same names as one (a new sequence, then its bounds)."""

    def over(*names: str) -> Callable[[asyncpg.Connection, TenantSchema], Awaitable[None]]:
        async def apply(con: asyncpg.Connection, ts: TenantSchema) -> None:
            for step in steps:
                await step(*names)(con, ts)

        return apply

    return over


# One-off changes in the order they were introduced; ids are never reused or reordered.
MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001-polaris-id-sequences", create_sequences(*POLARIS_SEQUENCES)),
    Migration("0002-polaris-country-id-sequence", create_sequences(POLARIS_COUNTRY_IDS)),
    Migration("0003-polaris-id-sequences-int32", int32_cycling(*POLARIS_SEQUENCES, POLARIS_COUNTRY_IDS)),
    Migration(
        "0004-polaris-staff-ids-integer",
        strings_to_null(
            (POLARIS_PATRONS, POLARIS_PATRON_BLOCKS, POLARIS_PATRON_ASSOCIATIONS), "CreatorID", "ModifierID"
        ),
    ),
    Migration("0005-polaris-staff-user-id-sequence", in_order(create_sequences, int32_cycling)(POLARIS_STAFF_USER_IDS)),
)


async def upgrade_tenant(
    con: asyncpg.Connection, ts: TenantSchema, tables: Sequence[Table], migrations: Sequence[Migration], module_to: str
) -> list[str]:
    """Bring ``ts``'s schema to the declared state; return what was done, for the tenant job's messages."""
    await ensure_shared_objects(con)
    done: list[str] = []
    async with con.transaction():
        await lock_tenant(con, ts)
        await con.execute(f"CREATE SCHEMA IF NOT EXISTS {ts.schema}")
        await con.execute(
            f"CREATE TABLE IF NOT EXISTS {ts.table('schema_migrations')} "
            "(id text PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())"
        )
        await con.execute(
            f"CREATE TABLE IF NOT EXISTS {ts.table('module_version')} "
            "(singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), module text NOT NULL, "
            "updated timestamptz NOT NULL DEFAULT now())"
        )
        for table in tables:
            await con.execute(
                f"CREATE TABLE IF NOT EXISTS {ts.table(table.name)} (id uuid PRIMARY KEY, jsonb jsonb NOT NULL)"
            )
            done += await _reconcile_indexes(con, ts, table)
        applied = {r[0] for r in await con.fetch(f"SELECT id FROM {ts.table('schema_migrations')}")}
        for migration in migrations:
            if migration.id not in applied:
                await migration.apply(con, ts)
                await con.execute(f"INSERT INTO {ts.table('schema_migrations')} (id) VALUES ($1)", migration.id)
                done.append(f"applied migration {migration.id}")
        await con.execute(
            f"INSERT INTO {ts.table('module_version')} (module) VALUES ($1) "
            "ON CONFLICT (singleton) DO UPDATE SET module = EXCLUDED.module, updated = now()",
            module_to,
        )
    return done


async def _reconcile_indexes(con: asyncpg.Connection, ts: TenantSchema, table: Table) -> list[str]:
    wanted = {table.index_name(index): index for index in table.indexes}
    existing = {
        r[0]
        for r in await con.fetch(
            "SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 AND indexname LIKE $3",
            ts.schema,
            table.name,
            INDEX_PREFIX + "%",
        )
    }
    done = []
    for name in sorted(existing - set(wanted)):
        if not IDENTIFIER.fullmatch(name):
            continue  # not one of ours after all (ours are plain lowercase identifiers)
        await con.execute(f"DROP INDEX IF EXISTS {ts.schema}.{name}")
        done.append(f"dropped index {name}")
    for name, index in wanted.items():
        if name not in existing:
            await con.execute(cql.index_ddl(index, ts.table(table.name), name))
            done.append(f"created index {name}")
    return done


async def purge_tenant(con: asyncpg.Connection, ts: TenantSchema) -> bool:
    """Drop the tenant's schema and everything in it; False when there was nothing to drop."""
    async with con.transaction():
        await lock_tenant(con, ts)
        exists = await con.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", ts.schema)
        await con.execute(f"DROP SCHEMA IF EXISTS {ts.schema} CASCADE")
    return bool(exists)
