"""Polaris-style patron blocks against a real database: what an organisation offers, the summary, block
details, placing, changing and removing blocks, and every documented failure."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from mod_users.storage.records import RecordStore
from mod_users.storage.tables import POLARIS_BLOCK_DESCRIPTIONS, POLARIS_WORKSTATIONS
from tests.polaris.support import (
    BLOCKS_CHANGE,
    BLOCKS_DISPLAY,
    HILLVIEW_BRANCH,
    OTHER_BRANCH,
    SECURED_PATRON,
    UNKNOWN,
    USER,
    USERNAME,
    admin_headers,
    associate,
    free_text_block,
    headers,
    is_polaris_error,
    json_log,
    new_patron,
    secure,
    url,
)

QUERY = {"logonBranchID": "3", "associatedblocks": "false"}


async def _error(resp, status, code):
    body = await resp.json()
    assert resp.status == status, body
    assert is_polaris_error(body, code), body
    return body


async def _summary(client, tenant, patron_id, associated=False):
    resp = await client.get(
        url(f"/patrons/{patron_id}/blockssummary"),
        params={**QUERY, "associatedblocks": str(associated).lower()},
        headers=headers(tenant),
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()


def _iso_with_offset(value):
    parsed = datetime.fromisoformat(value)
    return parsed.utcoffset() is not None


# -- GET patronblocks ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("org", "expected"),
    [
        (
            3,
            [
                (1, "See note"),
                (2, "Owes replacement card fee"),
                (3, "Paid non-resident fee at Main"),
                (5, "Main branch: ID check required"),
            ],
        ),
        (4, [(1, "See note"), (2, "Owes replacement card fee"), (3, "Paid non-resident fee at Main")]),
        (6, [(1, "See note"), (4, "Returned materials damaged")]),
        (1, [(1, "See note")]),
    ],
)
async def test_an_organisation_offers_its_own_blocks_and_those_above_it(app_client, sample_tenant, org, expected):
    resp = await app_client.get(url("/patronblocks"), params={"orgID": str(org)}, headers=headers(sample_tenant))
    assert resp.status == 200
    # the sample's descriptions (1 to 5); other tests add their own to the shared tenant
    assert [(b["BlockID"], b["Description"]) for b in await resp.json() if b["BlockID"] <= 5] == expected


async def test_patronblocks_needs_no_permission_but_a_workstation(app_client, sample_tenant):
    resp = await app_client.get(url("/patronblocks"), params={"orgID": "3"}, headers=headers(sample_tenant, ()))
    assert resp.status == 200
    resp = await app_client.get(
        url("/patronblocks", workstation=3), params={"orgID": "3"}, headers=headers(sample_tenant)
    )
    await _error(resp, 403, -2)


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"orgID": str(UNKNOWN)}, 404, -5000),
        ({}, 400, -1),
        ({"orgID": "main"}, 400, -1),
        ({"orgID": "3.0"}, 400, -1),
        # Arabic-Indic 3, a sign, spaces: int() reads each as 3, the contract allows only ASCII digits
        ({"orgID": "\u0663"}, 400, -1),
        ({"orgID": "+3"}, 400, -1),
        ({"orgID": " 3"}, 400, -1),
        ({"orgID": "3\t"}, 400, -1),
    ],
)
async def test_patronblocks_failures(app_client, sample_tenant, params, status, code):
    resp = await app_client.get(url("/patronblocks"), params=params, headers=headers(sample_tenant))
    body = await _error(resp, status, code)
    if status == 404:
        assert body["Message"] == "Invalid organization ID specified."


# -- GET blockssummary --------------------------------------------------------------------------------
async def test_the_summary_lists_system_blocks_from_the_mask(app_client, sample_tenant):
    rows = await _summary(app_client, sample_tenant, 1002)
    assert rows == [
        {
            "PatronID": 1002,
            "PatronFullName": "Babbage, Charles",
            "BlockType": 3,
            "BlockID": 64,
            "BlockDescription": "Self-registration from PAC",
            "PatronBranchID": 3,
            "CreationDate": None,
        },
        {
            "PatronID": 1002,
            "PatronFullName": "Babbage, Charles",
            "BlockType": 4,
            "BlockID": 1024,
            "BlockDescription": "Sent to collection agency",
            "PatronBranchID": 3,
            "CreationDate": None,
        },
    ]
    assert await _summary(app_client, sample_tenant, 1001) == []


async def test_the_summary_lists_free_text_then_library_then_system_blocks(app_client, sample_tenant):
    patron = await new_patron(app_client, sample_tenant, SystemBlocks=2048 + 256)
    h = headers(sample_tenant)
    await app_client.post(url(f"/patrons/{patron}/blocks"), json={"BlockType": 2, "BlockID": 3}, headers=h)
    text = await free_text_block(app_client, sample_tenant, patron, "Ask about the atlas")
    rows = await _summary(app_client, sample_tenant, patron)
    assert [(r["BlockType"], r["BlockID"], r["BlockDescription"]) for r in rows] == [
        (1, text["BlockID"], "Ask about the atlas"),
        (2, 3, "Paid non-resident fee at Main"),
        (3, 256, "Express registration"),
        (4, 2048, "Registration renewal"),
    ]
    assert all(r["PatronFullName"] == f"Patron{r['PatronFullName'].split('Patron')[1]}" for r in rows)
    assert all(_iso_with_offset(r["CreationDate"]) for r in rows[:2])


@pytest.mark.parametrize(
    ("patron", "params", "status", "code"),
    [
        (UNKNOWN, QUERY, 404, -3000),
        (1002, {"logonBranchID": "3"}, 400, -1),
        (1002, {"associatedblocks": "false"}, 400, -1),
        (1002, {"logonBranchID": "x", "associatedblocks": "false"}, 400, -1),
        (1002, {"logonBranchID": "3", "associatedblocks": "maybe"}, 400, -1),
        (1002, {"logonBranchID": "\u0663", "associatedblocks": "false"}, 400, -1),
        ("x", QUERY, 400, -1),
        # Arabic-Indic and fullwidth 1002, a sign, spaces: all patron 1002 to int(), none an id the contract allows
        ("%D9%A1%D9%A0%D9%A0%D9%A2", QUERY, 400, -1),
        ("\uff11\uff10\uff10\uff12", QUERY, 400, -1),
        ("+1002", QUERY, 400, -1),
        ("%201002", QUERY, 400, -1),
        ("1002%20", QUERY, 400, -1),
        ("-0", QUERY, 400, -1),
    ],
)
async def test_summary_failures(app_client, sample_tenant, patron, params, status, code):
    resp = await app_client.get(url(f"/patrons/{patron}/blockssummary"), params=params, headers=headers(sample_tenant))
    body = await _error(resp, status, code)
    if status == 404:
        assert body["Message"] == "Invalid Patron ID."


async def test_the_summary_needs_the_display_permission(app_client, sample_tenant):
    resp = await app_client.get(
        url("/patrons/1002/blockssummary"), params=QUERY, headers=headers(sample_tenant, (BLOCKS_CHANGE,))
    )
    await _error(resp, 403, -2)


async def test_associated_blocks_are_those_of_patrons_that_block_me_one_level_deep(app_client, sample_tenant):
    me, blocked, harmless, far = [await new_patron(app_client, sample_tenant) for _ in range(4)]
    await associate(app_client, sample_tenant, me, blocked, BlockMe=True)
    await associate(app_client, sample_tenant, me, harmless, BlockMe=False)
    await associate(app_client, sample_tenant, blocked, far, BlockMe=True)
    for patron in (blocked, harmless, far):
        await free_text_block(app_client, sample_tenant, patron, f"block of {patron}")
    rows = await _summary(app_client, sample_tenant, me, associated=True)
    assert [(r["PatronID"], r["BlockDescription"]) for r in rows] == [(blocked, f"block of {blocked}")]
    assert await _summary(app_client, sample_tenant, me) == []
    # BlockMe is one side's: the blocked patron is not blocked by me
    await free_text_block(app_client, sample_tenant, me, "my own")
    assert [r["PatronID"] for r in await _summary(app_client, sample_tenant, blocked, associated=True)] == [far]


async def test_associated_blocks_include_system_blocks(app_client, sample_tenant):
    me = await new_patron(app_client, sample_tenant)
    other = await new_patron(app_client, sample_tenant, SystemBlocks=4096)
    await associate(app_client, sample_tenant, me, other, BlockMe=True)
    rows = await _summary(app_client, sample_tenant, me, associated=True)
    assert [(r["PatronID"], r["BlockType"], r["BlockID"]) for r in rows] == [(other, 4, 4096)]


# -- POST blocks ----------------------------------------------------------------------------------------
async def test_placing_a_free_text_block_records_who_when_and_where(app_client, sample_tenant):
    patron = await new_patron(app_client, sample_tenant)
    resp = await app_client.post(
        url(f"/patrons/{patron}/blocks", org=OTHER_BRANCH, workstation=2),
        json={"BlockType": 101, "BlockDescription": "  Ask about the atlas  "},
        headers=headers(sample_tenant),
    )
    assert resp.status == 200, await resp.text()
    block = await resp.json()
    assert block["BlockType"] == 1 and block["BlockDescription"] == "Ask about the atlas"
    assert block["PatronFullName"].startswith("Patron") and block["PatronFullName"].endswith(", Test")
    # CreatorID and ModifierID are Polaris staff user ids (integers): a FOLIO user has none
    assert (
        (block["CreatorID"], block["CreatorName"]) == (None, USERNAME) == (block["ModifierID"], block["ModifierName"])
    )
    assert block["CreationDate"] == block["ModificationDate"] and _iso_with_offset(block["CreationDate"])
    assert (block["OrganizationID"], block["OrganizationName"]) == (4, "Riverside East Branch")
    assert (block["WorkstationID"], block["WorkstationName"]) == (2, "RPL-EAST-CIRC1")
    resp = await app_client.get(
        url(f"/patrons/{patron}/blocks/freetext/{block['BlockID']}"), headers=headers(sample_tenant)
    )
    assert resp.status == 200 and await resp.json() == block


async def test_placing_a_library_defined_block(app_client, sample_tenant):
    patron = await new_patron(app_client, sample_tenant)
    resp = await app_client.post(
        url(f"/patrons/{patron}/blocks"), json={"BlockType": 100, "BlockID": 5}, headers=headers(sample_tenant)
    )
    assert resp.status == 200, await resp.text()
    block = await resp.json()
    assert (block["BlockType"], block["BlockID"], block["BlockDescription"]) == (2, 5, "Main branch: ID check required")
    resp = await app_client.get(url(f"/patrons/{patron}/blocks/stops/5"), headers=headers(sample_tenant))
    assert await resp.json() == block


async def test_block_answers_name_the_patron(app_client, sample_tenant):
    """PatronFullName, as the seed documents it in the answers of POST and PUT and in both block details."""
    last = f"Johnson{uuid.uuid4().hex[:8]}"
    patron = await new_patron(
        app_client, sample_tenant, Registration={"NameFirst": "Steve", "NameMiddle": "L", "NameLast": last}
    )
    h = headers(sample_tenant)
    stop = await (
        await app_client.post(url(f"/patrons/{patron}/blocks"), json={"BlockType": 2, "BlockID": 5}, headers=h)
    ).json()
    text = await free_text_block(app_client, sample_tenant, patron, "Owes late fees")
    changed = await (
        await app_client.put(
            url(f"/patrons/{patron}/blocks/1/{text['BlockID']}"), json={"BlockDescription": "Paid"}, headers=h
        )
    ).json()
    details = [
        await (await app_client.get(url(f"/patrons/{patron}/blocks/{kind}/{block_id}"), headers=h)).json()
        for kind, block_id in (("stops", 5), ("freetext", text["BlockID"]))
    ]
    for answer in (stop, text, changed, *details):
        assert answer["PatronFullName"] == f"{last}, Steve L", answer


async def test_placing_a_block_reads_the_workstation_and_description_once(app_client, sample_tenant, monkeypatch):
    """The answer names the caller's workstation and organisation and the chosen description: the records
    the checks already read, not read again."""
    patron = await new_patron(app_client, sample_tenant)
    reads = []
    get = RecordStore.get

    async def counted(self, ts, table, record_id, **kwargs):
        reads.append(table.name)
        return await get(self, ts, table, record_id, **kwargs)

    monkeypatch.setattr(RecordStore, "get", counted)
    resp = await app_client.post(
        url(f"/patrons/{patron}/blocks"), json={"BlockType": 2, "BlockID": 5}, headers=headers(sample_tenant)
    )
    assert resp.status == 200, await resp.text()
    block = await resp.json()
    assert (block["OrganizationName"], block["WorkstationName"]) == ("Riverside Main Branch", "RPL-MAIN-CIRC1")
    assert block["BlockDescription"] == "Main branch: ID check required"
    assert reads.count(POLARIS_WORKSTATIONS.name) == 1
    assert reads.count(POLARIS_BLOCK_DESCRIPTIONS.name) == 0  # found among the offered ones


async def test_a_library_block_shows_its_descriptions_current_text(app_client, sample_tenant):
    h = admin_headers(sample_tenant)
    description = await (
        await app_client.post(
            "/polaris/block-descriptions", json={"OrganizationID": 2, "Description": "Old text"}, headers=h
        )
    ).json()
    patron = await new_patron(app_client, sample_tenant)
    await app_client.post(
        url(f"/patrons/{patron}/blocks"),
        json={"BlockType": 2, "BlockID": description["BlockID"]},
        headers=headers(sample_tenant),
    )
    description.pop("metadata")
    await app_client.put(
        f"/polaris/block-descriptions/{description['id']}", json={**description, "Description": "New text"}, headers=h
    )
    rows = await _summary(app_client, sample_tenant, patron)
    assert rows[0]["BlockDescription"] == "New text"
    detail = await (
        await app_client.get(
            url(f"/patrons/{patron}/blocks/stops/{description['BlockID']}"), headers=headers(sample_tenant)
        )
    ).json()
    assert detail["BlockDescription"] == "New text"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"BlockType": 7, "BlockDescription": "x"}, -3500),
        ({"BlockDescription": "x"}, -3500),
        ({"BlockType": None, "BlockDescription": "x"}, -3500),
        ({"BlockType": 3, "BlockID": 64}, -3502),
        ({"BlockType": 1}, -3508),
        ({"BlockType": 1, "BlockDescription": None}, -3508),
        ({"BlockType": 1, "BlockDescription": ""}, -3508),
        ({"BlockType": 1, "BlockDescription": "   "}, -3508),
        ({"BlockType": 1, "BlockDescription": "x" * 256}, -3509),
        ({"BlockType": 2}, -3506),
        ({"BlockType": 2, "BlockID": 4}, -3506),  # Hillview's block, not offered at branch 3
        ({"BlockType": 2, "BlockID": UNKNOWN}, -3506),
        # what Json.NET does not bind to an Int ("1" would be bound: see test_binding.py)
        ({"BlockType": "one", "BlockDescription": "x"}, -1),
        ({"BlockType": 1.5, "BlockDescription": "x"}, -1),
        ({"BlockType": True, "BlockDescription": "x"}, -1),
    ],
)
async def test_invalid_blocks_are_refused(app_client, sample_tenant, body, code):
    resp = await app_client.post(url("/patrons/1001/blocks"), json=body, headers=headers(sample_tenant))
    await _error(resp, 400, code)
    assert await _summary(app_client, sample_tenant, 1001) == []


async def test_255_characters_are_allowed(app_client, sample_tenant):
    patron = await new_patron(app_client, sample_tenant)
    block = await free_text_block(app_client, sample_tenant, patron, "é" * 255)
    assert block["BlockDescription"] == "é" * 255


async def test_the_same_block_twice_is_refused(app_client, sample_tenant):
    patron = await new_patron(app_client, sample_tenant)
    h = headers(sample_tenant)
    await free_text_block(app_client, sample_tenant, patron, "Lost card")
    resp = await app_client.post(
        url(f"/patrons/{patron}/blocks"), json={"BlockType": 1, "BlockDescription": "lost CARD"}, headers=h
    )
    await _error(resp, 400, -3507)
    assert (
        await app_client.post(url(f"/patrons/{patron}/blocks"), json={"BlockType": 2, "BlockID": 1}, headers=h)
    ).status == 200
    resp = await app_client.post(url(f"/patrons/{patron}/blocks"), json={"BlockType": 100, "BlockID": 1}, headers=h)
    await _error(resp, 400, -3507)
    assert len(await _summary(app_client, sample_tenant, patron)) == 2


async def test_concurrent_identical_blocks_store_one(app_client, sample_tenant):
    patron = await new_patron(app_client, sample_tenant)
    h = headers(sample_tenant)
    for body in ({"BlockType": 1, "BlockDescription": "Same text"}, {"BlockType": 2, "BlockID": 2}):
        responses = await asyncio.gather(
            *(app_client.post(url(f"/patrons/{patron}/blocks"), json=body, headers=h) for _ in range(8))
        )
        assert sorted(r.status for r in responses) == [200] + [400] * 7
    assert len(await _summary(app_client, sample_tenant, patron)) == 2


async def test_blocks_of_unknown_and_secured_patrons(app_client, sample_tenant):
    body = {"BlockType": 1, "BlockDescription": "x"}
    h = headers(sample_tenant)
    body_404 = await _error(await app_client.post(url(f"/patrons/{UNKNOWN}/blocks"), json=body, headers=h), 404, -3000)
    assert body_404["Message"] == "Invalid Patron ID."
    body_409 = await _error(
        await app_client.post(url(f"/patrons/{SECURED_PATRON}/blocks"), json=body, headers=h), 409, -3001
    )
    assert body_409["Message"] == "Patron record is secured."
    await _error(
        await app_client.post(
            url("/patrons/1001/blocks"), json=body, headers=headers(sample_tenant, (BLOCKS_DISPLAY,))
        ),
        403,
        -2,
    )


# -- block details ---------------------------------------------------------------------------------------
async def test_block_details_failures(app_client, sample_tenant):
    patron = await new_patron(app_client, sample_tenant)
    block = await free_text_block(app_client, sample_tenant, patron)
    h = headers(sample_tenant)
    other = await new_patron(app_client, sample_tenant)
    # a block is found only through its own patron, and only as its own type
    for path in (
        f"/patrons/{other}/blocks/freetext/{block['BlockID']}",
        f"/patrons/{patron}/blocks/stops/{block['BlockID']}",
        f"/patrons/{patron}/blocks/freetext/{UNKNOWN}",
    ):
        await _error(await app_client.get(url(path), headers=h), 404, -3501)
    await _error(await app_client.get(url(f"/patrons/{UNKNOWN}/blocks/freetext/1"), headers=h), 404, -3000)
    await _error(await app_client.get(url(f"/patrons/{patron}/blocks/freetext/x"), headers=h), 400, -1)
    await _error(
        await app_client.get(
            url(f"/patrons/{patron}/blocks/freetext/{block['BlockID']}"),
            headers=headers(sample_tenant, (BLOCKS_CHANGE,)),
        ),
        403,
        -2,
    )
    await secure(app_client, sample_tenant, patron)
    await _error(
        await app_client.get(url(f"/patrons/{patron}/blocks/freetext/{block['BlockID']}"), headers=h), 409, -3001
    )
    # the summary of a secured patron stays readable
    assert len(await _summary(app_client, sample_tenant, patron)) == 1


# -- PUT and DELETE -------------------------------------------------------------------------------------
async def test_changing_a_free_text_block_records_the_modifier(app_client, sample_tenant):
    patron = await new_patron(app_client, sample_tenant)
    block = await free_text_block(app_client, sample_tenant, patron, "First text")
    other_user = "9c4b8a4a-1f2d-4f7e-9a51-0b6d2d9f3a11"
    resp = await app_client.put(
        url(f"/patrons/{patron}/blocks/101/{block['BlockID']}", workstation=2, org=4),
        json={"BlockDescription": "Second text"},
        headers=headers(sample_tenant, user=other_user, username="supervisor"),
    )
    assert resp.status == 200, await resp.text()
    changed = await resp.json()
    assert changed["BlockDescription"] == "Second text" and changed["BlockID"] == block["BlockID"]
    assert (changed["CreatorID"], changed["CreationDate"]) == (block["CreatorID"], block["CreationDate"])
    assert (changed["ModifierID"], changed["ModifierName"]) == (None, "supervisor")
    assert changed["ModificationDate"] >= changed["CreationDate"]
    assert (changed["OrganizationID"], changed["WorkstationID"]) == (block["OrganizationID"], block["WorkstationID"])
    # the names are those of the block's organisation and workstation, not the caller's
    assert (changed["OrganizationName"], changed["WorkstationName"]) == ("Riverside Main Branch", "RPL-MAIN-CIRC1")


async def test_changing_a_library_block_to_another_one(app_client, sample_tenant):
    patron = await new_patron(app_client, sample_tenant)
    h = headers(sample_tenant)
    await app_client.post(url(f"/patrons/{patron}/blocks"), json={"BlockType": 2, "BlockID": 1}, headers=h)
    await app_client.post(url(f"/patrons/{patron}/blocks"), json={"BlockType": 2, "BlockID": 2}, headers=h)
    resp = await app_client.put(url(f"/patrons/{patron}/blocks/2/1"), json={"BlockType": 100, "BlockID": 3}, headers=h)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["BlockID"] == 3
    await _error(await app_client.get(url(f"/patrons/{patron}/blocks/stops/1"), headers=h), 404, -3501)
    await _error(await app_client.put(url(f"/patrons/{patron}/blocks/2/3"), json={"BlockID": 2}, headers=h), 400, -3507)
    same = await app_client.put(url(f"/patrons/{patron}/blocks/2/3"), json={"BlockID": 3}, headers=h)
    assert same.status == 200
    assert sorted(r["BlockID"] for r in await _summary(app_client, sample_tenant, patron)) == [2, 3]


async def test_change_failures(app_client, sample_tenant):
    patron = await new_patron(app_client, sample_tenant, SystemBlocks=64)
    text = await free_text_block(app_client, sample_tenant, patron, "Keep")
    await free_text_block(app_client, sample_tenant, patron, "Other")
    h = headers(sample_tenant)
    bid = text["BlockID"]
    for path, body, status, code in [
        (f"/patrons/{patron}/blocks/3/64", {"BlockDescription": "x"}, 400, -3502),
        (f"/patrons/{patron}/blocks/5/{bid}", {"BlockDescription": "x"}, 400, -3500),
        (f"/patrons/{patron}/blocks/1/{bid}", {"BlockType": 2, "BlockDescription": "x"}, 400, -3500),
        (f"/patrons/{patron}/blocks/1/{bid}", {"BlockDescription": ""}, 400, -3508),
        (f"/patrons/{patron}/blocks/1/{bid}", {"BlockDescription": "y" * 256}, 400, -3509),
        (f"/patrons/{patron}/blocks/1/{bid}", {"BlockDescription": "OTHER"}, 400, -3507),
        (f"/patrons/{patron}/blocks/1/{UNKNOWN}", {"BlockDescription": "x"}, 404, -3501),
        (f"/patrons/{UNKNOWN}/blocks/1/{bid}", {"BlockDescription": "x"}, 404, -3000),
        (f"/patrons/{patron}/blocks/freetext/{bid}", {"BlockDescription": "x"}, 400, -1),
    ]:
        await _error(await app_client.put(url(path), json=body, headers=h), status, code)
    await _error(
        await app_client.put(
            url(f"/patrons/{patron}/blocks/1/{bid}"),
            json={"BlockDescription": "x"},
            headers=headers(sample_tenant, (BLOCKS_DISPLAY,)),
        ),
        403,
        -2,
    )
    # a failed change changes nothing
    rows = await _summary(app_client, sample_tenant, patron)
    assert [r["BlockDescription"] for r in rows] == ["Keep", "Other", "Self-registration from PAC"]


async def test_removing_blocks(app_client, sample_tenant):
    patron = await new_patron(app_client, sample_tenant, SystemBlocks=1024)
    h = headers(sample_tenant)
    text = await free_text_block(app_client, sample_tenant, patron)
    await app_client.post(url(f"/patrons/{patron}/blocks"), json={"BlockType": 2, "BlockID": 2}, headers=h)
    resp = await app_client.delete(url(f"/patrons/{patron}/blocks/1/{text['BlockID']}"), headers=h)
    assert resp.status == 200 and await resp.json() is True
    resp = await app_client.delete(url(f"/patrons/{patron}/blocks/100/2"), headers=h)
    assert resp.status == 200 and await resp.json() is True
    await _error(await app_client.delete(url(f"/patrons/{patron}/blocks/100/2"), headers=h), 404, -3501)
    # a system block this API does not remove (tests/polaris/test_system_blocks.py: those it does)
    await _error(await app_client.delete(url(f"/patrons/{patron}/blocks/4/1024"), headers=h), 400, -3502)
    await _error(await app_client.delete(url(f"/patrons/{patron}/blocks/3/1024"), headers=h), 400, -3502)
    await _error(await app_client.delete(url(f"/patrons/{patron}/blocks/0/1024"), headers=h), 400, -3500)
    await _error(
        await app_client.delete(
            url(f"/patrons/{patron}/blocks/1/1"), headers=headers(sample_tenant, (BLOCKS_DISPLAY,))
        ),
        403,
        -2,
    )
    assert [r["BlockType"] for r in await _summary(app_client, sample_tenant, patron)] == [4]


async def test_removing_a_block_logs_who_removed_which_block_when(app_client, sample_tenant):
    patron = await new_patron(app_client, sample_tenant)
    block = await free_text_block(app_client, sample_tenant, patron)
    path = url(f"/patrons/{patron}/blocks/1/{block['BlockID']}")
    h = {**headers(sample_tenant), "X-Okapi-Request-Id": "audit-block"}
    with json_log("mod_users.resources.polaris") as lines:
        assert (await app_client.delete(path, headers=h)).status == 200
        await _error(await app_client.delete(path, headers=h), 404, -3501)  # nothing deleted, nothing logged
    [line] = [entry for entry in lines if entry["message"] == "patron block deleted"]
    assert {
        key: line.get(key)
        for key in (
            "level",
            "patronId",
            "blockType",
            "blockId",
            "userId",
            "organizationId",
            "workstationId",
            "tenant",
            "requestId",
        )
    } == {
        "level": "INFO",
        "patronId": patron,
        "blockType": 1,
        "blockId": block["BlockID"],
        "userId": USER,
        "organizationId": 3,
        "workstationId": 1,
        "tenant": sample_tenant,
        "requestId": "audit-block",
    }
    assert abs(datetime.fromisoformat(line["time"]) - datetime.now(UTC)) < timedelta(minutes=1)


async def test_a_secured_patrons_blocks_cannot_change(app_client, sample_tenant):
    patron = await new_patron(app_client, sample_tenant)
    block = await free_text_block(app_client, sample_tenant, patron)
    await secure(app_client, sample_tenant, patron)
    h = headers(sample_tenant)
    path = url(f"/patrons/{patron}/blocks/1/{block['BlockID']}")
    await _error(await app_client.put(path, json={"BlockDescription": "x"}, headers=h), 409, -3001)
    await _error(await app_client.delete(path, headers=h), 409, -3001)
    await _error(await app_client.delete(url(f"/patrons/{patron}/blocks/3/64"), headers=h), 409, -3001)
    assert len(await _summary(app_client, sample_tenant, patron)) == 1


async def test_blocks_from_another_organisation_use_its_offer(app_client, sample_tenant):
    patron = await new_patron(app_client, sample_tenant, branch=HILLVIEW_BRANCH)
    h = headers(sample_tenant)
    resp = await app_client.post(
        url(f"/patrons/{patron}/blocks", org=HILLVIEW_BRANCH, workstation=4),
        json={"BlockType": 2, "BlockID": 4},
        headers=h,
    )
    assert resp.status == 200
    await _error(
        await app_client.post(
            url(f"/patrons/{patron}/blocks", org=HILLVIEW_BRANCH, workstation=4),
            json={"BlockType": 2, "BlockID": 2},
            headers=h,
        ),
        400,
        -3506,
    )
