"""Database outage under load: the service answers 503 quickly, reports it in /admin/health, recovers on
its own when PostgreSQL returns, and every write that got a 2xx is still there afterwards."""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import pytest

from mod_users.app import init_app
from mod_users.storage.database import connect_kwargs, ensure_database
from mod_users.storage.embedded import EmbeddedPostgres, free_port
from mod_users.storage.tenants import TenantSchema
from mod_users.tenant.api import run_init

TENANT = "outage"
PATH = "/patron-block-conditions"
# No request may take longer than this while the database is away (connection attempts fail fast;
# a hung server is bounded by the pool's connect timeout).
BOUND_SECONDS = 12


@pytest.fixture
def cluster():
    root = Path(tempfile.mkdtemp(prefix="mod-users-outage-"))
    pg = EmbeddedPostgres(root, port=free_port())  # durable: a 2xx must survive a crash
    yield pg
    pg.destroy()


def _record(rid: str) -> dict:
    return {"id": rid, "name": f"outage {rid}", "blockBorrowing": True, "blockRenewals": False,
            "blockRequests": False, "valueType": "Integer", "message": "blocked"}


async def test_outage_under_load(aiohttp_client, settings, cluster):
    db = cluster.start()
    await ensure_database(db)
    app = init_app(settings, db)
    client = await aiohttp_client(app)
    await run_init(app, TenantSchema(TENANT), {"module_to": "mod-users-0.1.0"})
    h = {"X-Okapi-Tenant": TENANT}
    outcomes: list[tuple[str, int, float]] = []
    stop_writers = asyncio.Event()

    async def writer() -> None:
        while not stop_writers.is_set():
            rid = str(uuid.uuid4())
            started = time.monotonic()
            resp = await client.post(PATH, json=_record(rid), headers=h)
            outcomes.append((rid, resp.status, time.monotonic() - started))
            await resp.read()
            if resp.status == 503:
                await asyncio.sleep(0.02)

    writers = [asyncio.create_task(writer()) for _ in range(8)]
    await asyncio.sleep(0.8)
    before_outage = len(outcomes)
    await asyncio.to_thread(cluster.stop, "immediate")
    await asyncio.sleep(1.5)
    health = await client.get("/admin/health")
    assert health.status == 503
    during = outcomes[before_outage:]
    await asyncio.to_thread(cluster.start)
    deadline = time.monotonic() + 30
    while (await client.get("/admin/health")).status != 200:
        assert time.monotonic() < deadline, "the service did not recover without a restart"
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.8)
    stop_writers.set()
    await asyncio.gather(*writers)

    statuses = {status for _, status, _ in outcomes}
    assert statuses <= {201, 503}, f"unexpected answers: {statuses}"
    assert any(s == 503 for _, s, _ in during), "the outage was not noticed"
    assert max(seconds for *_, seconds in outcomes) < BOUND_SECONDS
    after = outcomes[before_outage + len(during):]
    assert any(s == 201 for _, s, _ in after), "no write succeeded after recovery"

    con = await asyncpg.connect(**connect_kwargs(db))
    try:
        stored = {str(r["id"]): r["jsonb"] for r in await con.fetch(
            f"SELECT id, jsonb::text AS jsonb FROM {TenantSchema(TENANT).table('patron_block_conditions')}")}
    finally:
        await con.close()
    acknowledged = [rid for rid, status, _ in outcomes if status == 201]
    assert len(acknowledged) > 20
    missing = [rid for rid in acknowledged if rid not in stored]
    assert missing == [], f"{len(missing)} acknowledged writes were lost"
    # A write that failed is either absent or whole (single-statement inserts are atomic).
    for rid, status, _ in outcomes:
        if status != 201 and rid in stored:
            assert f"outage {rid}" in stored[rid] and '"metadata"' in stored[rid]
