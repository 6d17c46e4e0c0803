"""Request middlewares: Okapi context and request id, access log, and the mapping of errors to answers."""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from mod_users import cql
from mod_users.errors import (
    POLARIS_BODY_TOO_LARGE,
    POLARIS_MALFORMED_REQUEST,
    POLARIS_NOT_PRIVILEGED,
    POLARIS_SERVER_ERROR,
    POLARIS_UNAVAILABLE,
    ApiError,
    ClientGone,
    PolarisError,
    ValidationFailed,
    folio_error,
)
from mod_users.logs import request_id_var, tenant_var
from mod_users.okapi import REQUEST_ID, context_from_headers
from mod_users.resources.polaris.context import PREFIX as POLARIS_PREFIX
from mod_users.routing import OKAPI_KEY, STYLE_KEY, json_response, text_response
from mod_users.storage.errors import (
    CONNECTION_ERRORS,
    DatabaseUnavailable,
    DuplicateRecord,
    InvalidTenant,
    TenantNotInitialised,
    UnstorableValue,
    VersionConflict,
)

log = logging.getLogger("mod_users.http")
# The first segment of every Polaris-style route, "/polaris.applicationservices/" (matched in any case).
_POLARIS_PREFIX = "/" + POLARIS_PREFIX.split("/")[1].lower() + "/"
# Logged (never sent) for a request that ended without an answer: its client disconnected (as nginx logs
# it), or shutdown cut the handler off.
CLIENT_WENT_AWAY = 499


@web.middleware
async def okapi_context(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """Read the X-Okapi-* headers once, log the request, echo its request id in the response."""
    okapi = context_from_headers(request.headers)
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


@web.middleware
async def error_mapping(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """Turn every known failure into its documented answer; anything else is a logged 500. A route of
    the Polaris style answers every failure as a Polaris error object, never as FOLIO text."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if request.get(STYLE_KEY) == "polaris" and exc.status == 413:
            return _polaris(413, exc.text or "Request body too large", POLARIS_BODY_TOO_LARGE)
        if exc.status in (404, 405) and request.path.lower().startswith(_POLARIS_PREFIX):
            # No route matched, but the client speaks Polaris: it reads Polaris error objects.
            answer = _polaris(
                exc.status, f"No such call: {request.method} {request.path[:200]}", POLARIS_MALFORMED_REQUEST
            )
            if "Allow" in exc.headers:
                answer.headers["Allow"] = exc.headers["Allow"]
            return answer
        raise
    except PolarisError as exc:
        return json_response(exc.body(), status=exc.status)
    except ValidationFailed as exc:
        return json_response(exc.body(), status=422)
    except ClientGone:
        # Nobody reads this answer, and it is not our failure (re-raised, aiohttp would log an error).
        return web.Response(status=CLIENT_WENT_AWAY)
    except DuplicateRecord as exc:
        if request.get(STYLE_KEY) == "polaris":
            return _polaris(400, str(exc), POLARIS_MALFORMED_REQUEST)
        return json_response(ValidationFailed([folio_error(str(exc), exc.field, exc.value)]).body(), 422)
    except Exception as exc:  # classified below; unknown ones are our bug
        status, message, code = _classify(exc)
        if request.get(STYLE_KEY) == "polaris":
            return _polaris(status, message, code)
        return text_response(message, status)


def _classify(exc: Exception) -> tuple[int, str, int]:
    """HTTP status, client-facing text and Polaris ErrorCode of a failure answered as text."""
    if isinstance(exc, ApiError):
        code = POLARIS_NOT_PRIVILEGED if exc.status == 403 else POLARIS_MALFORMED_REQUEST
        return exc.status, exc.message, code
    if isinstance(exc, (InvalidTenant, TenantNotInitialised)):
        return 400, str(exc), POLARIS_MALFORMED_REQUEST
    if isinstance(exc, cql.CQLError):
        return 400, f"malformed parameter 'query', {exc}", POLARIS_MALFORMED_REQUEST
    if isinstance(exc, VersionConflict):
        return 409, str(exc), POLARIS_MALFORMED_REQUEST
    if isinstance(exc, UnstorableValue):
        return 400, str(exc), POLARIS_MALFORMED_REQUEST
    # The database is away: the store says so, or a call on the pool itself failed (the tenant API).
    if isinstance(exc, (DatabaseUnavailable, *CONNECTION_ERRORS)):
        log.warning("database unavailable", extra={"error": str(exc)})
        return 503, "Database unavailable, try again later", POLARIS_UNAVAILABLE
    log.exception("unhandled error")
    return 500, "Internal server error, contact administrator", POLARIS_SERVER_ERROR


def _polaris(status: int, message: str, code: int) -> web.Response:
    return json_response(PolarisError(status, message, code).body(), status=status)
