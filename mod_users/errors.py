"""The error shapes clients see: FOLIO text/plain and 422 ``errors``, and Polaris' error object.

Handlers raise these; the error middleware turns them into responses. Anything else that escapes a
handler is our bug and becomes a logged 500, never a client's fault.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from mod_users.contract.schemas import FieldError
from mod_users.texts import MESSAGE, shorten


class ApiError(Exception):
    """A client-facing error answered as ``text/plain``."""

    status = 400

    def __init__(self, message: str) -> None:
        message = shorten(message, MESSAGE)
        super().__init__(message)
        self.message = message


class BadRequest(ApiError):
    status = 400


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class RequestTimeout(ApiError):
    status = 408


class ClientGone(Exception):
    """The client disconnected before its request was read: there is no one to answer."""


class ValidationFailed(Exception):
    """422: the body breaks the schema or a business rule; carries every failing field."""

    status = 422

    def __init__(self, errors: Iterable[dict[str, Any]]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(e["message"] for e in self.errors))

    def body(self) -> dict[str, Any]:
        return {"errors": self.errors, "total_records": len(self.errors)}


def folio_error(message: str, key: str | None = None, value: Any = None, code: str = "-1") -> dict[str, Any]:
    """One entry of FOLIO's ``errors`` array (the shape of RMB's errors.schema)."""
    entry: dict[str, Any] = {"message": shorten(message, MESSAGE), "type": "1", "code": code}
    if key is not None:
        shown = "null" if value is None else shorten(_as_text(value))
        entry["parameters"] = [{"key": shorten(key), "value": shown}]
    return entry


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def schema_failure(errors: Iterable[FieldError]) -> ValidationFailed:
    """Turn schema validation results into one 422 naming each failing field."""
    return ValidationFailed(folio_error(e.message, e.field, e.value, code=f"jsonSchema.{e.keyword}") for e in errors)


# ErrorCodes of Polaris-style answers that concern the request rather than a resource. Polaris does not
# document its numbers; ours are listed in ramls/polaris-patron-blocks.raml with the resource-specific ones.
POLARIS_MALFORMED_REQUEST = -1
POLARIS_NOT_PRIVILEGED = -2
POLARIS_BODY_TOO_LARGE = -3
POLARIS_SERVER_ERROR = -4
POLARIS_UNAVAILABLE = -5
# The Polaris listener's 401: no credentials, malformed ones, or ones that do not authenticate.
POLARIS_UNAUTHORIZED = -6
NOT_PRIVILEGED = "User or workstation is not privileged."


class PolarisError(Exception):
    """An error in the Polaris ApplicationServices shape, with its HTTP status and ErrorCode."""

    def __init__(
        self,
        status: int,
        message: str,
        error_code: int = 0,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        message = shorten(message, MESSAGE)
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code
        self.detail = detail
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "ErrorCode": self.error_code,
            "Message": self.message,
            "MessageDetail": self.detail,
            "StackTrace": None,
            "InnerException": None,
            "Data": None,
        }


def not_privileged(detail: str | None = None) -> PolarisError:
    """403 as Polaris answers a call its staff user or workstation may not make; ``detail`` (the
    MessageDetail) says which check failed: "permission: ...", "workstation: ...", "organization: ..."."""
    return PolarisError(403, NOT_PRIVILEGED, POLARIS_NOT_PRIVILEGED, detail)
