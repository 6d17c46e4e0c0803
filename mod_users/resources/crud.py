"""FOLIO-style CRUD for a JSONB record collection (RMB's PgUtil): list with CQL, create, read, replace,
delete. A resource declares a :class:`Collection` and adds only its own rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from mod_users import cql
from mod_users.errors import BadRequest, NotFound, ValidationFailed, folio_error
from mod_users.routing import Call, Route, json_response
from mod_users.storage.errors import DuplicateRecord
from mod_users.storage.tables import Table

# A business rule looks at a valid record and returns FOLIO error entries (empty when it passes).
Rule = Callable[[dict[str, Any]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Collection:
    """A collection path with its item route, table, JSON key for lists, and business rules."""

    path: str
    item_param: str
    table: Table
    key: str
    noun: str
    rules: tuple[Rule, ...] = ()

    @property
    def item_path(self) -> str:
        return f"{self.path}/{{{self.item_param}}}"

    def check(self, record: dict[str, Any]) -> None:
        errors = [e for rule in self.rules for e in rule(record)]
        if errors:
            raise ValidationFailed(errors)

    # handlers ------------------------------------------------------------------------------------
    async def list(self, call: Call) -> web.StreamResponse:
        try:
            page = await call.store.search(call.tenant, self.table, call.params.get("query"),
                                           call.params["offset"], call.params["limit"])
        except cql.CQLError as exc:
            raise BadRequest(f"unable to list {self.path.strip('/')} -- malformed parameter 'query', {exc}") from None
        return json_response({self.key: page.records, "totalRecords": page.total})

    async def create(self, call: Call) -> web.StreamResponse:
        record = call.body
        self.check(record)
        try:
            stored = await call.store.insert(call.tenant, self.table, record, call.okapi.user_id)
        except DuplicateRecord as exc:
            raise ValidationFailed([folio_error(str(exc), "id", record.get("id"))]) from None
        return json_response(stored, status=201, headers={"Location": f"{self.path}/{stored['id']}"})

    async def read(self, call: Call) -> web.StreamResponse:
        record_id = call.path(self.item_param)
        record = await call.store.get(call.tenant, self.table, record_id)
        if record is None:
            raise NotFound(f"{self.noun} not found: {record_id[:64]}")
        return json_response(record)

    async def replace(self, call: Call) -> web.StreamResponse:
        record_id = call.path(self.item_param)
        record = call.body
        if "id" in record and str(record["id"]).lower() != record_id.lower():
            raise ValidationFailed([folio_error(
                "Illegal operation: id field cannot be changed", "id", record["id"])])
        self.check(record)
        try:
            stored = await call.store.update(call.tenant, self.table, record_id, record, call.okapi.user_id)
        except DuplicateRecord as exc:
            raise ValidationFailed([folio_error(str(exc))]) from None
        if stored is None:
            raise NotFound(f"{self.noun} not found: {record_id[:64]}")
        return web.Response(status=204)

    async def remove(self, call: Call) -> web.StreamResponse:
        record_id = call.path(self.item_param)
        if not await call.store.delete(call.tenant, self.table, record_id):
            raise NotFound(f"{self.noun} not found: {record_id[:64]}")
        return web.Response(status=204)

    def routes(self) -> tuple[Route, ...]:
        return (
            Route("GET", self.path, self.list),
            Route("POST", self.path, self.create),
            Route("GET", self.item_path, self.read),
            Route("PUT", self.item_path, self.replace),
            Route("DELETE", self.item_path, self.remove),
        )

