"""Fixtures of the Polaris listener's tests: a client of the listener beside the FOLIO port's."""

from __future__ import annotations

import pytest

from mod_users.resources.polaris.listener import init_polaris_app


@pytest.fixture
async def listener(aiohttp_client, app_client):
    """An in-process client of the Polaris listener of ``app_client``'s application (the two share its pool)."""
    return await aiohttp_client(init_polaris_app(app_client.server.app))
