"""Polaris listener: what logging in before every call (as DCB does) costs.

    .venv/bin/python bench/polaris_login.py              # 10 s per measurement
    .venv/bin/python bench/polaris_login.py --seconds 3

Starts its own PostgreSQL and `mod-users serve` with the Polaris listener, a tenant with the sample data and
a staff user, then drives the listener from another process with an aiohttp client:

- blockssummary alone: one login, then GET patrons/1002/blockssummary with that token, over and over;
- login + blockssummary: DCB's pattern, a POST authentication/staffuser before every GET, each GET with the
  token its login just issued;
- the same GET on the FOLIO port, with the headers a gateway sends, for reference.

The figure is the rate of blockssummary answers in each mode, and the pair's rate as a share of the GET's
alone (the goal: at least 40%). Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import signal
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import Service, cpu_seconds, in_process  # noqa: E402
from mod_users.storage.database import ensure_database  # noqa: E402
from mod_users.storage.embedded import EmbeddedPostgres, free_port  # noqa: E402

TENANT = "bench"
PASSWORD = "bench-password-of-some-length"
LOGIN = "/polaris.applicationservices/api/v1/eng/19/authentication/staffuser"
SUMMARY = f"/polaris.applicationservices/api/v1/eng/19/{TENANT}/3/1/patrons/1002/blockssummary"
QUERY = "?logonBranchID=3&associatedblocks=false"
BASIC = "Basic " + base64.b64encode(f"{TENANT}\\dcb:{PASSWORD}".encode()).decode()


def _call(url: str, method: str = "GET", body: dict[str, Any] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"X-Okapi-Tenant": TENANT, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        return resp.status, resp.read()


async def _drive(spec: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    mode, base, seconds, concurrency = spec["mode"], spec["base"], spec["seconds"], spec["concurrency"]
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def login() -> str:
            async with session.post(base + LOGIN, data=b"", headers={"Authorization": BASIC}) as resp:
                auth = await resp.json()
            return f"PAS {TENANT}:{auth['AccessToken']}:{auth['AccessSecret']}"

        shared = await login() if mode == "summary" else None

        async def loop() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    gateway = mode == "folio"
                    headers = spec["gateway"] if gateway else {"Authorization": shared or await login()}
                    async with session.get(base + SUMMARY + QUERY, headers=headers) as resp:
                        await resp.read()
                        ok = resp.status == 200
                except aiohttp.ClientError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        await asyncio.gather(*(loop() for _ in range(concurrency)))
    latencies.sort()
    return {
        "operations": len(latencies),
        "errors": errors,
        "seconds": seconds,
        "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else 0.0,
        "p95_ms": latencies[int(len(latencies) * 0.95)] * 1000 if latencies else 0.0,
    }


def run_mode(spec: dict[str, Any]) -> dict[str, Any]:
    """Process entry point of one measurement."""
    return asyncio.run(_drive(spec))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measurement")
    parser.add_argument("--concurrency", type=int, default=16, help="connections of the load generator")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    root = Path(tempfile.mkdtemp(prefix="mod-users-bench-polaris-"))
    cluster = EmbeddedPostgres(root)
    db = cluster.start()
    asyncio.run(ensure_database(db))
    service = None
    try:
        service = Service(db, workers=1, polaris_port=free_port())
        init = {"module_to": "mod-users-0.1.0", "parameters": [{"key": "loadSample", "value": "true"}]}
        request = urllib.request.Request(
            service.url + "/_/tenant",
            data=json.dumps(init).encode(),
            method="POST",
            headers={"X-Okapi-Tenant": TENANT, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as resp:
            location = resp.headers["Location"]
        _call(service.url + location + "?wait=60000")
        staff = {
            "UserDomain": TENANT,
            "UserName": "dcb",
            "OrganizationID": 1,
            "Enabled": True,
            "Permissions": ["PatronStatus_DisplayPatronBlocks"],
            "Password": PASSWORD,
        }
        assert _call(service.url + "/polaris/staff-users", "POST", staff)[0] == 201
        polaris = f"http://127.0.0.1:{service.polaris_port}"
        gateway = {
            "X-Okapi-Tenant": TENANT,
            "X-Okapi-Permissions": json.dumps(["polaris.patron-status.blocks.view"]),
        }
        common = {"seconds": args.seconds, "concurrency": args.concurrency}
        results = {}
        for mode, base in (("summary", polaris), ("pair", polaris), ("folio", service.url)):
            pids = service.pids()
            before = cpu_seconds(pids)
            results[mode] = in_process(run_mode, {**common, "mode": mode, "base": base, "gateway": gateway})
            results[mode]["cpu_ms"] = (cpu_seconds(pids) - before) * 1000 / max(results[mode]["operations"], 1)
        print(f"## Polaris listener, one worker, {args.concurrency} connections, {args.seconds:g} s each\n")
        print("| mode | blockssummary answers/s | p50 ms | p95 ms | service CPU ms per answer | errors |")
        print("|---|---|---|---|---|---|")
        labels = {
            "summary": "blockssummary alone (PAS, one token)",
            "pair": "login + blockssummary (DCB: a login before every call)",
            "folio": "blockssummary on the FOLIO port (gateway headers)",
        }
        for mode, result in results.items():
            rate = result["operations"] / result["seconds"]
            print(
                f"| {labels[mode]} | {rate:,.0f} | {result['p50_ms']:.1f} | {result['p95_ms']:.1f} "
                f"| {result['cpu_ms']:.2f} | {result['errors']} |"
            )
        share = results["pair"]["operations"] / max(results["summary"]["operations"], 1)
        print(f"\nlogin + blockssummary pairs: {share:.0%} of the blockssummary rate alone (goal: at least 40%)")
    finally:
        if service is not None:
            service.stop()
        cluster.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
