"""The /_/tenant 2.0 API: jobs, idempotent init, upgrades that keep data, reference data, purge."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from mod_users.storage.database import connect_kwargs
from mod_users.storage.migrations import Migration, upgrade_tenant
from mod_users.storage.tables import ALL_TABLES
from mod_users.storage.tenants import TenantSchema
from tests.conftest import unique_tenant

PBC = "/patron-block-conditions"
LOST_ITEMS = "72b67965-5b73-4840-bc0b-be8f3f6e047e"


def init_body(module_to="mod-users-0.1.0", module_from=None, reference=True):
    body = {"module_to": module_to, "parameters": [{"key": "loadReference", "value": str(reference).lower()}]}
    if module_from:
        body["module_from"] = module_from
    return body


async def run_job(client, tenant, body):
    """POST /_/tenant as a caller that follows the job (Okapi's 2.0 protocol) and wait for it; return it."""
    h = {"X-Okapi-Tenant": tenant}
    resp = await client.post("/_/tenant", json=body, headers={**h, "Prefer": "respond-async"})
    assert resp.status == 201, await resp.text()
    location = resp.headers["Location"]
    created = await resp.json()
    assert location == f"/_/tenant/{created['id']}"
    assert created["complete"] is False
    resp = await client.get(location, params={"wait": "30000"}, headers=h)
    assert resp.status == 200
    job = await resp.json()
    assert job["complete"] is True, job
    return job


@pytest.fixture
def new_tenant(db_settings):
    """A tenant name that is purged after the test, whatever the test did to it."""
    name = unique_tenant("n")
    yield name

    async def purge():
        con = await asyncpg.connect(**connect_kwargs(db_settings))
        try:
            await con.execute(f"DROP SCHEMA IF EXISTS {TenantSchema(name).schema} CASCADE")
        finally:
            await con.close()

    import asyncio

    asyncio.run(purge())


async def test_init_creates_schema_and_loads_reference_data(app_client, new_tenant):
    job = await run_job(app_client, new_tenant, init_body())
    assert "error" not in job
    assert job["tenant"] == new_tenant
    assert any("6 of 6" in m for m in job["messages"])
    body = await (await app_client.get(PBC, headers={"X-Okapi-Tenant": new_tenant})).json()
    assert body["totalRecords"] == 6


async def test_init_without_load_reference_loads_nothing(app_client, new_tenant):
    await run_job(app_client, new_tenant, init_body(reference=False))
    body = await (await app_client.get(PBC, headers={"X-Okapi-Tenant": new_tenant})).json()
    assert body["totalRecords"] == 0


async def test_reinit_and_upgrade_keep_records_and_a_librarys_edits(app_client, new_tenant):
    h = {"X-Okapi-Tenant": new_tenant}
    await run_job(app_client, new_tenant, init_body())
    edited = {
        "id": LOST_ITEMS,
        "name": "Lost items (our wording)",
        "blockBorrowing": True,
        "blockRenewals": False,
        "blockRequests": False,
        "valueType": "Integer",
        "message": "Find them",
        "_version": 1,
    }
    assert (await app_client.put(f"{PBC}/{LOST_ITEMS}", json=edited, headers=h)).status == 204
    own = await (await app_client.post(PBC, json={**edited, "id": str(uuid.uuid4()), "name": "ours"}, headers=h)).json()
    await run_job(app_client, new_tenant, init_body())  # the same init again
    job = await run_job(app_client, new_tenant, init_body("mod-users-0.2.0", "mod-users-0.1.0"))
    assert any("0 of 6" in m for m in job["messages"])
    lost = await (await app_client.get(f"{PBC}/{LOST_ITEMS}", headers=h)).json()
    assert lost["name"] == "Lost items (our wording)"
    assert (await app_client.get(f"{PBC}/{own['id']}", headers=h)).status == 200
    assert (await (await app_client.get(PBC, headers=h)).json())["totalRecords"] == 7


async def test_deleted_reference_record_comes_back_on_reinit(app_client, new_tenant):
    h = {"X-Okapi-Tenant": new_tenant}
    await run_job(app_client, new_tenant, init_body())
    assert (await app_client.delete(f"{PBC}/{LOST_ITEMS}", headers=h)).status == 204
    job = await run_job(app_client, new_tenant, init_body())
    assert any("1 of 6" in m for m in job["messages"])
    assert (await app_client.get(f"{PBC}/{LOST_ITEMS}", headers=h)).status == 200


async def test_versioned_migrations_run_once_each_in_order(db_settings, fresh_tenant):
    ts = TenantSchema(fresh_tenant)
    calls = []

    def step(name):
        async def apply(con, tenant):
            calls.append(name)
            await con.execute(f"CREATE TABLE IF NOT EXISTS {tenant.table('m_' + name)} (x int)")

        return Migration(name, apply)

    con = await asyncpg.connect(**connect_kwargs(db_settings))
    try:
        first = await upgrade_tenant(con, ts, ALL_TABLES, [step("a")], "mod-users-0.1.0")
        again = await upgrade_tenant(con, ts, ALL_TABLES, [step("a"), step("b")], "mod-users-0.2.0")
        assert calls == ["a", "b"]
        assert "applied migration a" in first and "applied migration b" in again
        assert "applied migration a" not in again
        assert await con.fetchval(f"SELECT module FROM {ts.table('module_version')}") == "mod-users-0.2.0"
    finally:
        await con.close()


async def test_a_failing_migration_leaves_the_schema_as_it_was(db_settings, fresh_tenant):
    ts = TenantSchema(fresh_tenant)

    async def broken(con, tenant):
        await con.execute(f"CREATE TABLE {tenant.table('half_done')} (x int)")
        raise RuntimeError("boom")

    con = await asyncpg.connect(**connect_kwargs(db_settings))
    try:
        with pytest.raises(RuntimeError):
            await upgrade_tenant(con, ts, ALL_TABLES, [Migration("broken", broken)], "mod-users-9.0.0")
        assert await con.fetchval("SELECT to_regclass($1)", ts.table("half_done")) is None
        assert await con.fetchval(f"SELECT module FROM {ts.table('module_version')}") == "mod-users-0.1.0"
    finally:
        await con.close()


async def test_declared_indexes_are_created_and_undeclared_ones_dropped(db_settings, fresh_tenant):
    ts = TenantSchema(fresh_tenant)
    con = await asyncpg.connect(**connect_kwargs(db_settings))
    try:
        names = {
            r[0]
            for r in await con.fetch(
                "SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'patron_block_conditions'",
                ts.schema,
            )
        }
        assert "mu_patron_block_conditions_name_btree" in names
        await con.execute(f"CREATE INDEX mu_stale_idx ON {ts.table('patron_block_conditions')} ((jsonb->>'x'))")
        await con.execute(f"CREATE INDEX keep_foreign_idx ON {ts.table('patron_block_conditions')} ((jsonb->>'y'))")
        done = await upgrade_tenant(con, ts, ALL_TABLES, [], "mod-users-0.1.0")
        assert "dropped index mu_stale_idx" in done
        names = {r[0] for r in await con.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = $1", ts.schema)}
        assert "mu_stale_idx" not in names and "keep_foreign_idx" in names
    finally:
        await con.close()


async def test_get_job_without_wait_answers_at_once(app_client, new_tenant):
    h = {"X-Okapi-Tenant": new_tenant}
    resp = await app_client.post("/_/tenant", json=init_body(), headers=h)
    location = resp.headers["Location"]
    resp = await app_client.get(location, headers=h)
    assert resp.status == 200
    assert set(await resp.json()) >= {"id", "complete", "tenantAttributes"}
    await app_client.get(location, params={"wait": "30000"}, headers=h)


async def test_delete_job_forgets_it(app_client, new_tenant):
    h = {"X-Okapi-Tenant": new_tenant}
    job = await run_job(app_client, new_tenant, init_body())
    assert (await app_client.delete(f"/_/tenant/{job['id']}", headers=h)).status == 204
    assert (await app_client.get(f"/_/tenant/{job['id']}", headers=h)).status == 404
    assert (await app_client.delete(f"/_/tenant/{job['id']}", headers=h)).status == 404


async def test_unknown_job_is_404_and_a_malformed_job_id_400(app_client, tenant):
    h = {"X-Okapi-Tenant": tenant}
    for method in ("GET", "DELETE"):
        resp = await app_client.request(method, f"/_/tenant/{uuid.uuid4()}", headers=h)
        assert resp.status == 404
        assert resp.content_type == "text/plain"
        resp = await app_client.request(method, "/_/tenant/not-a-uuid", headers=h)
        assert resp.status == 400
        assert "'operationId'" in await resp.text()


async def test_job_of_a_tenant_without_schema_is_404(app_client):
    resp = await app_client.get(f"/_/tenant/{uuid.uuid4()}", headers={"X-Okapi-Tenant": "nosuchtenant"})
    assert resp.status == 404


async def test_jobs_are_per_tenant(app_client, new_tenant, tenant):
    job = await run_job(app_client, new_tenant, init_body(reference=False))
    assert (await app_client.get(f"/_/tenant/{job['id']}", headers={"X-Okapi-Tenant": tenant})).status == 404


async def test_bad_wait_is_400(app_client, tenant):
    resp = await app_client.get(
        f"/_/tenant/{uuid.uuid4()}", params={"wait": "soon"}, headers={"X-Okapi-Tenant": tenant}
    )
    assert resp.status == 400
    assert "'wait'" in await resp.text()


async def test_purge_drops_the_schema(app_client, new_tenant):
    h = {"X-Okapi-Tenant": new_tenant}
    await run_job(app_client, new_tenant, init_body())
    resp = await app_client.post("/_/tenant", json={"module_from": "mod-users-0.1.0", "purge": True}, headers=h)
    assert resp.status == 204
    resp = await app_client.get(PBC, headers=h)
    assert resp.status == 400
    assert "not initialised" in await resp.text()
    # Purging what is not there is fine too.
    assert (await app_client.post("/_/tenant", json={"purge": True}, headers=h)).status == 204


async def test_disable_without_purge_keeps_data(app_client, new_tenant):
    h = {"X-Okapi-Tenant": new_tenant}
    await run_job(app_client, new_tenant, init_body())
    assert (await app_client.post("/_/tenant", json={"module_from": "mod-users-0.1.0"}, headers=h)).status == 204
    assert (await (await app_client.get(PBC, headers=h)).json())["totalRecords"] == 6


async def test_missing_tenant_is_400(app_client):
    resp = await app_client.post("/_/tenant", json=init_body())
    assert resp.status == 400
    assert "X-Okapi-Tenant" in await resp.text()


async def test_hostile_tenant_is_400_and_creates_nothing(app_client, db_settings):
    resp = await app_client.post("/_/tenant", json=init_body(), headers={"X-Okapi-Tenant": "a; drop schema x"})
    assert resp.status == 400
    con = await asyncpg.connect(**connect_kwargs(db_settings))
    try:
        assert not await con.fetchval("SELECT 1 FROM pg_namespace WHERE nspname LIKE 'a; drop%'")
    finally:
        await con.close()


@pytest.mark.parametrize(
    "body", [{"module_to": 5}, {"purge": "yes"}, {"parameters": [{"value": "x"}]}, {"unexpected": 1}, []]
)
async def test_bad_attributes_are_422(app_client, new_tenant, body):
    resp = await app_client.post("/_/tenant", json=body, headers={"X-Okapi-Tenant": new_tenant})
    assert resp.status == 422
    assert (await resp.json())["errors"]


async def test_malformed_attributes_are_400(app_client, new_tenant):
    resp = await app_client.post("/_/tenant", data=b"{module_to", headers={"X-Okapi-Tenant": new_tenant})
    assert resp.status == 400


async def test_a_failing_job_still_says_what_it_did(app_client, new_tenant, monkeypatch):
    from mod_users.tenant import api

    async def broken(*args, **kwargs):
        raise ValueError("reference record max_number_of_lost_items.json is invalid")

    monkeypatch.setattr(api, "load_data_sets", broken)
    job = await run_job(app_client, new_tenant, init_body())
    assert "max_number_of_lost_items.json is invalid" in job["error"]
    # the schema was created before the failure, and the job says so
    assert any(m.startswith("applied migration") for m in job["messages"]), job["messages"]
