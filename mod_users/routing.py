"""Routes declared by resource modules, bound to their RAML endpoints.

A resource module lists ``Route(method, path, handler)`` with the path exactly as its RAML writes it.
Binding finds the RAML endpoint (start-up fails if there is none), and wraps the handler so that it
receives a :class:`Call` whose query parameters are already converted and checked against the RAML and
whose JSON body is parsed and valid against the declared schema.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import sys
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import hdrs, web
from aiohttp.http_exceptions import ContentEncodingError, ContentLengthError, TransferEncodingError

from mod_users.contract import Contract, Endpoint, ParamError, parse_params
from mod_users.errors import BadRequest, ClientGone, RequestTimeout
from mod_users.okapi import TENANT as TENANT_HEADER
from mod_users.okapi import OkapiContext
from mod_users.state import SETTINGS, STORE
from mod_users.storage.records import RecordStore
from mod_users.storage.tenants import TenantSchema
from mod_users.style import FOLIO, Style, json_response, text_response
from mod_users.texts import shorten

Handler = Callable[["Call"], Awaitable[web.StreamResponse]]

# The longest a client may take to send a request body.
BODY_SECONDS = 30

OKAPI_KEY = web.RequestKey("okapi", OkapiContext)  # set by the okapi_context middleware
# The style of the route a request was bound to; the error middleware answers in its shape.
STYLE_KEY = web.RequestKey("style", Style)


@dataclass(frozen=True)
class Route:
    """One HTTP route of a resource module.

    ``path`` is the RAML path template; every such route needs ``X-Okapi-Tenant``. ``style`` answers its
    failures (FOLIO's: text/plain 400, 422 errors). ``case_insensitive_prefix`` makes the literal segments
    before the first ``{parameter}`` match in any letter case (Polaris clients differ).
    """

    method: str
    path: str
    handler: Handler
    style: Style = FOLIO
    case_insensitive_prefix: bool = False

    def aiohttp_path(self) -> str:
        if not self.case_insensitive_prefix:
            return self.path
        segments = self.path.split("/")
        out = []
        literal = True
        for i, segment in enumerate(segments):
            if segment.startswith("{"):
                literal = False
            if literal and segment:
                out.append(f"{{_ci{i}:(?i:{re.escape(segment)})}}")
            else:
                out.append(segment)
        return "/".join(out)


@dataclass
class Call:
    """What a handler gets: the request, who calls and for which (validated) tenant, checked parameters
    and body, and the store."""

    request: web.Request
    okapi: OkapiContext
    tenant: TenantSchema
    params: dict[str, Any]
    body: Any
    store: RecordStore
    uri: dict[str, Any] = field(default_factory=dict)

    def path(self, name: str) -> str:
        return self.request.match_info[name]


class _NotJson(ValueError):
    """A constant Python's json module reads but JSON does not have (NaN, Infinity, -Infinity)."""


def _reject_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not valid JSON")


class _OutOfRange(ValueError):
    """A JSON number too large for a double (1e400): Python reads it as infinity, which jsonb cannot hold."""


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _OutOfRange(
            f"Number {shorten(text, 40)} in the request body is out of range: "
            f"a number's magnitude may be at most {sys.float_info.max}"
        )
    return value


def _payload_error(request: web.Request, exc: web.RequestPayloadError) -> Exception:
    """What a body aiohttp could not read means: the client's framing or encoding is broken (a 400 in the
    route's style), or the client left before sending all it announced (nobody to answer)."""
    cause = exc.__cause__
    if isinstance(cause, ContentLengthError):
        return ClientGone()
    if isinstance(cause, TransferEncodingError):
        return BadRequest("Request body is not valid chunked transfer encoding")
    if isinstance(cause, ContentEncodingError):
        encoding = shorten(request.headers.get(hdrs.CONTENT_ENCODING, ""), 40)
        return BadRequest(f"Request body cannot be decoded as its Content-Encoding ({encoding!r}) declares")
    reason = getattr(cause, "message", None) or str(exc)
    return BadRequest(f"Request body cannot be read: {shorten(str(reason))}")


# Both listeners leave bodies encoded (``handler_args``): aiohttp would answer an encoding it cannot decode
# (br without Brotli, zstd, an unknown one) itself, in plain text, before any route could answer in its own
# style; ``read_json`` decodes instead, never past the body limit.
SERVER_ARGS = {"auto_decompress": False}
# zlib's window bits for each Content-Encoding we decode (gzip, and deflate: zlib-wrapped as RFC 9110 says).
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def _decoded(request: web.Request, raw: bytes, limit: int) -> bytes:
    """The body as its Content-Encoding declares it: identity, gzip or deflate (400 for another, 413 when
    it inflates past ``limit``)."""
    encoding = request.headers.get(hdrs.CONTENT_ENCODING, "").strip().lower()
    if encoding in ("", "identity"):
        return raw
    wbits = _WBITS.get(encoding)
    if wbits is None:
        raise BadRequest(
            f"Request body's Content-Encoding {shorten(encoding, 40)!r} is not supported: send it unencoded, "
            "gzip or deflate"
        )
    if encoding == "deflate" and raw and raw[0] & 0x0F != 8:
        wbits = -zlib.MAX_WBITS  # raw deflate without the zlib header, which many clients send (as aiohttp reads it)
    decoder = zlib.decompressobj(wbits)
    try:
        out = decoder.decompress(raw, limit + 1)
    except zlib.error:
        out = None
    if out is not None and (len(out) > limit or decoder.unconsumed_tail):
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=limit + 1)
    if out is None or not decoder.eof:
        raise BadRequest(f"Request body cannot be decoded as its Content-Encoding ({shorten(encoding, 40)!r}) declares")
    return out


async def read_json(request: web.Request) -> Any:
    """Parse the request body as JSON; a 400 says what is wrong and where.

    A body declared larger than the limit is refused (413) before any of it is read, and one that does
    not arrive within BODY_SECONDS is a 408: a client trickling a body cannot hold a request open.
    """
    limit = request.app[SETTINGS].max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    try:
        async with asyncio.timeout(BODY_SECONDS):
            raw = await request.read()
    except TimeoutError:
        raise RequestTimeout(f"Request body not received within {BODY_SECONDS} seconds") from None
    except ConnectionResetError:
        raise ClientGone() from None
    except web.RequestPayloadError as exc:
        raise _payload_error(request, exc) from None
    raw = _decoded(request, raw, limit)
    if not raw.strip():
        raise BadRequest("Request body is empty; a JSON document is required")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"Request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        body = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except _OutOfRange as exc:
        raise BadRequest(str(exc)) from None
    except _NotJson as exc:
        raise BadRequest(f"Malformed JSON: {exc}") from None
    except ValueError:
        # Python refuses integers of more than 4,300 digits, with advice about sys.set_int_max_str_digits()
        # that means nothing to a client: say what is wrong in the API's terms.
        raise BadRequest(f"Malformed JSON: a number has more than {sys.get_int_max_str_digits()} digits") from None
    except RecursionError:
        raise BadRequest("Malformed JSON: nested too deeply") from None
    if ("\\u0000" in text or "\\ud" in text.lower()) and _unstorable(body):
        # PostgreSQL cannot hold NUL, and UTF-8 has no lone UTF-16 surrogates: refused here rather than
        # failing in storage.
        raise BadRequest(
            "Request body contains the character \\u0000 or an unpaired surrogate (\\ud800-\\udfff), "
            "which cannot be stored"
        )
    return body


def _bad_text(text: str) -> bool:
    return "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text)


def _unstorable(value: Any) -> bool:
    if isinstance(value, str):
        return _bad_text(value)
    if isinstance(value, dict):
        return any(_bad_text(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable(v) for v in value)
    return False


async def _checked_body(route: Route, request: web.Request, contract: Contract, schema_key: str | None) -> Any:
    """The JSON body, parsed and valid against its schema, or the error in the route's style."""
    body = await read_json(request)  # a BadRequest: the error middleware answers it in the route's style
    if schema_key:
        body = route.style.bind(contract.schemas, schema_key, body)
    errors = contract.schemas.errors(schema_key, body) if schema_key else []
    if errors:
        raise route.style.body_invalid(errors)
    if route.style.strips_metadata and isinstance(body, dict):
        body.pop("metadata", None)
    return body


def bind(
    route: Route, endpoint: Endpoint, contract: Contract, desired: tuple[str, ...] = ()
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Wrap ``route.handler`` with the checks its RAML endpoint declares, and with the permissions its
    ModuleDescriptor handler desires: Okapi grants those in ``X-Okapi-Permissions``, and a route that
    desires one refuses (403) a call that was not granted it."""
    schema_key = contract.schema_key(endpoint.json_body)
    has_json_body = endpoint.json_body is not None

    async def handle(request: web.Request) -> web.StreamResponse:
        request[STYLE_KEY] = route.style  # the error middleware answers any failure in this style
        okapi: OkapiContext = request[OKAPI_KEY]
        if not okapi.tenant_name:
            raise BadRequest("Missing X-Okapi-Tenant header")
        if len(request.headers.getall(TENANT_HEADER, ())) > 1:
            # Which one would a proxy in front of us have checked? Refuse rather than guess.
            raise BadRequest("X-Okapi-Tenant header given more than once")
        tenant = TenantSchema(okapi.tenant_name)  # validated once, before anything uses it
        missing = [p for p in desired if p not in okapi.permissions]
        if missing:
            raise route.style.forbidden(missing)
        try:
            params = parse_params(endpoint.query_params, request.query)
            uri = parse_params(endpoint.uri_params, request.match_info) if endpoint.uri_params else {}
        except ParamError as exc:
            raise BadRequest(str(exc)) from None
        body = await _checked_body(route, request, contract, schema_key) if has_json_body else None
        call = Call(request, okapi, tenant, params, body, request.app[STORE], uri)
        return await route.handler(call)

    handle.__name__ = getattr(route.handler, "__name__", "handle")
    return handle


__all__ = [
    "OKAPI_KEY",
    "STYLE_KEY",
    "Call",
    "Route",
    "bind",
    "json_response",
    "read_json",
    "text_response",
]
