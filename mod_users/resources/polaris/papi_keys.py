"""PAPI access keys, managed through the gateway like staff users (``/polaris/papi-keys``).

A PAPI client signs every call with its key (``Authorization: PWS AccessID@domain:signature``, see
:mod:`pws`). HMAC needs the key itself on both sides, so the module keeps it, in a row apart from the
record: it is shown once, in the answer to the POST that creates it (generated there unless the POST
brings one), and never again; a PUT may bring a new one. The record id is derived from the AccessID.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from mod_users.errors import ValidationFailed, folio_error
from mod_users.resources.crud import Collection
from mod_users.resources.polaris.ids import ID_IS_DERIVED, NAMESPACE
from mod_users.resources.polaris.tokens import random_text
from mod_users.routing import Call, json_response
from mod_users.storage.records import RecordStore
from mod_users.storage.tables import POLARIS_PAPI_KEY_SECRETS, POLARIS_PAPI_KEYS
from mod_users.storage.tenants import TenantSchema


def key_id(access_id: str) -> str:
    """The record id of an AccessID (compared ignoring case)."""
    return str(uuid.uuid5(NAMESPACE, "papi-key:" + access_id.casefold()))


async def _prepare(call: Call, record: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    derived = key_id(record["AccessID"]) if stored is None else stored["id"]
    if stored is not None and record["AccessID"].casefold() != stored["AccessID"].casefold():
        raise ValidationFailed([folio_error("AccessID cannot be changed", "AccessID", record["AccessID"])])
    if record.get("id") is not None and str(record["id"]).lower() != derived:
        raise ValidationFailed(
            [folio_error(f"{ID_IS_DERIVED} AccessID: leave it out or send {derived}", "id", record["id"])]
        )
    return {**record, "id": derived}


async def access_key(store: RecordStore, ts: TenantSchema, access_id: str) -> str | None:
    """The key of an enabled PAPI access id, else None."""
    record = await store.get(ts, POLARIS_PAPI_KEYS, key_id(access_id))
    if record is None or record.get("Enabled") is not True:
        return None
    secret = await store.get(ts, POLARIS_PAPI_KEY_SECRETS, record["id"])
    return secret["AccessKey"] if secret else None


async def _keep(tx: RecordStore, ts: TenantSchema, record_id: str, key: str) -> None:
    row = {"id": record_id, "AccessKey": key}
    if await tx.update(ts, POLARIS_PAPI_KEY_SECRETS, record_id, row, None) is None:
        await tx.insert(ts, POLARIS_PAPI_KEY_SECRETS, row, None)


class PapiKeys(Collection):
    """The CRUD collection, writing each record together with its key."""

    async def create(self, call: Call) -> web.StreamResponse:
        record = await _prepare(call, call.body, None)
        key = record.pop("AccessKey", None) or random_text()
        async with call.store.transaction(call.tenant) as tx:
            stored = await tx.insert(call.tenant, self.table, record, call.okapi.user_id)
            await _keep(tx, call.tenant, stored["id"], key)
        # The one answer that shows the key.
        return json_response(
            {**stored, "AccessKey": key}, status=201, headers={"Location": f"{self.path}/{stored['id']}"}
        )

    async def replace(self, call: Call) -> web.StreamResponse:
        record_id = call.path(self.item_param)
        stored = await call.store.get(call.tenant, self.table, record_id)
        if stored is None:
            raise self.not_found(record_id)
        record = await _prepare(call, call.body, stored)
        key = record.pop("AccessKey", None)
        async with call.store.transaction(call.tenant) as tx:
            if await tx.update(call.tenant, self.table, record_id, record, call.okapi.user_id) is None:
                raise self.not_found(record_id)
            if key:
                await _keep(tx, call.tenant, record_id, key)
        return web.Response(status=204)

    async def remove(self, call: Call) -> web.StreamResponse:
        record_id = call.path(self.item_param)
        async with call.store.transaction(call.tenant) as tx:
            if not await tx.delete(call.tenant, self.table, record_id):
                raise self.not_found(record_id)
            await tx.delete(call.tenant, POLARIS_PAPI_KEY_SECRETS, record_id)
        return web.Response(status=204)


PAPI_KEYS_API = PapiKeys(
    path="/polaris/papi-keys",
    item_param="papiKeyId",
    table=POLARIS_PAPI_KEYS,
    key="papiKeys",
    noun="PAPI key",
)

ROUTES = PAPI_KEYS_API.routes()

__all__ = ["PAPI_KEYS_API", "ROUTES", "access_key", "key_id"]
