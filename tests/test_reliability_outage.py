"""Database outage under load: the service answers 503 quickly, reports it in /admin/health, recovers on
its own when PostgreSQL returns, and every write that got a 2xx is still there afterwards. Writes of both
kinds run during the outage: single statements (patron block conditions) and transactions (Polaris-style
blocks, several statements under a patron lock), whose broken connection must still answer 503."""

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
from tests.polaris.support import headers as staff_headers
from tests.polaris.support import url

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
    return {
        "id": rid,
        "name": f"outage {rid}",
        "blockBorrowing": True,
        "blockRenewals": False,
        "blockRequests": False,
        "valueType": "Integer",
        "message": "blocked",
    }


async def test_outage_under_load(aiohttp_client, settings, cluster):
    db = cluster.start()
    await ensure_database(db)
    app = init_app(settings, db)
    client = await aiohttp_client(app)
    await run_init(
        app,
        TenantSchema(TENANT),
        {
            "module_to": "mod-users-0.1.0",
            "parameters": [{"key": "loadReference", "value": "true"}, {"key": "loadSample", "value": "true"}],
        },
    )
    h = {"X-Okapi-Tenant": TENANT}
    outcomes: list[tuple[str, int, float]] = []
    blocks: list[tuple[str, int, float]] = []
    stop_writers = asyncio.Event()

    async def block_writer(patron: int) -> None:
        # A free-text block: a transaction that locks the patron, checks its blocks and inserts.
        while not stop_writers.is_set():
            text = f"outage {uuid.uuid4()}"
            started = time.monotonic()
            resp = await client.post(
                url(f"/patrons/{patron}/blocks"),
                headers=staff_headers(TENANT),
                json={"BlockType": 1, "BlockDescription": text},
            )
            blocks.append((text, resp.status, time.monotonic() - started))
            await resp.read()
            if resp.status == 503:
                await asyncio.sleep(0.02)

    async def writer() -> None:
        while not stop_writers.is_set():
            rid = str(uuid.uuid4())
            started = time.monotonic()
            resp = await client.post(PATH, json=_record(rid), headers=h)
            outcomes.append((rid, resp.status, time.monotonic() - started))
            await resp.read()
            if resp.status == 503:
                await asyncio.sleep(0.02)

    writers = [asyncio.create_task(writer()) for _ in range(6)]
    writers += [asyncio.create_task(block_writer(patron)) for patron in (1001, 1004, 1005, 1006)]
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
    block_statuses = {status for _, status, _ in blocks}
    assert block_statuses <= {200, 503}, f"unexpected answers to the transactional writes: {block_statuses}"
    assert 503 in block_statuses and 200 in block_statuses
    assert max(seconds for *_, seconds in blocks) < BOUND_SECONDS
    assert any(s == 503 for _, s, _ in during), "the outage was not noticed"
    assert max(seconds for *_, seconds in outcomes) < BOUND_SECONDS
    after = outcomes[before_outage + len(during) :]
    assert any(s == 201 for _, s, _ in after), "no write succeeded after recovery"

    con = await asyncpg.connect(**connect_kwargs(db))
    try:
        stored = {
            str(r["id"]): r["jsonb"]
            for r in await con.fetch(
                f"SELECT id, jsonb::text AS jsonb FROM {TenantSchema(TENANT).table('patron_block_conditions')}"
            )
        }
        block_texts = [
            r[0]
            for r in await con.fetch(
                f"SELECT jsonb->>'BlockDescription' FROM {TenantSchema(TENANT).table('polaris_patron_blocks')}"
            )
        ]
    finally:
        await con.close()
    acknowledged = [rid for rid, status, _ in outcomes if status == 201]
    assert len(acknowledged) > 20
    missing = [rid for rid in acknowledged if rid not in stored]
    assert missing == [], f"{len(missing)} acknowledged writes were lost"
    placed = [text for text, status, _ in blocks if status == 200]
    assert set(placed) <= set(block_texts), "an acknowledged block was lost"
    assert len(block_texts) == len(set(block_texts))
    # A write that failed is either absent or whole (single-statement inserts are atomic).
    for rid, status, _ in outcomes:
        if status != 201 and rid in stored:
            assert f"outage {rid}" in stored[rid] and '"metadata"' in stored[rid]


def _server_processes(pg: EmbeddedPostgres) -> list[int]:
    """The postmaster of ``pg`` and its children (only this test's own cluster is ever signalled)."""
    postmaster = int((pg.pgdata / "postmaster.pid").read_text().split()[0])
    children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    return [postmaster, *map(int, children)]


async def test_a_hung_database_answers_503_in_bounded_time(aiohttp_client, settings, cluster):
    # A server that stops answering (here: every PostgreSQL process stopped with SIGSTOP) must not hold
    # requests forever: a statement times out after DB_QUERYTIMEOUT, a request waiting for one of the
    # pool's (stuck) connections gives up after DB_ACQUIRETIMEOUT.
    import dataclasses
    import os
    import signal

    db = cluster.start()
    await ensure_database(db)
    hung_db = dataclasses.replace(db, max_pool_size=3, query_timeout_ms=1500, acquire_timeout_ms=1000)
    app = init_app(settings, hung_db)
    client = await aiohttp_client(app)
    await run_init(app, TenantSchema(TENANT), {"module_to": "mod-users-0.1.0"})
    h = {"X-Okapi-Tenant": TENANT}
    assert (await client.get(PATH, headers=h)).status == 200
    processes = _server_processes(cluster)

    async def one() -> tuple[int, float]:
        started = time.monotonic()
        resp = await client.get(PATH, headers=h)
        await resp.read()
        return resp.status, time.monotonic() - started

    for pid in processes:
        os.kill(pid, signal.SIGSTOP)
    try:
        answers = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(12))), timeout=30)
    finally:
        for pid in processes:
            os.kill(pid, signal.SIGCONT)
    assert {status for status, _ in answers} == {503}
    # query timeout + the wait for a stuck connection's cancellation + the wait for a free connection
    assert max(seconds for _, seconds in answers) < 1.5 + 1 + 1 + 2
    deadline = time.monotonic() + 20
    while (await client.get(PATH, headers=h)).status != 200:
        assert time.monotonic() < deadline, "the service did not recover after the database resumed"
        await asyncio.sleep(0.2)
