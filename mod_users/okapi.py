"""The ``X-Okapi-*`` headers a gateway sends, read into one request context.

The gateway has already verified the token before the request reaches us, so its payload is only decoded,
never checked again. Two kinds of token arrive: Okapi's (mod-authtoken: ``user_id``, the username in
``sub``, a ``tenant`` claim) and, behind Eureka's sidecar, Keycloak's (``user_id``, the username in
``preferred_username``, ``sub`` Keycloak's own user id, and the tenant only as the realm: the last segment
of ``iss``, ``http://keycloak:8080/realms/diku``).
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

TENANT = "X-Okapi-Tenant"
TOKEN = "X-Okapi-Token"
USER_ID = "X-Okapi-User-Id"
REQUEST_ID = "X-Okapi-Request-Id"
PERMISSIONS = "X-Okapi-Permissions"
URL = "X-Okapi-Url"

_MAX_HEADER = 8192
# metadata.schema declares user ids as UUIDs; a header that is not one is not trusted into stored data.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class OkapiContext:
    """Who is calling, for which tenant, with which permissions."""

    tenant_name: str | None
    user_id: str | None
    token: str | None
    request_id: str
    permissions: frozenset[str] = field(default_factory=frozenset)
    okapi_url: str | None = None
    # The staff user's name: FOLIO tokens carry it in ``sub`` (the user id is in ``user_id``).
    username: str | None = None


def token_payload(token: str | None) -> dict[str, object]:
    """The JSON payload of a JWT, or ``{}`` when there is none or it cannot be read."""
    if not token or len(token) > _MAX_HEADER:
        return {}
    parts = token.split(".")
    if len(parts) < 2:
        return {}
    segment = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        payload = json.loads(base64.urlsafe_b64decode(segment.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeError):
        return {}
    return payload if isinstance(payload, dict) else {}


def keycloak_realm(payload: dict[str, object]) -> str | None:
    """The realm a Keycloak token was issued by (``iss`` ``.../realms/<realm>``): under Eureka, the tenant."""
    issuer = payload.get("iss")
    if not isinstance(issuer, str) or "/realms/" not in issuer:
        return None
    return issuer.rsplit("/", 1)[1] or None


def _tenant(header: str | None, payload: dict[str, object]) -> str | None:
    """``X-Okapi-Tenant``; without it the token's tenant: Okapi's ``tenant`` claim, or Keycloak's realm (the
    sidecar resolves a token's tenant the same way). The header wins: a gateway that allows cross-tenant
    calls sends a tenant other than the token's."""
    if header is not None:
        return header
    claim = payload.get("tenant")
    return claim if isinstance(claim, str) and claim else keycloak_realm(payload)


def _user_id(header: str | None, payload: dict[str, object]) -> str | None:
    """The caller's user id: the first UUID of ``X-Okapi-User-Id``, the token's ``user_id``, the token's
    ``sub`` (FOLIO tokens carry the username in ``sub``, but a token naming the user by id there is used
    rather than none; a Keycloak token's ``sub`` is Keycloak's id, not FOLIO's, and is never used). A
    candidate that is not a UUID is skipped, never trusted into stored data."""
    sub = None if keycloak_realm(payload) else payload.get("sub")
    for value in (header, payload.get("user_id"), sub):
        if isinstance(value, str) and _UUID.fullmatch(value.strip()):
            return value.strip().lower()
    return None


def _permissions(raw: str | None) -> frozenset[str]:
    """``X-Okapi-Permissions`` is a JSON array of permission names; anything else grants nothing."""
    if not raw or len(raw) > 65536:
        return frozenset()
    try:
        value = json.loads(raw)
    except ValueError:
        return frozenset()
    if not isinstance(value, list):
        return frozenset()
    return frozenset(p for p in value if isinstance(p, str))


def _username_from_token(payload: dict[str, object]) -> str | None:
    name = payload.get("preferred_username") if keycloak_realm(payload) else payload.get("sub")
    if isinstance(name, str) and name and len(name) <= 256 and not _UUID.fullmatch(name):
        return name
    return None


def new_request_id() -> str:
    """A request id in Okapi's style (six digits) for calls that did not come through Okapi; it only
    tells log lines apart, so a cheap non-cryptographic random number serves."""
    return f"{random.randrange(1_000_000):06d}"


def context_from_headers(headers: Mapping[str, str]) -> OkapiContext:
    """Read the Okapi headers (and the token's tenant when the header is missing); the tenant name is
    validated only when a route uses it."""
    token = headers.get(TOKEN)
    payload = token_payload(token)
    request_id = (headers.get(REQUEST_ID) or "").strip()[:256] or new_request_id()
    return OkapiContext(
        tenant_name=_tenant(headers.get(TENANT), payload),
        user_id=_user_id(headers.get(USER_ID), payload),
        token=token,
        request_id=request_id,
        permissions=_permissions(headers.get(PERMISSIONS)),
        okapi_url=headers.get(URL),
        username=_username_from_token(payload),
    )
