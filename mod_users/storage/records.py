"""The one JSONB record store every resource uses: get, search, insert, update, delete.

Every call names the tenant (a validated :class:`TenantSchema`) and the :class:`Table`; values only ever
travel as bind parameters. Database failures come out as :mod:`mod_users.storage.errors`.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from mod_users import cql
from mod_users.storage.database import BoundedPool, TenantPool
from mod_users.storage.errors import (
    CONNECTION_ERRORS,
    DatabaseUnavailable,
    DuplicateRecord,
    StorageError,
    TenantNotInitialised,
    UnstorableValue,
    VersionConflict,
)
from mod_users.storage.tables import Table
from mod_users.storage.tenants import TenantSchema, share_tenant
from mod_users.texts import MESSAGE, shorten

# Above this many matches totalRecords comes from the planner's estimate instead of a count, as RMB
# does: counting a million rows to print one number is not worth the scan.
EXACT_COUNT_LIMIT = 1000
# Polaris integer ids are 32-bit.
INT32_MAX = 2_147_483_647
# Advisory-lock namespace of id allocation (one lock per tenant sequence).
_ID_LOCK_NAMESPACE = 0x6D69
# A page of more records than this is read from a cursor, this many at a time (see open_page).
PAGE_CHUNK = 1000


@dataclass(frozen=True)
class Page:
    """One page of search results and the total number of matches (exact or estimated)."""

    records: list[dict[str, Any]]
    total: int
    exact: bool = True


def now_iso() -> str:
    """The current time as FOLIO writes metadata dates (ISO 8601, UTC, milliseconds)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_metadata(user_id: str | None) -> dict[str, Any]:
    """Server-set metadata, created and updated now (an update keeps the stored created* in SQL)."""
    stamp = now_iso()
    meta: dict[str, Any] = {"createdDate": stamp, "updatedDate": stamp}
    if user_id:
        meta["createdByUserId"] = user_id
        meta["updatedByUserId"] = user_id
    return meta


@contextlib.contextmanager
def _translate_errors(ts: TenantSchema, table: Table | None = None, record: dict[str, Any] | None = None) -> Any:
    """Map asyncpg failures to storage errors the HTTP layer understands."""
    try:
        yield
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError) as exc:
        raise TenantNotInitialised(ts.tenant) from exc
    except asyncpg.UniqueViolationError as exc:
        raise _duplicate(exc, table, record) from exc
    except CONNECTION_ERRORS as exc:
        raise DatabaseUnavailable(f"database unavailable: {exc.__class__.__name__}") from exc
    except asyncpg.QueryCanceledError as exc:
        raise DatabaseUnavailable("database query timed out") from exc
    except asyncpg.TransactionRollbackError as exc:
        # A deadlock or serialisation failure: the database gave up on this call, which may simply be
        # repeated. Retryable, so 503 (tenant changes take their locks in an order requests share, so a
        # purge or upgrade is never the cause).
        raise DatabaseUnavailable(f"database conflict, try again: {exc.__class__.__name__}") from exc
    except asyncpg.DataError as exc:
        # A value PostgreSQL cannot take (out of range, not encodable): the caller's input, never a 500.
        raise UnstorableValue(f"a value cannot be stored: {shorten(str(exc), MESSAGE)}") from exc


def _duplicate(
    exc: asyncpg.UniqueViolationError, table: Table | None, record: dict[str, Any] | None
) -> DuplicateRecord:
    """Name the field whose unique index (or primary key) refused the value, as RMB does."""
    constraint = getattr(exc, "constraint_name", "") or ""
    field = table.unique_field(constraint) if table is not None else None
    if field is None:
        return DuplicateRecord("value already exists")
    value: Any = record
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    shown = shorten(str(value))
    return DuplicateRecord(f"{field} value already exists in table {table.name}: {shown}", field, value)


class RecordStore:
    """Tenant-scoped CRUD and CQL search over JSONB tables, on the pool or inside one transaction."""

    def __init__(self, executor: BoundedPool | asyncpg.Connection) -> None:
        self._db = executor

    def _on(self, ts: TenantSchema) -> TenantPool | asyncpg.Connection:
        """Where a call for ``ts`` runs: the transaction's connection, or the pool within the tenant's share."""
        if isinstance(self._db, BoundedPool):
            return self._db.for_tenant(ts.tenant)
        return self._db

    @contextlib.asynccontextmanager
    async def transaction(self, ts: TenantSchema) -> AsyncIterator[RecordStore]:
        """A store whose calls all run in one transaction: all of them land, or none.

        Each transaction first takes the tenant's lock in shared mode, the lock a purge or an upgrade takes
        exclusively before it touches a table: a transaction never holds a table that a purge wants while
        it waits for one the purge holds (issue 12: purges during traffic deadlocked)."""
        if isinstance(self._db, asyncpg.Connection):
            async with self._db.transaction():
                await share_tenant(self._db, ts)
                yield RecordStore(self._db)
            return
        with _translate_errors(ts):
            async with self._db.acquire(ts.tenant) as con:
                tx = con.transaction()
                await tx.start()
                try:
                    await share_tenant(con, ts)
                    yield RecordStore(con)
                except BaseException:
                    await _roll_back(con, tx)
                    raise
                try:
                    await tx.commit()
                except asyncpg.InterfaceError as exc:
                    if _gone(con):  # lost on the way to COMMIT: the client must not get a 500
                        raise DatabaseUnavailable("database connection lost at commit") from exc
                    raise

    # -- reading ----------------------------------------------------------------------------------
    async def get(
        self, ts: TenantSchema, table: Table, record_id: str, *, for_update: bool = False
    ) -> dict[str, Any] | None:
        """The record with ``record_id``, or None (also None for a malformed id: it cannot exist)."""
        rid = _as_uuid(record_id)
        if rid is None:
            return None
        lock = " FOR UPDATE" if for_update else ""
        with _translate_errors(ts):
            return await self._on(ts).fetchval(f"SELECT jsonb FROM {ts.table(table.name)} WHERE id = $1{lock}", rid)

    async def search(self, ts: TenantSchema, table: Table, query: str | None, offset: int, limit: int) -> Page:
        """Records matching the CQL ``query`` (all when empty), one page, with totalRecords.

        Raises :class:`mod_users.cql.CQLError` for a query that cannot be translated.
        """
        tr = _translate(table, query or "cql.allRecords=1")
        return await self.search_where(ts, table, tr.where, tr.params, tr.order_by, offset, limit)

    async def search_where(
        self, ts: TenantSchema, table: Table, where: str, params: list[Any], order_by: str, offset: int, limit: int
    ) -> Page:
        """Like :meth:`search` for an already translated condition (resources add their own filters)."""
        sql, args = _page_sql(ts.table(table.name), "jsonb", where, params, order_by, offset, limit)
        db = self._on(ts)
        with _translate_errors(ts):
            records = [r[0] for r in await db.fetch(sql, *args)]
            total, exact = await self._total(db, ts.table(table.name), where, params, offset, limit, len(records))
        return Page(records, total, exact)

    @contextlib.asynccontextmanager
    async def open_page(
        self, ts: TenantSchema, table: Table, query: str | None, offset: int, limit: int, chunk: int = PAGE_CHUNK
    ) -> AsyncIterator[PageReader]:
        """One page of records matching the CQL ``query``, as JSON texts, read ``chunk`` at a time.

        A page of at most ``chunk`` records is one statement. A larger one is read from a cursor in a
        read-only snapshot transaction, so that the caller can pass each chunk on before the next is read
        and memory does not grow with the page (``limit=2147483647`` on a big table). Raises
        :class:`mod_users.cql.CQLError` for a query that cannot be translated.
        """
        tr = _translate(table, query or "cql.allRecords=1")
        qualified = ts.table(table.name)
        sql, args = _page_sql(qualified, "jsonb::text", tr.where, tr.params, tr.order_by, offset, limit)

        def reader(db: TenantPool | asyncpg.Connection, first: list[str], rest: Any) -> PageReader:
            async def total(read: int) -> int:
                with _translate_errors(ts):
                    return (await self._total(db, qualified, tr.where, tr.params, offset, limit, read))[0]

            return PageReader(first, rest, total)

        if limit <= chunk:
            db = self._on(ts)
            with _translate_errors(ts):
                rows = await db.fetch(sql, *args)
            yield reader(db, [r[0] for r in rows], None)
            return
        async with self._snapshot(ts) as con:
            with _translate_errors(ts):
                cursor = await con.cursor(sql, *args)
                first = [r[0] for r in await cursor.fetch(chunk)]

            async def rest() -> AsyncIterator[list[str]]:
                while True:
                    with _translate_errors(ts):
                        rows = await cursor.fetch(chunk)
                    if not rows:
                        return
                    yield [r[0] for r in rows]

            yield reader(con, first, rest() if len(first) == chunk else None)

    @contextlib.asynccontextmanager
    async def _snapshot(self, ts: TenantSchema) -> AsyncIterator[asyncpg.Connection]:
        """A connection in a read-only transaction whose statements all see the same data (a page and its
        totalRecords). Ending it cannot fail the caller: it has nothing to commit, so it is rolled back."""
        if isinstance(self._db, asyncpg.Connection):
            yield self._db  # already inside the caller's transaction
            return
        with _translate_errors(ts):
            async with self._db.acquire(ts.tenant) as con:
                tx = con.transaction(isolation="repeatable_read", readonly=True)
                await tx.start()
                try:
                    await share_tenant(con, ts)
                    yield con
                finally:
                    await _roll_back(con, tx)

    async def _total(
        self,
        db: TenantPool | asyncpg.Connection,
        qualified: str,
        where: str,
        params: list[Any],
        offset: int,
        limit: int,
        read: int,
    ) -> tuple[int, bool]:
        """totalRecords of a page of ``read`` records, and whether it is exact (RMB's rules)."""
        if 0 < read < limit or (offset == 0 and not read and limit > 0):
            return offset + read, True  # the page itself says how many there are
        total, exact = await self._count(db, qualified, where, params)
        # As RMB: a page cannot contradict the total it comes with.
        if not read and offset > 0 and total > offset:
            total = offset
        if limit and read == limit and total < offset + limit:
            total, exact = offset + limit, False
        return total, exact

    async def _count(
        self, db: TenantPool | asyncpg.Connection, qualified: str, where: str, params: list[Any]
    ) -> tuple[int, bool]:
        """RMB's totalRecords: the planner's estimate when it is far above the exact-count limit,
        otherwise a count that stops at the limit, so no large result is ever counted row by row."""
        source = f"FROM {qualified} WHERE {where}"
        estimate = await self._estimate(db, qualified, where, params)
        if estimate > 4 * EXACT_COUNT_LIMIT:
            return estimate, False
        n = len(params)
        counted = await db.fetchval(
            f"SELECT count(*) FROM (SELECT 1 {source} LIMIT ${n + 1}) AS bounded", *params, EXACT_COUNT_LIMIT
        )
        if counted < EXACT_COUNT_LIMIT:
            return counted, True
        return max(estimate, EXACT_COUNT_LIMIT), False

    async def _estimate(
        self, db: TenantPool | asyncpg.Connection, qualified: str, where: str, params: list[Any]
    ) -> int:
        """The planner's row estimate; for the whole table (``WHERE TRUE``) a catalog lookup instead of
        planning a query, scaled as the planner scales it: the analysed rows per page times the pages the
        table has now (``reltuples`` alone lags behind bulk inserts until the next ANALYZE)."""
        if where == "TRUE":
            # No statistics yet (reltuples -1, or no pages when analysed): NULL, and the planner decides.
            rows = await db.fetchval(
                "SELECT round(reltuples::float8 / relpages "
                "* (pg_relation_size(oid) / current_setting('block_size')::bigint))::bigint "
                "FROM pg_class WHERE oid = $1::regclass AND relpages > 0 AND reltuples >= 0",
                qualified,
            )
            if rows is not None:
                return int(rows)
        plan = await db.fetchval(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {qualified} WHERE {where}", *params)
        return int(_plan_rows(plan))

    async def get_many(self, ts: TenantSchema, table: Table, record_ids: list[str]) -> list[dict[str, Any]]:
        """The records with these ids that exist (primary-key lookups; malformed ids find nothing)."""
        ids = [rid for rid in (_as_uuid(r) for r in record_ids) if rid is not None]
        if not ids:
            return []
        with _translate_errors(ts):
            rows = await self._on(ts).fetch(f"SELECT jsonb FROM {ts.table(table.name)} WHERE id = ANY($1::uuid[])", ids)
        return [r[0] for r in rows]

    async def find(self, ts: TenantSchema, table: Table, query: str, cap: int) -> list[dict[str, Any]]:
        """Every record matching the CQL ``query``, in its sort order, but at most ``cap`` of them (for
        rules that look at a patron's blocks or associations, where a bound keeps a request bounded)."""
        tr = _translate(table, query)
        order = f" ORDER BY {tr.order_by}" if tr.order_by else ""
        n = len(tr.params)
        with _translate_errors(ts):
            rows = await self._on(ts).fetch(
                f"SELECT jsonb FROM {ts.table(table.name)} WHERE {tr.where}{order} LIMIT ${n + 1}", *tr.params, cap
            )
        return [r[0] for r in rows]

    async def count(self, ts: TenantSchema, table: Table, query: str) -> int:
        """The exact number of records matching the CQL ``query`` (for rules such as "at most 20")."""
        tr = _translate(table, query)
        with _translate_errors(ts):
            return int(
                await self._on(ts).fetchval(f"SELECT count(*) FROM {ts.table(table.name)} WHERE {tr.where}", *tr.params)
            )

    # -- writing ----------------------------------------------------------------------------------
    async def insert(
        self, ts: TenantSchema, table: Table, record: dict[str, Any], user_id: str | None
    ) -> dict[str, Any]:
        """Store a new record (generating its id when absent) with server-set metadata; return it."""
        doc = dict(record)
        doc["id"] = str(doc.get("id") or uuid.uuid4())
        rid = _as_uuid(doc["id"])
        if rid is None:
            raise StorageError(f"invalid id {doc['id']!r}")
        doc["metadata"] = new_metadata(user_id)
        if table.optimistic_locking:
            doc["_version"] = 1
        with _translate_errors(ts, table, doc):
            return await self._on(ts).fetchval(
                f"INSERT INTO {ts.table(table.name)} (id, jsonb) VALUES ($1, $2) RETURNING jsonb", rid, doc
            )

    async def upsert_missing(self, ts: TenantSchema, table: Table, record: dict[str, Any]) -> bool:
        """Insert ``record`` unless its id exists (reference data: a library's edits are kept)."""
        doc = dict(record)
        doc["metadata"] = new_metadata(None)
        if table.optimistic_locking:
            doc["_version"] = 1
        with _translate_errors(ts, table, doc):
            status = await self._on(ts).execute(
                f"INSERT INTO {ts.table(table.name)} (id, jsonb) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                _as_uuid(doc["id"]),
                doc,
            )
        return status.endswith(" 1")

    async def update(
        self, ts: TenantSchema, table: Table, record_id: str, record: dict[str, Any], user_id: str | None
    ) -> dict[str, Any] | None:
        """Replace the record's document, keeping its created* metadata; None when it does not exist.

        With optimistic locking a ``_version`` sent must equal the stored one (409 otherwise); the check
        and the write are one statement, so concurrent updates cannot both win. A record sent without
        ``_version`` replaces the stored one unconditionally, as a PUT without If-Match does (the v0.1
        API has no ``_version``; RMB's failOnConflict would refuse it). Either way the version goes up.
        """
        rid = _as_uuid(record_id)
        if rid is None:
            return None
        doc = dict(record)
        doc["id"] = str(rid)
        doc["metadata"] = new_metadata(user_id)
        target = ts.table(table.name)
        created = (
            "jsonb_strip_nulls(jsonb_build_object('createdDate', t.jsonb->'metadata'->'createdDate', "
            "'createdByUserId', t.jsonb->'metadata'->'createdByUserId', "
            "'createdByUsername', t.jsonb->'metadata'->'createdByUsername'))"
        )
        new_doc = (
            f"jsonb_set($2::jsonb, '{{metadata}}', "
            f"(($2::jsonb->'metadata') - 'createdDate' - 'createdByUserId') || {created})"
        )
        with _translate_errors(ts, table, doc):
            if not table.optimistic_locking:
                return await self._on(ts).fetchval(
                    f"UPDATE {target} AS t SET jsonb = {new_doc} WHERE t.id = $1 RETURNING t.jsonb", rid, doc
                )
            # The stored _version goes up by one, wrapping as RMB does at 2^31.
            sent = record.get("_version")
            doc.pop("_version", None)
            condition = "" if sent is None else " AND (t.jsonb->'_version') IS NOT DISTINCT FROM to_jsonb($3::bigint)"
            row = await self._on(ts).fetchrow(
                f"UPDATE {target} AS t SET jsonb = jsonb_set({new_doc}, '{{_version}}', "
                f"to_jsonb((coalesce((t.jsonb->>'_version')::bigint, 0) + 1) % 2147483648)) "
                f"WHERE t.id = $1{condition} RETURNING t.jsonb",
                rid,
                doc,
                *(() if sent is None else (sent,)),
            )
            if row is not None:
                return row[0]
            stored = await self._on(ts).fetchrow(f"SELECT jsonb->'_version' FROM {target} WHERE id = $1", rid)
            if stored is None:
                return None
            raise VersionConflict(
                f"Cannot update record {rid} because it has been changed (optimistic locking): "
                f"Stored _version is {stored[0]}, _version of request is {sent}"
            )

    async def delete(self, ts: TenantSchema, table: Table, record_id: str) -> bool:
        """Delete one record; False when there was none."""
        rid = _as_uuid(record_id)
        if rid is None:
            return False
        with _translate_errors(ts):
            status = await self._on(ts).execute(f"DELETE FROM {ts.table(table.name)} WHERE id = $1", rid)
        return status == "DELETE 1"

    async def delete_matching(self, ts: TenantSchema, table: Table, query: str) -> int:
        """Delete every record matching the CQL ``query``; return how many went."""
        tr = _translate(table, query)
        return await self.delete_where(ts, table, tr.where, tr.params)

    async def delete_where(self, ts: TenantSchema, table: Table, where: str, params: list[Any]) -> int:
        """Delete every record matching an already translated condition; return how many went."""
        with _translate_errors(ts):
            status = await self._on(ts).execute(f"DELETE FROM {ts.table(table.name)} WHERE {where}", *params)
        return int(status.rsplit(" ", 1)[-1])

    # -- sequences --------------------------------------------------------------------------------
    async def next_value(self, ts: TenantSchema, sequence: str) -> int:
        """The next number of one of the tenant's sequences (never handed out twice, even concurrently)."""
        with _translate_errors(ts):
            return int(await self._on(ts).fetchval("SELECT nextval($1::regclass)", ts.table(sequence)))

    async def claim_free_number(
        self, ts: TenantSchema, table: Table, field: str, sequence: str, maximum: int = INT32_MAX
    ) -> int | None:
        """The lowest number in 1..``maximum`` that no record of ``table`` has in ``field``, looking first
        at or after the sequence's next value and then from 1; the sequence moves to it, so that the
        next ``next_value`` continues after it. None when every number is taken.

        For when ``next_value`` gave a number that is taken (an explicit id, or the sequence started
        over past the top). One statement finds the number, so no retry loop can give up while free
        numbers exist. Allocators serialise on a per-sequence lock held until the caller's transaction
        ends (or this call's own), so that two service instances on one database never pick the same
        number; those on the fast path (``next_value``) get numbers past the one claimed."""
        name = ts.table(sequence)
        async with self.transaction(ts) as tx:
            db = tx._on(ts)
            with _translate_errors(ts):
                await db.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _ID_LOCK_NAMESPACE, name)
                start = int(await db.fetchval("SELECT nextval($1::regclass)", name))
                found = await db.fetchval(_first_free_sql(ts.table(table.name)), field, min(start, maximum), maximum)
                if found is not None:
                    await db.execute("SELECT setval($1::regclass, $2)", name, found)
        return None if found is None else int(found)

    async def advance_sequence(self, ts: TenantSchema, sequence: str, used: int) -> None:
        """Make sure the sequence never hands out ``used`` or anything below it (a number chosen by hand)."""
        name = ts.table(sequence)
        with _translate_errors(ts):
            await self._on(ts).execute(
                f"SELECT setval($1::regclass, GREATEST($2::bigint, last_value)) FROM {name}", name, used
            )


def _first_free_sql(qualified: str) -> str:
    """The lowest free number at or after $2, else from 1, up to $3, of the integer field named $1: the
    candidates are the start, 1, and each taken number plus one."""
    return (
        "WITH taken AS MATERIALIZED (SELECT DISTINCT (jsonb->>$1)::bigint AS k "
        f"FROM {qualified} WHERE jsonb_typeof(jsonb->$1) = 'number' AND jsonb->>$1 ~ '^[0-9]{{1,18}}$'), "
        "candidates AS (SELECT unnest(ARRAY[$2::bigint, 1]) AS c UNION ALL SELECT k + 1 FROM taken WHERE k < $3) "
        "SELECT c FROM candidates WHERE c BETWEEN 1 AND $3 AND NOT EXISTS (SELECT 1 FROM taken WHERE k = c) "
        "ORDER BY c < $2, c LIMIT 1"
    )


@dataclass
class PageReader:
    """A page of records as JSON texts: ``first`` (the whole page when ``rest`` is None), then the chunks
    of ``rest``; ``total(read)`` is the page's totalRecords once ``read`` records have been read."""

    first: list[str]
    rest: AsyncIterator[list[str]] | None
    total: Callable[[int], Awaitable[int]]

    @property
    def complete(self) -> bool:
        """Whether ``first`` is the whole page."""
        return self.rest is None


def _page_sql(
    qualified: str, column: str, where: str, params: list[Any], order_by: str, offset: int, limit: int
) -> tuple[str, list[Any]]:
    """The SELECT of one page of ``column`` (``jsonb``, or ``jsonb::text`` to pass records on as they are)."""
    n = len(params)
    order = f" ORDER BY {order_by}" if order_by else ""
    return f"SELECT {column} FROM {qualified} WHERE {where}{order} LIMIT ${n + 1} OFFSET ${n + 2}", [
        *params,
        limit,
        offset,
    ]


def _gone(con: asyncpg.Connection) -> bool:
    """Whether the connection broke. asyncpg hands a connection that closed mid-operation straight back
    to the pool, after which even asking the proxy raises InterfaceError."""
    try:
        return con.is_closed()
    except asyncpg.InterfaceError:
        return True


async def _roll_back(con: asyncpg.Connection, tx: Any) -> None:
    """Roll back after a failure, unless the connection itself is what failed: then there is nothing to
    roll back on (the server aborts the transaction when the connection goes), and the failure that is
    already on its way (a 503 for a lost database) must not be replaced by the rollback's own."""
    if _gone(con):
        return
    try:
        await tx.rollback()
    except (asyncpg.InterfaceError, asyncpg.InternalClientError, *CONNECTION_ERRORS):
        pass


def _translate(table: Table, query: str) -> cql.Translation:
    """A CQL query as SQL over ``table``, using its declared indexes and server-choice fields."""
    return cql.translate(query, indexes=table.indexes, server_choice=table.server_choice)


def _as_uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, AttributeError):
        return None


def _plan_rows(plan: str) -> float:
    """Rows the planner expects, from ``EXPLAIN (FORMAT JSON)`` (json, which asyncpg hands over as text)."""
    return float(json.loads(plan)[0]["Plan"]["Plan Rows"])
