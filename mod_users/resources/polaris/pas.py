"""PAS: how a call on the Polaris listener says who it is (``Authorization: PAS siteDomain:token:secret``).

The token must be live and belong to an enabled staff user of the tenant both the header's and the URL's
site domain name. The answer is the same context the gateway's headers give a call on the FOLIO port:
the tenant, the user (the staff user's linked FOLIO user, if any), and as permissions the FOLIO permissions
that stand for the staff user's Polaris ones. Every failure is a 401 Polaris error that says what to fix
and never echoes a credential.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mod_users.errors import POLARIS_UNAUTHORIZED, PolarisError
from mod_users.okapi import OkapiContext
from mod_users.resources.polaris import tokens
from mod_users.resources.polaris.caller import STAFF_USER
from mod_users.resources.polaris.domains import tenant_of
from mod_users.resources.polaris.permissions import permissions_for
from mod_users.routing import OKAPI_KEY
from mod_users.state import SETTINGS, STORE
from mod_users.storage.errors import InvalidTenant, TenantNotInitialised
from mod_users.storage.tables import POLARIS_STAFF_USERS
from mod_users.storage.tenants import TenantSchema

FORMAT = "Authorization: PAS siteDomain:AccessToken:AccessSecret"
_MAX_HEADER = 1024


def unauthorized(message: str, scheme: str = "PAS") -> PolarisError:
    """401 as the Polaris listener answers it (with the scheme to use in WWW-Authenticate)."""
    return PolarisError(401, message, POLARIS_UNAUTHORIZED, headers={"WWW-Authenticate": scheme})


def _parts(header: str | None) -> tuple[str, str, str]:
    if not header:
        raise unauthorized(f"Authentication required: send {FORMAT} (POST authentication/staffuser issues them)")
    scheme, _, credentials = header.strip().partition(" ")
    parts = credentials.strip().split(":")
    if scheme.upper() != "PAS" or len(header) > _MAX_HEADER or len(parts) != 3 or not all(parts):
        raise unauthorized(f"Malformed Authorization header: expected {FORMAT}")
    site, token, secret = parts
    return site, token, secret


def _tenant(request: web.Request, site: str) -> TenantSchema:
    """The tenant the header's site domain names, which must be the one the URL's names."""
    settings = request.app[SETTINGS]
    try:
        tenant = tenant_of(settings, site)
        in_url = request.match_info.get("siteDomain")
        same = in_url is None or tenant_of(settings, in_url) == tenant
    except InvalidTenant:
        raise unauthorized("The access token is unknown or has expired: authenticate again") from None
    if not same:
        raise unauthorized("The access token was issued for another site domain than the URL's")
    return tenant


async def authenticate(request: web.Request) -> OkapiContext:
    """The caller of a Polaris-style route on the Polaris listener, from its PAS header; 401 otherwise."""
    site, token, secret = _parts(request.headers.get("Authorization"))
    tenant = _tenant(request, site)
    store = request.app[STORE]
    try:
        holder = await tokens.holder(store, tenant, token, secret)
        staff: dict[str, Any] | None = await store.get(tenant, POLARIS_STAFF_USERS, holder) if holder else None
    except TenantNotInitialised:
        staff = None
    if staff is None or staff.get("Enabled") is not True:
        raise unauthorized("The access token is unknown or has expired: authenticate again")
    request[STAFF_USER] = staff
    settings = request.app[SETTINGS]
    return OkapiContext(
        tenant_name=tenant.tenant,
        user_id=staff.get("FolioUserID"),
        token=None,
        request_id=request[OKAPI_KEY].request_id,
        permissions=permissions_for(settings.contract_dir).granted(staff["Permissions"]),
        username=staff["UserName"],
    )


__all__ = ["FORMAT", "authenticate", "unauthorized"]
