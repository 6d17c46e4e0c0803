"""Polaris clients' own listener: the Polaris-style routes on ``POLARIS_PORT``, authenticated the Polaris way.

FOLIO's gateways (Okapi, Eureka's sidecar) take the ``Authorization`` header for their own tokens, so a
Polaris client (``PAS …``, ``Basic …``, ``PWS …``) cannot reach the module through them. Like FOLIO's edge
modules, this listener takes such clients directly: each route's style authenticates the call (PAS for the
ApplicationServices calls, Basic for the staff login, PWS for PAPI) into the same context the gateway's
headers give a call on the FOLIO port, and the staff user's Polaris permissions decide what it may do. Only
routes whose style can authenticate its clients are served here; the two apps share one database pool.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Callable, Mapping

from aiohttp import web
from aiohttp.typedefs import Handler

from mod_users.app import ROUTES, add_routes, desired_permissions
from mod_users.descriptor import handlers, module_version, render_descriptor
from mod_users.errors import not_privileged
from mod_users.logs import tenant_var
from mod_users.middlewares import error_mapping, request_context
from mod_users.okapi import OkapiContext, new_request_id
from mod_users.resources.polaris import LISTENER_ROUTES
from mod_users.resources.polaris.caller import STAFF_USER
from mod_users.resources.polaris.permissions import PolarisPermissions, permissions_for
from mod_users.routing import OKAPI_KEY, SERVER_ARGS, STYLE_KEY, Route
from mod_users.state import CONTRACT, POOL, SETTINGS, STORE, STYLES

log = logging.getLogger(__name__)


def _anonymous(headers: Mapping[str, str]) -> OkapiContext:
    """Before authentication a call on this listener is nobody: X-Okapi-* headers from outside the gateway are
    never believed."""
    return OkapiContext(None, None, None, new_request_id())


def _served(routes: tuple[Route, ...]) -> list[Route]:
    return [r for r in routes if r.style.authenticate is not None]


def _guard(
    permissions: PolarisPermissions, desired: Mapping[tuple[str, str], tuple[str, ...]]
) -> Callable[[Route, Handler], Handler]:
    """Authenticate each call with its route's style, then let the staff user's Polaris permissions decide
    (403 naming the missing one)."""

    def wrap(route: Route, bound: Handler) -> Handler:
        authenticate = route.style.authenticate
        assert authenticate is not None
        needed = [permissions.polaris_of[p] for p in desired.get((route.method, route.path), ())]

        async def handle(request: web.Request) -> web.StreamResponse:
            request[STYLE_KEY] = route.style
            caller = await authenticate(request)
            request[OKAPI_KEY] = caller
            tenant_var.set(caller.tenant_name)
            staff = request.get(STAFF_USER)
            held = set(staff["Permissions"]) if staff is not None else set()
            missing = [name for name in needed if name not in held]
            if missing:
                required = ", ".join(permissions.label(name) for name in missing)
                raise not_privileged(f"permission: {required} required")
            return await bound(request)

        return handle

    return wrap


def init_polaris_app(folio: web.Application) -> web.Application:
    """The Polaris listener's application, borrowing the FOLIO app's settings, contract and (once the FOLIO
    app has started) its database pool."""
    settings, contract = folio[SETTINGS], folio[CONTRACT]
    app = web.Application(
        middlewares=[request_context(_anonymous), error_mapping],
        client_max_size=settings.max_body_bytes,
        handler_args=SERVER_ARGS,
    )
    app[SETTINGS] = settings
    app[CONTRACT] = contract
    routes = [*_served(ROUTES), *LISTENER_ROUTES]
    descriptor = render_descriptor(
        settings.contract_dir / "descriptors" / "ModuleDescriptor-template.json", module_version(settings.contract_dir)
    )
    desired = desired_permissions(routes, handlers(descriptor))
    permissions = permissions_for(settings.contract_dir)
    unpaired = sorted({p for wanted in desired.values() for p in wanted} - set(permissions.polaris_of))
    if unpaired:
        raise RuntimeError(f"the descriptor names no Polaris permission for {', '.join(unpaired)}")
    others = [r for r in ROUTES if r.style.authenticate is None]
    add_routes(app, contract, routes, desired, elsewhere=others, wrap=_guard(permissions, desired))
    app[STYLES] = tuple({id(r.style): r.style for r in routes}.values())

    async def borrow(polaris: web.Application) -> AsyncIterator[None]:
        polaris[POOL] = folio[POOL]
        polaris[STORE] = folio[STORE]
        yield

    app.cleanup_ctx.append(borrow)
    return app


def polaris_listener(sock: socket.socket) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context for the FOLIO app that runs the Polaris listener on ``sock`` (bound by the caller, so
    that a port in use is found before anything starts) for the app's lifetime: it starts after the database
    pool exists and stops, draining its requests, before it closes."""

    async def lifetime(folio: web.Application) -> AsyncIterator[None]:
        runner = web.AppRunner(init_polaris_app(folio), access_log=None, shutdown_timeout=30)
        await runner.setup()
        try:
            await web.SockSite(runner, sock).start()
            log.info("Polaris listener listening", extra={"port": sock.getsockname()[1]})
            yield
        finally:
            await runner.cleanup()

    return lifetime


__all__ = ["init_polaris_app", "polaris_listener"]
