"""Polaris-style patron associations against a real database: symmetric but not transitive, each side's
BlockMe and AllowMe, the shared note, atomic changes, the limit, concurrent adds, every documented failure."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import asyncpg
import pytest

from mod_users.app import init_app
from mod_users.storage.database import connect_kwargs
from mod_users.storage.records import RecordStore
from mod_users.storage.tables import POLARIS_PATRON_ASSOCIATIONS
from mod_users.storage.tenants import TenantSchema
from tests.conftest import contract_of
from tests.polaris.support import (
    ASSOCIATIONS_CREATE,
    ASSOCIATIONS_DELETE,
    ASSOCIATIONS_MODIFY,
    ASSOCIATIONS_READ,
    SECURED_PATRON,
    UNKNOWN,
    USER,
    associate,
    headers,
    is_polaris_error,
    json_log,
    new_patron,
    secure,
    url,
)


def _path(patron_id, linked=""):
    return url(f"/patrons/{patron_id}/associations" + (f"/{linked}" if linked else ""))


async def _list(client, tenant, patron_id):
    resp = await client.get(_path(patron_id), headers=headers(tenant))
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _linked(client, tenant, patron_id):
    return {a["LinkedPatronID"]: a for a in await _list(client, tenant, patron_id)}


async def _error(resp, status, code):
    body = await resp.json()
    assert resp.status == status, body
    assert is_polaris_error(body, code), body
    return body


async def _patrons(client, tenant, n, **fields):
    return [await new_patron(client, tenant, **fields) for _ in range(n)]


async def test_associations_are_symmetric_but_not_transitive(app_client, sample_tenant):
    a, b, c = await _patrons(app_client, sample_tenant, 3)
    listed = await associate(app_client, sample_tenant, a, b, c, Note="Family", BlockMe=True)
    assert {x["LinkedPatronID"] for x in listed} == {b, c}
    assert set(await _linked(app_client, sample_tenant, b)) == {a}
    assert set(await _linked(app_client, sample_tenant, c)) == {a}


async def test_a_listing_names_the_linked_patron_and_its_branch(app_client, sample_tenant):
    a = await new_patron(app_client, sample_tenant)
    await associate(app_client, sample_tenant, a, 1002)
    entry = (await _linked(app_client, sample_tenant, a))[1002]
    assert entry == {
        "LinkedPatronID": 1002,
        "Barcode": "21001000000028",
        "PatronName": "Charles Babbage",
        "BranchName": "Riverside Main Branch",
        "Note": None,
        "BlockMe": False,
        "AllowMe": False,
        "RecordStatusID": 1,
        "OrganizationID": 3,
    }
    await app_client.delete(_path(a, "1002"), headers=headers(sample_tenant))


@pytest.mark.parametrize(
    ("method", "what"), [("POST", "DtoPatronAssociationInfo list"), ("PUT", "DtoPatronAssociationInfo")]
)
async def test_a_null_list_is_refused_with_the_seeds_message(app_client, sample_tenant, method, what):
    resp = await app_client.request(
        method, _path(1001), data=b"null", headers={**headers(sample_tenant), "Content-Type": "application/json"}
    )
    body = await _error(resp, 400, -3806)
    assert body["Message"] == f"{what} is null."


async def test_block_me_and_allow_me_belong_to_one_side_and_the_note_to_both(app_client, sample_tenant):
    a, b = await _patrons(app_client, sample_tenant, 2)
    await associate(app_client, sample_tenant, a, b, Note="Carer", BlockMe=True, AllowMe=True)
    mine, theirs = (await _linked(app_client, sample_tenant, a))[b], (await _linked(app_client, sample_tenant, b))[a]
    assert (mine["Note"], mine["BlockMe"], mine["AllowMe"]) == ("Carer", True, True)
    assert (theirs["Note"], theirs["BlockMe"], theirs["AllowMe"]) == ("Carer", False, False)


async def test_the_note_is_cut_to_255_characters(app_client, sample_tenant):
    a, b = await _patrons(app_client, sample_tenant, 2)
    listed = await associate(app_client, sample_tenant, a, b, Note="n" * 300)
    assert listed[0]["Note"] == "n" * 255


async def test_the_list_is_most_recently_changed_first(app_client, sample_tenant):
    a, b, c, d = await _patrons(app_client, sample_tenant, 4)
    for linked in (b, c, d):
        await associate(app_client, sample_tenant, a, linked)
    assert [x["LinkedPatronID"] for x in await _list(app_client, sample_tenant, a)] == [d, c, b]
    resp = await app_client.put(_path(a), json=[{"LinkedPatronId": b, "AllowMe": True}], headers=headers(sample_tenant))
    assert [x["LinkedPatronID"] for x in await resp.json()] == [b, d, c]


@pytest.mark.parametrize(
    ("make_body", "status", "code"),
    [
        (lambda a, b: [{"LinkedPatronId": b}, {"LinkedPatronId": UNKNOWN}], 400, -3800),
        (lambda a, b: [{"LinkedPatronId": b}, {"LinkedPatronId": a}], 400, -3801),
        (lambda a, b: [{"LinkedPatronId": b}, {"LinkedPatronId": b}], 400, -3802),
        (lambda a, b: [{"LinkedPatronId": b}, {"LinkedPatronId": SECURED_PATRON}], 409, -3001),
        (lambda a, b: [{"LinkedPatronId": b}, {"Note": "no id"}], 400, -1),
        (lambda a, b: [{"LinkedPatronId": b, "BlockMe": "yes"}], 400, -1),
        (lambda a, b: None, 400, -1),
        (lambda a, b: [], 400, -1),
        (lambda a, b: {"LinkedPatronId": b}, 400, -1),
    ],
)
async def test_a_bad_entry_stores_nothing(app_client, sample_tenant, make_body, status, code):
    a, b = await _patrons(app_client, sample_tenant, 2)
    resp = await app_client.post(_path(a), json=make_body(a, b), headers=headers(sample_tenant))
    await _error(resp, status, code)
    assert await _list(app_client, sample_tenant, a) == []
    assert await _list(app_client, sample_tenant, b) == []


async def test_an_existing_association_cannot_be_added_again_from_either_side(app_client, sample_tenant):
    a, b = await _patrons(app_client, sample_tenant, 2)
    await associate(app_client, sample_tenant, a, b)
    for patron, linked in ((a, b), (b, a)):
        resp = await app_client.post(_path(patron), json=[{"LinkedPatronId": linked}], headers=headers(sample_tenant))
        body = await _error(resp, 400, -3802)
        assert body["Message"].startswith("Associated patron record already exists with id")


async def test_unknown_and_secured_patrons(app_client, sample_tenant):
    h = headers(sample_tenant)
    body = [{"LinkedPatronId": 1001}]
    assert (await _error(await app_client.get(_path(UNKNOWN), headers=h), 404, -3000))[
        "Message"
    ] == "Invalid Patron ID."
    await _error(await app_client.post(_path(UNKNOWN), json=body, headers=h), 404, -3000)
    await _error(await app_client.put(_path(UNKNOWN), json=body, headers=h), 404, -3000)
    await _error(await app_client.delete(_path(UNKNOWN, "1001"), headers=h), 404, -3000)
    for send in (app_client.post, app_client.put):
        await _error(await send(_path(SECURED_PATRON), json=body, headers=h), 409, -3001)
    await _error(await app_client.delete(_path(SECURED_PATRON, "1001"), headers=h), 409, -3001)
    assert await _list(app_client, sample_tenant, SECURED_PATRON) == []  # reading is allowed


async def test_an_association_with_a_patron_secured_later_is_frozen(app_client, sample_tenant):
    a, b = await _patrons(app_client, sample_tenant, 2)
    await associate(app_client, sample_tenant, a, b)
    await secure(app_client, sample_tenant, b)
    h = headers(sample_tenant)
    await _error(await app_client.put(_path(a), json=[{"LinkedPatronId": b, "Note": "x"}], headers=h), 409, -3001)
    await _error(await app_client.delete(_path(a, str(b)), headers=h), 409, -3001)
    assert set(await _linked(app_client, sample_tenant, a)) == {b}


@pytest.mark.parametrize(
    ("method", "granted"),
    [
        ("GET", ASSOCIATIONS_READ[:2]),
        ("POST", (ASSOCIATIONS_MODIFY,)),
        ("PUT", (ASSOCIATIONS_CREATE,)),
        ("DELETE", (ASSOCIATIONS_CREATE, ASSOCIATIONS_MODIFY)),
    ],
)
async def test_each_change_needs_its_permission(app_client, sample_tenant, method, granted):
    path = _path(1001, "1002") if method == "DELETE" else _path(1001)
    body = None if method in ("GET", "DELETE") else [{"LinkedPatronId": 1002}]
    resp = await app_client.request(method, path, json=body, headers=headers(sample_tenant, granted))
    await _error(resp, 403, -2)


async def test_changing_associations(app_client, sample_tenant):
    a, b, c = await _patrons(app_client, sample_tenant, 3)
    await associate(app_client, sample_tenant, a, b, c, Note="Old", BlockMe=True)
    h = headers(sample_tenant)
    resp = await app_client.put(
        _path(a),
        json=[
            {"LinkedPatronId": b, "Note": "New", "AllowMe": True},
            {"LinkedPatronId": c, "Note": None, "BlockMe": False},
        ],
        headers=h,
    )
    assert resp.status == 200, await resp.text()
    listed = {x["LinkedPatronID"]: x for x in await resp.json()}
    assert (listed[b]["Note"], listed[b]["BlockMe"], listed[b]["AllowMe"]) == ("New", True, True)
    assert (listed[c]["Note"], listed[c]["BlockMe"], listed[c]["AllowMe"]) == (None, False, False)
    theirs = (await _linked(app_client, sample_tenant, b))[a]
    assert (theirs["Note"], theirs["BlockMe"], theirs["AllowMe"]) == ("New", False, False)
    # from the other side: b's own BlockMe, the shared note
    await app_client.put(_path(b), json=[{"LinkedPatronId": a, "BlockMe": True}], headers=h)
    assert (await _linked(app_client, sample_tenant, b))[a]["BlockMe"] is True
    assert (await _linked(app_client, sample_tenant, a))[b]["Note"] == "New"


@pytest.mark.parametrize(
    ("make_body", "code"),
    [
        (lambda b, d: [{"LinkedPatronId": b, "Note": "changed"}, {"LinkedPatronId": d, "Note": "x"}], -3803),
        # the seed's PUT failures: "Invalid linked patronID" for a patron that does not exist
        (lambda b, d: [{"LinkedPatronId": b, "Note": "changed"}, {"LinkedPatronId": UNKNOWN}], -3800),
        (lambda b, d: [{"LinkedPatronId": b, "Note": "changed"}, {"LinkedPatronId": b}], -3802),
        (lambda b, d: [], -1),
    ],
)
async def test_a_bad_change_changes_nothing(app_client, sample_tenant, make_body, code):
    a, b, d = await _patrons(app_client, sample_tenant, 3)
    await associate(app_client, sample_tenant, a, b, Note="kept")
    resp = await app_client.put(_path(a), json=make_body(b, d), headers=headers(sample_tenant))
    await _error(resp, 400, code)
    assert (await _linked(app_client, sample_tenant, a))[b]["Note"] == "kept"
    assert (await _linked(app_client, sample_tenant, b))[a]["Note"] == "kept"


async def test_removing_associations_removes_both_sides(app_client, sample_tenant):
    a, b, c, d = await _patrons(app_client, sample_tenant, 4)
    await associate(app_client, sample_tenant, a, b, c, d)
    resp = await app_client.delete(_path(a, f"{b},{d}"), headers=headers(sample_tenant))
    assert resp.status == 200
    assert [x["LinkedPatronID"] for x in await resp.json()] == [c]
    assert await _list(app_client, sample_tenant, b) == [] and await _list(app_client, sample_tenant, d) == []
    resp = await app_client.delete(_path(c, str(a)), headers=headers(sample_tenant))
    assert await resp.json() == [] and await _list(app_client, sample_tenant, a) == []


async def test_removing_associations_logs_who_removed_which_when(app_client, sample_tenant):
    a, b, c = await _patrons(app_client, sample_tenant, 3)
    await associate(app_client, sample_tenant, a, b, c)
    h = {**headers(sample_tenant), "X-Okapi-Request-Id": "audit-associations"}
    with json_log("mod_users.resources.polaris") as lines:
        assert (await app_client.delete(_path(a, f"{c},{b}"), headers=h)).status == 200
        await _error(await app_client.delete(_path(a, str(b)), headers=h), 400, -3803)  # nothing deleted, no line
    [line] = [entry for entry in lines if entry["message"] == "patron associations deleted"]
    assert {
        key: line.get(key)
        for key in (
            "level",
            "patronId",
            "linkedPatronIds",
            "userId",
            "organizationId",
            "workstationId",
            "tenant",
            "requestId",
        )
    } == {
        "level": "INFO",
        "patronId": a,
        "linkedPatronIds": [c, b],
        "userId": USER,
        "organizationId": 3,
        "workstationId": 1,
        "tenant": sample_tenant,
        "requestId": "audit-associations",
    }
    assert abs(datetime.fromisoformat(line["time"]) - datetime.now(UTC)) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("ids", "code"),
    [
        ("x", -3805),
        ("{b},", -3805),
        ("{b},,{c}", -3805),
        (" {b}", -3805),
        ("-{b}", -3805),
        ("{b};{c}", -3805),
        ("{b},{c},{d}", -3803),
        ("{b},{unknown}", -3800),  # "Invalid linked patronID", as the seed's DELETE has it
        ("+{b}", -3805),
        ("{b}%20", -3805),
        ("{b},%20{c}", -3805),
        ("{arabic_b}", -3805),
        ("{c},{arabic_b}", -3805),
    ],
)
async def test_a_bad_removal_removes_nothing(app_client, sample_tenant, ids, code):
    a, b, c, d = await _patrons(app_client, sample_tenant, 4)
    await associate(app_client, sample_tenant, a, b, c)
    # Arabic-Indic digits, percent-encoded as a client sends them: \d and int() read them as b
    arabic_b = "".join(quote(chr(0x660 + int(digit))) for digit in str(b))
    resp = await app_client.delete(
        _path(a, ids.format(b=b, c=c, d=d, unknown=UNKNOWN, arabic_b=arabic_b)), headers=headers(sample_tenant)
    )
    await _error(resp, 400, code)
    assert set(await _linked(app_client, sample_tenant, a)) == {b, c}


async def test_the_number_of_associations_is_limited_on_both_sides(
    aiohttp_client, settings, db_settings, sample_tenant
):
    limited = dataclasses.replace(settings, polaris_max_associations=3)
    client = await aiohttp_client(init_app(limited, db_settings, contract_of(settings.contract_dir)))
    a, b, c, d, e = await _patrons(client, sample_tenant, 5)
    h = headers(sample_tenant)
    resp = await client.post(_path(a), json=[{"LinkedPatronId": n} for n in (b, c, d, e)], headers=h)
    await _error(resp, 400, -3804)
    assert await _list(client, sample_tenant, a) == []
    await associate(client, sample_tenant, a, b, c, d)
    body = await _error(await client.post(_path(a), json=[{"LinkedPatronId": e}], headers=h), 400, -3804)
    assert str(a) in body["Message"]
    # the other side counts too: e may not become b's fourth
    f, g = await _patrons(client, sample_tenant, 2)
    await associate(client, sample_tenant, b, f, g)
    body = await _error(await client.post(_path(e), json=[{"LinkedPatronId": b}], headers=h), 400, -3804)
    assert str(b) in body["Message"]
    await client.delete(_path(a, str(d)), headers=h)
    await associate(client, sample_tenant, a, e)


async def test_the_default_limit_is_20(app_client, sample_tenant):
    a = await new_patron(app_client, sample_tenant)
    others = await _patrons(app_client, sample_tenant, 21)
    assert len(await associate(app_client, sample_tenant, a, *others[:20])) == 20
    resp = await app_client.post(_path(a), json=[{"LinkedPatronId": others[20]}], headers=headers(sample_tenant))
    await _error(resp, 400, -3804)


async def _rows(db_settings, tenant, a, b):
    con = await asyncpg.connect(**connect_kwargs(db_settings))
    try:
        return await con.fetchval(
            f"SELECT count(*) FROM {TenantSchema(tenant).table(POLARIS_PATRON_ASSOCIATIONS.name)} "
            "WHERE (jsonb->>'PatronID', jsonb->>'LinkedPatronID') IN (($1, $2), ($2, $1))",
            str(a),
            str(b),
        )
    finally:
        await con.close()


async def test_concurrent_adds_of_the_same_association_store_it_once(app_client, sample_tenant, db_settings):
    a, b = await _patrons(app_client, sample_tenant, 2)
    h = headers(sample_tenant)
    calls = [
        app_client.post(_path(a), json=[{"LinkedPatronId": b, "Note": f"from a {i}"}], headers=h) for i in range(6)
    ]
    calls += [
        app_client.post(_path(b), json=[{"LinkedPatronId": a, "Note": f"from b {i}"}], headers=h) for i in range(6)
    ]
    responses = await asyncio.gather(*calls)
    statuses = sorted(r.status for r in responses)
    assert statuses == [200] + [400] * 11
    for r in responses:
        if r.status == 400:
            assert is_polaris_error(await r.json(), -3802)
    assert await _rows(db_settings, sample_tenant, a, b) == 2
    mine, theirs = await _list(app_client, sample_tenant, a), await _list(app_client, sample_tenant, b)
    assert len(mine) == len(theirs) == 1 and mine[0]["Note"] == theirs[0]["Note"]


async def test_concurrent_overlapping_adds_never_deadlock_or_half_apply(app_client, sample_tenant, db_settings):
    a, b, c = await _patrons(app_client, sample_tenant, 3)
    h = headers(sample_tenant)
    responses = await asyncio.gather(
        app_client.post(_path(a), json=[{"LinkedPatronId": b}, {"LinkedPatronId": c}], headers=h),
        app_client.post(_path(c), json=[{"LinkedPatronId": b}, {"LinkedPatronId": a}], headers=h),
        app_client.post(_path(b), json=[{"LinkedPatronId": c}, {"LinkedPatronId": a}], headers=h),
    )
    assert sorted(r.status for r in responses) == [200, 400, 400]
    winner = next(i for i, r in enumerate(responses) if r.status == 200)
    assert len(await (responses[winner]).json()) == 2
    for x, y in ((a, b), (a, c), (b, c)):
        assert await _rows(db_settings, sample_tenant, x, y) in (0, 2)


async def test_deleting_needs_delete_permission_only(app_client, sample_tenant):
    a, b = await _patrons(app_client, sample_tenant, 2)
    await associate(app_client, sample_tenant, a, b)
    resp = await app_client.delete(_path(a, str(b)), headers=headers(sample_tenant, (ASSOCIATIONS_DELETE,)))
    assert resp.status == 200


async def test_patrons_and_descriptions_are_looked_up_by_primary_key(app_client, sample_tenant, monkeypatch):
    """Linked patrons, their branches and their library blocks' texts are found by the row ids derived from
    their Polaris ids, never by a CQL search (a PatronID or BlockID query has no index: a scan per call)."""
    me, other, third = await _patrons(app_client, sample_tenant, 3)
    h = headers(sample_tenant)
    resp = await app_client.post(url(f"/patrons/{other}/blocks"), json={"BlockType": 2, "BlockID": 2}, headers=h)
    assert resp.status == 200, await resp.text()

    async def no_search(*args, **kwargs):
        raise AssertionError("a CQL search where a primary-key lookup does")

    monkeypatch.setattr(RecordStore, "search", no_search)
    resp = await app_client.post(_path(me), json=[{"LinkedPatronId": other, "BlockMe": True}], headers=h)
    assert resp.status == 200, await resp.text()
    assert [(a["LinkedPatronID"], a["BranchName"]) for a in await resp.json()] == [(other, "Riverside Main Branch")]
    resp = await app_client.put(_path(me), json=[{"LinkedPatronId": other, "Note": "n"}], headers=h)
    assert resp.status == 200, await resp.text()
    resp = await app_client.post(_path(me), json=[{"LinkedPatronId": third}], headers=h)
    assert resp.status == 200, await resp.text()
    resp = await app_client.delete(_path(me, third), headers=h)
    assert [a["LinkedPatronID"] for a in await resp.json()] == [other]
    assert [a["LinkedPatronID"] for a in await _list(app_client, sample_tenant, me)] == [other]
    resp = await app_client.get(
        url(f"/patrons/{me}/blockssummary"), params={"logonBranchID": "3", "associatedblocks": "true"}, headers=h
    )
    assert resp.status == 200, await resp.text()
    assert [(r["PatronID"], r["BlockID"], r["BlockDescription"]) for r in await resp.json()] == [
        (other, 2, "Owes replacement card fee")
    ]
