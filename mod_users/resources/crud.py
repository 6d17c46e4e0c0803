"""FOLIO-style CRUD for a JSONB record collection (RMB's PgUtil): list with CQL, create, read, replace,
delete. A resource declares a :class:`Collection` and adds only its own rules: plain ones on the record,
``checks`` that look at other records, a ``prepare`` step for server-chosen fields, ``delete_checks`` that
may refuse a delete (something still refers to the record), and ``dependents`` deleted together with a
record."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from mod_users import cql
from mod_users.errors import BadRequest, NotFound, ValidationFailed, folio_error
from mod_users.routing import Call, Route, json_response
from mod_users.state import SETTINGS
from mod_users.storage.records import PageReader, RecordStore
from mod_users.storage.tables import Table
from mod_users.storage.tenants import TenantSchema

log = logging.getLogger(__name__)

# A business rule looks at a valid record and returns FOLIO error entries (empty when it passes).
Rule = Callable[[dict[str, Any]], list[dict[str, Any]]]
# A check is a rule that needs other records (a reference that must exist): (store, tenant, record).
Check = Callable[[RecordStore, TenantSchema, dict[str, Any]], Awaitable[list[dict[str, Any]]]]
# Preparing fills server-chosen fields before a record is stored: (call, record, the stored record when
# replacing, None when creating) -> the record to store. It may raise ValidationFailed.
Prepare = Callable[[Call, dict[str, Any], dict[str, Any] | None], Awaitable[dict[str, Any]]]
# The records that go when a record is deleted: (table, CQL query) pairs computed from the record.
Dependents = Callable[[dict[str, Any]], tuple[tuple[Table, str], ...]]


@dataclass(frozen=True)
class Collection:
    """A collection path with its item route, table, JSON key for lists, and business rules."""

    path: str
    item_param: str
    table: Table
    key: str
    noun: str
    rules: tuple[Rule, ...] = ()
    checks: tuple[Check, ...] = ()
    prepare: Prepare | None = None
    dependents: Dependents | None = None
    # Checks of the stored record before it is deleted (422 when one fails), e.g. that nothing refers to it.
    delete_checks: tuple[Check, ...] = ()

    @property
    def item_path(self) -> str:
        return f"{self.path}/{{{self.item_param}}}"

    def not_found(self, record_id: str) -> NotFound:
        return NotFound(f"{self.noun} not found: {record_id[:64]}")

    async def check(self, store: RecordStore, tenant: TenantSchema, record: dict[str, Any]) -> None:
        """Raise one 422 listing every rule and check the record breaks."""
        errors = [e for rule in self.rules for e in rule(record)]
        for check in self.checks:
            errors += await check(store, tenant, record)
        if errors:
            raise ValidationFailed(errors)

    @contextlib.asynccontextmanager
    async def _writing(self, call: Call) -> AsyncIterator[RecordStore]:
        """The store a write and its checks use: with checks, one transaction, so that a check that locks
        what it reads (a referenced record, ``for_update``) holds it until the write commits."""
        if not self.checks:
            yield call.store
            return
        async with call.store.transaction(call.tenant) as tx:
            yield tx

    # handlers ------------------------------------------------------------------------------------
    async def list(self, call: Call) -> web.StreamResponse:
        params = call.params
        try:
            async with call.store.open_page(
                call.tenant, self.table, params.get("query"), params["offset"], params["limit"]
            ) as page:
                if page.complete:
                    return _page_response(self.key, page.first, await page.total(len(page.first)))
                return await _stream_page(call, self.key, page)
        except cql.CQLError as exc:
            raise BadRequest(f"unable to list {self.path.strip('/')} -- malformed parameter 'query', {exc}") from None

    async def create(self, call: Call) -> web.StreamResponse:
        record = call.body
        if self.prepare is not None:
            record = await self.prepare(call, record, None)
        async with self._writing(call) as store:
            await self.check(store, call.tenant, record)
            stored = await store.insert(call.tenant, self.table, record, call.okapi.user_id)
        return json_response(stored, status=201, headers={"Location": f"{self.path}/{stored['id']}"})

    async def read(self, call: Call) -> web.StreamResponse:
        record_id = call.path(self.item_param)
        record = await call.store.get(call.tenant, self.table, record_id)
        if record is None:
            raise self.not_found(record_id)
        return json_response(record)

    async def replace(self, call: Call) -> web.StreamResponse:
        record_id = call.path(self.item_param)
        record = call.body
        if "id" in record and str(record["id"]).lower() != record_id.lower():
            raise ValidationFailed([folio_error("Illegal operation: id field cannot be changed", "id", record["id"])])
        if self.prepare is not None or self.checks:
            # A missing record is 404 before any rule that reads other records or the stored one.
            stored = await call.store.get(call.tenant, self.table, record_id)
            if stored is None:
                raise self.not_found(record_id)
            if self.prepare is not None:
                record = await self.prepare(call, record, stored)
        async with self._writing(call) as store:
            await self.check(store, call.tenant, record)
            stored = await store.update(call.tenant, self.table, record_id, record, call.okapi.user_id)
        if stored is None:
            raise self.not_found(record_id)
        return web.Response(status=204)

    async def remove(self, call: Call) -> web.StreamResponse:
        record_id = call.path(self.item_param)
        if self.dependents is None and not self.delete_checks:
            if not await call.store.delete(call.tenant, self.table, record_id):
                raise self.not_found(record_id)
            return web.Response(status=204)
        async with call.store.transaction(call.tenant) as tx:
            # Locked until the delete commits: the record cannot change or go while its checks run.
            record = await tx.get(call.tenant, self.table, record_id, for_update=True)
            if record is None:
                raise self.not_found(record_id)
            errors = [e for check in self.delete_checks for e in await check(tx, call.tenant, record)]
            if errors:
                raise ValidationFailed(errors)
            for table, query in self.dependents(record) if self.dependents is not None else ():
                await tx.delete_matching(call.tenant, table, query)
            await tx.delete(call.tenant, self.table, record_id)
        return web.Response(status=204)

    def routes(self) -> tuple[Route, ...]:
        return (
            Route("GET", self.path, self.list),
            Route("POST", self.path, self.create),
            Route("GET", self.item_path, self.read),
            Route("PUT", self.item_path, self.replace),
            Route("DELETE", self.item_path, self.remove),
        )


def _page_response(key: str, records: list[str], total: int) -> web.Response:
    """The collection document (records are JSON texts as the database gave them)."""
    body = f'{{{json.dumps(key)}: [{", ".join(records)}], "totalRecords": {total}}}'
    return web.Response(body=body.encode(), content_type="application/json")


async def _stream_page(call: Call, key: str, page: PageReader) -> web.StreamResponse:
    """Send a page larger than one chunk as it is read: the records of each chunk go out before the next
    chunk is fetched, and totalRecords follows them (as RMB's streamGet writes it), so that memory stays
    that of one chunk whatever ``limit`` is (a 2147483647 limit on 207,000 records took 1.4 GB).

    A failure once the 200 has gone out cannot become an error answer: the connection is then closed
    without ending the body, so the client sees a broken transfer rather than a short list that looks
    whole. The whole page must go out within DB_QUERYTIMEOUT, as a statement must: a client that reads
    slowly cannot hold a database connection for longer.
    """
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(call.request)
    read = 0
    try:
        async with asyncio.timeout(call.request.app[SETTINGS].db.query_timeout_ms / 1000):
            await response.write(f"{{{json.dumps(key)}: [".encode())
            await response.write(", ".join(page.first).encode())
            read = len(page.first)
            assert page.rest is not None
            async for chunk in page.rest:
                await response.write((", " + ", ".join(chunk)).encode())
                read += len(chunk)
            total = await page.total(read)
            await response.write(f'], "totalRecords": {total}}}'.encode())
    except Exception as exc:  # the status is sent: nothing left to do but cut the transfer off
        log.warning("streamed page cut off", extra={"records": read, "error": f"{exc.__class__.__name__}: {exc}"})
        transport = call.request.transport
        if transport is not None:
            transport.abort()
    return response
