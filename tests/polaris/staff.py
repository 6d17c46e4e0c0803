"""What the Polaris listener's tests share: staff users of their own, logging in, PAS headers."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from tests.polaris.support import admin_headers

# Everything a DCB staff user needs (blocks summary and deletes, look-ups, patron defaults).
DCB_PERMISSIONS = [
    "PatronStatus_DisplayPatronBlocks",
    "PatronStatus_CreateDeletePatronBlocks",
    "PatronStatus_Access",
    "PatronRegistration_Access",
]
LOGIN = "/polaris.applicationservices/api/v1/eng/19/authentication/staffuser"


def basic(domain: str, user: str, password: str) -> str:
    """Authorization for a staff login, as DCB builds it."""
    return "Basic " + base64.b64encode(f"{domain}\\{user}:{password}".encode()).decode()


async def new_staff_user(
    client: Any, tenant: str, permissions: list[str] | None = None, **fields: Any
) -> tuple[dict[str, Any], str]:
    """A staff user of the test's own (its domain the tenant's name, in capitals: domains ignore case);
    returns the stored record and its password."""
    password = fields.pop("Password", None) or f"pw-{uuid.uuid4().hex}"
    body = {
        "UserDomain": tenant.upper(),
        "UserName": f"staff-{uuid.uuid4().hex[:8]}",
        "OrganizationID": 1,
        "BranchID": 3,
        "Enabled": True,
        "Permissions": DCB_PERMISSIONS if permissions is None else permissions,
        "Password": password,
        **fields,
    }
    resp = await client.post("/polaris/staff-users", json=body, headers=admin_headers(tenant))
    assert resp.status == 201, await resp.text()
    return await resp.json(), password


async def log_in(listener: Any, user: dict[str, Any], password: str) -> dict[str, Any]:
    """Log ``user`` in on the Polaris listener; the answer (AccessToken, AccessSecret, ...)."""
    resp = await listener.post(
        LOGIN, data=b"", headers={"Authorization": basic(user["UserDomain"], user["UserName"], password)}
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()


def pas(site: str, auth: dict[str, Any]) -> dict[str, str]:
    """The Authorization header of a PAS call."""
    return {"Authorization": f"PAS {site}:{auth['AccessToken']}:{auth['AccessSecret']}"}


def site_url(site: str, resource: str, org: int = 3, workstation: int = 1) -> str:
    """An ApplicationServices URL on the listener, its site domain naming the tenant."""
    return f"/polaris.applicationservices/api/v1/eng/19/{site}/{org}/{workstation}{resource}"
