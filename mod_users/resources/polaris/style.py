"""The Polaris style: how Polaris.ApplicationServices answers a failure, and which URLs are its clients'.

Every failure of a Polaris-style route, and any URL below the Polaris prefix that no route matches, is
answered as a Polaris error object (``ErrorCode``, ``Message``, ...), never as FOLIO text: Polaris
clients parse that object whatever went wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web

from mod_users.contract.schemas import FieldError, SchemaRegistry
from mod_users.errors import POLARIS_BODY_TOO_LARGE, POLARIS_MALFORMED_REQUEST, PolarisError, not_privileged
from mod_users.resources.polaris.binding import Binder
from mod_users.storage.errors import DuplicateRecord
from mod_users.style import Authenticate, Failure, Style, json_response


class PolarisStyle(Style):
    """Polaris error objects for every failure; a body is bound as Json.NET binds it, and one that then
    breaks its schema is a 400 naming the first failing field (Polaris reports one)."""

    name = "polaris"
    strips_metadata = False  # Polaris bodies have no FOLIO metadata
    # The shape of the error body (PAPI's routes answer PAPI results: resources.polaris.papi_style).
    error: type[PolarisError] = PolarisError

    def __init__(self, first_segment: str, authenticate: Authenticate | None = None) -> None:
        # Clients write the prefix in any letter case.
        self._prefix = "/" + first_segment.lower() + "/"
        # How the Polaris listener authenticates a call of these routes (PAS, or the login's Basic).
        self.authenticate = authenticate

    def claims(self, path: str) -> bool:
        return path.lower().startswith(self._prefix)

    def render(self, failure: Failure) -> web.Response:
        return json_response(self.error(*failure).body(), status=failure.status)

    def answer(self, exc: Exception) -> web.StreamResponse:
        if isinstance(exc, PolarisError):
            shaped = self.error(exc.status, exc.message, exc.error_code, exc.detail)
            return json_response(shaped.body(), status=exc.status, headers=exc.headers or None)
        if isinstance(exc, DuplicateRecord):
            return self.render(Failure(400, str(exc), POLARIS_MALFORMED_REQUEST))
        return super().answer(exc)

    def http_error(self, request: web.Request, exc: web.HTTPException) -> web.StreamResponse | None:
        if exc.status == 413:
            return self.render(Failure(413, exc.text or "Request body too large", POLARIS_BODY_TOO_LARGE))
        if exc.status in (404, 405):
            answer = self.render(
                Failure(exc.status, f"No such call: {request.method} {request.path[:200]}", POLARIS_MALFORMED_REQUEST)
            )
            if "Allow" in exc.headers:
                answer.headers["Allow"] = exc.headers["Allow"]
            return answer
        return None

    def bind(self, schemas: SchemaRegistry, schema: str, body: Any) -> Any:
        """The body as Polaris' Json.NET binding reads it: strings converted to the schema's Int32, Decimal,
        Boolean and DateTime fields, absent Boolean and number fields false and 0 (``binding``)."""
        return Binder(schemas).bind(schema, body)

    def body_invalid(self, errors: Iterable[FieldError]) -> Exception:
        first = next(iter(errors))
        where = f"'{first.field}': " if first.field else ""
        return self.error(400, f"Invalid request body: {where}{first.message}", POLARIS_MALFORMED_REQUEST)

    def forbidden(self, missing: Iterable[str]) -> Exception:
        return not_privileged(f"permission: {', '.join(missing)} required")
