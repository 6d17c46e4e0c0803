"""Staff login: ``POST …/authentication/staffuser`` with ``Authorization: Basic base64(DOMAIN\\user:password)``.

The answer is Polaris' (SiteDomain, UserDomain, AccessToken, AccessSecret, AuthExpDate, PolarisUser), the
token good for ``PAS`` calls until AuthExpDate. DCB logs in before every call, so the usual login costs three
primary-key reads and writes and no hashing: a password verified a short while ago in this process is
recognised (see :mod:`passwords`).

Bad passwords: every login name (known or not) counts its failed attempts in its login row. An attempt
that needs the slow hash is first counted, under the row's lock, and MAX_FAILURES counted attempts in a row
lock the name for LOCK_SECONDS: a burst of bad passwords gets MAX_FAILURES verified answers, then 401s that
cost no hashing, all alike, and a correct password clears the count. While a name is locked even its right
password is refused: the lock's point is that no guess is checked. Unknown names answer the same 401 after
the same work, so the answers do not tell which names exist.
"""

from __future__ import annotations

import base64
import binascii
import logging
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from mod_users import cql
from mod_users.okapi import OkapiContext
from mod_users.resources.polaris import tokens
from mod_users.resources.polaris.context import PREFIX
from mod_users.resources.polaris.domains import site_domain, tenant_of
from mod_users.resources.polaris.pas import unauthorized
from mod_users.resources.polaris.passwords import VERIFIER
from mod_users.resources.polaris.staff_users import STAFF_USER, locked_login_row, login_name, login_row_id
from mod_users.resources.polaris.style import PolarisStyle
from mod_users.routing import OKAPI_KEY, Call, Route, json_response
from mod_users.state import SETTINGS
from mod_users.storage.errors import InvalidTenant, TenantNotInitialised
from mod_users.storage.records import RecordStore
from mod_users.storage.tables import POLARIS_STAFF_LOGINS
from mod_users.storage.tenants import TenantSchema

MAX_FAILURES = 5
LOCK_SECONDS = 300
# A row that only counts failures of a name no user has is forgotten this long after its last failure.
FORGET_SECONDS = 3600
# One login in this many also deletes the tenant's expired tokens and forgotten names (no scheduler needed,
# and the table stays as large as a day's logins).
PURGE_ONE_IN = 64
REFUSED = "Invalid domain, user name or password."
_MAX_HEADER = 4096
log = logging.getLogger(__name__)

CREDENTIALS = web.RequestKey("polaris_login_credentials", tuple[str, str, str])


def _credentials(header: str | None) -> tuple[str, str, str]:
    """(domain, user, password) of a Basic header whose user part is ``DOMAIN\\user``; 401 otherwise."""
    if not header:
        raise unauthorized("Authentication required: Authorization: Basic base64(DOMAIN\\user:password)", "Basic")
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or len(header) > _MAX_HEADER:
        raise unauthorized("Malformed Authorization header: expected Basic base64(DOMAIN\\user:password)", "Basic")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise unauthorized("Malformed Authorization header: not base64 of UTF-8 text", "Basic") from None
    user_part, colon, password = decoded.partition(":")
    domain, backslash, user = user_part.partition("\\")
    if not colon or not backslash or not domain or not user or not password:
        raise unauthorized("Malformed credentials: expected DOMAIN\\user:password (the domain is required)", "Basic")
    return domain, user, password


async def basic_context(request: web.Request) -> OkapiContext:
    """The login's tenant (the one its user domain names) and its credentials, kept for the handler."""
    domain, user, password = _credentials(request.headers.get("Authorization"))
    try:
        tenant = tenant_of(request.app[SETTINGS], domain)
    except InvalidTenant:
        raise unauthorized(REFUSED, "Basic") from None
    request[CREDENTIALS] = (domain, user, password)
    return OkapiContext(tenant.tenant, None, None, request[OKAPI_KEY].request_id, username=user)


def _locked(row: dict[str, Any] | None, now: datetime) -> bool:
    until = (row or {}).get("LockedUntil")
    return until is not None and until > tokens.stamp(now)


async def _count_attempt(store: RecordStore, ts: TenantSchema, login: str, now: datetime) -> dict[str, Any]:
    """Count an attempt for ``login`` before its password is checked; the row as it was. 401 when the name is
    locked (then nothing is counted)."""
    async with store.transaction(ts) as tx:
        row = await locked_login_row(tx, ts, login)
        if _locked(row, now):
            raise unauthorized(REFUSED, "Basic")
        stale = row.get("LockedUntil") is not None  # a lock that has run out starts afresh
        failures = 1 if stale else int(row.get("Failures") or 0) + 1
        counted = {**row, "Failures": failures, "LockedUntil": None}
        counted.pop("metadata", None)
        if failures >= MAX_FAILURES:
            counted["LockedUntil"] = tokens.stamp(now + timedelta(seconds=LOCK_SECONDS))
        if counted.get("StaffUserID") is None:
            counted["ForgetAfter"] = tokens.stamp(now + timedelta(seconds=FORGET_SECONDS))
        await tx.update(ts, POLARIS_STAFF_LOGINS, row["id"], counted, None)
    return row


async def _clear_attempts(store: RecordStore, ts: TenantSchema, login: str) -> None:
    row_id = login_row_id(login)
    async with store.transaction(ts) as tx:
        row = await tx.get(ts, POLARIS_STAFF_LOGINS, row_id, for_update=True)
        if row is not None and (row.get("Failures") or row.get("LockedUntil")):
            cleared = {**row, "Failures": 0, "LockedUntil": None}
            cleared.pop("metadata", None)
            await tx.update(ts, POLARIS_STAFF_LOGINS, row_id, cleared, None)


async def _purge(store: RecordStore, ts: TenantSchema) -> None:
    now = tokens.stamp(datetime.now(UTC))
    expired = await tokens.purge_expired(store, ts)
    forgotten = await store.delete_matching(ts, POLARIS_STAFF_LOGINS, f"ForgetAfter<{cql.quote(now)}")
    log.info("expired staff tokens purged", extra={"tokens": expired, "forgottenLogins": forgotten})


async def authenticated(call: Call, domain: str, user: str, password: str) -> dict[str, Any]:
    """The enabled staff user these credentials log in as; 401 otherwise (see the module's notes)."""
    store, ts = call.store, call.tenant
    login = login_name(domain, user)
    now = datetime.now(UTC)
    row = await store.get(ts, POLARIS_STAFF_LOGINS, login_row_id(login))
    if _locked(row, now):
        log.info("staff login refused: locked", extra={"login": login})
        raise unauthorized(REFUSED, "Basic")
    if not VERIFIER.remembers(login, (row or {}).get("PasswordHash"), password):
        row = await _count_attempt(store, ts, login, now)
        if not await VERIFIER.verify(login, row.get("PasswordHash"), password):
            log.info("staff login refused: wrong password or unknown user", extra={"login": login})
            raise unauthorized(REFUSED, "Basic")
        await _clear_attempts(store, ts, login)
    staff_id = (row or {}).get("StaffUserID")
    staff = await store.get(ts, STAFF_USER.table, staff_id) if staff_id else None
    if staff is None or staff.get("Enabled") is not True:
        log.info("staff login refused: user disabled or deleted", extra={"login": login})
        raise unauthorized(REFUSED, "Basic")
    return staff


def _polaris_user(staff: dict[str, Any]) -> dict[str, Any]:
    """PolarisUser as Polaris answers it (CreatorID/ModifierID are Polaris user ids, which FOLIO records
    do not have: null)."""
    meta = staff.get("metadata") or {}
    created, updated = meta.get("createdDate"), meta.get("updatedDate")
    return {
        "PolarisUserID": staff["PolarisUserID"],
        "OrganizationID": staff["OrganizationID"],
        "Name": staff["UserName"],
        "BranchID": staff.get("BranchID"),
        "Enabled": staff["Enabled"],
        "CreatorID": None,
        "ModifierID": None,
        "CreationDate": created,
        "ModificationDate": updated if updated != created else None,
    }


async def post_staffuser(call: Call) -> web.StreamResponse:
    """POST authentication/staffuser: a new access token and secret for a staff user's Basic credentials."""
    domain, user, password = call.request[CREDENTIALS]
    try:
        staff = await authenticated(call, domain, user, password)
    except TenantNotInitialised:
        raise unauthorized(REFUSED, "Basic") from None
    settings = call.request.app[SETTINGS]
    if random.randrange(PURGE_ONE_IN) == 0:  # not a secret: only spreads the purge's cost
        await _purge(call.store, call.tenant)
    issued = await tokens.issue(call.store, call.tenant, staff["id"], settings.polaris_token_seconds)
    log.info("staff login", extra={"login": login_name(domain, user), "expires": tokens.stamp(issued.expires)})
    return json_response(
        {
            "SiteDomain": site_domain(settings, call.tenant.tenant),
            "UserDomain": staff["UserDomain"],
            "AccessToken": issued.token,
            "AccessSecret": issued.secret,
            "AuthExpDate": issued.expires.isoformat(timespec="milliseconds"),
            "PolarisUser": _polaris_user(staff),
            "ERMSNetworkAddress": None,
            "DataSource": None,
        }
    )


# The login URL has no site domain (Polaris' staff authentication is the one call without one): the user
# domain names the tenant instead.
LOGIN_STYLE = PolarisStyle(PREFIX.split("/")[1], authenticate=basic_context)
ROUTES = (
    Route(
        "POST",
        "/polaris.applicationservices/api/{version}/{lang}/{productId}/authentication/staffuser",
        post_staffuser,
        style=LOGIN_STYLE,
        case_insensitive_prefix=True,
    ),
)

__all__ = [
    "CREDENTIALS",
    "LOCK_SECONDS",
    "MAX_FAILURES",
    "REFUSED",
    "ROUTES",
    "authenticated",
    "basic_context",
    "post_staffuser",
]
