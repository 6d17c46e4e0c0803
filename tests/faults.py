"""Ways for a database to die under a running service, and a write load that checks what survived.

Used by ``tests/test_reliability_crash.py`` (each way once, quickly) and ``bench/reliability.py`` (each
way many times). Only a private cluster started for the purpose is ever signalled; the service reaches
it through :class:`TcpProxy`, so that its connections can also be reset on the network.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import socket
import struct
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from mod_users.config import DatabaseSettings
from mod_users.storage.database import connect_kwargs
from mod_users.storage.embedded import EmbeddedPostgres
from mod_users.storage.tenants import TenantSchema

FOLIO_PATH = "/patron-block-conditions"


class _Failing:
    """What a broken store call returns: awaiting it raises, and so does entering it (``open_page``)."""

    def __await__(self):
        raise RuntimeError("injected failure")
        yield  # a generator, as __await__ must be

    async def __aenter__(self) -> None:
        raise RuntimeError("injected failure")

    async def __aexit__(self, *exc: object) -> bool:
        return False


def injected_failure(*args: Any, **kwargs: Any) -> _Failing:
    """A stand-in for a store method whose every call fails (for provoking documented 500s)."""
    return _Failing()


# -- the network between service and database -------------------------------------------------------
class TcpProxy:
    """A TCP forwarder on 127.0.0.1 whose connections can all be reset (RST) at once."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._refusing_until = 0.0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if time.monotonic() < self._refusing_until:
            _reset(client_w)
            return
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            _reset(client_w)
            return
        pair = (client_w, server_w)
        self._pairs.add(pair)
        try:
            await asyncio.gather(_pipe(client_r, server_w), _pipe(server_r, client_w))
        finally:
            self._pairs.discard(pair)
            for writer in pair:
                writer.close()

    def reset(self, refuse_seconds: float = 0.0) -> int:
        """Reset every open connection in both directions; refuse new ones for ``refuse_seconds``."""
        self._refusing_until = time.monotonic() + refuse_seconds
        pairs = list(self._pairs)
        for pair in pairs:
            for writer in pair:
                _reset(writer)
        return len(pairs)

    async def close(self) -> None:
        self.reset()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
    writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError):
        writer.close()


# -- ways to kill the database -----------------------------------------------------------------------
@dataclass
class Target:
    """The database under test: its cluster, how the service reaches it (through ``proxy``), and a direct
    address for the test's own checks."""

    cluster: EmbeddedPostgres
    direct: DatabaseSettings
    proxy: TcpProxy


def _processes(cluster: EmbeddedPostgres) -> tuple[int, list[int]]:
    postmaster = int((cluster.pgdata / "postmaster.pid").read_text().split()[0])
    children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    return postmaster, [int(c) for c in children]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


async def wait_until_up(db: DatabaseSettings, timeout: float = 60) -> None:
    """Wait until ``db`` accepts a connection and answers a query."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            con = await asyncpg.connect(**{**connect_kwargs(db), "timeout": 2})
            try:
                await con.fetchval("SELECT 1")
                return
            finally:
                await con.close()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def kill_postmaster(target: Target) -> None:
    """SIGKILL the postmaster: its backends notice and exit; the cluster is then started again."""
    postmaster, children = _processes(target.cluster)
    os.kill(postmaster, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in (postmaster, *children)):  # a new postmaster needs them gone
        if time.monotonic() > deadline:
            raise RuntimeError("PostgreSQL backends outlived their postmaster for 30 s")
        await asyncio.sleep(0.05)
    # A killed postmaster stays a zombie where PID 1 does not reap (a container), and pg_ctl takes a
    # zombie's pid file for a running server: remove the file of a server known dead.
    (target.cluster.pgdata / "postmaster.pid").unlink(missing_ok=True)
    await asyncio.to_thread(target.cluster.start)
    await wait_until_up(target.direct)


async def kill_backends(target: Target) -> None:
    """SIGKILL every process the postmaster started: the postmaster restarts them (crash recovery)."""
    _, children = _processes(target.cluster)
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    await wait_until_up(target.direct)


async def reset_network(target: Target) -> None:
    """Reset every connection between service and database; new ones are refused for half a second."""
    target.proxy.reset(refuse_seconds=0.5)
    await asyncio.sleep(0.5)


async def terminate_backends(target: Target) -> None:
    """pg_terminate_backend() every other connection to the module's database (the service's)."""
    con = await asyncpg.connect(**connect_kwargs(target.direct))
    try:
        await con.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
    finally:
        await con.close()


WAYS: dict[str, Callable[[Target], Awaitable[None]]] = {
    "postmaster SIGKILL": kill_postmaster,
    "every backend SIGKILL": kill_backends,
    "network reset": reset_network,
    "pg_terminate_backend": terminate_backends,
}


# -- the write load ----------------------------------------------------------------------------------
def condition(rid: str) -> dict[str, Any]:
    return {
        "id": rid,
        "name": f"crash {rid}",
        "blockBorrowing": True,
        "blockRenewals": False,
        "blockRequests": False,
        "valueType": "Integer",
        "message": "blocked",
    }


@dataclass
class Writes:
    """Writers of two kinds: single-statement POSTs (patron block conditions) and transactions (Polaris
    free-text blocks: lock the patron, read its blocks, insert). Each records every answer."""

    client: Any  # posts to paths of the service: aiohttp's test client, or a session with a base_url
    tenant: str
    block_headers: dict[str, str]
    block_url: Callable[[int], str]
    statuses: collections.Counter[tuple[str, int]] = field(default_factory=collections.Counter)
    unexpected: list[tuple[str, int, str]] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    placed: list[str] = field(default_factory=list)
    slowest: float = 0.0

    async def _post(self, kind: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> int:
        started = time.monotonic()
        try:
            resp = await self.client.post(path, json=body, headers=headers)
            text = await resp.text()
            status = resp.status
        except Exception as exc:  # a client-side failure is recorded as one, never ignored
            status, text = 0, f"{exc.__class__.__name__}: {exc}"
        self.slowest = max(self.slowest, time.monotonic() - started)
        self.statuses[kind, status] += 1
        if status not in (200, 201, 503):
            self.unexpected.append((kind, status, text[:300]))
        if status == 503:
            await asyncio.sleep(0.02)
        return status

    async def conditions(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            rid = str(uuid.uuid4())
            if await self._post("condition", FOLIO_PATH, condition(rid), {"X-Okapi-Tenant": self.tenant}) == 201:
                self.acknowledged.append(rid)

    async def blocks(self, stop: asyncio.Event, patron: int) -> None:
        while not stop.is_set():
            text = f"crash {uuid.uuid4()}"
            body = {"BlockType": 1, "BlockDescription": text}
            if await self._post("block", self.block_url(patron), body, self.block_headers) == 200:
                self.placed.append(text)

    def start(self, stop: asyncio.Event, writers: int = 6, patrons: tuple[int, ...] = (1001, 1004, 1005, 1006)):
        return [asyncio.create_task(self.conditions(stop)) for _ in range(writers)] + [
            asyncio.create_task(self.blocks(stop, patron)) for patron in patrons
        ]

    def successes(self) -> int:
        return sum(n for (_, status), n in self.statuses.items() if status in (200, 201))

    async def lost(self, db: DatabaseSettings) -> list[str]:
        """Acknowledged writes that are not in the database."""
        ts = TenantSchema(self.tenant)
        con = await asyncpg.connect(**connect_kwargs(db))
        try:
            ids = {str(r[0]) for r in await con.fetch(f"SELECT id FROM {ts.table('patron_block_conditions')}")}
            texts = {
                r[0]
                for r in await con.fetch(f"SELECT jsonb->>'BlockDescription' FROM {ts.table('polaris_patron_blocks')}")
            }
        finally:
            await con.close()
        return [rid for rid in self.acknowledged if rid not in ids] + [t for t in self.placed if t not in texts]


async def insert_conditions(db: DatabaseSettings, tenant: str, rows: int, message_length: int = 200) -> None:
    """Store ``rows`` patron block conditions named ``condition 000001`` ... in one statement, then ANALYZE
    (the records that big pages are made of)."""
    table = TenantSchema(tenant).table("patron_block_conditions")
    con = await asyncpg.connect(**connect_kwargs(db))
    try:
        await con.execute(
            f"INSERT INTO {table} (id, jsonb) "
            "SELECT u, jsonb_build_object('id', u::text, 'name', 'condition ' || lpad(i::text, 6, '0'), "
            "'blockBorrowing', true, 'blockRenewals', false, 'blockRequests', false, 'valueType', 'Integer', "
            "'message', repeat('m', $2)) FROM (SELECT gen_random_uuid() AS u, i FROM generate_series(1, $1) i) s",
            rows,
            message_length,
        )
        await con.execute(f"ANALYZE {table}")
    finally:
        await con.close()
