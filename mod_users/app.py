"""The aiohttp application: middlewares, routes checked against the RAML, the pool's lifetime."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping

from aiohttp import web
from aiohttp.typedefs import Handler

from mod_users.config import DatabaseSettings, Settings
from mod_users.contract import Contract, load_contract
from mod_users.contract.openapi import build_openapi
from mod_users.descriptor import Handler as DescriptorHandler
from mod_users.descriptor import handler_for, handlers, module_version, render_descriptor, sample_path
from mod_users.middlewares import error_mapping, okapi_context
from mod_users.resources import automated_blocks, patron_block_conditions, polaris
from mod_users.resources.contract_files import add_system_routes
from mod_users.routing import SERVER_ARGS, Route, bind, text_response
from mod_users.state import BACKGROUND, CONTRACT, OPENAPI, POOL, SETTINGS, STORE, STYLES
from mod_users.storage.database import create_pool
from mod_users.storage.records import RecordStore
from mod_users.tenant import api as tenant_api

log = logging.getLogger(__name__)

# Every route the module serves that its RAML describes; start-up checks the two agree both ways.
ROUTES: tuple[Route, ...] = (
    *tenant_api.ROUTES,
    *patron_block_conditions.ROUTES,
    *polaris.ROUTES,
    *automated_blocks.ROUTES,
)


class ContractMismatch(RuntimeError):
    """The code's routes and the RAML endpoints differ; the service refuses to start."""


# What a route's ModuleDescriptor handler desires, by the route's (method, RAML path).
Desired = Mapping[tuple[str, str], tuple[str, ...]]


def desired_permissions(routes: Iterable[Route], descriptor_handlers: list[DescriptorHandler]) -> Desired:
    """The permissions each route's descriptor handler desires (what Okapi grants in X-Okapi-Permissions)."""
    out = {}
    for route in routes:
        entry = handler_for(descriptor_handlers, route.method, sample_path(route.path))
        out[(route.method, route.path)] = entry.permissions_desired if entry else ()
    return out


# What a listener puts around a bound route (the Polaris listener authenticates its own clients).
Wrap = Callable[[Route, Handler], Handler]


def add_routes(
    app: web.Application,
    contract: Contract,
    routes: Iterable[Route],
    desired: Desired | None = None,
    *,
    elsewhere: Iterable[Route] = (),
    wrap: Wrap | None = None,
) -> None:
    """Register ``routes``, each bound to its RAML endpoint and to the permissions it desires (and wrapped
    by ``wrap``); fail unless code and RAML agree: the RAML has exactly these routes and those served
    ``elsewhere``, on the module's other listener."""
    routes = list(routes)
    declared = {(e.method, e.path): e for e in contract.endpoints()}
    served = {(r.method, r.path) for r in [*routes, *elsewhere]}
    missing_in_raml = sorted(served - set(declared))
    missing_in_code = sorted(set(declared) - served)
    if missing_in_raml or missing_in_code:
        raise ContractMismatch(
            f"routes and RAML disagree; served but not in the RAML: {missing_in_raml or 'none'}; "
            f"in the RAML but not served: {missing_in_code or 'none'}"
        )
    for route in routes:
        permissions = (desired or {}).get((route.method, route.path), ())
        handler = bind(route, declared[(route.method, route.path)], contract, permissions)
        app.router.add_route(route.method, route.aiohttp_path(), wrap(route, handler) if wrap else handler)


async def health(request: web.Request) -> web.StreamResponse:
    """200 when the service and its database answer, 503 when the database does not."""
    try:
        await asyncio.wait_for(request.app[POOL].fetchval("SELECT 1"), timeout=3)
    except Exception as exc:  # any failure to reach the database is "unhealthy", never a 500
        log.warning("health check failed", extra={"error": f"{exc.__class__.__name__}: {exc}"})
        return text_response("Database unavailable", 503)
    return text_response("OK", 200)


def _database(db: DatabaseSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        # min_size=0: start even while the database is away; requests answer 503 until it is back.
        pool = await create_pool(db, min_size=0)
        app[POOL] = pool
        app[STORE] = RecordStore(pool)
        yield
        # Tenant jobs get time to finish; one still running after that is cancelled, not abandoned.
        tasks = list(app[BACKGROUND])
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=30)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        try:
            await asyncio.wait_for(pool.close(), timeout=10)
        except TimeoutError:
            log.warning("pool did not close in time; terminating its connections")
            pool.terminate()

    return lifetime


def init_app(settings: Settings, db: DatabaseSettings, contract: Contract | None = None) -> web.Application:
    """Build the application (the CLI and the tests both call this)."""
    contract = contract or load_contract(settings.ramls_dir, settings.schemas_dir)
    app = web.Application(
        middlewares=[okapi_context, error_mapping], client_max_size=settings.max_body_bytes, handler_args=SERVER_ARGS
    )
    app[SETTINGS] = settings
    app[CONTRACT] = contract
    app[BACKGROUND] = set()
    version = module_version(settings.contract_dir)
    descriptor = render_descriptor(settings.contract_dir / "descriptors" / "ModuleDescriptor-template.json", version)
    desired = desired_permissions(ROUTES, handlers(descriptor))
    add_routes(app, contract, ROUTES, desired, elsewhere=polaris.LISTENER_ROUTES)
    app[STYLES] = tuple({id(r.style): r.style for r in ROUTES}.values())
    openapi = build_openapi(contract, version, [(r.method, r.path) for r in ROUTES], desired)
    app[OPENAPI] = json.dumps(openapi, ensure_ascii=False).encode()
    add_system_routes(app)
    app.router.add_get("/admin/health", health)
    app.cleanup_ctx.append(_database(db))
    app.cleanup_ctx.append(automated_blocks.lifetime)
    if settings.kafka_host:  # without it nothing of Kafka is imported or started
        from mod_users.kafka import consuming

        app.cleanup_ctx.append(consuming(settings))
    return app
