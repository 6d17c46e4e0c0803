"""The Polaris API Service (PAPI) calls Polaris clients read blocks with, on the Polaris listener only.

``GET /PAPIService/REST/public/v1/{lang}/{app}/{org}/patron/{barcode}/circulationblocks`` answers PAPI's
PatronCirculateBlocksResult (the read Aspen Discovery, RCPL's polaris-api and DCB make): whether the barcode
is a patron's, the patron, its blocks (those the blocks summary lists) and CanPatronCirculate, false while
it has any. ``POST /PAPIService/REST/protected/v1/{lang}/{app}/{org}/authenticator/staff`` logs a staff user in
for PAPI (DCB calls public methods as staff with the token it gets, ``X-PAPI-AccessToken``). Both are signed
with PWS (:mod:`pws`). PAPI answers its own failures (an unknown patron) as results with HTTP 200 and a
negative PAPIErrorCode; refusals of the call itself have their HTTP status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from mod_users.cql import quote
from mod_users.errors import PolarisError
from mod_users.resources.polaris import blocks, errors, login, pws, tokens
from mod_users.resources.polaris.domains import tenant_of
from mod_users.resources.polaris.ids import ORGANIZATION
from mod_users.resources.polaris.papi_style import PapiStyle
from mod_users.routing import Call, Route, json_response
from mod_users.state import SETTINGS
from mod_users.storage.errors import InvalidTenant
from mod_users.storage.tables import POLARIS_PATRONS

PREFIX = "/PAPIService/REST/{scope}/{version}/{langId}/{appId}/{orgId}"
PAPI = PapiStyle("PAPIService", authenticate=pws.authenticate)
SECURED = 3


def papi_date(value: Any) -> str | None:
    """An ISO 8601 date-time as PAPI's JSON writes dates: ``/Date(milliseconds+hhmm)/``."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    return f"/Date({int(moment.timestamp() * 1000)}{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d})/"


async def get_circulation_blocks(call: Call) -> web.StreamResponse:
    """PatronCirculateBlocksGet: the patron of a barcode, its blocks, and whether it may circulate."""
    barcode = call.path("patronBarcode").strip()
    page = await call.store.search(call.tenant, POLARIS_PATRONS, f"Barcode=={quote(barcode)}", 0, 1)
    if not page.records:
        return json_response(
            {
                "PAPIErrorCode": errors.INVALID_PATRON,
                "ErrorMessage": "Patron does not exist.",
                "Barcode": barcode,
                "ValidPatron": False,
                "Blocks": [],
                "CanPatronCirculate": False,
            }
        )
    patron = page.records[0]
    rows = await blocks.summary(call.store, call.tenant, patron)
    branch = await ORGANIZATION.get(call.store, call.tenant, patron["OrganizationID"])
    registration = patron.get("Registration") or {}
    secured = patron.get("RecordStatusID") == SECURED  # a secured patron's details are not disclosed
    return json_response(
        {
            "PAPIErrorCode": 0,
            "ErrorMessage": "",
            "Barcode": patron["Barcode"],
            "ValidPatron": True,
            "PatronID": patron["PatronID"],
            "PatronCodeID": patron.get("PatronCodeID"),
            "AssignedBranchID": patron["OrganizationID"],
            "PatronBarcode": patron["Barcode"],
            "AssignedBranchName": branch["Name"] if branch else None,
            "ExpirationDate": papi_date(registration.get("ExpirationDate")),
            "OverridePasswordUsed": False,
            "Blocks": [
                {
                    "PatronID": r["PatronID"],
                    "PatronName": r["PatronFullName"],
                    "BlockDescription": r["BlockDescription"],
                }
                for r in rows
            ],
            "CanPatronCirculate": not rows,
            "EmailAddress": None if secured else registration.get("EmailAddress"),
            "NameFirst": None if secured else registration.get("NameFirst"),
            "NameLast": None if secured else registration.get("NameLast"),
            "NameMiddle": None if secured else registration.get("NameMiddle"),
        }
    )


async def post_staff_authenticator(call: Call) -> web.StreamResponse:
    """AuthenticateStaffUser: a PAPI staff token for Domain\\Username and Password (the same staff users, login
    names and lock as the ApplicationServices login), whose Domain must name the access id's tenant."""
    domain, user, password = call.body["Domain"], call.body["Username"], call.body["Password"]
    try:
        same = tenant_of(call.request.app[SETTINGS], domain) == call.tenant
        staff = await login.authenticated(call, domain, user, password) if same else None
    except (InvalidTenant, PolarisError) as exc:
        if getattr(exc, "status", 401) != 401:
            raise
        staff = None
    if staff is None:
        raise pws.unauthorized(login.REFUSED)
    access_id, key = call.request[pws.SIGNED_BY]
    token, expires = await tokens.issue_papi(
        call.store, call.tenant, staff["id"], access_id, call.request.app[SETTINGS].polaris_token_seconds
    )
    return json_response(
        {
            "PAPIErrorCode": 0,
            "ErrorMessage": "",
            "AccessToken": token,
            "AccessSecret": tokens.papi_secret(key, token),
            "PolarisUserID": staff["PolarisUserID"],
            "BranchID": staff.get("BranchID"),
            "AuthExpDate": expires.isoformat(timespec="milliseconds"),
        }
    )


def _papi_route(method: str, scope: str, resource: str, handler: Any) -> Route:
    """A PAPI route (``scope`` public or protected), answering PAPI results; clients write the prefix in any
    letter case."""
    return Route(method, PREFIX.replace("{scope}", scope) + resource, handler, style=PAPI, case_insensitive_prefix=True)


ROUTES = (
    _papi_route("GET", "public", "/patron/{patronBarcode}/circulationblocks", get_circulation_blocks),
    _papi_route("POST", "protected", "/authenticator/staff", post_staff_authenticator),
)

__all__ = ["PAPI", "ROUTES", "papi_date"]
