"""The benchmark: the service beside the raw database and a bare aiohttp handler, measured in one run.

    .venv/bin/python bench/run.py                 # 100k and 1M records, 10 s per measurement
    .venv/bin/python bench/run.py --quick         # 100k records, 3 s per measurement

It starts its own PostgreSQL (the embedded cluster, durable settings), the service (`mod-users serve`)
as a separate process, and drives load from other processes on 127.0.0.1. Every figure is printed
beside its baseline: the same operation done directly with asyncpg (the limit of this design), and for
reads a bare aiohttp handler (the limit of the framework). Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import run_http, run_raw  # noqa: E402
from mod_users import cql  # noqa: E402
from mod_users.storage.database import connect_kwargs, ensure_database  # noqa: E402
from mod_users.storage.embedded import EmbeddedPostgres, free_port  # noqa: E402
from mod_users.storage.tables import PATRON_BLOCK_CONDITIONS  # noqa: E402
from mod_users.storage.tenants import TenantSchema  # noqa: E402

TENANT = "bench"
WORDS = [
    "abacus",
    "abc",
    "abcde",
    "alpine",
    "amber",
    "apex",
    "arbor",
    "atlas",
    "aurora",
    "azure",
    "basalt",
    "beacon",
    "birch",
    "cedar",
    "cobalt",
    "comet",
    "coral",
    "cosmos",
    "crystal",
    "delta",
    "ember",
    "falcon",
    "fern",
    "fjord",
    "garnet",
    "glacier",
    "granite",
    "harbor",
    "hazel",
    "indigo",
    "iris",
    "jade",
    "juniper",
    "kestrel",
    "lagoon",
    "lark",
    "maple",
    "meadow",
    "nebula",
    "onyx",
    "orchid",
    "pebble",
    "quartz",
    "raven",
    "sage",
    "summit",
    "tundra",
    "willow",
]
SEARCHES = {
    'name=="abc*"': 'name=="abc*"',
    "word (=), 1 in 1000 rows": "name=k417",
    "word (=), 1 in 50 rows": "name=quartz",
    "sorted": "cql.allRecords=1 sortby name",
    "50% of rows": "valueType==Integer",
}


def _get(url: str, tenant: str | None = TENANT) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"X-Okapi-Tenant": tenant} if tenant else {})
    with urllib.request.urlopen(request, timeout=60) as resp:
        return resp.status, resp.read()


def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"X-Okapi-Tenant": TENANT, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        return resp.status, dict(resp.headers)


class Service:
    """`mod-users serve` in its own process group, on the benchmark's database."""

    def __init__(self, db: Any, workers: int, polaris_port: int = 0) -> None:
        self.port = free_port()
        self.polaris_port = polaris_port
        env = dict(
            os.environ,
            POLARIS_PORT=str(polaris_port),
            DB_HOST=db.host,
            DB_PORT=str(db.port),
            DB_USERNAME=db.username,
            DB_PASSWORD=db.password,
            DB_DATABASE=db.database,
            LOG_LEVEL="WARNING",
            DB_MAXPOOLSIZE="16",
        )
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mod_users.cli",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                "--host",
                "127.0.0.1",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if _get(self.url + "/admin/health", None)[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("service did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        """The processes that serve requests (the workers, or the one process)."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                cmdline = (stat.parent / "cmdline").read_bytes()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid and b"spawn_main" in cmdline:
                children.append(int(stat.parent.name))
        return children or [self.proc.pid]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def peak_rss_mb(pids: list[int]) -> float:
    peak = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
    return peak / 1024


def in_process(fn: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """Run a load generator in a separate process and return its result."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, (spec,))


def measure_http(service: Service, spec: dict[str, Any]) -> dict[str, Any]:
    pids = service.pids()
    before = cpu_seconds(pids)
    result = in_process(run_http, {**spec, "base": service.url, "tenant": TENANT})
    used = cpu_seconds(pids) - before
    result["cpu_ms_per_op"] = used * 1000 / max(result["operations"], 1)
    result["peak_rss_mb"] = peak_rss_mb(pids)
    return result


def bare_aiohttp(spec: dict[str, Any]) -> dict[str, Any]:
    """A handler that answers a fixed record: what aiohttp alone can do on this machine."""
    port = free_port()
    code = (
        "import json,sys\nfrom aiohttp import web\n"
        "body=json.dumps({'id':'x','name':'n'}).encode()\n"
        "async def h(r): return web.Response(body=body, content_type='application/json')\n"
        "app=web.Application(); app.router.add_get('/{tail:.*}', h)\n"
        f"web.run_app(app, host='127.0.0.1', port={port}, print=None, access_log=None)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/x", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        return in_process(run_http, {**spec, "base": f"http://127.0.0.1:{port}", "tenant": TENANT})
    finally:
        proc.terminate()
        proc.wait()


async def load_records(db: Any, count: int) -> None:
    """Bring the table to ``count`` synthetic records, made in SQL; record ``i`` has id ``record_id(i)``."""
    table = TenantSchema(TENANT).table(PATRON_BLOCK_CONDITIONS.name)
    con = await asyncpg.connect(**connect_kwargs(db))
    try:
        # POST runs add records with random ids; the numbered ones are counted by their own prefix.
        have = await con.fetchval(f"SELECT count(*) FROM {table} WHERE id < '00000000-0000-4000-8001-000000000000'")
        if have < count:
            await con.execute(
                f"""INSERT INTO {table} (id, jsonb)
                SELECT u, jsonb_build_object(
                  'id', u::text, 'name', w[1 + i % {len(WORDS)}] || ' ' || w[1 + (i / {len(WORDS)}) % {len(WORDS)}]
                                         || ' k' || (i % 1000) || ' ' || i,
                  'blockBorrowing', i % 2 = 0, 'blockRenewals', false, 'blockRequests', false,
                  'valueType', CASE WHEN i % 2 = 0 THEN 'Integer' ELSE 'Double' END,
                  'message', CASE WHEN i % 2 = 0 THEN 'Limit reached' ELSE '' END, '_version', 1,
                  'metadata', jsonb_build_object('createdDate', '2026-01-01T00:00:00.000+00:00',
                                                 'updatedDate', '2026-01-01T00:00:00.000+00:00'))
                FROM (SELECT i, ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid AS u,
                             $1::text[] AS w
                      FROM generate_series({have + 1}, {count}) AS i) AS g""",
                WORDS,
            )
            await con.execute(f"VACUUM ANALYZE {table}")
    finally:
        await con.close()


async def plan_of(db: Any, query: str) -> tuple[str, str]:
    """The plan PostgreSQL picks for a search (limit 10), and how totalRecords would be found."""
    tr = cql.translate(
        query, indexes=PATRON_BLOCK_CONDITIONS.indexes, server_choice=PATRON_BLOCK_CONDITIONS.server_choice
    )
    table = TenantSchema(TENANT).table(PATRON_BLOCK_CONDITIONS.name)
    order = f" ORDER BY {tr.order_by}" if tr.order_by else ""
    con = await asyncpg.connect(**connect_kwargs(db))
    try:
        await con.execute("SET search_path = public")
        plan = await con.fetchval(
            f"EXPLAIN (FORMAT JSON) SELECT jsonb FROM {table} WHERE {tr.where}{order} LIMIT 10", *tr.params
        )
        plan = json.loads(plan) if isinstance(plan, str) else plan
        nodes = []

        def walk(node: dict[str, Any]) -> None:
            name = node["Node Type"] + (f" using {node['Index Name']}" if "Index Name" in node else "")
            nodes.append(name)
            for child in node.get("Plans", []):
                walk(child)

        walk(plan[0]["Plan"])
        estimate = await con.fetchval(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} WHERE {tr.where}", *tr.params)
        estimate = json.loads(estimate) if isinstance(estimate, str) else estimate
        return " > ".join(nodes), str(int(estimate[0]["Plan"]["Plan Rows"]))
    finally:
        await con.close()


def row(
    name: str, result: dict[str, Any], base: dict[str, Any] | None = None, bare: dict[str, Any] | None = None
) -> str:
    rate = result["operations"] / result["seconds"]
    cells = [
        name,
        f"{rate:,.0f}",
        f"{result['p50_ms']:.1f}",
        f"{result['p95_ms']:.1f}",
        f"{result['p99_ms']:.1f}",
        f"{result.get('cpu_ms_per_op', 0):.2f}",
        f"{result.get('peak_rss_mb', 0):.0f}",
        str(result["errors"]),
    ]
    if base:
        base_rate = base["operations"] / base["seconds"]
        cells += [f"{base_rate:,.0f}", f"{base['p95_ms']:.1f}", f"{rate / base_rate:.0%}"]
    else:
        cells += ["", "", ""]
    cells.append(f"{bare['operations'] / bare['seconds']:,.0f}" if bare else "")
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| operation | req/s | p50 ms | p95 ms | p99 ms | CPU ms/req | peak RSS MB | errors "
    "| asyncpg req/s | asyncpg p95 ms | service/asyncpg | bare aiohttp req/s |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", default="100000,1000000", help="table sizes for the searches")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measurement")
    parser.add_argument("--concurrency", type=int, default=32, help="connections of each load generator")
    parser.add_argument("--quick", action="store_true", help="100k records, 3 s measurements")
    args = parser.parse_args()
    # A SIGTERM should still stop the service and delete the cluster (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    sizes = [100_000] if args.quick else [int(n) for n in args.records.split(",")]
    seconds = 3.0 if args.quick else args.seconds
    root = Path(tempfile.mkdtemp(prefix="mod-users-bench-"))
    cluster = EmbeddedPostgres(root)
    db = cluster.start()
    asyncio.run(ensure_database(db))
    service = None
    out: list[str] = []
    try:
        service = Service(db, workers=1)
        started = time.perf_counter()
        _, headers = _post(service.url + "/_/tenant", {"module_to": "mod-users-0.1.0"})
        _get(service.url + headers["Location"] + "?wait=60000")
        init_ms = (time.perf_counter() - started) * 1000
        asyncio.run(load_records(db, sizes[0]))
        table = TenantSchema(TENANT).table(PATRON_BLOCK_CONDITIONS.name)
        raw = {"db": connect_kwargs(db), "table": table, "seconds": seconds, "concurrency": args.concurrency}
        http = {"seconds": seconds, "concurrency": args.concurrency}
        out += [
            f"## CRUD, one worker, {sizes[0]:,} records, {args.concurrency} connections, {seconds:g} s each",
            "",
            HEADER,
        ]
        bare = bare_aiohttp({**http, "op": "path", "path": "/x"})
        for op, label in (("get", "GET by id"), ("post", "POST create"), ("put", "PUT update")):
            result = measure_http(service, {**http, "op": op, "records": sizes[0]})
            base = in_process(run_raw, {**raw, "op": op, "records": sizes[0]})
            out.append(row(label, result, base, bare if op == "get" else None))
            print(out[-1], flush=True)
        listing = measure_http(service, {**http, "op": "path", "path": "/patron-block-conditions?limit=10"})
        tr = cql.translate("cql.allRecords=1")
        list_sql = f"SELECT jsonb::text FROM {table} WHERE {tr.where} LIMIT 10"
        list_base = in_process(run_raw, {**raw, "op": "sql", "sql": list_sql})
        out.append(row("list limit=10", listing, list_base))
        out.append(f"\nTenant init (POST /_/tenant until the job completes): {init_ms:.0f} ms")
        print("\n".join(out[-2:]), flush=True)

        for size in sizes:
            asyncio.run(load_records(db, size))
            out += [
                "",
                f"## CQL searches, {size:,} records, limit=10, 4 connections",
                "",
                "| query | req/s | p50 ms | p95 ms | p99 ms | CPU ms/req | peak RSS MB | errors | plan "
                "| planner rows |",
                "|---|---|---|---|---|---|---|---|---|---|",
            ]
            for label, query in SEARCHES.items():
                path = "/patron-block-conditions?limit=10&query=" + urllib.request.quote(query)
                result = measure_http(service, {"seconds": seconds, "concurrency": 4, "op": "path", "path": path})
                plan, estimate = asyncio.run(plan_of(db, query))
                cells = row(label, result).rstrip(" |").split(" | ")[:8]
                out.append(" | ".join(cells) + f" | {plan} | {estimate} |")
                print(out[-1], flush=True)

        service.stop()
        service = None
        out += ["", "## Workers", "", HEADER]
        for workers in (1, 2):
            service = Service(db, workers=workers)
            result = measure_http(service, {**http, "op": "get", "records": sizes[0]})
            out.append(row(f"GET by id, {workers} worker(s)", result))
            # A route without database work shows how the service's own part scales.
            result = measure_http(service, {**http, "op": "path", "path": "/_/ramls"})
            out.append(row(f"GET /_/ramls (no database), {workers} worker(s)", result))
            print("\n".join(out[-2:]), flush=True)
            service.stop()
            service = None
    finally:
        if service is not None:
            service.stop()
        cluster.destroy()
    print("\n" + "\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
