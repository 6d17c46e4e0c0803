"""PWS: how a PAPI call says who signs it (``Authorization: PWS AccessID@domain:signature``).

The signature is PAPI's: ``Base64(HMAC-SHA1(AccessKey, method + URL + date + secret))``, the date the call's
``PolarisDate`` header (``Date`` when there is none, as PAPI allows), in RFC 1123 form ("Sat, 14 May 2011
22:23:32 GMT"). The secret is the AccessSecret of a staff override (``X-PAPI-AccessToken``, as DCB calls public
methods as staff), or nothing. PAPI also accepts a patron's password there; this module keeps no patron
passwords, so such a signature cannot be verified and is refused like any wrong one.

Which tenant: PAPI URLs name none, so the AccessID does, as ``id@domain`` (the domain as everywhere on the
Polaris listener: the tenant of that name, or the one ``MOD_USERS_POLARIS_DOMAINS`` maps it to). The URL is
the one the client signed: scheme, host and path with its query as sent; a proxy in front may have changed
the scheme, so both are tried. A date further than MAX_SKEW from the server's clock is refused, so that a
captured call can be replayed only within that window (as with PAPI itself).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from aiohttp import web

from mod_users.errors import POLARIS_UNAUTHORIZED
from mod_users.okapi import OkapiContext
from mod_users.resources.polaris import papi_keys, tokens
from mod_users.resources.polaris.caller import STAFF_USER
from mod_users.resources.polaris.domains import tenant_of
from mod_users.resources.polaris.papi_style import PapiError
from mod_users.resources.polaris.permissions import permissions_for
from mod_users.routing import OKAPI_KEY
from mod_users.state import SETTINGS, STORE
from mod_users.storage.errors import InvalidTenant, TenantNotInitialised
from mod_users.storage.tables import POLARIS_STAFF_USERS
from mod_users.storage.tenants import TenantSchema

FORMAT = "Authorization: PWS AccessID@domain:signature, and PolarisDate: <RFC 1123 date>"
MAX_SKEW = timedelta(minutes=15)
STAFF_OVERRIDE = "X-PAPI-AccessToken"
_MAX_HEADER = 1024
# Set once a call's signature is verified: the access id and key it was signed with.
SIGNED_BY = web.RequestKey("papi_signed_by", tuple[str, str])


def unauthorized(message: str) -> PapiError:
    return PapiError(401, message, POLARIS_UNAUTHORIZED, headers={"WWW-Authenticate": "PWS"})


def signature(key: str, method: str, url: str, date: str, secret: str = "") -> str:
    """PAPI's request signature."""
    digest = hmac.new(key.encode("utf-8"), f"{method}{url}{date}{secret}".encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _parts(header: str | None) -> tuple[str, str, str]:
    """(access id, domain, signature) of a PWS header; 401 otherwise."""
    if not header:
        raise unauthorized(f"Authentication required: send {FORMAT}")
    scheme, _, credentials = header.strip().partition(" ")
    access, _, signed = credentials.strip().rpartition(":")
    access_id, at, domain = access.partition("@")
    if scheme.upper() != "PWS" or len(header) > _MAX_HEADER or not (access_id and at and domain and signed):
        raise unauthorized(f"Malformed Authorization header: expected {FORMAT}")
    return access_id, domain, signed


def _date(request: web.Request) -> str:
    """The signed date, if it is one and near enough the server's clock; 401 otherwise."""
    text = request.headers.get("PolarisDate") or request.headers.get("Date")
    if not text:
        raise unauthorized("A PolarisDate header is required (RFC 1123, e.g. 'Sat, 14 May 2011 22:23:32 GMT')")
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        raise unauthorized("PolarisDate is not an RFC 1123 date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if abs(datetime.now(UTC) - moment) > MAX_SKEW:
        raise unauthorized(
            f"PolarisDate is more than {int(MAX_SKEW.total_seconds() // 60)} minutes from the server's clock"
        )
    return text


def _signed_urls(request: web.Request) -> list[str]:
    """The URLs the client may have signed: as it sent the request (scheme either way, host as sent or in
    lower case), and the path alone."""
    schemes = dict.fromkeys([request.headers.get("X-Forwarded-Proto", request.scheme), request.scheme, "https", "http"])
    hosts = dict.fromkeys([request.host, request.host.lower()])
    return [f"{s}://{h}{request.raw_path}" for s in schemes for h in hosts] + [request.raw_path]


async def _override(
    request: web.Request, tenant: TenantSchema, access_id: str, key: str
) -> tuple[dict[str, Any] | None, str]:
    """The staff user of a staff override and the secret it signs with, or (None, "") without one."""
    token = request.headers.get(STAFF_OVERRIDE)
    if not token:
        return None, ""
    store = request.app[STORE]
    holder = await tokens.papi_holder(store, tenant, token, access_id)
    staff = await store.get(tenant, POLARIS_STAFF_USERS, holder) if holder else None
    if staff is None or staff.get("Enabled") is not True:
        raise unauthorized("The X-PAPI-AccessToken is unknown or has expired: authenticate the staff user again")
    return staff, tokens.papi_secret(key, token)


async def authenticate(request: web.Request) -> OkapiContext:
    """The caller of a PAPI route, from its PWS signature; 401 otherwise."""
    access_id, domain, signed = _parts(request.headers.get("Authorization"))
    date = _date(request)
    settings = request.app[SETTINGS]
    try:
        tenant = tenant_of(settings, domain)
        key = await papi_keys.access_key(request.app[STORE], tenant, access_id)
    except (InvalidTenant, TenantNotInitialised):
        key = None
    if key is None:
        raise unauthorized("Unknown or disabled PAPI access id")
    staff, secret = await _override(request, tenant, access_id, key)
    expected = [signature(key, request.method, url, date, secret) for url in _signed_urls(request)]
    if not any(hmac.compare_digest(candidate, signed) for candidate in expected):
        raise unauthorized("The signature does not match the request")
    request[SIGNED_BY] = (access_id, key)
    if staff is not None:
        request[STAFF_USER] = staff
    return OkapiContext(
        tenant_name=tenant.tenant,
        user_id=(staff or {}).get("FolioUserID"),
        token=None,
        request_id=request[OKAPI_KEY].request_id,
        permissions=permissions_for(settings.contract_dir).granted((staff or {}).get("Permissions", ())),
        username=(staff or {}).get("UserName"),
    )


__all__ = ["FORMAT", "MAX_SKEW", "SIGNED_BY", "STAFF_OVERRIDE", "authenticate", "signature", "unauthorized"]
