"""One tenant cannot starve the others (issue 12, item 8): 30 expensive sorts of one tenant made every cheap
GET by id of the other tenants answer 503 after 10 s, because they held every pooled connection. A tenant
now holds at most its share of the pool, and a freed connection goes to the waiting tenant holding fewest."""

from __future__ import annotations

import asyncio
import dataclasses

import asyncpg
import pytest

from mod_users.app import init_app
from mod_users.state import POOL
from mod_users.storage.database import connect_kwargs
from mod_users.storage.fairness import TenantGate, tenant_share
from mod_users.storage.tenants import TenantSchema
from tests.conftest import contract_of

PATH = "/patron-block-conditions"
# One of the reference conditions every initialised tenant has.
REFERENCE_ID = "3d7c52dc-c732-4223-8bf8-e5917801386f"


async def test_a_tenant_whose_queries_hang_leaves_connections_for_the_others(
    aiohttp_client, settings, db_settings, fresh_tenant, tenant
):
    # Tenant A's table is locked by someone else, so each of its requests holds a pooled connection while
    # it waits: as an expensive sort would, but for as long as the test likes.
    db = dataclasses.replace(db_settings, max_pool_size=4, acquire_timeout_ms=2000)
    app = init_app(settings, db, contract_of(settings.contract_dir))
    client = await aiohttp_client(app)
    assert (await client.get(f"{PATH}/{REFERENCE_ID}", headers={"X-Okapi-Tenant": tenant})).status == 200
    gate, share = app[POOL].gate, tenant_share(4)
    table = TenantSchema(fresh_tenant).table("patron_block_conditions")
    locker = await asyncpg.connect(**connect_kwargs(db_settings))
    try:
        tx = locker.transaction()
        await tx.start()
        await locker.execute(f"LOCK TABLE {table}")

        async def blocked() -> int:
            """A's queries waiting on the lock: each holds one of the pool's connections."""
            sql = "SELECT count(*) FROM pg_locks WHERE relation = $1::regclass AND NOT granted"
            return await locker.fetchval(sql, table)

        heavy = [
            asyncio.create_task(client.get(PATH, params={"query": "name=x"}, headers={"X-Okapi-Tenant": fresh_tenant}))
            for _ in range(12)
        ]
        for _ in range(200):  # until A's requests have taken all the connections it may hold
            if gate.held(fresh_tenant) == share and await blocked() == share:
                break
            await asyncio.sleep(0.02)
        cheap = []
        for _ in range(5):
            resp = await client.get(f"{PATH}/{REFERENCE_ID}", headers={"X-Okapi-Tenant": tenant})
            # B was answered while A held its whole share, every one of those connections stuck on the lock.
            cheap.append((resp.status, gate.held(fresh_tenant), await blocked()))
        answered_before_b = [task for task in heavy if task.done() and task.result().status == 200]
        await tx.rollback()
        heavy_answers = [await task for task in heavy]
    finally:
        await locker.close()
    assert cheap == [(200, share, share)] * 5
    assert answered_before_b == []  # none of A's queries got through before B's were answered
    # Tenant A had three of the four connections; those of its requests that found none answered 503.
    assert {resp.status for resp in heavy_answers} <= {200, 503}
    assert sum(resp.status == 200 for resp in heavy_answers) >= share


def test_a_tenant_share_leaves_connections_for_others():
    assert [tenant_share(size) for size in (1, 2, 3, 4, 10, 100)] == [1, 1, 2, 3, 7, 75]


async def test_a_freed_slot_goes_to_the_waiting_tenant_that_holds_fewest():
    gate = TenantGate(size=3, share=3)
    granted: list[str] = []
    held = [gate.slot("a", 5) for _ in range(3)]
    for slot in held:
        await slot.__aenter__()

    async def wait(key: str) -> None:
        async with gate.slot(key, 5):
            granted.append(key)
            await asyncio.sleep(0.01)

    waiters = [asyncio.create_task(wait("a")) for _ in range(3)] + [asyncio.create_task(wait("b"))]
    await asyncio.sleep(0.01)  # all four queue: "a" first, "b" last
    await held[0].__aexit__(None, None, None)
    await asyncio.sleep(0)
    assert granted == ["b"]  # "b" holds none, "a" holds two
    for slot in held[1:]:
        await slot.__aexit__(None, None, None)
    await asyncio.gather(*waiters)
    assert sorted(granted) == ["a", "a", "a", "b"]
    assert gate.held("a") == gate.held("b") == 0


async def test_a_tenant_at_its_share_waits_while_slots_are_free():
    gate = TenantGate(size=4, share=2)
    first, second = gate.slot("a", 5), gate.slot("a", 5)
    await first.__aenter__()
    await second.__aenter__()
    with pytest.raises(TimeoutError):
        async with gate.slot("a", 0.05):
            pass
    async with gate.slot("b", 0.05):  # free slots remain for the others
        assert gate.held("b") == 1
    await first.__aexit__(None, None, None)
    async with gate.slot("a", 0.05):
        assert gate.held("a") == 2
    await second.__aexit__(None, None, None)
    assert gate.held("a") == 0


async def test_a_waiter_that_gives_up_does_not_keep_a_slot():
    gate = TenantGate(size=1, share=1)
    holder = gate.slot("a", 5)
    await holder.__aenter__()
    waiter = asyncio.create_task(gate.slot("b", 5).__aenter__())
    await asyncio.sleep(0.01)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    await holder.__aexit__(None, None, None)
    async with gate.slot("c", 0.05):
        assert gate.held("c") == 1
    assert gate.held("b") == 0
