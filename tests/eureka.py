"""Stand-ins for Eureka's parts in front of the module, sending what the real ones send (read from their source).

- :class:`Sidecar` (folio-org/folio-module-sidecar): a server on loopback that routes only the descriptor's
  handlers (anything else 404); for a handler that requires a permission it takes the token from
  ``Authorization: Bearer`` or ``X-Okapi-Token`` (into ``X-Okapi-Token``), refuses a missing one (401) or a
  tenant header other than the token's realm (401), asks "Keycloak" whether the user holds the required
  permission (403 if not) and sets ``X-Okapi-User-Id`` from the token's ``user_id`` unless sent; for every
  request it drops the ``X-Okapi-Permissions`` a client sent and fills it with the user's grants among the
  handler's ``permissionsDesired`` only (KeycloakJwtFilter, KeycloakTenantFilter, KeycloakAuthorizationFilter,
  DesiredPermissionsFilter). It forwards with ``X-Okapi-Url`` set to itself, a new ``X-Okapi-Request-Id``,
  without ``User-Agent`` and ``Priority``, and the body chunked (RequestForwardingService). A ``_tenant``
  call (interfaceType system) passes without token or authorisation.
- :class:`EntitlementManager` (folio-org/mgr-tenant-entitlements, FolioTenantApiClient): ``POST /_/tenant``
  with only ``Content-Type`` and ``X-Okapi-Tenant`` (and Java's ``User-Agent``), the attributes without
  null fields; a status up to 300 is success, and it never polls. Disabling without purge sends nothing.
- :func:`keycloak_token`: a token shaped as Keycloak issues them for FOLIO (tenant = realm, ``user_id``).

"Keycloak" here is a table of each user's granted permissions; the module never sees it.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from mod_users.descriptor import handler_for, handlers

# Headers the sidecar does not pass on (RequestForwardingService.filterHeaders), and hop-by-hop ones that
# any HTTP proxy drops.
_DROPPED = {"user-agent", "priority", "host", "content-length", "transfer-encoding", "connection"}
# Headers aiohttp's client would add that neither Java's HttpClient nor the sidecar's Vert.x client sends.
_NOT_ADDED = ("User-Agent", "Accept", "Accept-Encoding")


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


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


@dataclass
class Sidecar:
    """The module's sidecar: ``grants`` maps a FOLIO user id to the permissions Keycloak grants the user."""

    descriptor: dict[str, Any]
    module_url: str
    grants: dict[str, set[str]] = field(default_factory=dict)
    url: str = ""
    # What the module was sent, request by request (headers as the module got them).
    forwarded: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._handlers = handlers(self.descriptor)
        self._types = {i["id"]: i.get("interfaceType", "proxy") for i in self.descriptor["provides"]}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._ingress)
        return app

    async def _ingress(self, request: web.Request) -> web.StreamResponse:
        entry = handler_for(self._handlers, request.method, request.path)
        if entry is None:
            return web.json_response({"errors": [{"message": "Route is not found"}]}, status=404)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROPPED}
        user_id = headers.get("X-Okapi-User-Id")
        if self._types[entry.interface] != "system" and entry.permissions_required:
            token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() or None
            okapi_token = request.headers.get("X-Okapi-Token")
            if token and okapi_token and token != okapi_token:
                return web.Response(status=400, text="X-Okapi-Token is not equal to Authorization token")
            token = token or okapi_token
            if not token:
                return web.Response(status=401, text="Failed to find JWT in request")
            headers.pop("Authorization", None)
            headers["X-Okapi-Token"] = token
            claims = _claims(token)
            realm = claims["iss"].rsplit("/", 1)[1]
            if headers.get("X-Okapi-Tenant") not in (None, realm):
                return web.Response(status=401, text="X-Okapi-Tenant header is not the same as resolved tenant")
            user_id = user_id or claims.get("user_id")
            if user_id:
                headers["X-Okapi-User-Id"] = user_id
            if not set(entry.permissions_required) <= self.grants.get(claims.get("user_id"), set()):
                return web.Response(status=403, text="Access Denied")
        headers.pop("X-Okapi-Permissions", None)
        if entry.permissions_desired and user_id:
            granted = [p for p in entry.permissions_desired if p in self.grants.get(user_id, set())]
            if granted:
                headers["X-Okapi-Permissions"] = json.dumps(granted)
        previous = request.headers.get("X-Okapi-Request-Id")
        new_id = f"{random.randrange(1_000_000):06d}/{request.path.strip('/').split('/')[-1]}"
        headers["X-Okapi-Request-Id"] = f"{previous};{new_id}" if previous else new_id
        headers["X-Okapi-Url"] = self.url
        return await self._forward(request, headers)

    async def _forward(self, request: web.Request, headers: dict[str, str]) -> web.StreamResponse:
        self.forwarded.append(dict(headers))
        body = None
        if request.method not in ("GET", "HEAD"):

            async def chunks():  # streamed on as it arrives: chunked, as the sidecar's Vert.x client sends it
                async for chunk in request.content.iter_any():
                    yield chunk

            body = chunks()
        target = self.module_url + request.raw_path
        async with (
            aiohttp.ClientSession(skip_auto_headers=_NOT_ADDED) as session,
            session.request(request.method, target, headers=headers, data=body) as answer,
        ):
            payload = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in _DROPPED}
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
    """mgr-tenant-entitlements' calls of a module's tenant API (through its sidecar)."""

    def __init__(self, sidecar_url: str) -> None:
        self.sidecar_url = sidecar_url

    async def install(self, tenant: str, module_id: str, parameters: list[dict[str, str]] | None = None) -> Call:
        """Enable or upgrade: ``module_to`` only (no ``module_from``, even for an upgrade) and the parameters."""
        attributes: dict[str, Any] = {"module_to": module_id}
        if parameters is not None:
            attributes["parameters"] = parameters
        return await self._post(tenant, attributes)

    async def uninstall(self, tenant: str, module_id: str, purge: bool) -> Call | None:
        """Revoke: tenant API 2.0 gets a call only when the data is to be purged."""
        if not purge:
            return None
        return await self._post(tenant, {"module_from": module_id, "purge": True})

    async def _post(self, tenant: str, attributes: dict[str, Any]) -> Call:
        headers = {"Content-Type": "application/json", "X-Okapi-Tenant": tenant, "User-Agent": "Java-http-client/21"}
        body = json.dumps(attributes, separators=(",", ":"))
        async with (
            aiohttp.ClientSession(skip_auto_headers=_NOT_ADDED) as session,
            session.post(self.sidecar_url + "/_/tenant", data=body, headers=headers) as answer,
        ):
            return Call(answer.status, await answer.text())
