"""Request middlewares: Okapi context and request id, access log, and the mapping of errors to answers."""

from __future__ import annotations

import logging
import time

import asyncpg
from aiohttp import web

from mod_users import cql
from mod_users.errors import ApiError, PolarisError, ValidationFailed, folio_error
from mod_users.logs import request_id_var, tenant_var
from mod_users.okapi import REQUEST_ID, context_from_headers
from mod_users.routing import OKAPI_KEY, json_response, text_response
from mod_users.storage.errors import (
    DatabaseUnavailable,
    DuplicateRecord,
    InvalidTenant,
    TenantNotInitialised,
    VersionConflict,
)

log = logging.getLogger("mod_users.http")


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
    finally:
        log.info("request", extra={
            "method": request.method, "path": request.path, "status": status,
            "ms": round((time.perf_counter() - started) * 1000, 2),
        })
        request_id_var.reset(rid_token)
        tenant_var.reset(tenant_token)


@web.middleware
async def error_mapping(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """Turn every known failure into its documented answer; anything else is a logged 500."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except ApiError as exc:
        return text_response(exc.message, exc.status)
    except ValidationFailed as exc:
        return json_response(exc.body(), status=422)
    except PolarisError as exc:
        return json_response(exc.body(), status=exc.status)
    except (InvalidTenant, TenantNotInitialised) as exc:
        return text_response(str(exc), 400)
    except cql.CQLError as exc:
        return text_response(f"malformed parameter 'query', {exc}", 400)
    except DuplicateRecord as exc:
        return json_response(ValidationFailed([folio_error(str(exc), exc.field or "id", exc.value)]).body(), 422)
    except VersionConflict as exc:
        return text_response(str(exc), 409)
    except (DatabaseUnavailable, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError, OSError) as exc:
        log.warning("database unavailable", extra={"error": str(exc)})
        return text_response("Database unavailable, try again later", 503)
    except Exception:
        log.exception("unhandled error")
        return text_response("Internal server error, contact administrator", 500)
