"""Stand-ins for Eureka's parts in front of the module, sending what the real ones send (read from their source:
folio-org/folio-module-sidecar, mgr-tenant-entitlements).

- :class:`Sidecar` (folio-module-sidecar): a server on loopback that routes only the descriptor's handlers
  (anything else 404), then runs the sidecar's ingress filters in their order (IngressFilterOrder):
  1. a GET with a body (Content-Length above 0) is a 400 (RequestValidationFilter);
  2. on every route but a system interface's, the token is taken from ``Authorization`` (less ``Bearer ``) or
     ``X-Okapi-Token`` (400 if both are sent and differ), put in ``X-Okapi-Token`` (``Authorization`` is
     dropped) and ``X-Okapi-User-Id`` is set from its ``user_id`` claim unless the client sent one; no token,
     or one that does not parse, is a 401 where the handler requires a permission (KeycloakJwtFilter);
  3. where it requires one, ``X-Okapi-Tenant`` other than the token's realm is a 401 (KeycloakTenantFilter);
  4. but for ``_tenant``, a tenant the module is not entitled for is a 400 ``tenant_not_enabled``
     (TenantFilter): :attr:`Sidecar.entitled`, which the entitlement manager's calls keep as the
     sidecar's entitlement events would;
  5. where it requires one, "Keycloak" is asked whether the user holds it: 403 if not
     (KeycloakAuthorizationFilter);
  6. ``X-Okapi-Sidecar-Signature`` is added (SidecarSignatureFilter) and any ``X-Okapi-Permissions`` the
     client sent is dropped, then filled with the user's grants among the handler's ``permissionsDesired``,
     if any (DesiredPermissionsFilter).
  Refusals are the sidecar's JSON errors (ErrorHandler: ``{"errors": [{type, code, message}],
  "total_records": 1}``, 401 always "Unauthorized", 403 "Access Denied"). It forwards (RequestForwardingService,
  RoutingUtils.getRequestId) with ``X-Okapi-Url`` set to itself, ``X-Okapi-Request-Id`` a new id (six random
  digits and the path's first segment, ``/_`` skipped: ``123456/patron-block-conditions``) appended with ``;`` to
  the one the client sent, without ``User-Agent`` and ``Priority``, the query string decoded (``&`` and ``;``
  separate, ``+`` is a space, repeated names grouped) and encoded again as Netty's QueryStringEncoder does,
  the body chunked; the signature header is removed from the module's answer.
- :class:`EntitlementManager` (mgr-tenant-entitlements, FolioTenantApiClient): ``POST /_/tenant`` with only
  ``Content-Type`` and ``X-Okapi-Tenant`` (and Java's ``User-Agent``), the attributes without null fields; a
  status up to 300 is success, and it never polls. Disabling without purge sends nothing.
- :func:`keycloak_token`: a token shaped as Keycloak issues them for FOLIO (tenant = realm, ``user_id``).

Left out, as no test of this module needs it: system tokens (``X-System-Token``: the sidecar keeps a client's
``X-Okapi-Permissions`` only with one), impersonation, cross-tenant requests, token signatures, expiry and
caching, the module-id prefix of paths, timer interfaces, and egress (the module's own calls through
``X-Okapi-Url`` reach this stand-in as ingress and 404: tests give outside modules stand-ins of their own).
"Keycloak" here is a table of each user's granted permissions; the module never sees it.
"""

from __future__ import annotations

import base64
import json
import random
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote_plus

import aiohttp
from aiohttp import web
from yarl import URL

from mod_users.descriptor import Handler, handler_for, handlers

# Headers the sidecar does not pass on (RequestForwardingService.filterHeaders), and hop-by-hop ones that
# any HTTP proxy drops.
_DROPPED = {"user-agent", "priority", "host", "content-length", "transfer-encoding", "connection"}
# Headers aiohttp's client would add that neither Java's HttpClient nor the sidecar's Vert.x client sends.
_NOT_ADDED = ("User-Agent", "Accept", "Accept-Encoding")
SIGNATURE = "X-Okapi-Sidecar-Signature"


def keycloak_token(tenant: str, user_id: str, username: str = "diku_admin") -> str:
    """An (unsigned) access token as Keycloak issues it for a FOLIO user of ``tenant``'s realm."""
    claims = {
        "iss": f"http://keycloak:8080/realms/{tenant}",
        "sub": str(uuid.uuid4()),  # Keycloak's own id of the user, not FOLIO's
        "user_id": user_id,
        "preferred_username": username,
        "typ": "Bearer",
        "azp": f"{tenant}-application",
        "sid": str(uuid.uuid4()),
        "exp": 4102444800,
    }
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.{payload}.c2lnbmF0dXJl"


def _claims(token: str) -> dict[str, Any] | None:
    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError):
        return None
    return claims if isinstance(claims, dict) and isinstance(claims.get("iss"), str) else None


def _error(status: int, kind: str, code: str, message: str) -> web.Response:
    """A refusal as the sidecar's ErrorHandler writes it."""
    body = {"errors": [{"type": kind, "code": code, "message": message}], "total_records": 1}
    return web.json_response(body, status=status)


def request_id(path: str, previous: str | None) -> str:
    """The id the sidecar gives a request it forwards (RoutingUtils.getRequestId)."""
    first = re.sub(r"^(/_)?(/[^/?]+).*$", r"\2", path)
    new = f"{random.randrange(1_000_000):06d}{first}"
    return f"{previous};{new}" if previous else new


def reencoded_query(raw: str) -> str:
    """A query string as the sidecar passes it on: Vert.x's params() (Netty's QueryStringDecoder: ``&`` and
    ``;`` separate, ``+`` is a space, a name's values grouped at its first place) written out by Netty's
    QueryStringEncoder (``%20`` for a space, all but letters, digits and ``-_.*`` percent-encoded)."""
    grouped: dict[str, list[str]] = {}
    for part in re.split("[&;]", raw):
        name, _, value = part.partition("=")
        if name:
            grouped.setdefault(unquote_plus(name), []).append(unquote_plus(value))

    def encode(text: str) -> str:
        return quote(text, safe="*").replace("~", "%7E")

    return "&".join(f"{encode(name)}={encode(value)}" for name, values in grouped.items() for value in values)


@dataclass
class Sidecar:
    """The module's sidecar: ``grants`` maps a FOLIO user id to the permissions Keycloak grants the user;
    ``entitled`` holds the tenants the module is enabled for."""

    descriptor: dict[str, Any]
    module_url: str
    grants: dict[str, set[str]] = field(default_factory=dict)
    entitled: set[str] = field(default_factory=set)
    url: str = ""
    # What the module was sent, request by request (headers as the module got them, and the URL).
    forwarded: list[dict[str, str]] = field(default_factory=list)
    forwarded_urls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._handlers = handlers(self.descriptor)
        self._types = {i["id"]: i.get("interfaceType", "proxy") for i in self.descriptor["provides"]}
        self._signature = base64.b64encode(random.randbytes(32)).decode()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._ingress)
        return app

    async def _ingress(self, request: web.Request) -> web.StreamResponse:
        entry = handler_for(self._handlers, request.method, request.path)
        if entry is None:
            message = f"Route is not found [method: {request.method}, path: {request.raw_path.split('?')[0]}]"
            return _error(404, "NotFoundException", "route_not_found_error", message)
        if request.method == "GET" and int(request.headers.get("Content-Length") or 0) > 0:
            return _error(400, "BadRequestException", "service_error", "GET requests should not have a body")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROPPED}
        refused = self._filters(entry, headers)
        if refused is not None:
            return refused
        headers[SIGNATURE] = self._signature
        headers.pop("X-Okapi-Permissions", None)
        user_id = headers.get("X-Okapi-User-Id")
        if entry.permissions_desired and user_id:
            granted = [p for p in entry.permissions_desired if p in self.grants.get(user_id, set())]
            if granted:
                headers["X-Okapi-Permissions"] = json.dumps(granted)
        path = request.raw_path.split("?", 1)[0]
        headers["X-Okapi-Request-Id"] = request_id(path, request.headers.get("X-Okapi-Request-Id"))
        headers["X-Okapi-Url"] = self.url
        return await self._forward(request, headers)

    def _filters(self, entry: Handler, headers: dict[str, str]) -> web.Response | None:
        """The authentication, tenant and authorisation filters; the refusal, or None to go on."""
        system = self._types[entry.interface] == "system"
        required = bool(entry.permissions_required)
        claims = None
        if not system:
            authorization = headers.pop("Authorization", None)
            okapi_token = headers.get("X-Okapi-Token")
            token = authorization.removeprefix("Bearer ").strip() if authorization else okapi_token
            if token and okapi_token and token != okapi_token:
                return _error(
                    400, "BadRequestException", "service_error", "X-Okapi-Token is not equal to Authorization token"
                )
            if token:
                headers["X-Okapi-Token"] = token
                claims = _claims(token)
                if claims is None:  # a token that does not parse is refused even where nothing is required
                    return _error(401, "UnauthorizedException", "authorization_error", "Unauthorized")
                if claims and claims.get("user_id"):
                    headers.setdefault("X-Okapi-User-Id", claims["user_id"])
            elif required:
                return _error(401, "UnauthorizedException", "authorization_error", "Unauthorized")
        if required and not system:
            realm = claims["iss"].rsplit("/", 1)[1]
            if headers.get("X-Okapi-Tenant") not in (None, realm):
                return _error(401, "UnauthorizedException", "authorization_error", "Unauthorized")
        tenant = headers.get("X-Okapi-Tenant")
        if entry.interface != "_tenant" and tenant not in self.entitled:
            message = f"Application is not enabled for tenant: {tenant}"
            return _error(400, "TenantNotEnabledException", "tenant_not_enabled", message)
        if required and not system:
            user = claims.get("user_id") if claims else None
            if not set(entry.permissions_required) <= self.grants.get(user, set()):
                return _error(403, "ForbiddenException", "authorization_error", "Access Denied")
        return None

    async def _forward(self, request: web.Request, headers: dict[str, str]) -> web.StreamResponse:
        self.forwarded.append(dict(headers))
        body = None
        if request.method not in ("GET", "HEAD"):

            async def chunks():  # streamed on as it arrives: chunked, as the sidecar's Vert.x client sends it
                async for chunk in request.content.iter_any():
                    yield chunk

            body = chunks()
        path, _, query = request.raw_path.partition("?")
        query = reencoded_query(query)
        target = self.module_url + path + (f"?{query}" if query else "")
        self.forwarded_urls.append(target)
        async with (
            aiohttp.ClientSession(skip_auto_headers=_NOT_ADDED) as session,
            session.request(request.method, URL(target, encoded=True), headers=headers, data=body) as answer,
        ):
            payload = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in _DROPPED | {SIGNATURE.lower()}}
            return web.Response(status=answer.status, body=payload, headers=kept)


@dataclass
class Call:
    """What the entitlement manager saw: the status, the body, and whether it counts the call as done."""

    status: int
    body: str

    @property
    def succeeded(self) -> bool:
        return self.status <= 300  # FolioTenantApiClient: anything above 300 fails the entitlement


class EntitlementManager:
    """mgr-tenant-entitlements' calls of a module's tenant API (through its sidecar). A successful entitlement
    (or upgrade) enables the tenant in the sidecar, and a revocation disables it, as the entitlement events
    the sidecar consumes do (TenantEntitlementConsumer)."""

    def __init__(self, sidecar: Sidecar) -> None:
        self.sidecar = sidecar

    async def install(self, tenant: str, module_id: str, parameters: list[dict[str, str]] | None = None) -> Call:
        """Enable or upgrade: ``module_to`` only (no ``module_from``, even for an upgrade) and the parameters."""
        attributes: dict[str, Any] = {"module_to": module_id}
        if parameters is not None:
            attributes["parameters"] = parameters
        call = await self._post(tenant, attributes)
        if call.succeeded:
            self.sidecar.entitled.add(tenant)
        return call

    async def uninstall(self, tenant: str, module_id: str, purge: bool) -> Call | None:
        """Revoke: tenant API 2.0 gets a call only when the data is to be purged."""
        call = await self._post(tenant, {"module_from": module_id, "purge": True}) if purge else None
        if call is None or call.succeeded:
            self.sidecar.entitled.discard(tenant)
        return call

    async def _post(self, tenant: str, attributes: dict[str, Any]) -> Call:
        headers = {"Content-Type": "application/json", "X-Okapi-Tenant": tenant, "User-Agent": "Java-http-client/21"}
        body = json.dumps(attributes, separators=(",", ":"))
        async with (
            aiohttp.ClientSession(skip_auto_headers=_NOT_ADDED) as session,
            session.post(self.sidecar.url + "/_/tenant", data=body, headers=headers) as answer,
        ):
            return Call(answer.status, await answer.text())
