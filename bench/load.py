"""Load generators that run in their own process: HTTP (aiohttp client) and raw asyncpg.

Each runs ``concurrency`` loops for ``seconds`` and reports how many operations finished, how many
failed, and the latency percentiles — measured the same way for the service and for its baselines.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class LoadResult:
    operations: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.operations / self.seconds if self.seconds else 0.0


def _summary(latencies: list[float], errors: int, seconds: float) -> dict[str, Any]:
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000 if latencies else 0.0

    return asdict(LoadResult(len(latencies), errors, seconds, pct(0.50), pct(0.95), pct(0.99)))


def _condition(rid: str, name: str, version: int | None = None) -> dict[str, Any]:
    record = {"id": rid, "name": name, "blockBorrowing": True, "blockRenewals": False, "blockRequests": False,
              "valueType": "Integer", "message": "Limit reached"}
    if version is not None:
        record["_version"] = version
    return record


async def _http(spec: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    base, op, seconds, concurrency = spec["base"], spec["op"], spec["seconds"], spec["concurrency"]
    ids: list[str] = spec.get("ids", [])
    headers = {"X-Okapi-Tenant": spec["tenant"], "Content-Type": "application/json"}
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)

    async with aiohttp.ClientSession(connector=connector) as session:
        async def loop(worker: int) -> None:
            nonlocal errors
            rng = random.Random(worker)
            # PUT needs the stored _version: each loop owns a disjoint slice of the ids.
            mine = ids[worker::concurrency]
            versions = dict.fromkeys(mine, 1)
            while time.perf_counter() < deadline:
                if op == "get":
                    method, path, body = "GET", f"/patron-block-conditions/{rng.choice(ids)}", None
                elif op == "post":
                    method, path = "POST", "/patron-block-conditions"
                    body = _condition(str(uuid.uuid4()), f"bench {rng.random()}")
                elif op == "put":
                    rid = rng.choice(mine)
                    method, path = "PUT", f"/patron-block-conditions/{rid}"
                    body = _condition(rid, f"updated {rng.random()}", versions[rid])
                else:
                    method, path, body = "GET", spec["path"], None
                data = None if body is None else json.dumps(body).encode()
                started = time.perf_counter()
                async with session.request(method, base + path, data=data, headers=headers) as resp:
                    await resp.read()
                    ok = resp.status < 300
                latencies.append(time.perf_counter() - started) if ok else None
                if not ok:
                    errors += 1
                elif op == "put":
                    versions[rid] += 1

        started = time.perf_counter()
        await asyncio.gather(*(loop(i) for i in range(concurrency)))
    return _summary(latencies, errors, time.perf_counter() - started)


async def _raw(spec: dict[str, Any]) -> dict[str, Any]:
    """The same operations straight through asyncpg: the limit of this design's database work."""
    import asyncpg

    op, seconds, concurrency, table = spec["op"], spec["seconds"], spec["concurrency"], spec["table"]
    ids = [uuid.UUID(i) for i in spec.get("ids", [])]
    pool = await asyncpg.create_pool(**spec["db"], min_size=concurrency, max_size=concurrency)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def loop(worker: int) -> None:
        nonlocal errors
        rng = random.Random(worker)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                if op == "get":
                    await pool.fetchval(f"SELECT jsonb::text FROM {table} WHERE id = $1", rng.choice(ids))
                elif op == "post":
                    rid = uuid.uuid4()
                    doc = json.dumps(_condition(str(rid), f"bench {rng.random()}"))
                    await pool.execute(f"INSERT INTO {table} (id, jsonb) VALUES ($1, $2::jsonb)", rid, doc)
                elif op == "put":
                    rid = rng.choice(ids)
                    doc = json.dumps(_condition(str(rid), f"updated {rng.random()}"))
                    await pool.execute(f"UPDATE {table} SET jsonb = $2::jsonb WHERE id = $1", rid, doc)
                else:
                    await pool.fetch(spec["sql"], *spec.get("params", []))
            except Exception:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(loop(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return _summary(latencies, errors, elapsed)


def run_http(spec: dict[str, Any]) -> dict[str, Any]:
    """Process entry point: HTTP load against the service (or a bare aiohttp app)."""
    return asyncio.run(_http(spec))


def run_raw(spec: dict[str, Any]) -> dict[str, Any]:
    """Process entry point: the same load through asyncpg."""
    return asyncio.run(_raw(spec))
