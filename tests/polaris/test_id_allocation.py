"""Allocation of Polaris integer ids once the 32-bit sequence has started over (issue 12, item 6): with the
ids up to 2147483647 taken by explicit CountryIDs, POST without one answered 500 "no free CountryID after
1000 tries". One statement now finds the lowest free number, under a per-sequence lock, so allocation
succeeds whenever a number is free, also for two service instances sharing the database."""

from __future__ import annotations

import asyncio
import json

import asyncpg

from mod_users.app import init_app
from mod_users.resources.polaris.ids import COUNTRY
from mod_users.storage.database import connect_kwargs, create_pool
from mod_users.storage.records import RecordStore
from mod_users.storage.tables import POLARIS_COUNTRIES, POLARIS_COUNTRY_IDS
from mod_users.storage.tenants import TenantSchema
from tests.conftest import contract_of
from tests.polaris.support import admin_headers

PATH = "/polaris/countries"
INT32_MAX = 2**31 - 1


async def _take(db, tenant: str, numbers) -> None:
    """Store countries with these CountryIDs directly (as sample data is stored: the sequence stays)."""
    ts = TenantSchema(tenant)
    rows = [(COUNTRY.row_id(n), {"id": COUNTRY.row_id(n), "CountryID": n, "Name": f"C{n}"}) for n in numbers]
    con = await asyncpg.connect(**connect_kwargs(db))
    try:
        await con.set_type_codec("jsonb", encoder=json.dumps, decoder=str, schema="pg_catalog")
        await con.executemany(
            f"INSERT INTO {ts.table(POLARIS_COUNTRIES.name)} (id, jsonb) VALUES ($1::uuid, $2) ON CONFLICT DO NOTHING",
            rows,
        )
    finally:
        await con.close()


def _country(name: str, **fields) -> dict:
    return {"Name": name, "PostalCodeFormats": ["99999"], **fields}


async def test_allocation_after_the_top_finds_the_lowest_free_id(app_client, db_settings, fresh_sample_tenant):
    tenant = fresh_sample_tenant
    await _take(db_settings, tenant, range(1, 1501))
    top = await app_client.post(PATH, json=_country("Top", CountryID=INT32_MAX), headers=admin_headers(tenant))
    assert top.status == 201, await top.text()
    resp = await app_client.post(PATH, json=_country("Next"), headers=admin_headers(tenant))
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["CountryID"] == 1501
    # and the sequence continues from there
    resp = await app_client.post(PATH, json=_country("After"), headers=admin_headers(tenant))
    assert (await resp.json())["CountryID"] == 1502


async def test_two_instances_allocating_at_once_never_collide(
    aiohttp_client, settings, db_settings, fresh_sample_tenant
):
    # Taken: 1..1200 but every 40th, so that most allocations find their number taken and look for the
    # next free one, concurrently, from two apps with pools of their own (two service instances).
    tenant = fresh_sample_tenant
    await _take(db_settings, tenant, [n for n in range(1, 1201) if n % 40])
    first = await aiohttp_client(init_app(settings, db_settings, contract_of(settings.contract_dir)))
    second = await aiohttp_client(init_app(settings, db_settings, contract_of(settings.contract_dir)))
    top = await first.post(PATH, json=_country("Top", CountryID=INT32_MAX), headers=admin_headers(tenant))
    assert top.status == 201

    async def create(client, n: int) -> tuple[int, dict]:
        resp = await client.post(PATH, json=_country(f"N{n}"), headers=admin_headers(tenant))
        return resp.status, await resp.json()

    answers = await asyncio.gather(*(create(first if n % 2 else second, n) for n in range(24)))
    assert [status for status, _ in answers] == [201] * 24, answers
    ids = [body["CountryID"] for _, body in answers]
    assert len(set(ids)) == 24
    assert all(n % 40 == 0 or n > 1200 for n in ids), sorted(ids)


async def test_a_full_id_space_is_reported_not_looped_over(db_settings, fresh_tenant):
    ts = TenantSchema(fresh_tenant)
    await _take(db_settings, fresh_tenant, [1, 2, 3, 5])
    pool = await create_pool(db_settings)
    try:
        store = RecordStore(pool)
        assert await store.claim_free_number(ts, POLARIS_COUNTRIES, "CountryID", POLARIS_COUNTRY_IDS, 5) == 4
        await _take(db_settings, fresh_tenant, [4])
        assert await store.claim_free_number(ts, POLARIS_COUNTRIES, "CountryID", POLARIS_COUNTRY_IDS, 5) is None
    finally:
        await pool.close()
