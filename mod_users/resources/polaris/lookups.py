"""Patron look-ups as Polaris clients make them: a patron's record, a barcode's patron, a patron's barcode,
and the address defaults of a branch.

Shapes are the ones DCB parses (``ApplicationServicesClient``: ``PatronData``, a bare id, a JSON string,
``PatronDefaults``). A secured patron's record and barcode are details, refused with 409 as its block
details are; its PatronID is not (registration's duplicate prompt names it too).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mod_users.cql import quote
from mod_users.errors import PolarisError
from mod_users.resources.polaris import errors, organizations, patrons
from mod_users.resources.polaris.context import polaris_route, staff
from mod_users.routing import Call, json_response
from mod_users.storage.tables import POLARIS_PATRONS

# The patron record's counters and amounts, as a patron nobody has circulated to has them.
_COUNTS = (
    "YTDCircCount",
    "LifetimeCircCount",
    "ClaimCount",
    "LostItemCount",
    "ChargesAmount",
    "CreditsAmount",
    "YTDYouSavedAmount",
    "LifetimeYouSavedAmount",
)
DEFAULTS = ("City", "State", "PostalCode", "County", "CountryID")


def _polaris_id(value: Any) -> int | None:
    # Polaris' CreatorID/ModifierID are integer user ids; a FOLIO user id (a UUID) is not one a client can read.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _registration(patron: dict[str, Any]) -> dict[str, Any]:
    stored = {k: v for k, v in (patron.get("Registration") or {}).items() if k != "Password"}
    title = stored.get("NameTitle")
    return {
        **stored,
        "PatronID": patron["PatronID"],
        # Polaris answers the title as an object (DtoNameTitle), where registration sends its text.
        "NameTitle": None if title is None else {"NameTitleID": stored.get("NameTitleID"), "Description": title},
        "Password": None,
        "PatronFullName": patrons.full_name(patron),
        "PatronFirstLastName": patrons.first_last_name(patron),
    }


def patron_data(patron: dict[str, Any]) -> dict[str, Any]:
    """A stored patron as Polaris' PatronData (GET patrons/{id})."""
    code = patron.get("PatronCodeID")
    return {
        "PatronID": patron["PatronID"],
        "PatronCodeID": code,
        "PatronCode": None if code is None else {"PatronCodeID": code, "Description": None},
        "OrganizationID": patron["OrganizationID"],
        "CreatorID": _polaris_id(patron.get("CreatorID")),
        "ModifierID": _polaris_id(patron.get("ModifierID")),
        "Barcode": patron["Barcode"],
        "SystemBlocks": patron.get("SystemBlocks") or 0,
        **{name: patron.get(name) or 0 for name in _COUNTS},
        "LastActivityDate": patron.get("LastActivityDate"),
        "RecordStatusID": patron.get("RecordStatusID", 1),
        "RecordStatusDate": patron.get("RecordStatusDate"),
        "Registration": _registration(patron),
    }


def _unknown_barcode(barcode: str) -> PolarisError:
    shown = barcode if len(barcode) <= 50 else barcode[:50] + "..."
    return PolarisError(404, f"Invalid barcode: no patron has barcode '{shown}'.", errors.INVALID_PATRON)


async def get_patron(call: Call) -> web.StreamResponse:
    """GET patrons/{id}: the patron's record (PatronData)."""
    await staff(call)
    patron = await patrons.load(call.store, call.tenant, call.uri["patronId"])
    patrons.refuse_secured(patron)
    return json_response(patron_data(patron))


async def get_patron_id(call: Call) -> web.StreamResponse:
    """GET ids/patrons?id={barcode}&type=barcode: the PatronID, bare (DCB reads the body as the id)."""
    await staff(call)
    barcode = call.params["id"].strip()
    page = await call.store.search(call.tenant, POLARIS_PATRONS, f"Barcode=={quote(barcode)}", 0, 1)
    if not page.records:
        raise _unknown_barcode(barcode)
    return json_response(page.records[0]["PatronID"])


async def get_patron_barcode(call: Call) -> web.StreamResponse:
    """GET barcodes/patrons/{id}: the patron's barcode as a JSON string."""
    await staff(call)
    patron = await patrons.load(call.store, call.tenant, call.uri["patronId"])
    patrons.refuse_secured(patron)
    return json_response(patron["Barcode"])


async def get_patron_defaults(call: Call) -> web.StreamResponse:
    """GET patrondefaults?orgid=: the address a new patron of the organisation starts with, each field as
    the organisation or the nearest one above it sets it (PatronDefaults)."""
    await staff(call)
    lineage = await organizations.lineage(call.store, call.tenant, call.params["orgid"])
    if not lineage:
        raise errors.invalid_organization()
    settings = [o.get("PatronDefaults") or {} for o in lineage]
    return json_response(
        {name: next((s[name] for s in settings if s.get(name) is not None), None) for name in DEFAULTS}
    )


ROUTES = (
    polaris_route("GET", "/patrons/{patronId}", get_patron),
    polaris_route("GET", "/ids/patrons", get_patron_id),
    polaris_route("GET", "/barcodes/patrons/{patronId}", get_patron_barcode),
    polaris_route("GET", "/patrondefaults", get_patron_defaults),
)

__all__ = ["ROUTES", "patron_data"]
