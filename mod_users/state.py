"""What the aiohttp application holds, as typed keys (set up in ``app.init_app``)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from mod_users.config import Settings
from mod_users.contract import Contract
from mod_users.storage.database import BoundedPool
from mod_users.storage.records import RecordStore
from mod_users.style import Style

SETTINGS = web.AppKey("settings", Settings)
CONTRACT = web.AppKey("contract", Contract)
POOL = web.AppKey("pool", BoundedPool)
STORE = web.AppKey("store", RecordStore)
# The OpenAPI rendering of the contract, encoded once at start-up.
OPENAPI = web.AppKey("openapi", bytes)
# Tenant jobs running in the background; shutdown waits for them.
BACKGROUND = web.AppKey("background", set[asyncio.Task[None]])
# The styles of the routes served; a URL no route matched is answered in the style that claims it.
STYLES = web.AppKey("styles", tuple[Style, ...])
