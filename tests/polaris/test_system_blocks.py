"""System blocks as the summary reports them and as a client clears them: verify-patron bits and the date
blocks go (a cleared date block until its date changes), the others stay, none is placed or changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.polaris.support import (
    admin_headers,
    headers,
    is_polaris_error,
    new_patron,
    secure,
    stored_patron,
    url,
)

QUERY = {"logonBranchID": "3", "associatedblocks": "false"}
PAST = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds")
LATER_PAST = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
FUTURE = (datetime.now(UTC) + timedelta(days=30)).isoformat(timespec="seconds")


async def _rows(client, tenant, patron):
    resp = await client.get(url(f"/patrons/{patron}/blockssummary"), params=QUERY, headers=headers(tenant))
    assert resp.status == 200
    return [(r["BlockType"], r["BlockID"], r["BlockDescription"]) for r in await resp.json()]


async def _delete(client, tenant, patron, block_type, block_id):
    return await client.delete(url(f"/patrons/{patron}/blocks/{block_type}/{block_id}"), headers=headers(tenant))


async def _patron(client, tenant, mask=0, addr_check=None, expiration=None):
    registration = {"NameFirst": "Sys", "NameLast": "Blocks", "AddrCheckDate": addr_check, "ExpirationDate": expiration}
    return await new_patron(client, tenant, SystemBlocks=mask, Registration=registration)


async def test_the_summary_reports_each_kind(app_client, sample_tenant):
    patron = await _patron(app_client, sample_tenant, 64 + 128 + 256 + 512 + 1024 + 2048 + 4096, PAST, PAST)
    assert await _rows(app_client, sample_tenant, patron) == [
        (3, 64, "Self-registration from PAC"),
        (3, 128, "Address update from PAC"),
        (3, 256, "Express registration"),
        (3, 512, "Offline registration"),
        (4, 1024, "Sent to collection agency"),
        (4, 2048, "Registration renewal"),
        (4, 4096, "Registration fee due"),
        (3, 0, "Verify patron data: the address check date has passed"),
        (100, 0, "Registration has expired"),
    ]
    future = await _patron(app_client, sample_tenant, 0, FUTURE, FUTURE)
    assert await _rows(app_client, sample_tenant, future) == []


async def test_clearing_a_verify_bit_clears_it_in_the_record(app_client, sample_tenant):
    patron = await _patron(app_client, sample_tenant, 128 + 1024)
    resp = await _delete(app_client, sample_tenant, patron, 3, 128)
    assert resp.status == 200 and await resp.json() is True
    assert (await stored_patron(app_client, sample_tenant, patron))["SystemBlocks"] == 1024
    resp = await _delete(app_client, sample_tenant, patron, 3, 128)
    assert resp.status == 404 and is_polaris_error(await resp.json(), -3501)


async def test_a_cleared_date_block_stays_cleared_until_its_date_changes(app_client, sample_tenant):
    patron = await _patron(app_client, sample_tenant, 0, PAST, PAST)
    for block_type in (3, 100):
        resp = await _delete(app_client, sample_tenant, patron, block_type, 0)
        assert resp.status == 200 and await resp.json() is True
    assert await _rows(app_client, sample_tenant, patron) == []
    stored = await stored_patron(app_client, sample_tenant, patron)
    assert stored["Registration"]["AddrCheckDate"] == PAST  # the record keeps its dates
    # a new address check date that passes in turn raises the block again; the expiry stays cleared
    stored.pop("metadata")
    stored["Registration"]["AddrCheckDate"] = LATER_PAST
    resp = await app_client.put(f"/polaris/patrons/{stored['id']}", json=stored, headers=admin_headers(sample_tenant))
    assert resp.status == 204, await resp.text()
    assert await _rows(app_client, sample_tenant, patron) == [
        (3, 0, "Verify patron data: the address check date has passed")
    ]


@pytest.mark.parametrize(
    ("block_type", "block_id", "status", "code"),
    [
        (4, 1024, 400, -3502),  # collection agency: stays
        (3, 1024, 400, -3502),  # the same bit named as a verify block
        (3, 4096, 400, -3502),
        (3, 64, 404, -3501),  # a bit the patron does not have
        (3, 0, 404, -3501),  # no address check has passed
        (100, 0, 404, -3501),  # not expired
        (100, 1024, 404, -3501),  # 100 with any other BlockID is a library-defined block's alias
    ],
)
async def test_what_cannot_be_cleared(app_client, sample_tenant, block_type, block_id, status, code):
    patron = await _patron(app_client, sample_tenant, 1024 + 4096, FUTURE, FUTURE)
    resp = await _delete(app_client, sample_tenant, patron, block_type, block_id)
    assert resp.status == status and is_polaris_error(await resp.json(), code)
    assert (await stored_patron(app_client, sample_tenant, patron))["SystemBlocks"] == 1024 + 4096


async def test_system_blocks_are_never_placed_or_changed(app_client, sample_tenant):
    patron = await _patron(app_client, sample_tenant, 64, PAST, PAST)
    h = headers(sample_tenant)
    for block_type in (3, 4):
        resp = await app_client.post(
            url(f"/patrons/{patron}/blocks"), json={"BlockType": block_type, "BlockID": 64}, headers=h
        )
        assert resp.status == 400 and is_polaris_error(await resp.json(), -3502)
        resp = await app_client.put(url(f"/patrons/{patron}/blocks/{block_type}/64"), json={"BlockID": 64}, headers=h)
        assert resp.status == 400 and is_polaris_error(await resp.json(), -3502)
    assert len(await _rows(app_client, sample_tenant, patron)) == 3


async def test_a_secured_patrons_system_blocks_stay(app_client, sample_tenant):
    patron = await _patron(app_client, sample_tenant, 64, PAST)
    await secure(app_client, sample_tenant, patron)
    for block_type, block_id in ((3, 64), (3, 0)):
        resp = await _delete(app_client, sample_tenant, patron, block_type, block_id)
        assert resp.status == 409 and is_polaris_error(await resp.json(), -3001)


async def test_deleting_a_patron_deletes_its_clearances(app_client, sample_tenant):
    patron = await _patron(app_client, sample_tenant, 0, PAST)
    assert (await _delete(app_client, sample_tenant, patron, 3, 0)).status == 200
    stored = await stored_patron(app_client, sample_tenant, patron)
    resp = await app_client.delete(f"/polaris/patrons/{stored['id']}", headers=admin_headers(sample_tenant))
    assert resp.status == 204
    recreated = {k: v for k, v in stored.items() if k not in ("metadata", "_version")}
    resp = await app_client.post("/polaris/patrons", json=recreated, headers=admin_headers(sample_tenant))
    assert resp.status == 201, await resp.text()
    assert [row[:2] for row in await _rows(app_client, sample_tenant, patron)] == [(3, 0)]
