"""Request middlewares: Okapi context and request id, access log, and the mapping of errors to answers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

from aiohttp import web

from mod_users.errors import ClientGone
from mod_users.logs import request_id_var, tenant_var
from mod_users.okapi import REQUEST_ID, OkapiContext, context_from_headers
from mod_users.routing import OKAPI_KEY, STYLE_KEY
from mod_users.state import STYLES
from mod_users.style import FOLIO, Style

log = logging.getLogger("mod_users.http")
# Logged (never sent) for a request that ended without an answer: its client disconnected (as nginx logs
# it), or shutdown cut the handler off.
CLIENT_WENT_AWAY = 499


def request_context(read: Callable[[Mapping[str, str]], OkapiContext]) -> web.Middleware:
    """A middleware that reads the caller's context from the headers with ``read``, logs the request and
    echoes its request id in the response (behind the gateway: the X-Okapi-* headers)."""

    @web.middleware
    async def middleware(request: web.Request, handler: web.Handler) -> web.StreamResponse:
        return await _logged(request, handler, read(request.headers))

    return middleware


async def _logged(request: web.Request, handler: web.Handler, okapi: OkapiContext) -> web.StreamResponse:
    request[OKAPI_KEY] = okapi
    rid_token = request_id_var.set(okapi.request_id)
    tenant_token = tenant_var.set(okapi.tenant_name[:64] if okapi.tenant_name else None)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers[REQUEST_ID] = okapi.request_id
        return response
    except web.HTTPException as exc:
        status = exc.status
        exc.headers[REQUEST_ID] = okapi.request_id
        raise
    except asyncio.CancelledError:
        status = CLIENT_WENT_AWAY  # the handler was cut off (its client left, or shutdown ran out of time)
        raise
    finally:
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        request_id_var.reset(rid_token)
        tenant_var.reset(tenant_token)


# Behind the gateway: the X-Okapi-* headers say who calls.
okapi_context = request_context(context_from_headers)


def style_of(request: web.Request) -> Style:
    """The style of the route the request was bound to; for a URL no route matched, the style that claims
    it (a Polaris client reads Polaris error objects even for a call that does not exist), else FOLIO's."""
    bound = request.get(STYLE_KEY)
    if bound is not None:
        return bound
    return next((s for s in request.app.get(STYLES, ()) if s.claims(request.path)), FOLIO)


@web.middleware
async def error_mapping(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """Turn every failure into the answer the route's style documents; anything unknown is a logged 500."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        replaced = style_of(request).http_error(request, exc)
        if replaced is None:
            raise
        return replaced
    except ClientGone:
        # Nobody reads this answer, and it is not our failure (re-raised, aiohttp would log an error).
        return web.Response(status=CLIENT_WENT_AWAY)
    except Exception as exc:  # the style classifies it; unknown ones are our bug
        return style_of(request).answer(exc)
