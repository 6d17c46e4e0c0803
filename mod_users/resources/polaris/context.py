"""Who is calling a Polaris-style route and from where, and the routes' common URL prefix.

Polaris checks the staff user and the workstation. The user's permissions arrive from the gateway in
``X-Okapi-Permissions`` (or, on the Polaris listener, from the authenticated staff user's Polaris permissions)
and are enforced when the route is bound (each route desires its Polaris permission in the ModuleDescriptor);
the workstation and the logon organisation named in the URL are checked here: an unknown or disabled
workstation, or an unknown organisation, -> 403 saying which.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from mod_users.errors import not_privileged
from mod_users.resources.polaris import pas
from mod_users.resources.polaris.caller import polaris_user_id
from mod_users.resources.polaris.ids import ORGANIZATION, WORKSTATION
from mod_users.resources.polaris.style import PolarisStyle
from mod_users.routing import Call, Route

# Polaris.ApplicationServices' route parts; the RAML path templates begin with exactly this.
PREFIX = "/polaris.applicationservices/api/{version}/{lang}/{productId}/{siteDomain}/{orgId}/{workstationId}"
POLARIS = PolarisStyle(PREFIX.split("/")[1], authenticate=pas.authenticate)
# The most rows one request reads to apply a rule or build an answer (a patron's blocks or associations, the
# block descriptions an organisation offers): more than any library has, and a bound on one request's work.
MAX_ROWS = 10_000


def polaris_route(method: str, resource: str, handler: Callable[[Call], Awaitable[web.StreamResponse]]) -> Route:
    """A route below the Polaris prefix, answering in Polaris' error shape; clients differ in how they
    write the prefix's letter case, so it matches in any case."""
    return Route(method, PREFIX + resource, handler, style=POLARIS, case_insensitive_prefix=True)


@dataclass(frozen=True)
class Staff:
    """The caller of a Polaris-style route: the FOLIO user, the logon organisation, the workstation (the
    records as :func:`staff` read them, so that an answer naming them need not read them again).

    ``polaris_user_id`` is the caller's Polaris staff user id, the integer Polaris writes into CreatorID and
    ModifierID: on the Polaris listener the authenticated staff user's; through the gateway, where the caller
    is a FOLIO user (a UUID, ``user_id``, kept in each record's metadata), the staff user's whose FolioUserID
    names it; None when no staff user stands for the caller.
    """

    user_id: str | None
    username: str | None
    organization: dict[str, Any]
    workstation: dict[str, Any]
    polaris_user_id: int | None = None

    @property
    def organization_id(self) -> int:
        return int(self.organization["OrganizationID"])

    @property
    def workstation_id(self) -> int:
        return int(self.workstation["WorkstationID"])

    def stamp(self, date: str) -> dict[str, object]:
        """Who changed a record and when (Polaris' Modifier* fields)."""
        return {"ModifierID": self.polaris_user_id, "ModifierName": self.username, "ModificationDate": date}

    def log_fields(self) -> dict[str, object]:
        """Who made a change and from where, for a log line that records it (the line carries the time)."""
        return {
            "userId": self.user_id,
            "polarisUserId": self.polaris_user_id,
            "organizationId": self.organization_id,
            "workstationId": self.workstation_id,
        }


async def staff(call: Call) -> Staff:
    """The caller, once its workstation is known and enabled and its logon organisation known (403
    otherwise: nothing may be stored in the name of an organisation that does not exist)."""
    workstation_id, organization_id = call.uri["workstationId"], call.uri["orgId"]
    workstation = await WORKSTATION.get(call.store, call.tenant, workstation_id)
    if workstation is None or workstation.get("Enabled") is not True:
        state = "unknown" if workstation is None else "disabled"
        raise not_privileged(f"workstation: WorkstationID {workstation_id} is {state}")
    organization = await ORGANIZATION.get(call.store, call.tenant, organization_id)
    if organization is None:
        raise not_privileged(f"organization: OrganizationID {organization_id} is unknown")
    return Staff(call.okapi.user_id, call.okapi.username, organization, workstation, await polaris_user_id(call))
