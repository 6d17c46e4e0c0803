"""Hostile HTTP that never reaches a handler's logic: a body that never arrives, a body declared too large,
a client that leaves mid-body, a tenant header given twice, and a service started before its database."""

from __future__ import annotations

import asyncio
import logging
import time

from multidict import CIMultiDict

from mod_users import routing
from mod_users.middlewares import CLIENT_WENT_AWAY

PATH = "/patron-block-conditions"


async def _raw(app_client, request: bytes) -> bytes:
    """Send ``request`` as raw bytes to the test server; return the start of its answer."""
    reader, writer = await asyncio.open_connection(app_client.server.host, app_client.server.port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(65536), timeout=10)
    writer.close()
    return answer


async def test_a_body_that_never_arrives_is_408_in_bounded_time(app_client, tenant, monkeypatch):
    monkeypatch.setattr(routing, "BODY_SECONDS", 0.5)
    answer = await _raw(
        app_client,
        (
            f"POST {PATH} HTTP/1.1\r\nHost: x\r\nX-Okapi-Tenant: {tenant}\r\nContent-Type: application/json\r\n"
            'Content-Length: 1000\r\n\r\n{"name"'
        ).encode(),
    )
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"not received within 0.5 seconds" in answer


async def test_a_body_declared_too_large_is_413_before_it_is_sent(app_client, tenant):
    answer = await _raw(
        app_client,
        (
            f"POST {PATH} HTTP/1.1\r\nHost: x\r\nX-Okapi-Tenant: {tenant}\r\nContent-Type: application/json\r\n"
            "Content-Length: 99999999999\r\n\r\n"
        ).encode(),
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


async def test_a_client_leaving_mid_body_is_logged_as_gone_not_as_our_error(settings, db_settings, tenant, caplog):
    # A server as `serve` runs it (the test client's server cancels handlers instead, which is the other path).
    from aiohttp import web

    from mod_users.app import init_app
    from mod_users.storage.embedded import free_port
    from tests.conftest import contract_of

    caplog.set_level(logging.INFO)
    runner = web.AppRunner(init_app(settings, db_settings, contract_of(settings.contract_dir)))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            (
                f"POST {PATH} HTTP/1.1\r\nHost: x\r\nX-Okapi-Tenant: {tenant}\r\n"
                'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name": "half'
            ).encode()
        )
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.close()
        deadline = time.monotonic() + 5
        while not any(getattr(r, "status", None) == CLIENT_WENT_AWAY for r in caplog.records):
            assert time.monotonic() < deadline, [(r.getMessage(), getattr(r, "status", None)) for r in caplog.records]
            await asyncio.sleep(0.05)
    finally:
        await runner.cleanup()
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_tenant_header_given_twice_is_400(app_client, tenant):
    headers = CIMultiDict([("X-Okapi-Tenant", tenant), ("X-Okapi-Tenant", "othertenant")])
    resp = await app_client.get(PATH, headers=headers)
    assert resp.status == 400
    assert "more than once" in await resp.text()
    assert (await app_client.get(PATH, headers={"X-Okapi-Tenant": tenant})).status == 200
