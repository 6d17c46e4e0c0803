"""How to provoke every documented answer of the Polaris-style routes and their configuration routes, for
``tests/test_contract_coverage.py``. Each provocation gets (client, tenant, monkeypatch); the tenant is the
session's sample tenant, so provocations change only records they create themselves."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from mod_users.storage.records import RecordStore
from tests.faults import injected_failure
from tests.polaris.support import (
    DISABLED_WORKSTATION,
    SECURED_PATRON,
    UNKNOWN,
    admin_headers,
    associate,
    free_text_block,
    headers,
    new_patron,
    registration_body,
    template,
    url,
)

Provocation = Callable[..., Awaitable[Any]]
HUGE = "x" * 2_000_000


def _broken(monkeypatch: Any, name: str) -> None:
    monkeypatch.setattr(RecordStore, name, injected_failure)


# -- the configuration collections ---------------------------------------------------------------------
def _unique() -> str:
    return uuid.uuid4().hex[:10]


COLLECTIONS: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    "/polaris/organizations": (
        "organizationId",
        lambda: {
            "OrganizationCodeID": 3,
            "ParentOrganizationID": 2,
            "Name": "Branch " + _unique(),
            "Abbreviation": "B" + _unique(),
        },
    ),
    "/polaris/block-descriptions": ("blockDescriptionId", lambda: {"OrganizationID": 2, "Description": "Block"}),
    "/polaris/workstations": ("workstationRecordId", lambda: {"Name": "WS", "OrganizationID": 3, "Enabled": True}),
    "/polaris/patrons": (
        "patronRecordId",
        lambda: {"Barcode": "P" + _unique(), "OrganizationID": 3, "Registration": {"NameLast": "Provoked"}},
    ),
    "/polaris/countries": ("countryRecordId", lambda: {"Name": "Country " + _unique(), "PostalCodeFormats": ["9999"]}),
}


def _collection(path: str, item_param: str, make: Callable[[], dict[str, Any]]) -> dict[tuple[str, str, int], Any]:
    item = f"{path}/{{{item_param}}}"

    async def created(c: Any, t: str) -> dict[str, Any]:
        resp = await c.post(path, json=make(), headers=admin_headers(t))
        assert resp.status == 201, await resp.text()
        record = await resp.json()
        record.pop("metadata")
        return record

    async def broken(c: Any, t: str, mp: Any, name: str, method: str, target: str | None, body: Any = None) -> Any:
        """The call with the store's ``name`` failing; ``target`` is "new" for a record created first, None
        for the collection, else an item path."""
        if target == "new":
            target = f"{path}/{(await created(c, t))['id']}"
        _broken(mp, name)
        return await c.request(method, target or path, json=body, headers=admin_headers(t))

    async def get_item(c: Any, t: str, mp: Any) -> Any:
        return await c.get(f"{path}/{(await created(c, t))['id']}", headers=admin_headers(t))

    async def put_item(c: Any, t: str, mp: Any) -> Any:
        record = await created(c, t)
        return await c.put(f"{path}/{record['id']}", json=record, headers=admin_headers(t))

    async def put_stale(c: Any, t: str, mp: Any) -> Any:
        record = await created(c, t)
        await c.put(f"{path}/{record['id']}", json=record, headers=admin_headers(t))
        return await c.put(f"{path}/{record['id']}", json=record, headers=admin_headers(t))

    async def delete_item(c: Any, t: str, mp: Any) -> Any:
        return await c.delete(f"{path}/{(await created(c, t))['id']}", headers=admin_headers(t))

    def h(t: str) -> dict[str, str]:
        return admin_headers(t)

    return {
        ("GET", path, 200): lambda c, t, mp: c.get(path, params={"limit": "3"}, headers=h(t)),
        ("GET", path, 400): lambda c, t, mp: c.get(path, params={"query": "Name=="}, headers=h(t)),
        ("GET", path, 500): lambda c, t, mp: broken(c, t, mp, "open_page", "GET", None),
        ("POST", path, 201): lambda c, t, mp: c.post(path, json=make(), headers=h(t)),
        ("POST", path, 400): lambda c, t, mp: c.post(path, data=b"{", headers=h(t)),
        ("POST", path, 413): lambda c, t, mp: c.post(path, json={**make(), "x": HUGE}, headers=h(t)),
        ("POST", path, 422): lambda c, t, mp: c.post(path, json={}, headers=h(t)),
        ("POST", path, 500): lambda c, t, mp: broken(c, t, mp, "insert", "POST", None, make()),
        ("GET", item, 200): get_item,
        ("GET", item, 400): lambda c, t, mp: c.get(f"{path}/{uuid.uuid4()}"),
        ("GET", item, 404): lambda c, t, mp: c.get(f"{path}/{uuid.uuid4()}", headers=h(t)),
        ("GET", item, 500): lambda c, t, mp: broken(c, t, mp, "get", "GET", f"{path}/{uuid.uuid4()}"),
        ("PUT", item, 204): put_item,
        ("PUT", item, 400): lambda c, t, mp: c.put(f"{path}/{uuid.uuid4()}", data=b"[", headers=h(t)),
        ("PUT", item, 404): lambda c, t, mp: c.put(f"{path}/{uuid.uuid4()}", json=make(), headers=h(t)),
        ("PUT", item, 409): put_stale,
        ("PUT", item, 413): lambda c, t, mp: c.put(f"{path}/{uuid.uuid4()}", json={"x": HUGE}, headers=h(t)),
        ("PUT", item, 422): lambda c, t, mp: c.put(f"{path}/{uuid.uuid4()}", json={}, headers=h(t)),
        ("PUT", item, 500): lambda c, t, mp: broken(c, t, mp, "update", "PUT", "new", make()),
        ("DELETE", item, 204): delete_item,
        ("DELETE", item, 400): lambda c, t, mp: c.delete(f"{path}/{uuid.uuid4()}"),
        ("DELETE", item, 404): lambda c, t, mp: c.delete(f"{path}/{uuid.uuid4()}", headers=h(t)),
        ("DELETE", item, 500): lambda c, t, mp: broken(c, t, mp, "delete", "DELETE", "new"),
    }


async def _delete_organization_in_use(c: Any, t: str, mp: Any) -> Any:
    """DELETE of a library of the test's own that a branch belongs to."""
    h = admin_headers(t)
    resp = await c.post(
        "/polaris/organizations",
        json={
            "OrganizationCodeID": 2,
            "ParentOrganizationID": 1,
            "Name": "Library " + _unique(),
            "Abbreviation": "L" + _unique(),
        },
        headers=h,
    )
    library = await resp.json()
    make = COLLECTIONS["/polaris/organizations"][1]
    resp = await c.post(
        "/polaris/organizations", json={**make(), "ParentOrganizationID": library["OrganizationID"]}, headers=h
    )
    assert resp.status == 201, await resp.text()
    return await c.delete(f"/polaris/organizations/{library['id']}", headers=h)


# -- the Polaris-style routes -------------------------------------------------------------------------------
PATRONBLOCKS = template("/patronblocks")
SUMMARY = template("/patrons/{patronId}/blockssummary")
BLOCKS = template("/patrons/{patronId}/blocks")
FREE_TEXT = template("/patrons/{patronId}/blocks/freetext/{blockId}")
STOP = template("/patrons/{patronId}/blocks/stops/{blockId}")
BLOCK = template("/patrons/{patronId}/blocks/{blockType}/{blockId}")
ASSOCIATIONS = template("/patrons/{patronId}/associations")
ASSOCIATION_IDS = template("/patrons/{patronId}/associations/{linkedPatronIds}")
SUMMARY_QUERY = {"logonBranchID": "3", "associatedblocks": "false"}
TEXT = {"BlockType": 1, "BlockDescription": "provoked"}


async def _fail(c: Any, t: str, mp: Any, method: str, path: str, body: Any = None) -> Any:
    """Any route, with the store failing: the workstation lookup is its first storage call."""
    _broken(mp, "get")
    return await c.request(method, url(path), json=body, params=SUMMARY_QUERY | {"orgID": "3"}, headers=headers(t))


async def _with_block(c: Any, t: str, kind: str) -> tuple[int, int]:
    patron = await new_patron(c, t)
    if kind == "freetext":
        return patron, (await free_text_block(c, t, patron))["BlockID"]
    resp = await c.post(url(f"/patrons/{patron}/blocks"), json={"BlockType": 2, "BlockID": 2}, headers=headers(t))
    return patron, (await resp.json())["BlockID"]


async def _detail(c: Any, t: str, mp: Any, kind: str) -> Any:
    patron, block_id = await _with_block(c, t, kind)
    return await c.get(url(f"/patrons/{patron}/blocks/{kind}/{block_id}"), headers=headers(t))


async def _post_block(c: Any, t: str, mp: Any) -> Any:
    return await c.post(url(f"/patrons/{await new_patron(c, t)}/blocks"), json=TEXT, headers=headers(t))


async def _put_block(c: Any, t: str, mp: Any) -> Any:
    patron, block_id = await _with_block(c, t, "freetext")
    return await c.put(
        url(f"/patrons/{patron}/blocks/1/{block_id}"), json={"BlockDescription": "changed"}, headers=headers(t)
    )


async def _delete_block(c: Any, t: str, mp: Any) -> Any:
    patron, block_id = await _with_block(c, t, "stops")
    return await c.delete(url(f"/patrons/{patron}/blocks/2/{block_id}"), headers=headers(t))


async def _get_associations(c: Any, t: str, mp: Any) -> Any:
    a, b = await new_patron(c, t), await new_patron(c, t)
    await associate(c, t, a, b, Note="provoked")
    return await c.get(url(f"/patrons/{a}/associations"), headers=headers(t))


async def _post_associations(c: Any, t: str, mp: Any) -> Any:
    a, b = await new_patron(c, t), await new_patron(c, t)
    return await c.post(url(f"/patrons/{a}/associations"), json=[{"LinkedPatronId": b}], headers=headers(t))


async def _put_associations(c: Any, t: str, mp: Any) -> Any:
    a, b = await new_patron(c, t), await new_patron(c, t)
    await associate(c, t, a, b)
    return await c.put(
        url(f"/patrons/{a}/associations"), json=[{"LinkedPatronId": b, "AllowMe": True}], headers=headers(t)
    )


async def _delete_associations(c: Any, t: str, mp: Any) -> Any:
    a, b, d = await new_patron(c, t), await new_patron(c, t), await new_patron(c, t)
    await associate(c, t, a, b, d)
    return await c.delete(url(f"/patrons/{a}/associations/{b},{d}"), headers=headers(t))


async def _delete_unknown_association(c: Any, t: str, mp: Any) -> Any:
    return await c.delete(url(f"/patrons/1001/associations/{UNKNOWN}"), headers=headers(t))


REGISTER = template("/patrons")
UPDATE = template("/patrons/{patronId}")


async def _update(c: Any, t: str, mp: Any) -> Any:
    return await c.put(url(f"/patrons/{await new_patron(c, t)}"), json=registration_body(), headers=headers(t))


async def _update_mismatch(c: Any, t: str, mp: Any) -> Any:
    return await c.put(
        url(f"/patrons/{await new_patron(c, t)}"), json=registration_body(PatronID=1001), headers=headers(t)
    )


def _registration() -> dict[tuple[str, str, int], Provocation]:
    return {
        ("POST", REGISTER, 200): lambda c, t, mp: c.post(url("/patrons"), json=registration_body(), headers=headers(t)),
        ("POST", REGISTER, 400): lambda c, t, mp: c.post(
            url("/patrons"), json=registration_body(step=16), headers=headers(t)
        ),
        ("POST", REGISTER, 403): lambda c, t, mp: c.post(
            url("/patrons"), json=registration_body(), headers=headers(t, ())
        ),
        ("POST", REGISTER, 413): lambda c, t, mp: c.post(
            url("/patrons"), json=registration_body(Barcode=HUGE), headers=headers(t)
        ),
        ("POST", REGISTER, 500): lambda c, t, mp: _fail(c, t, mp, "POST", "/patrons", registration_body()),
        ("PUT", UPDATE, 200): _update,
        ("PUT", UPDATE, 400): _update_mismatch,
        ("PUT", UPDATE, 403): lambda c, t, mp: c.put(
            url("/patrons/1001"), json=registration_body(), headers=headers(t, ())
        ),
        ("PUT", UPDATE, 404): lambda c, t, mp: c.put(
            url(f"/patrons/{UNKNOWN}"), json=registration_body(), headers=headers(t)
        ),
        ("PUT", UPDATE, 409): lambda c, t, mp: c.put(
            url(f"/patrons/{SECURED_PATRON}"), json=registration_body(), headers=headers(t)
        ),
        ("PUT", UPDATE, 413): lambda c, t, mp: c.put(
            url("/patrons/1001"), json=registration_body(Barcode=HUGE), headers=headers(t)
        ),
        ("PUT", UPDATE, 500): lambda c, t, mp: _fail(c, t, mp, "PUT", "/patrons/1001", registration_body()),
    }


def _polaris() -> dict[tuple[str, str, int], Provocation]:
    no_ws = DISABLED_WORKSTATION
    unknown = f"/patrons/{UNKNOWN}"
    secured = f"/patrons/{SECURED_PATRON}"
    return (
        {
            ("GET", PATRONBLOCKS, 200): lambda c, t, mp: c.get(
                url("/patronblocks"), params={"orgID": "3"}, headers=headers(t)
            ),
            ("GET", PATRONBLOCKS, 400): lambda c, t, mp: c.get(url("/patronblocks"), headers=headers(t)),
            ("GET", PATRONBLOCKS, 403): lambda c, t, mp: c.get(
                url("/patronblocks", workstation=no_ws), params={"orgID": "3"}, headers=headers(t)
            ),
            ("GET", PATRONBLOCKS, 404): lambda c, t, mp: c.get(
                url("/patronblocks"), params={"orgID": str(UNKNOWN)}, headers=headers(t)
            ),
            ("GET", PATRONBLOCKS, 500): lambda c, t, mp: _fail(c, t, mp, "GET", "/patronblocks"),
            ("GET", SUMMARY, 200): lambda c, t, mp: c.get(
                url("/patrons/1002/blockssummary"), params=SUMMARY_QUERY, headers=headers(t)
            ),
            ("GET", SUMMARY, 400): lambda c, t, mp: c.get(url("/patrons/1002/blockssummary"), headers=headers(t)),
            ("GET", SUMMARY, 403): lambda c, t, mp: c.get(
                url("/patrons/1002/blockssummary"), params=SUMMARY_QUERY, headers=headers(t, ())
            ),
            ("GET", SUMMARY, 404): lambda c, t, mp: c.get(
                url(f"{unknown}/blockssummary"), params=SUMMARY_QUERY, headers=headers(t)
            ),
            ("GET", SUMMARY, 500): lambda c, t, mp: _fail(c, t, mp, "GET", "/patrons/1002/blockssummary"),
            ("POST", BLOCKS, 200): _post_block,
            ("POST", BLOCKS, 400): lambda c, t, mp: c.post(
                url("/patrons/1001/blocks"), json={"BlockType": 9}, headers=headers(t)
            ),
            ("POST", BLOCKS, 403): lambda c, t, mp: c.post(
                url("/patrons/1001/blocks"), json=TEXT, headers=headers(t, ())
            ),
            ("POST", BLOCKS, 404): lambda c, t, mp: c.post(url(f"{unknown}/blocks"), json=TEXT, headers=headers(t)),
            ("POST", BLOCKS, 409): lambda c, t, mp: c.post(url(f"{secured}/blocks"), json=TEXT, headers=headers(t)),
            ("POST", BLOCKS, 413): lambda c, t, mp: c.post(
                url("/patrons/1001/blocks"), json={"BlockType": 1, "BlockDescription": HUGE}, headers=headers(t)
            ),
            ("POST", BLOCKS, 500): lambda c, t, mp: _fail(c, t, mp, "POST", "/patrons/1001/blocks", TEXT),
        }
        | {
            (method, path, status): provocation
            for kind, path in (("freetext", FREE_TEXT), ("stops", STOP))
            for method, status, provocation in (
                ("GET", 200, lambda c, t, mp, kind=kind: _detail(c, t, mp, kind)),
                (
                    "GET",
                    400,
                    lambda c, t, mp, kind=kind: c.get(url(f"/patrons/1001/blocks/{kind}/x"), headers=headers(t)),
                ),
                (
                    "GET",
                    403,
                    lambda c, t, mp, kind=kind: c.get(url(f"/patrons/1001/blocks/{kind}/1"), headers=headers(t, ())),
                ),
                (
                    "GET",
                    404,
                    lambda c, t, mp, kind=kind: c.get(
                        url(f"/patrons/1001/blocks/{kind}/{UNKNOWN}"), headers=headers(t)
                    ),
                ),
                ("GET", 409, lambda c, t, mp, kind=kind: c.get(url(f"{secured}/blocks/{kind}/1"), headers=headers(t))),
                ("GET", 500, lambda c, t, mp, kind=kind: _fail(c, t, mp, "GET", f"/patrons/1001/blocks/{kind}/1")),
            )
        }
        | {
            ("PUT", BLOCK, 200): _put_block,
            ("PUT", BLOCK, 400): lambda c, t, mp: c.put(
                url("/patrons/1002/blocks/3/64"), json={"BlockDescription": "x"}, headers=headers(t)
            ),
            ("PUT", BLOCK, 403): lambda c, t, mp: c.put(
                url("/patrons/1001/blocks/1/1"), json={"BlockDescription": "x"}, headers=headers(t, ())
            ),
            ("PUT", BLOCK, 404): lambda c, t, mp: c.put(
                url(f"/patrons/1001/blocks/1/{UNKNOWN}"), json={"BlockDescription": "x"}, headers=headers(t)
            ),
            ("PUT", BLOCK, 409): lambda c, t, mp: c.put(
                url(f"{secured}/blocks/1/1"), json={"BlockDescription": "x"}, headers=headers(t)
            ),
            ("PUT", BLOCK, 413): lambda c, t, mp: c.put(
                url("/patrons/1001/blocks/1/1"), json={"BlockDescription": HUGE}, headers=headers(t)
            ),
            ("PUT", BLOCK, 500): lambda c, t, mp: _fail(
                c, t, mp, "PUT", "/patrons/1001/blocks/1/1", {"BlockDescription": "x"}
            ),
            ("DELETE", BLOCK, 200): _delete_block,
            ("DELETE", BLOCK, 400): lambda c, t, mp: c.delete(url("/patrons/1002/blocks/4/1024"), headers=headers(t)),
            ("DELETE", BLOCK, 403): lambda c, t, mp: c.delete(url("/patrons/1001/blocks/1/1"), headers=headers(t, ())),
            ("DELETE", BLOCK, 404): lambda c, t, mp: c.delete(
                url(f"/patrons/1001/blocks/1/{UNKNOWN}"), headers=headers(t)
            ),
            ("DELETE", BLOCK, 409): lambda c, t, mp: c.delete(url(f"{secured}/blocks/1/1"), headers=headers(t)),
            ("DELETE", BLOCK, 500): lambda c, t, mp: _fail(c, t, mp, "DELETE", "/patrons/1001/blocks/1/1"),
            ("GET", ASSOCIATIONS, 200): _get_associations,
            ("GET", ASSOCIATIONS, 400): lambda c, t, mp: c.get(url("/patrons/x/associations"), headers=headers(t)),
            ("GET", ASSOCIATIONS, 403): lambda c, t, mp: c.get(
                url("/patrons/1001/associations"), headers=headers(t, ())
            ),
            ("GET", ASSOCIATIONS, 404): lambda c, t, mp: c.get(url(f"{unknown}/associations"), headers=headers(t)),
            ("GET", ASSOCIATIONS, 500): lambda c, t, mp: _fail(c, t, mp, "GET", "/patrons/1001/associations"),
        }
        | {
            (method, ASSOCIATIONS, status): provocation
            for method, ok in (("POST", _post_associations), ("PUT", _put_associations))
            for status, provocation in (
                (200, ok),
                (
                    400,
                    lambda c, t, mp, method=method: c.request(
                        method, url("/patrons/1001/associations"), json=[], headers=headers(t)
                    ),
                ),
                (
                    403,
                    lambda c, t, mp, method=method: c.request(
                        method,
                        url("/patrons/1001/associations"),
                        json=[{"LinkedPatronId": 1002}],
                        headers=headers(t, ()),
                    ),
                ),
                (
                    404,
                    lambda c, t, mp, method=method: c.request(
                        method, url(f"{unknown}/associations"), json=[{"LinkedPatronId": 1002}], headers=headers(t)
                    ),
                ),
                (
                    409,
                    lambda c, t, mp, method=method: c.request(
                        method, url(f"{secured}/associations"), json=[{"LinkedPatronId": 1002}], headers=headers(t)
                    ),
                ),
                (
                    413,
                    lambda c, t, mp, method=method: c.request(
                        method,
                        url("/patrons/1001/associations"),
                        json=[{"LinkedPatronId": 1002, "Note": HUGE}],
                        headers=headers(t),
                    ),
                ),
                (
                    500,
                    lambda c, t, mp, method=method: _fail(
                        c, t, mp, method, "/patrons/1001/associations", [{"LinkedPatronId": 1002}]
                    ),
                ),
            )
        }
        | {
            ("DELETE", ASSOCIATION_IDS, 200): _delete_associations,
            ("DELETE", ASSOCIATION_IDS, 400): _delete_unknown_association,
            ("DELETE", ASSOCIATION_IDS, 403): lambda c, t, mp: c.delete(
                url("/patrons/1001/associations/1002"), headers=headers(t, ())
            ),
            ("DELETE", ASSOCIATION_IDS, 404): lambda c, t, mp: c.delete(
                url(f"{unknown}/associations/1002"), headers=headers(t)
            ),
            ("DELETE", ASSOCIATION_IDS, 409): lambda c, t, mp: c.delete(
                url(f"{secured}/associations/1002"), headers=headers(t)
            ),
            ("DELETE", ASSOCIATION_IDS, 500): lambda c, t, mp: _fail(
                c, t, mp, "DELETE", "/patrons/1001/associations/1002"
            ),
        }
    )


PROVOKE: dict[tuple[str, str, int], Provocation] = (
    {
        key: provocation
        for path, (item_param, make) in COLLECTIONS.items()
        for key, provocation in _collection(path, item_param, make).items()
    }
    | {
        ("DELETE", "/polaris/organizations/{organizationId}", 422): _delete_organization_in_use,
    }
    | _polaris()
    | _registration()
)
