"""The PAPI style: how the Polaris API Service (PAPI) answers a failure, and which URLs are its clients'.

PAPI clients read a result object with ``PAPIErrorCode`` (negative: an error) and ``ErrorMessage`` whatever
went wrong, so every failure of a PAPI route, and any URL below ``/PAPIService/`` that no route matches, is
answered as one, with the HTTP status of the failure and the request-level ErrorCodes of the Polaris-style
API (-1 malformed, -2 not privileged, -3 too large, -4 server error, -5 database unavailable, -6 not
authenticated); a resource's own condition keeps its code (-3000 an unknown patron).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web

from mod_users.contract.schemas import FieldError
from mod_users.errors import (
    POLARIS_BODY_TOO_LARGE,
    POLARIS_MALFORMED_REQUEST,
    POLARIS_NOT_PRIVILEGED,
    PolarisError,
)
from mod_users.storage.errors import DuplicateRecord
from mod_users.style import Authenticate, Failure, Style, json_response


class PapiError(PolarisError):
    """A failure answered as a PAPI result."""

    def body(self) -> dict[str, Any]:
        return {"PAPIErrorCode": self.error_code, "ErrorMessage": self.message}


class PapiStyle(Style):
    """PAPI result objects for every failure."""

    name = "papi"
    strips_metadata = False

    def __init__(self, first_segment: str, authenticate: Authenticate | None = None) -> None:
        self._prefix = "/" + first_segment.lower() + "/"
        self.authenticate = authenticate

    def claims(self, path: str) -> bool:
        return path.lower().startswith(self._prefix)

    def render(self, failure: Failure) -> web.Response:
        return json_response(PapiError(*failure).body(), status=failure.status)

    def answer(self, exc: Exception) -> web.StreamResponse:
        if isinstance(exc, PolarisError):
            body = PapiError(exc.status, exc.message, exc.error_code).body()
            return json_response(body, status=exc.status, headers=exc.headers or None)
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

    def body_invalid(self, errors: Iterable[FieldError]) -> Exception:
        first = next(iter(errors))
        where = f"'{first.field}': " if first.field else ""
        return PapiError(400, f"Invalid request body: {where}{first.message}", POLARIS_MALFORMED_REQUEST)

    def forbidden(self, missing: Iterable[str]) -> Exception:
        return PapiError(403, f"Not privileged: {', '.join(missing)} required", POLARIS_NOT_PRIVILEGED)


__all__ = ["PapiError", "PapiStyle"]
