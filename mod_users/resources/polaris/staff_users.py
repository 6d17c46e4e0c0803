"""Polaris staff users, managed through the gateway like any FOLIO record (``/polaris/staff-users``).

A staff user is who a Polaris client logs in as on the Polaris listener. Besides its record, each user has a
login row named by its login (``DOMAIN\\user`` in lower case, the row id derived from it) that holds the
password's salted scrypt hash: a login reads it by primary key, and the hash never travels with the record,
so no listing or read can return it. Record and login row change in one transaction. Disabling, deleting,
renaming a user or giving it a new password ends every token it holds.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from mod_users.errors import ValidationFailed, folio_error
from mod_users.resources.crud import Collection
from mod_users.resources.polaris import organizations, tokens
from mod_users.resources.polaris.ids import NAMESPACE, IdKind
from mod_users.resources.polaris.passwords import VERIFIER
from mod_users.resources.polaris.permissions import permissions_for
from mod_users.routing import Call, json_response
from mod_users.state import SETTINGS
from mod_users.storage.records import RecordStore
from mod_users.storage.tables import (
    POLARIS_STAFF_LOGINS,
    POLARIS_STAFF_USER_IDS,
    POLARIS_STAFF_USERS,
)
from mod_users.storage.tenants import TenantSchema

STAFF_USER = IdKind("staff-user", "PolarisUserID", POLARIS_STAFF_USERS, POLARIS_STAFF_USER_IDS)
PASSWORD_REQUIRED = "Password is required when creating a staff user"
LOGIN_TAKEN = "A staff user with this UserDomain and UserName already exists"


def login_name(domain: str, name: str) -> str:
    """``domain\\name`` as logins are compared: ignoring case."""
    return f"{domain}\\{name}".casefold()


def login_row_id(login: str) -> str:
    """The login row's id, from the compared form of the login (:func:`login_name`)."""
    return str(uuid.uuid5(NAMESPACE, "staff-login:" + login))


async def _branch_is_a_branch(store: RecordStore, ts: TenantSchema, record: dict[str, Any]) -> list[dict[str, Any]]:
    branch = record.get("BranchID")
    if branch is None:
        return []
    organization = await organizations.ORGANIZATION.get(store, ts, branch)
    if organization is None or organization["OrganizationCodeID"] != organizations.BRANCH:
        return [folio_error("BranchID must be a branch", "BranchID", branch)]
    return []


def _known_permissions(call: Call, record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every permission is one the descriptor knows by its Polaris name (a misspelt one would grant nothing)."""
    known = permissions_for(call.request.app[SETTINGS].contract_dir).folio_of
    return [
        folio_error(f"Unknown Polaris permission {name}; known: {', '.join(sorted(known))}", "Permissions", name)
        for name in record["Permissions"]
        if name not in known
    ]


async def _prepare(call: Call, record: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    errors = _known_permissions(call, record)
    if stored is None and not record.get("Password"):
        errors.append(folio_error(PASSWORD_REQUIRED, "Password", None))
    if errors:
        raise ValidationFailed(errors)
    return await STAFF_USER.prepare(call, record, stored)


class StaffUsers(Collection):
    """The CRUD collection, writing each record together with its login row."""

    async def create(self, call: Call) -> web.StreamResponse:
        record = await self.prepare(call, call.body, None)  # type: ignore[misc]
        await self.check(call.store, call.tenant, record)
        password = record.pop("Password")
        digest = await VERIFIER.hash(password)
        async with call.store.transaction(call.tenant) as tx:
            stored = await tx.insert(call.tenant, self.table, record, call.okapi.user_id)
            await _claim_login(tx, call.tenant, stored, digest)
        return json_response(stored, status=201, headers={"Location": f"{self.path}/{stored['id']}"})

    async def replace(self, call: Call) -> web.StreamResponse:
        record_id = call.path(self.item_param)
        record = call.body
        if "id" in record and str(record["id"]).lower() != record_id.lower():
            raise ValidationFailed([folio_error("Illegal operation: id field cannot be changed", "id", record["id"])])
        stored = await call.store.get(call.tenant, self.table, record_id)
        if stored is None:
            raise self.not_found(record_id)
        record = await self.prepare(call, record, stored)  # type: ignore[misc]
        await self.check(call.store, call.tenant, record)
        password = record.pop("Password", None)
        digest = await VERIFIER.hash(password) if password else None
        ts = call.tenant
        async with call.store.transaction(ts) as tx:
            current = await tx.get(ts, self.table, record_id, for_update=True)
            if current is None:
                raise self.not_found(record_id)
            updated = await tx.update(ts, self.table, record_id, record, call.okapi.user_id)
            if updated is None:
                raise self.not_found(record_id)
            old, new = _login_of(current), _login_of(updated)
            if old != new:
                row = await tx.get(ts, POLARIS_STAFF_LOGINS, login_row_id(old))
                await tx.delete(ts, POLARIS_STAFF_LOGINS, login_row_id(old))
                await _claim_login(tx, ts, updated, digest or (row or {}).get("PasswordHash"))
            elif digest is not None:
                await _claim_login(tx, ts, updated, digest)
            if digest is not None or old != new or (current.get("Enabled") and not updated.get("Enabled")):
                await tokens.revoke_all(tx, ts, updated["id"])
        return web.Response(status=204)

    async def remove(self, call: Call) -> web.StreamResponse:
        record_id = call.path(self.item_param)
        ts = call.tenant
        async with call.store.transaction(ts) as tx:
            record = await tx.get(ts, self.table, record_id, for_update=True)
            if record is None:
                raise self.not_found(record_id)
            await tx.delete(ts, POLARIS_STAFF_LOGINS, login_row_id(_login_of(record)))
            await tokens.revoke_all(tx, ts, record["id"])
            await tx.delete(ts, self.table, record_id)
        return web.Response(status=204)


def _login_of(record: dict[str, Any]) -> str:
    return login_name(record["UserDomain"], record["UserName"])


async def _claim_login(tx: RecordStore, ts: TenantSchema, user: dict[str, Any], digest: str | None) -> None:
    """Point the user's login row at the user with this password hash (failed attempts recorded for the name
    before it existed are kept: a locked name stays locked). 422 when another user has the login."""
    login = _login_of(user)
    row = await locked_login_row(tx, ts, login)
    if row.get("StaffUserID") not in (None, user["id"]):
        raise ValidationFailed([folio_error(LOGIN_TAKEN, "UserName", user["UserName"])])
    claimed = {**row, "StaffUserID": user["id"], "PasswordHash": digest}
    claimed.pop("ForgetAfter", None)
    claimed.pop("metadata", None)
    await tx.update(ts, POLARIS_STAFF_LOGINS, row["id"], claimed, None)


async def locked_login_row(tx: RecordStore, ts: TenantSchema, login: str) -> dict[str, Any]:
    """The login row of ``login``, created empty when there is none, locked until ``tx`` ends (concurrent
    callers create it once and then take turns)."""
    row_id = login_row_id(login)
    row = await tx.get(ts, POLARIS_STAFF_LOGINS, row_id, for_update=True)
    if row is None:
        await tx.upsert_missing(ts, POLARIS_STAFF_LOGINS, {"id": row_id, "Login": login, "Failures": 0})
        row = await tx.get(ts, POLARIS_STAFF_LOGINS, row_id, for_update=True)
    return row


STAFF_USERS_API = StaffUsers(
    path="/polaris/staff-users",
    item_param="staffUserId",
    table=POLARIS_STAFF_USERS,
    key="staffUsers",
    noun="Staff user",
    checks=(organizations.organization_exists, _branch_is_a_branch),
    prepare=_prepare,
)

ROUTES = STAFF_USERS_API.routes()

__all__ = ["ROUTES", "STAFF_USER", "STAFF_USERS_API", "locked_login_row", "login_name", "login_row_id"]
