"""What the Polaris-style tests share: URLs, headers of a privileged staff user, and records of their own.

The sample data (``sample-data/``) gives, among others: organisations 1 (system) > 2 (library) > 3, 4
(branches), 1 > 5 (library) > 6 (branch); workstations 1 (branch 3), 2 (branch 4), 3 (disabled), 4 (branch 6);
patrons 1001 (no blocks), 1002 (system blocks 64 and 1024), 1003 (secured), 1004..1006. Tests never change
those; whatever they change they create first (``new_patron``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

from mod_users.logs import JsonFormatter
from mod_users.resources.polaris.context import PREFIX

USER = "2205005b-ca51-4a04-87fd-938eefa8f6de"
USERNAME = "circ_staff"
BLOCKS_DISPLAY = "polaris.patron-status.blocks.view"
BLOCKS_CHANGE = "polaris.patron-status.blocks.manage"
ASSOCIATIONS_READ = (
    "polaris.patron-services.view",
    "polaris.patron-status.view",
    "polaris.patron-status.associations.view",
)
ASSOCIATIONS_CREATE = "polaris.patron-associations.create"
ASSOCIATIONS_MODIFY = "polaris.patron-associations.edit"
ASSOCIATIONS_DELETE = "polaris.patron-associations.delete"
REGISTRATION_ACCESS = "polaris.patron-registration.view"
REGISTRATION_CREATE = "polaris.patron-registration.create"
REGISTRATION_MODIFY = "polaris.patron-registration.edit"
ALL_PERMISSIONS = (
    BLOCKS_DISPLAY,
    BLOCKS_CHANGE,
    *ASSOCIATIONS_READ,
    ASSOCIATIONS_CREATE,
    ASSOCIATIONS_MODIFY,
    ASSOCIATIONS_DELETE,
    REGISTRATION_ACCESS,
    REGISTRATION_CREATE,
    REGISTRATION_MODIFY,
)
SECURED_PATRON = 1003
# Branch 3 requires a first name (as the system does), branch 4 does not; branch 6 charges 5.00 to register.
BRANCH, OTHER_BRANCH, HILLVIEW_BRANCH = 3, 4, 6
WORKSTATION, DISABLED_WORKSTATION = 1, 3
UNKNOWN = 999999


def token(username: str = USERNAME, user_id: str = USER) -> str:
    """An unsigned token as Okapi passes one on (the module only reads its payload)."""
    payload = base64.urlsafe_b64encode(json.dumps({"sub": username, "user_id": user_id}).encode()).decode()
    return f"eyJhbGciOiJub25lIn0.{payload.rstrip('=')}.sig"


def headers(
    tenant: str, permissions: tuple[str, ...] = ALL_PERMISSIONS, user: str = USER, username: str = USERNAME
) -> dict[str, str]:
    """A staff call through Okapi: tenant, user, token and the permissions Okapi granted."""
    return {
        "X-Okapi-Tenant": tenant,
        "X-Okapi-User-Id": user,
        "X-Okapi-Token": token(username, user),
        "X-Okapi-Permissions": json.dumps(list(permissions)),
    }


def url(
    resource: str,
    org: int = BRANCH,
    workstation: int = WORKSTATION,
    *,
    lang: str = "eng",
    product: int = 19,
    prefix: str = "/polaris.applicationservices/api",
) -> str:
    """A Polaris-style URL; ``resource`` is what follows the route parts (``/patrons/1/blockssummary``)."""
    return f"{prefix}/v1/{lang}/{product}/polaris/{org}/{workstation}{resource}"


def template(resource: str) -> str:
    """The RAML path template of a Polaris-style resource (the contract's key for it)."""
    return PREFIX + resource


def admin_headers(tenant: str) -> dict[str, str]:
    return {"X-Okapi-Tenant": tenant, "X-Okapi-User-Id": USER}


async def new_patron(client: Any, tenant: str, branch: int = BRANCH, **fields: Any) -> int:
    """A patron of the test's own, registered at ``branch``; returns its PatronID."""
    unique = uuid.uuid4().int % 10**12
    body = {
        "Barcode": f"T{unique:012d}",
        "OrganizationID": branch,
        "Registration": {"NameFirst": "Test", "NameLast": f"Patron{unique}"},
        **fields,
    }
    resp = await client.post("/polaris/patrons", json=body, headers=admin_headers(tenant))
    assert resp.status == 201, await resp.text()
    return (await resp.json())["PatronID"]


async def stored_patron(client: Any, tenant: str, patron_id: int) -> dict[str, Any]:
    """A patron as the configuration API has it (with metadata and _version)."""
    found = await (
        await client.get("/polaris/patrons", params={"query": f"PatronID=={patron_id}"}, headers=admin_headers(tenant))
    ).json()
    assert found["totalRecords"] == 1, found
    return found["patrons"][0]


async def secure(client: Any, tenant: str, patron_id: int) -> None:
    """Make one of the test's own patrons secured (RecordStatusID 3), through the configuration API."""
    h = admin_headers(tenant)
    found = await (await client.get("/polaris/patrons", params={"query": f"PatronID=={patron_id}"}, headers=h)).json()
    patron = found["patrons"][0]
    patron.pop("metadata", None)
    resp = await client.put(f"/polaris/patrons/{patron['id']}", json={**patron, "RecordStatusID": 3}, headers=h)
    assert resp.status == 204, await resp.text()


async def free_text_block(client: Any, tenant: str, patron_id: int, text: str | None = None) -> dict[str, Any]:
    """Place a free-text block on one of the test's own patrons; returns the block."""
    body = {"BlockType": 1, "BlockDescription": text or f"note {uuid.uuid4().hex[:8]}"}
    resp = await client.post(url(f"/patrons/{patron_id}/blocks"), json=body, headers=headers(tenant))
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def associate(client: Any, tenant: str, patron_id: int, *linked: int, **fields: Any) -> list[dict[str, Any]]:
    """Associate one of the test's own patrons with others; returns the patron's list."""
    body = [{"LinkedPatronId": n, **fields} for n in linked]
    resp = await client.post(url(f"/patrons/{patron_id}/associations"), json=body, headers=headers(tenant))
    assert resp.status == 200, await resp.text()
    return await resp.json()


def is_polaris_error(body: Any, code: int | None = None) -> bool:
    """Whether ``body`` is a Polaris error object (with ErrorCode ``code`` when given)."""
    shape = isinstance(body, dict) and set(body) == {
        "ErrorCode",
        "Message",
        "MessageDetail",
        "StackTrace",
        "InnerException",
        "Data",
    }
    return shape and (code is None or body["ErrorCode"] == code)


REQUIRED_FLAGS = (
    "ExcludeFromOverdues",
    "ExcludeFromHolds",
    "ExcludeFromBills",
    "ExcludeFromAlmostOverdueAutoRenew",
    "ExcludeFromPatronRecExpiration",
    "ExcludeFromInactivePatron",
    "StaffAcceptedUseSingleName",
)


def registration_body(
    branch: int = BRANCH,
    step: int = 1,
    answer: int | None = None,
    *,
    registration: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A complete registration (DtoPatronRegUpdateData) that no check objects to: a unique barcode and name,
    one US address, nothing that looks like another patron. ``registration`` fields replace the defaults."""
    unique = uuid.uuid4().int % 10**12
    return {
        "ProcedureStep": step,
        "Answer": answer,
        "Barcode": f"R{unique:012d}",
        "PatronCodeID": 1,
        "OrganizationID": branch,
        "Registration": {
            "NameFirst": "Reg",
            "NameLast": f"Patron{unique}",
            **{flag: False for flag in REQUIRED_FLAGS},
            "Addresses": [
                {
                    "StreetOne": f"{unique % 1000} Main Street",
                    "City": "Riverside",
                    "State": "CA",
                    "PostalCode": "92501",
                    "CountryID": 1,
                }
            ],
            **(registration or {}),
        },
        **fields,
    }


@contextlib.contextmanager
def json_log(logger: str) -> Iterator[list[dict[str, Any]]]:
    """The lines ``logger`` writes at INFO and above while the block runs, each as the service's log
    formatter renders it (formatted when written, so they carry the request id and tenant)."""
    lines: list[dict[str, Any]] = []

    class _Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(self.format(record)))

    handler = _Lines()
    handler.setFormatter(JsonFormatter())
    target = logging.getLogger(logger)
    level = target.level
    target.addHandler(handler)
    target.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        target.removeHandler(handler)
        target.setLevel(level)
