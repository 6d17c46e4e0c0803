"""A database that dies under writes, in each way issue 12 names: the postmaster SIGKILLed (then started
again), every backend SIGKILLed (the postmaster's crash recovery), every connection reset on the network,
and our connections ended by pg_terminate_backend(). While it is away the service answers 503 and nothing
else (a kill -9 of the postmaster used to give 1 to 5 answers of 500: asyncpg's InternalClientError), it
recovers on its own, and every write it acknowledged is in the database afterwards.

The cluster is a private, durable one (the session's is shared, and runs without fsync); it lives for
the module, and each way takes a few seconds. (``pg_ctl stop -m immediate`` is another death, tested in
tests/test_reliability_outage.py.)"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
import time
from pathlib import Path

import pytest

from mod_users.app import init_app
from mod_users.storage.database import ensure_database
from mod_users.storage.embedded import EmbeddedPostgres, free_port
from tests.conftest import _init_tenant, contract_of
from tests.faults import WAYS, Target, TcpProxy, Writes
from tests.polaris.support import headers as staff_headers
from tests.polaris.support import url

TENANT = "crash"
# Connection attempts to a dead server fail at once; a request is bounded by the pool's timeouts.
BOUND_SECONDS = 12


@pytest.fixture(scope="module")
def crash_cluster(settings):
    cluster = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="mod-users-crash-")), port=free_port())
    db = cluster.start()
    asyncio.run(ensure_database(db))
    asyncio.run(_init_tenant(db, TENANT, settings, reference=True, sample=True))
    yield cluster, db
    cluster.destroy()


@pytest.mark.parametrize("way", list(WAYS))
async def test_a_dying_database_gives_503_and_nothing_else(aiohttp_client, settings, crash_cluster, way):
    cluster, direct = crash_cluster
    proxy = TcpProxy(direct.port)
    await proxy.start()
    client = await aiohttp_client(
        init_app(settings, dataclasses.replace(direct, port=proxy.port), contract_of(settings.contract_dir))
    )
    writes = Writes(client, TENANT, staff_headers(TENANT), lambda patron: url(f"/patrons/{patron}/blocks"))
    stop = asyncio.Event()
    writers = writes.start(stop)
    try:
        await asyncio.sleep(0.5)
        assert writes.successes() > 10, writes.statuses
        await WAYS[way](Target(cluster, direct, proxy))
        recovered_from = writes.successes()
        deadline = time.monotonic() + 30
        while writes.successes() < recovered_from + 30:
            assert time.monotonic() < deadline, f"no recovery after {way}: {writes.statuses}"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*writers)
        await proxy.close()

    assert writes.unexpected == [], f"{way}: {writes.unexpected[:5]}"
    assert writes.slowest < BOUND_SECONDS
    assert await writes.lost(direct) == [], f"{way}: acknowledged writes were lost"
