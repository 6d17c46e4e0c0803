"""Automated patron blocks: how fast the blocks of a busy patron are answered, and events ingested.

    .venv/bin/python bench/automated_blocks.py              # 3,000 reads, 6,000 events
    .venv/bin/python bench/automated_blocks.py --quick      # 500 reads, 1,000 events

It starts its own PostgreSQL (the embedded cluster), the service (`mod-users serve`, one worker) as a
separate process, and a stand-in users module (a real aiohttp server on 127.0.0.1, reached through
X-Okapi-Url as through the gateway). A patron with 200 open loans (some overdue, lost, recalled) and 50
open fees/fines is built through the event handlers, under limits on all six FOLIO conditions; then:

- GET /automated-patron-blocks/{userId} (and its explanation), one connection, one request at a time,
  and 8 connections: latency percentiles (target: p95 under 10 ms);
- event ingestion over HTTP: check-outs for many users, 32 connections (target: 1,000 events/s), and the
  same for one user (every event contends for one summary: the optimistic-locking worst case).
Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import TENANT, Service, _get, _post, cpu_seconds  # noqa: E402
from mod_users.resources.automated_blocks import computation as c  # noqa: E402
from mod_users.storage.database import ensure_database  # noqa: E402
from mod_users.storage.embedded import EmbeddedPostgres, free_port  # noqa: E402

GROUP = str(uuid.uuid4())
LIMITS = {
    c.MAX_NUMBER_OF_ITEMS_CHARGED_OUT: 150,
    c.MAX_NUMBER_OF_LOST_ITEMS: 10,
    c.MAX_NUMBER_OF_OVERDUE_ITEMS: 5,
    c.MAX_NUMBER_OF_OVERDUE_RECALLS: 1,
    c.RECALL_OVERDUE_BY_MAX_NUMBER_OF_DAYS: 3,
    c.MAX_OUTSTANDING_FEE_FINE_BALANCE: 100,
}


def headers(url: str) -> dict[str, str]:
    return {"X-Okapi-Tenant": TENANT, "X-Okapi-Url": url, "X-Okapi-Token": "bench", "Content-Type": "application/json"}


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(samples, n=100)
    return statistics.median(samples), q[94], q[98]


async def users_stand_in(patrons: dict[str, str]) -> tuple[web.AppRunner, str]:
    async def user(request: web.Request) -> web.Response:
        group = patrons.get(request.match_info["id"])
        return web.json_response({"id": request.match_info["id"], "patronGroup": group}, status=200 if group else 404)

    app = web.Application()
    app.router.add_get("/users/{id}", user)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def build_patron(session: aiohttp.ClientSession, base: str, h: dict[str, str], user: str) -> None:
    """Block on every condition's data: 200 loans (60 overdue, 12 lost, 3 overdue recalls), 50 fees/fines."""
    for condition_id, value in LIMITS.items():
        async with session.get(f"{base}/patron-block-conditions/{condition_id}", headers=h) as resp:
            condition = await resp.json()
        condition.update(blockBorrowing=True, blockRenewals=True, blockRequests=True)
        condition["message"] = condition.get("message") or condition["name"]
        async with session.put(f"{base}/patron-block-conditions/{condition_id}", json=condition, headers=h) as resp:
            assert resp.status == 204, await resp.text()
        body = {"patronGroupId": GROUP, "conditionId": condition_id, "value": value}
        async with session.post(f"{base}/patron-block-limits", json=body, headers=h) as resp:
            assert resp.status == 201, await resp.text()
    now = datetime.now(UTC)
    for i in range(200):
        loan = str(uuid.uuid4())
        due = now + (timedelta(days=-(i % 10) - 1) if i < 60 else timedelta(days=14))
        event = {
            "userId": user,
            "loanId": loan,
            "dueDate": due.isoformat(),
            "gracePeriod": {"duration": 1, "intervalId": "Hours"},
        }
        await post(session, base, h, "item-checked-out", event)
        if i < 12:
            await post(session, base, h, "item-declared-lost", {"userId": user, "loanId": loan})
        elif i < 15:
            change = {"userId": user, "loanId": loan, "dueDate": due.isoformat(), "dueDateChangedByRecall": True}
            await post(session, base, h, "loan-due-date-changed", change)
    for _ in range(50):
        fee = {"userId": user, "feeFineId": str(uuid.uuid4()), "feeFineTypeId": str(uuid.uuid4()), "balance": 3.25}
        await post(session, base, h, "fee-fine-balance-changed", fee)


async def post(session: aiohttp.ClientSession, base: str, h: dict[str, str], handler: str, body: dict) -> float:
    started = time.perf_counter()
    async with session.post(f"{base}/automated-patron-blocks/handlers/{handler}", json=body, headers=h) as resp:
        assert resp.status == 204, await resp.text()
    return time.perf_counter() - started


async def timed_gets(
    session: aiohttp.ClientSession, url: str, h: dict[str, str], count: int, connections: int
) -> tuple[list[float], float]:
    samples: list[float] = []
    remaining = [count]

    async def worker() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            started = time.perf_counter()
            async with session.get(url, headers=h) as resp:
                await resp.read()
                assert resp.status == 200
            samples.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return samples, time.perf_counter() - started


async def ingest(
    session: aiohttp.ClientSession, base: str, h: dict[str, str], count: int, one_user: bool
) -> tuple[float, list[float]]:
    user = str(uuid.uuid4())
    bodies = [
        {
            "userId": user if one_user else str(uuid.uuid4()),
            "loanId": str(uuid.uuid4()),
            "dueDate": "2031-01-01T00:00:00Z",
        }
        for _ in range(count)
    ]
    samples: list[float] = []

    async def worker() -> None:
        while bodies:
            samples.append(await post(session, base, h, "item-checked-out", bodies.pop()) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(32)))
    return count / (time.perf_counter() - started), samples


async def measure(base: str, reads: int, events: int, pids: list[int]) -> list[str]:
    user = str(uuid.uuid4())
    runner, users_url = await users_stand_in({user: GROUP})
    h = headers(users_url)
    out = []
    connector = aiohttp.TCPConnector(limit=64)
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            await build_patron(session, base, h, user)
            url = f"{base}/automated-patron-blocks/{user}"
            async with session.get(url, headers=h) as resp:
                blocks = (await resp.json())["automatedPatronBlocks"]
            out.append(f"Patron: 200 open loans, 50 fees/fines; blocks raised: {len(blocks)} of 6 conditions")
            out += [
                "",
                "| request | connections | requests | req/s | p50 ms | p95 ms | p99 ms | service CPU ms/req |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for path, label in ((url, "GET automated-patron-blocks"), (url + "/explanation", "GET …/explanation")):
                await timed_gets(session, path, h, 100, 1)  # warm-up
                for connections in (1, 8):
                    cpu = cpu_seconds(pids)
                    samples, seconds = await timed_gets(session, path, h, reads, connections)
                    cpu_ms = (cpu_seconds(pids) - cpu) * 1000 / reads
                    p50, p95, p99 = percentiles(samples)
                    rate = reads / seconds
                    out.append(
                        f"| {label} | {connections} | {reads:,} | {rate:,.0f} | {p50:.2f} | {p95:.2f} | {p99:.2f} "
                        f"| {cpu_ms:.2f} |"
                    )
                    print(out[-1], flush=True)
            out += [
                "",
                "| ingestion (item-checked-out over HTTP, 32 connections) | events | events/s | p50 ms | p95 ms "
                "| service CPU ms/event |",
                "|---|---|---|---|---|---|",
            ]
            for one_user, label in ((False, "one event per user"), (True, "every event for one user")):
                count = events if not one_user else max(events // 5, 200)
                cpu = cpu_seconds(pids)
                rate, samples = await ingest(session, base, h, count, one_user)
                cpu_ms = (cpu_seconds(pids) - cpu) * 1000 / count
                p50, p95, _ = percentiles(samples)
                out.append(f"| {label} | {count:,} | {rate:,.0f} | {p50:.2f} | {p95:.2f} | {cpu_ms:.2f} |")
                print(out[-1], flush=True)
    finally:
        await runner.cleanup()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reads", type=int, default=3000, help="GET requests per measurement")
    parser.add_argument("--events", type=int, default=6000, help="events for the many-users ingestion")
    parser.add_argument("--quick", action="store_true", help="500 reads, 1,000 events")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    reads, events = (500, 1000) if args.quick else (args.reads, args.events)
    root = Path(tempfile.mkdtemp(prefix="mod-users-bench-blocks-"))
    cluster = EmbeddedPostgres(root)
    db = cluster.start()
    asyncio.run(ensure_database(db))
    service = None
    try:
        service = Service(db, workers=1)
        body = {"module_to": "mod-users-0.1.0", "parameters": [{"key": "loadReference", "value": "true"}]}
        _, answer = _post(service.url + "/_/tenant", body)
        _get(service.url + answer["Location"] + "?wait=60000")
        print("\n".join(asyncio.run(measure(service.url, reads, events, service.pids()))))
        print(json.dumps({"note": "one worker; load generator, stand-in, service and PostgreSQL share the machine"}))
    finally:
        if service is not None:
            service.stop()
        cluster.stop()
        cluster.destroy()


if __name__ == "__main__":
    main()
