"""Load generators that run outside the measured process: wrk (when installed) or an aiohttp client for
HTTP, and asyncpg for the raw-database baseline.

Benchmark records have ids made from their number (:func:`record_id`), so a generator can pick a random
existing record, or walk through records it alone updates, without being handed a list.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ITEM = "/patron-block-conditions/"


def record_id(number: int) -> str:
    """The id of benchmark record ``number`` (1-based): a valid version-4 UUID."""
    return f"00000000-0000-4000-8000-{number:012x}"


def condition(rid: str, name: str, version: int | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": rid,
        "name": name,
        "blockBorrowing": True,
        "blockRenewals": False,
        "blockRequests": False,
        "valueType": "Integer",
        "message": "Limit reached",
    }
    if version is not None:
        record["_version"] = version
    return record


def _summary(latencies: list[float], errors: int, seconds: float, driver: str) -> dict[str, Any]:
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000 if latencies else 0.0

    return {
        "operations": len(latencies),
        "errors": errors,
        "seconds": seconds,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "driver": driver,
    }


# -- wrk ------------------------------------------------------------------------------------------
_WRK_LUA = """
local op, records, path, tenant = "%(op)s", %(records)d, "%(path)s", "%(tenant)s"
wrk.headers["X-Okapi-Tenant"] = tenant
wrk.headers["Content-Type"] = "application/json"
local threads, counter, step = {}, 0, 1
function setup(thread) counter = counter + 1; thread:set("tid", counter); table.insert(threads, thread) end
function init(args) math.randomseed(tid * 7919); step = tid end
local function rid(n) return string.format("00000000-0000-4000-8000-%%012x", n) end
local function body(id, name, version)
  local v = version and string.format(',"_version":%%d', version) or ""
  return string.format('{"id":"%%s","name":"%%s","blockBorrowing":true,"blockRenewals":false,'
    .. '"blockRequests":false,"valueType":"Integer","message":"Limit reached"%%s}', id, name, v)
end
local function uuid4()
  return string.format("%%04x%%04x-%%04x-4%%03x-%%04x-%%06x%%06x", math.random(0, 0xffff), math.random(0, 0xffff),
    math.random(0, 0xffff), math.random(0, 0xfff), 0x8000 + math.random(0, 0x3fff), math.random(0, 0xffffff),
    math.random(0, 0xffffff))
end
function request()
  if op == "get" then return wrk.format("GET", "%(item)s" .. rid(math.random(1, records)))
  elseif op == "post" then return wrk.format("POST", "%(collection)s", nil, body(uuid4(), "bench " .. math.random()))
  elseif op == "put" then
    -- each thread updates its own records once each, so the _version it sends (1) is the stored one
    local id = rid(step); step = step + %(threads)d
    return wrk.format("PUT", "%(item)s" .. id, nil, body(id, "updated " .. math.random(), 1))
  else return wrk.format("GET", path) end
end
function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format("RESULT %%d %%d %%f %%f %%f %%f\\n", summary.requests, errors, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(spec: dict[str, Any]) -> dict[str, Any]:
    """HTTP load with wrk (C, a fraction of a Python client's CPU, so the service gets the cores)."""
    threads = 2
    script = _WRK_LUA % {
        "op": spec["op"],
        "records": spec.get("records", 1),
        "path": spec.get("path", "/"),
        "tenant": spec["tenant"],
        "threads": threads,
        "item": ITEM,
        "collection": ITEM.rstrip("/"),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(spec["concurrency"]),
                "-d",
                f"{max(1, round(spec['seconds']))}s",
                "-s",
                fh.name,
                spec["base"],
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        Path(fh.name).unlink()
    found = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)", out)
    if not found:
        raise RuntimeError(f"wrk gave no result: {out}")
    requests, errors = int(found.group(1)), int(found.group(2))
    return {
        "operations": requests - errors,
        "errors": errors,
        "seconds": float(found.group(3)),
        "p50_ms": float(found.group(4)),
        "p95_ms": float(found.group(5)),
        "p99_ms": float(found.group(6)),
        "driver": "wrk",
    }


# -- aiohttp client -------------------------------------------------------------------------------
async def _http(spec: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    base, op, seconds, concurrency = spec["base"], spec["op"], spec["seconds"], spec["concurrency"]
    records = spec.get("records", 1)
    headers = {"X-Okapi-Tenant": spec["tenant"], "Content-Type": "application/json"}
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def loop(worker: int) -> None:
            nonlocal errors
            rng = random.Random(worker)
            step = worker + 1
            while time.perf_counter() < deadline:
                if op == "get":
                    method, path, body = "GET", ITEM + record_id(rng.randint(1, records)), None
                elif op == "post":
                    method, path = "POST", ITEM.rstrip("/")
                    body = condition(str(uuid.uuid4()), f"bench {rng.random()}")
                elif op == "put":
                    rid = record_id(step)
                    step += concurrency
                    method, path, body = "PUT", ITEM + rid, condition(rid, f"updated {rng.random()}", 1)
                else:
                    method, path, body = "GET", spec["path"], None
                data = None if body is None else json.dumps(body).encode()
                started = time.perf_counter()
                async with session.request(method, base + path, data=data, headers=headers) as resp:
                    await resp.read()
                    if resp.status < 300:
                        latencies.append(time.perf_counter() - started)
                    else:
                        errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(loop(i) for i in range(concurrency)))
    return _summary(latencies, errors, time.perf_counter() - started, "aiohttp")


def run_http(spec: dict[str, Any]) -> dict[str, Any]:
    """Process entry point: HTTP load against the service (or a bare aiohttp app)."""
    if spec.get("driver", "wrk") == "wrk" and wrk_available():
        return run_wrk(spec)
    return asyncio.run(_http(spec))


# -- asyncpg --------------------------------------------------------------------------------------
async def _raw(spec: dict[str, Any]) -> dict[str, Any]:
    """The same operations straight through asyncpg: the limit of this design's database work."""
    import asyncpg

    op, seconds, concurrency, table = spec["op"], spec["seconds"], spec["concurrency"], spec["table"]
    records = spec.get("records", 1)
    pool = await asyncpg.create_pool(**spec["db"], min_size=concurrency, max_size=concurrency)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def loop(worker: int) -> None:
        nonlocal errors
        rng = random.Random(worker)
        step = records - worker  # from the other end than the HTTP run, so these are untouched rows
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                if op == "get":
                    await pool.fetchval(
                        f"SELECT jsonb::text FROM {table} WHERE id = $1", uuid.UUID(record_id(rng.randint(1, records)))
                    )
                elif op == "post":
                    rid = uuid.uuid4()
                    doc = json.dumps(condition(str(rid), f"bench {rng.random()}"))
                    await pool.execute(f"INSERT INTO {table} (id, jsonb) VALUES ($1, $2::jsonb)", rid, doc)
                elif op == "put":
                    rid = record_id(step)
                    step -= concurrency
                    doc = json.dumps(condition(rid, f"updated {rng.random()}", 2))
                    await pool.execute(f"UPDATE {table} SET jsonb = $2::jsonb WHERE id = $1", uuid.UUID(rid), doc)
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
    return _summary(latencies, errors, elapsed, "asyncpg")


def run_raw(spec: dict[str, Any]) -> dict[str, Any]:
    """Process entry point: the same load through asyncpg."""
    return asyncio.run(_raw(spec))
