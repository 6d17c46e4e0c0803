"""The PAPI style: how the Polaris API Service (PAPI) answers a failure, and which URLs are its clients'.

PAPI clients read a result object with ``PAPIErrorCode`` (negative: an error) and ``ErrorMessage`` whatever
went wrong, so every failure of a PAPI route, and any URL below ``/PAPIService/`` that no route matches, is
answered as one, with the HTTP status of the failure and the request-level ErrorCodes of the Polaris-style
API (-1 malformed, -2 not privileged, -3 too large, -4 server error, -5 database unavailable, -6 not
authenticated); a resource's own condition keeps its code (-3000 an unknown patron). Everything else is the
Polaris style's.
"""

from __future__ import annotations

from typing import Any

from mod_users.errors import PolarisError
from mod_users.resources.polaris.style import PolarisStyle


class PapiError(PolarisError):
    """A failure answered as a PAPI result."""

    def body(self) -> dict[str, Any]:
        return {"PAPIErrorCode": self.error_code, "ErrorMessage": self.message}


class PapiStyle(PolarisStyle):
    """PAPI result objects for every failure."""

    name = "papi"
    error = PapiError


__all__ = ["PapiError", "PapiStyle"]
