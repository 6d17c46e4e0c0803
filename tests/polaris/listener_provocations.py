"""How to provoke every documented answer of what the Polaris listener brought: staff users and PAPI keys
(FOLIO CRUD), patron look-ups (both ports), every Polaris-style route's 401, and the listener's own routes
(staff login, PAPI), for ``tests/test_contract_coverage.py``. A provocation that needs the listener starts
one over the FOLIO app it is given, and answers with what the listener said."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from mod_users.app import ROUTES
from mod_users.resources.polaris.listener import init_polaris_app
from tests.polaris.provocations import HUGE, UNKNOWN, _collection, _fail
from tests.polaris.staff import LOGIN, basic, new_staff_user
from tests.polaris.support import SECURED_PATRON, admin_headers, headers, template, url
from tests.polaris.test_papi import PROTECTED, PUBLIC, SAMPLE_BARCODE, _key, _signed

Provocation = Callable[..., Awaitable[Any]]
# Values for the route parts of a Polaris-style or PAPI URL (a call refused before they matter).
_PARTS = {
    "version": "v1",
    "lang": "eng",
    "productId": "19",
    "orgId": "3",
    "workstationId": "1",
    "patronId": "1002",
    "blockId": "1",
    "blockType": "1",
    "linkedPatronIds": "1002",
    "langId": "1033",
    "appId": "100",
    "patronBarcode": SAMPLE_BARCODE,
}


class Answer:
    """What a response said, kept after its client (and connection) are gone."""

    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status, self.headers, self._body = status, headers, body

    async def read(self) -> bytes:
        return self._body


async def on_listener(c: Any, send: Callable[[TestClient], Awaitable[Any]]) -> Answer:
    """``send`` to a Polaris listener over the FOLIO app ``c`` serves (started, so its pool exists)."""
    async with TestClient(TestServer(init_polaris_app(c.server.app))) as listener:
        resp = await send(listener)
        return Answer(resp.status, resp.headers.copy(), await resp.read())


def _url(path: str, tenant: str) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: tenant if m.group(1) == "siteDomain" else _PARTS[m.group(1)], path)


def _unauthenticated(method: str, path: str) -> Provocation:
    return lambda c, t, mp: on_listener(c, lambda listener: listener.request(method, _url(path, t), json={}))


def _staff_users() -> dict[str, Any]:
    return {
        "UserDomain": "RIVERSIDE",
        "UserName": "u" + uuid.uuid4().hex[:10],
        "OrganizationID": 1,
        "Enabled": True,
        "Permissions": ["PatronStatus_Access"],
        "Password": "a-long-enough-password",
    }


def _papi_keys() -> dict[str, Any]:
    return {"AccessID": "k" + uuid.uuid4().hex[:10], "Name": "provoked", "Enabled": True}


# -- the listener's own routes ---------------------------------------------------------------------------
LOGIN_ROUTE = "/polaris.applicationservices/api/{version}/{lang}/{productId}/authentication/staffuser"
CIRCULATION = "/PAPIService/REST/public/{version}/{langId}/{appId}/{orgId}/patron/{patronBarcode}/circulationblocks"
STAFF = "/PAPIService/REST/protected/{version}/{langId}/{appId}/{orgId}/authenticator/staff"


def _broken_store(mp: Any) -> None:
    from mod_users.storage.records import RecordStore

    async def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected failure")

    mp.setattr(RecordStore, "get", fail)


async def _login(c: Any, t: str, mp: Any, *, version: str = "v1", broken: bool = False) -> Answer:
    user, password = await new_staff_user(c, t)
    if broken:
        _broken_store(mp)
    path = LOGIN.replace("/v1/", f"/{version}/")
    auth = {"Authorization": basic(user["UserDomain"], user["UserName"], password)}
    return await on_listener(c, lambda listener: listener.post(path, headers=auth))


async def _papi(c: Any, t: str, mp: Any, path: str, method: str = "GET", body: Any = None, broken: bool = False):
    key = await _key(c, t)
    if broken:
        _broken_store(mp)

    async def send(listener: TestClient) -> Any:
        return await listener.request(method, path, json=body, headers=_signed(listener, key, t, method, path))

    return await on_listener(c, send)


async def _papi_staff(c: Any, t: str, mp: Any) -> Answer:
    user, password = await new_staff_user(c, t)
    body = {"Domain": user["UserDomain"], "Username": user["UserName"], "Password": password}
    return await _papi(c, t, mp, f"{PROTECTED}/authenticator/staff", "POST", body)


def _without_database(method: str, path: str) -> Provocation:
    """The listener over a FOLIO app whose database is not there."""

    async def provoke(c: Any, t: str, mp: Any) -> Answer:
        from mod_users.app import init_app
        from mod_users.config import DatabaseSettings, load_settings
        from mod_users.storage.embedded import free_port
        from tests.conftest import contract_of

        settings = load_settings()
        gone = DatabaseSettings(host="127.0.0.1", port=free_port(), password="x")
        authorization = basic("DOMAIN", "user", "password") if path == LOGIN_ROUTE else f"PWS app@{t}:c2ln"
        sent = {"Authorization": authorization, "PolarisDate": format_datetime(datetime.now(UTC), usegmt=True)}
        async with TestClient(TestServer(init_app(settings, gone, contract_of(settings.contract_dir)))) as folio:
            return await on_listener(
                folio, lambda listener: listener.request(method, _url(path, t), json={}, headers=sent)
            )

    return provoke


def _listener_routes() -> dict[tuple[str, str, int], Provocation]:
    blocks = f"{PUBLIC}/patron/{SAMPLE_BARCODE}/circulationblocks"
    return {
        ("POST", LOGIN_ROUTE, 200): lambda c, t, mp: _login(c, t, mp),
        ("POST", LOGIN_ROUTE, 400): lambda c, t, mp: _login(c, t, mp, version="v2"),
        ("POST", LOGIN_ROUTE, 401): _unauthenticated("POST", LOGIN_ROUTE),
        ("POST", LOGIN_ROUTE, 500): lambda c, t, mp: _login(c, t, mp, broken=True),
        ("POST", LOGIN_ROUTE, 503): _without_database("POST", LOGIN_ROUTE),
        ("GET", CIRCULATION, 200): lambda c, t, mp: _papi(c, t, mp, blocks),
        ("GET", CIRCULATION, 400): lambda c, t, mp: _papi(c, t, mp, blocks.replace("/v1/", "/v2/")),
        ("GET", CIRCULATION, 401): _unauthenticated("GET", CIRCULATION),
        ("GET", CIRCULATION, 500): lambda c, t, mp: _papi(c, t, mp, blocks, broken=True),
        ("GET", CIRCULATION, 503): _without_database("GET", CIRCULATION),
        ("POST", STAFF, 200): _papi_staff,
        ("POST", STAFF, 400): lambda c, t, mp: _papi(
            c, t, mp, f"{PROTECTED}/authenticator/staff", "POST", {"Domain": 1}
        ),
        ("POST", STAFF, 401): _unauthenticated("POST", STAFF),
        ("POST", STAFF, 413): lambda c, t, mp: _papi(
            c, t, mp, f"{PROTECTED}/authenticator/staff", "POST", {"Domain": HUGE, "Username": "u", "Password": "p"}
        ),
        ("POST", STAFF, 500): lambda c, t, mp: _papi(
            c,
            t,
            mp,
            f"{PROTECTED}/authenticator/staff",
            "POST",
            {"Domain": "d", "Username": "u", "Password": "p"},
            True,
        ),
        ("POST", STAFF, 503): _without_database("POST", STAFF),
    }


# -- patron look-ups (FOLIO port) ------------------------------------------------------------------------
async def _failing(c: Any, t: str, mp: Any, resource: str, params: dict[str, str]) -> Any:
    """A look-up with its query, the store failing (the workstation lookup is the first storage call)."""
    _broken_store(mp)
    return await c.get(url(resource), params=params, headers=headers(t))


def _lookups() -> dict[tuple[str, str, int], Provocation]:
    patron, ids, barcode, defaults = (
        template("/patrons/{patronId}"),
        template("/ids/patrons"),
        template("/barcodes/patrons/{patronId}"),
        template("/patrondefaults"),
    )
    by_barcode = {"id": SAMPLE_BARCODE, "type": "barcode"}
    out: dict[tuple[str, str, int], Provocation] = {}
    for path, resource in ((patron, "/patrons"), (barcode, "/barcodes/patrons")):
        out |= {
            ("GET", path, 200): lambda c, t, mp, r=resource: c.get(url(f"{r}/1002"), headers=headers(t)),
            ("GET", path, 400): lambda c, t, mp, r=resource: c.get(url(f"{r}/x"), headers=headers(t)),
            ("GET", path, 403): lambda c, t, mp, r=resource: c.get(url(f"{r}/1002"), headers=headers(t, ())),
            ("GET", path, 404): lambda c, t, mp, r=resource: c.get(url(f"{r}/{UNKNOWN}"), headers=headers(t)),
            ("GET", path, 409): lambda c, t, mp, r=resource: c.get(url(f"{r}/{SECURED_PATRON}"), headers=headers(t)),
            ("GET", path, 500): lambda c, t, mp, r=resource: _fail(c, t, mp, "GET", f"{r}/1002"),
        }
    return out | {
        ("GET", ids, 200): lambda c, t, mp: c.get(url("/ids/patrons"), params=by_barcode, headers=headers(t)),
        ("GET", ids, 400): lambda c, t, mp: c.get(
            url("/ids/patrons"), params={**by_barcode, "type": "username"}, headers=headers(t)
        ),
        ("GET", ids, 403): lambda c, t, mp: c.get(url("/ids/patrons"), params=by_barcode, headers=headers(t, ())),
        ("GET", ids, 404): lambda c, t, mp: c.get(
            url("/ids/patrons"), params={**by_barcode, "id": "no-such-barcode"}, headers=headers(t)
        ),
        ("GET", ids, 500): lambda c, t, mp: _failing(c, t, mp, "/ids/patrons", by_barcode),
        ("GET", defaults, 200): lambda c, t, mp: c.get(
            url("/patrondefaults"), params={"orgid": "3"}, headers=headers(t)
        ),
        ("GET", defaults, 400): lambda c, t, mp: c.get(url("/patrondefaults"), headers=headers(t)),
        ("GET", defaults, 403): lambda c, t, mp: c.get(
            url("/patrondefaults"), params={"orgid": "3"}, headers=headers(t, ())
        ),
        ("GET", defaults, 404): lambda c, t, mp: c.get(
            url("/patrondefaults"), params={"orgid": str(UNKNOWN)}, headers=headers(t)
        ),
        ("GET", defaults, 500): lambda c, t, mp: _failing(c, t, mp, "/patrondefaults", {"orgid": "3"}),
    }


async def _put_key_failing(c: Any, t: str, mp: Any) -> Any:
    """A PUT of a PAPI key as it is (its AccessID cannot change), the store failing to write it."""
    from mod_users.storage.records import RecordStore

    key = await _key(c, t)
    record = {k: v for k, v in key.items() if k != "metadata"}

    async def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected failure")

    mp.setattr(RecordStore, "update", fail)
    return await c.put(f"/polaris/papi-keys/{key['id']}", json=record, headers=admin_headers(t))


LISTENER_PROVOKE: dict[tuple[str, str, int], Provocation] = (
    _collection("/polaris/staff-users", "staffUserId", _staff_users)
    | _collection("/polaris/papi-keys", "papiKeyId", _papi_keys)
    | {("PUT", "/polaris/papi-keys/{papiKeyId}", 500): _put_key_failing}
    | _lookups()
    | {(r.method, r.path, 401): _unauthenticated(r.method, r.path) for r in ROUTES if r.style.authenticate is not None}
    | _listener_routes()
)

__all__ = ["LISTENER_PROVOKE", "on_listener"]
