"""How a route answers a failure: the one object that knows a client family's error shape.

A route carries its style (FOLIO's here; the Polaris-style routes carry theirs). The error middleware asks
the style of the route a request was bound to, or, for a URL no route matched, the style that claims the
URL; nothing else compares style names. FOLIO's shape is RMB's: text/plain for most failures, a JSON
``errors`` document for 422.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, NamedTuple

from aiohttp import web

from mod_users import cql
from mod_users.contract.schemas import FieldError, SchemaRegistry
from mod_users.errors import (
    POLARIS_MALFORMED_REQUEST,
    POLARIS_NOT_PRIVILEGED,
    POLARIS_SERVER_ERROR,
    POLARIS_UNAVAILABLE,
    ApiError,
    Forbidden,
    ValidationFailed,
    folio_error,
    schema_failure,
)
from mod_users.okapi import OkapiContext
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


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response; non-ASCII text is sent as UTF-8, not escaped."""
    return web.Response(
        body=json.dumps(data, ensure_ascii=False).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def text_response(text: str, status: int) -> web.Response:
    """A text/plain response."""
    return web.Response(text=text, status=status, content_type="text/plain")


class Failure(NamedTuple):
    """A known failure, whatever its style: HTTP status, client-facing text, and the request-level
    ErrorCode a Polaris client reads for it."""

    status: int
    message: str
    code: int


def classify(exc: Exception) -> Failure | None:
    """The answer to a known failure, or ``None`` for one that is our bug (a logged 500)."""
    if isinstance(exc, ApiError):
        code = POLARIS_NOT_PRIVILEGED if exc.status == 403 else POLARIS_MALFORMED_REQUEST
        return Failure(exc.status, exc.message, code)
    if isinstance(exc, (InvalidTenant, TenantNotInitialised, UnstorableValue)):
        return Failure(400, str(exc), POLARIS_MALFORMED_REQUEST)
    if isinstance(exc, cql.CQLError):
        return Failure(400, f"malformed parameter 'query', {exc}", POLARIS_MALFORMED_REQUEST)
    if isinstance(exc, VersionConflict):
        return Failure(409, str(exc), POLARIS_MALFORMED_REQUEST)
    if isinstance(exc, DuplicateRecord):
        return Failure(400, str(exc), POLARIS_MALFORMED_REQUEST)
    # The database is away: the store says so, or a call on the pool itself failed (the tenant API).
    if isinstance(exc, (DatabaseUnavailable, *CONNECTION_ERRORS)):
        log.warning("database unavailable", extra={"error": str(exc)})
        return Failure(503, "Database unavailable, try again later", POLARIS_UNAVAILABLE)
    return None


INTERNAL = Failure(500, "Internal server error, contact administrator", POLARIS_SERVER_ERROR)


# Who calls, for a route served outside the gateway: the style reads its clients' credentials (Polaris'
# PAS or PWS) into the same context the gateway's headers give, or raises the style's 401.
Authenticate = Callable[[web.Request], Awaitable[OkapiContext]]


class Style:
    """FOLIO's style (RMB's shapes). Subclasses override what their clients read differently."""

    name = "folio"
    # RMB sets ``metadata`` itself: a client's well-formed one is replaced, never stored.
    strips_metadata = True
    # Routes whose style authenticates its own clients are also served on those clients' own listener (the
    # Polaris port); FOLIO's clients come through the gateway, which has authenticated them.
    authenticate: Authenticate | None = None

    def claims(self, path: str) -> bool:
        """Whether a URL no route matched belongs to this style's clients (FOLIO's is the default)."""
        return False

    def render(self, failure: Failure) -> web.Response:
        """The answer to a classified failure."""
        return text_response(failure.message, failure.status)

    def answer(self, exc: Exception) -> web.StreamResponse:
        """The answer to anything a handler raised that is not an aiohttp HTTP exception."""
        if isinstance(exc, ValidationFailed):
            return json_response(exc.body(), status=422)
        if isinstance(exc, DuplicateRecord):
            return json_response(ValidationFailed([folio_error(str(exc), exc.field, exc.value)]).body(), 422)
        failure = classify(exc)
        if failure is None:
            log.exception("unhandled error")
            failure = INTERNAL
        return self.render(failure)

    def http_error(self, request: web.Request, exc: web.HTTPException) -> web.StreamResponse | None:
        """Replace aiohttp's own answer to ``exc`` (404, 405, 413, ...), or ``None`` to keep it."""
        return None

    def bind(self, schemas: SchemaRegistry, schema: str, body: Any) -> Any:
        """The parsed body as this style's clients mean it, before it is validated against ``schema``:
        FOLIO's routes take the JSON as it is (strict JSON Schema)."""
        return body

    def body_invalid(self, errors: Iterable[FieldError]) -> Exception:
        """What to raise for a body that breaks its schema: FOLIO's 422 naming every failing field."""
        return schema_failure(errors)

    def forbidden(self, missing: Iterable[str]) -> Exception:
        """What to raise for a call lacking desired permissions."""
        return Forbidden(f"Access requires permission: {', '.join(missing)}")


FOLIO = Style()

__all__ = ["FOLIO", "INTERNAL", "Authenticate", "Failure", "Style", "classify", "json_response", "text_response"]
