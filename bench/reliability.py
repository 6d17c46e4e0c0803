"""The reliability run: a database killed under writes in every way, purges and upgrades during traffic,
big pages, and one tenant's stuck queries beside another's cheap ones, against `mod-users serve`.

    .venv/bin/python bench/reliability.py            # each way of dying 5 times, 10 purge cycles, 100k records
    .venv/bin/python bench/reliability.py --quick    # each way twice, 3 purge cycles, 20k records

It starts its own durable PostgreSQL, a TCP proxy between the service and it (so that connections can be
reset on the network), and the service as a separate process, and prints what held: kills survived,
acknowledged writes checked (and lost), and answers that were a 5xx other than 503. Exit status 1 when
anything did not hold. The ways of dying and the write load are those of tests/test_reliability_crash.py
(tests/faults.py). Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import Service, peak_rss_mb  # noqa: E402
from mod_users.config import DatabaseSettings  # noqa: E402
from mod_users.storage.database import connect_kwargs, ensure_database  # noqa: E402
from mod_users.storage.embedded import EmbeddedPostgres, free_port  # noqa: E402
from mod_users.storage.tenants import TenantSchema  # noqa: E402
from tests.faults import WAYS, Target, TcpProxy, Writes, condition, insert_conditions  # noqa: E402
from tests.polaris.support import headers as staff_headers  # noqa: E402
from tests.polaris.support import url as polaris_url  # noqa: E402

TENANT = "reliability"
INIT = {
    "module_to": "mod-users-0.1.0",
    "parameters": [{"key": "loadReference", "value": "true"}, {"key": "loadSample", "value": "true"}],
}
REFERENCE_ID = "3d7c52dc-c732-4223-8bf8-e5917801386f"  # a reference patron block condition
RECOVERY_SECONDS = 30


async def init_tenant(session: aiohttp.ClientSession, tenant: str, body: dict[str, Any] = INIT) -> dict[str, Any]:
    h = {"X-Okapi-Tenant": tenant}
    async with session.post("/_/tenant", json=body, headers=h) as resp:
        job = await resp.json()
    async with session.get(f"/_/tenant/{job['id']}", params={"wait": "120000"}, headers=h) as resp:
        return await resp.json()


# -- kills -------------------------------------------------------------------------------------------
async def kills(session: aiohttp.ClientSession, target: Target, per_way: int) -> dict[str, Any]:
    """Each way of dying ``per_way`` times under writes; every acknowledged write checked afterwards."""
    writes = Writes(session, TENANT, staff_headers(TENANT), lambda patron: polaris_url(f"/patrons/{patron}/blocks"))
    stop = asyncio.Event()
    writers = writes.start(stop)
    survived: collections.Counter[str] = collections.Counter()
    tried: collections.Counter[str] = collections.Counter()
    try:
        for _ in range(per_way):
            for name, way in WAYS.items():
                await asyncio.sleep(1.0)
                tried[name] += 1
                await way(target)
                base, deadline = writes.successes(), time.monotonic() + RECOVERY_SECONDS
                while writes.successes() < base + 50 and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                if writes.successes() >= base + 50:
                    survived[name] += 1
                print(f"  {name}: recovered={writes.successes() >= base + 50}", flush=True)
    finally:
        stop.set()
        await asyncio.gather(*writers)
    lost = await writes.lost(target.direct)
    statuses = collections.Counter(status for (_, status), n in writes.statuses.items() for _ in range(n))
    return {
        "kills": {name: f"{survived[name]}/{tried[name]}" for name in WAYS},
        "kills_survived": sum(survived.values()),
        "kills_tried": sum(tried.values()),
        "acknowledged_writes_checked": len(writes.acknowledged) + len(writes.placed),
        "acknowledged_writes_lost": len(lost),
        "answers": dict(sorted(statuses.items())),
        "other_5xx": sum(n for status, n in statuses.items() if status >= 500 and status != 503),
        "client_errors": statuses.get(0, 0),
        "slowest_seconds": round(writes.slowest, 2),
        "unexpected": writes.unexpected[:5],
    }


# -- purges and upgrades -----------------------------------------------------------------------------
async def purges(session: aiohttp.ClientSession, cycles: int) -> dict[str, Any]:
    """Init, writers (library-defined blocks placed and removed, conditions), an upgrade, a purge."""
    tenant = f"purge{uuid.uuid4().hex[:8]}"
    h = {"X-Okapi-Tenant": tenant}
    staff = staff_headers(tenant)
    answers: collections.Counter[tuple[str, int]] = collections.Counter()

    async def call(kind: str, method: str, path: str, **kwargs: Any) -> int:
        async with session.request(method, path, **kwargs) as resp:
            await resp.read()
            answers[kind, resp.status] += 1
            return resp.status

    async def blocks(patron: int, stop: asyncio.Event) -> None:
        while not stop.is_set():
            place = polaris_url(f"/patrons/{patron}/blocks")
            if await call("block", "POST", place, json={"BlockType": 2, "BlockID": 3}, headers=staff) == 200:
                await call("block", "DELETE", polaris_url(f"/patrons/{patron}/blocks/2/3"), headers=staff)

    async def conditions(stop: asyncio.Event) -> None:
        while not stop.is_set():
            await call("condition", "POST", "/patron-block-conditions", json=condition(str(uuid.uuid4())), headers=h)

    upgrades_failed = 0
    for _ in range(cycles):
        await init_tenant(session, tenant)
        stop = asyncio.Event()
        writers = [asyncio.create_task(blocks(p, stop)) for p in (1001, 1004, 1005, 1006) * 2]
        writers += [asyncio.create_task(conditions(stop)) for _ in range(3)]
        await asyncio.sleep(0.2)
        upgrade = await init_tenant(session, tenant, {"module_from": INIT["module_to"], "module_to": INIT["module_to"]})
        upgrades_failed += bool(upgrade.get("error") or not upgrade.get("complete"))
        await call("purge", "POST", "/_/tenant", json={"purge": True}, headers=h)
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.gather(*writers)
    return {
        "cycles": cycles,
        "purges_204": answers["purge", 204],
        "upgrades_failed": upgrades_failed,
        "answers": {f"{kind} {status}": n for (kind, status), n in sorted(answers.items())},
        "other_5xx": sum(n for (_, status), n in answers.items() if status >= 500 and status != 503),
    }


# -- big pages ---------------------------------------------------------------------------------------
async def big_pages(
    session: aiohttp.ClientSession, service: Service, db: DatabaseSettings, rows: int
) -> dict[str, Any]:
    """Six concurrent ``limit=2147483647`` pages of ``rows`` records: the service's peak memory."""
    tenant = f"pages{uuid.uuid4().hex[:8]}"
    await init_tenant(session, tenant, {"module_to": INIT["module_to"]})
    await insert_conditions(db, tenant, rows, message_length=120)
    before = peak_rss_mb(service.pids())

    async def page() -> tuple[int, int]:
        size = 0
        params = {"limit": "2147483647"}
        async with session.get("/patron-block-conditions", params=params, headers={"X-Okapi-Tenant": tenant}) as resp:
            async for chunk in resp.content.iter_chunked(1 << 16):
                size += len(chunk)
            return resp.status, size

    started = time.monotonic()
    answers = await asyncio.gather(*(page() for _ in range(6)))
    return {
        "rows": rows,
        "body_mb": round(answers[0][1] / 1e6, 1),
        "statuses": sorted({status for status, _ in answers}),
        "seconds": round(time.monotonic() - started, 1),
        "peak_rss_mb_before": round(before),
        "peak_rss_mb_after": round(peak_rss_mb(service.pids())),
    }


# -- one tenant's stuck queries beside another's cheap ones -------------------------------------------
async def fairness(session: aiohttp.ClientSession, db: DatabaseSettings) -> dict[str, Any]:
    """Tenant A's table locked while 30 of its searches wait; tenant B's GETs by id meanwhile."""
    heavy_tenant = f"heavy{uuid.uuid4().hex[:8]}"
    await init_tenant(session, heavy_tenant, {"module_to": INIT["module_to"]})
    locker = await asyncpg.connect(**connect_kwargs(db))
    cheap: list[tuple[int, float]] = []
    try:
        tx = locker.transaction()
        await tx.start()
        await locker.execute(f"LOCK TABLE {TenantSchema(heavy_tenant).table('patron_block_conditions')}")

        async def heavy() -> int:
            params = {"query": "cql.allRecords=1 sortBy name"}
            async with session.get(
                "/patron-block-conditions", params=params, headers={"X-Okapi-Tenant": heavy_tenant}
            ) as resp:
                return resp.status

        waiting = [asyncio.create_task(heavy()) for _ in range(30)]
        await asyncio.sleep(0.5)
        for _ in range(20):
            started = time.monotonic()
            async with session.get(
                f"/patron-block-conditions/{REFERENCE_ID}", headers={"X-Okapi-Tenant": TENANT}
            ) as resp:
                await resp.read()
                cheap.append((resp.status, time.monotonic() - started))
        await tx.rollback()
        heavy_statuses = collections.Counter(await asyncio.gather(*waiting))
    finally:
        await locker.close()
    return {
        "other_tenant_statuses": dict(collections.Counter(status for status, _ in cheap)),
        "other_tenant_max_ms": round(max(seconds for _, seconds in cheap) * 1000, 1),
        "stuck_tenant_statuses": dict(heavy_statuses),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    cluster = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="mod-users-reliability-")), port=free_port())
    direct = cluster.start()
    service = None
    proxy = TcpProxy(direct.port)
    try:
        await ensure_database(direct)
        await proxy.start()
        # the proxy runs in this event loop: wait for the service in a thread, the loop keeps forwarding
        via_proxy = DatabaseSettings(**{**direct.__dict__, "port": proxy.port})
        service = await asyncio.to_thread(Service, via_proxy, 1)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(base_url=service.url, timeout=timeout) as session:
            job = await init_tenant(session, TENANT)
            assert job.get("complete") and not job.get("error"), job
            report: dict[str, Any] = {}
            print(f"kills: each of {len(WAYS)} ways {args.kills} times", flush=True)
            report["kills"] = await kills(session, Target(cluster, direct, proxy), args.kills)
            print(f"purges: {args.purges} cycles", flush=True)
            report["purges"] = await purges(session, args.purges)
            print(f"big pages: {args.page_rows} records", flush=True)
            report["big_pages"] = await big_pages(session, service, direct, args.page_rows)
            print("fairness", flush=True)
            report["fairness"] = await fairness(session, direct)
        return report
    finally:
        if service is not None:
            await asyncio.to_thread(service.stop)
        await proxy.close()
        cluster.destroy()


def held(report: dict[str, Any]) -> list[str]:
    """What did not hold, in words (empty when everything did)."""
    k, p, b, f = report["kills"], report["purges"], report["big_pages"], report["fairness"]
    problems = []
    if k["kills_survived"] != k["kills_tried"]:
        problems.append(f"kills survived {k['kills_survived']} of {k['kills_tried']}")
    if k["acknowledged_writes_lost"]:
        problems.append(f"{k['acknowledged_writes_lost']} acknowledged writes lost")
    for name, part in (("kills", k), ("purges", p)):
        if part["other_5xx"]:
            problems.append(f"{part['other_5xx']} answers 5xx other than 503 during {name}")
    if p["purges_204"] != p["cycles"] or p["upgrades_failed"]:
        problems.append("a purge or an upgrade failed")
    if b["statuses"] != [200]:
        problems.append(f"big pages answered {b['statuses']}")
    if set(f["other_tenant_statuses"]) != {200}:
        problems.append(f"the other tenant answered {f['other_tenant_statuses']}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=5, help="kills of each way")
    parser.add_argument("--purges", type=int, default=10, help="purge cycles")
    parser.add_argument("--page-rows", type=int, default=100_000, help="records of the big pages")
    parser.add_argument("--quick", action="store_true", help="2 kills of each way, 3 purges, 20k records")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    if args.quick:
        args.kills, args.purges, args.page_rows = 2, 3, 20_000
    report = asyncio.run(run(args))
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    problems = held(report)
    k = report["kills"]
    print(
        f"\nkills survived: {k['kills_survived']}/{k['kills_tried']}; acknowledged writes checked: "
        f"{k['acknowledged_writes_checked']} (lost {k['acknowledged_writes_lost']}); 5xx other than 503: "
        f"{k['other_5xx'] + report['purges']['other_5xx']}"
    )
    print("everything held" if not problems else "DID NOT HOLD: " + "; ".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
