"""The staff user behind a Polaris-style call, whichever port it came in on.

On the Polaris listener the call authenticated as a staff user (PAS), and the listener put its record on the
request. Through the gateway the caller is a FOLIO user (``X-Okapi-User-Id``); a staff user whose
FolioUserID names that user stands for it. Either way the staff user's PolarisUserID is what Polaris records
as CreatorID/ModifierID.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mod_users import cql
from mod_users.routing import Call
from mod_users.storage.tables import POLARIS_STAFF_USERS

# Set by the Polaris listener once a call has authenticated: the staff user's record.
STAFF_USER = web.RequestKey("polaris_staff_user", dict[str, Any])


async def polaris_user_id(call: Call) -> int | None:
    """The caller's PolarisUserID, or None when no staff user stands for it."""
    authenticated = call.request.get(STAFF_USER)
    if authenticated is not None:
        return int(authenticated["PolarisUserID"])
    if call.okapi.user_id is None:
        return None
    found = await call.store.find(call.tenant, POLARIS_STAFF_USERS, f"FolioUserID=={cql.quote(call.okapi.user_id)}", 1)
    return int(found[0]["PolarisUserID"]) if found else None


__all__ = ["STAFF_USER", "polaris_user_id"]
