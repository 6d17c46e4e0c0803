"""Calls to other FOLIO modules (users, loan-storage, feesfines) through the gateway a request came from.

As mod-patron-blocks' OkapiClient: the request's ``X-Okapi-Url`` is where the gateway is, and its
``X-Okapi-Tenant`` and ``X-Okapi-Token`` go along (Okapi adds the module permissions the descriptor's
``modulePermissions`` grant). A user's patron group is kept for a short while: staff screens ask for a
patron's blocks several times a minute, and a group changes rarely.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from mod_users.okapi import OkapiContext

# How long a user's patron group is trusted, and how many are kept.
PATRON_GROUP_SECONDS = 30.0
PATRON_GROUP_ENTRIES = 10_000
# mod-patron-blocks' page size when it reads loans and accounts for a synchronisation.
PAGE_SIZE = 100


class GatewayError(Exception):
    """Another module could not be asked, or did not answer as it should; the message says which."""


@dataclass(frozen=True)
class Gateway:
    """Where to reach other modules for one tenant, and as whom."""

    session: aiohttp.ClientSession
    url: str | None
    tenant: str
    token: str | None = None
    request_id: str | None = None

    @classmethod
    def of(cls, session: aiohttp.ClientSession, okapi: OkapiContext, tenant: str) -> Gateway:
        return cls(session, okapi.okapi_url, tenant, okapi.token, okapi.request_id)

    def _base(self) -> str:
        if not self.url:
            raise GatewayError("no X-Okapi-Url: the gateway that reaches other modules is unknown")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise GatewayError(f"X-Okapi-Url {self.url[:200]!r} is not an http(s) URL")
        return self.url.rstrip("/")

    async def get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        """GET ``path`` from the gateway; the JSON answer of a 200, else :class:`GatewayError`."""
        headers = {"X-Okapi-Tenant": self.tenant, "X-Okapi-Url": self.url or "", "Accept": "application/json"}
        if self.token:
            headers["X-Okapi-Token"] = self.token
        if self.request_id:
            headers["X-Okapi-Request-Id"] = self.request_id
        url = self._base() + path
        try:
            async with self.session.get(url, params=params, headers=headers) as resp:
                if resp.status != 200:
                    text = (await resp.text(errors="replace"))[:200]
                    raise GatewayError(f"GET {path} answered {resp.status}: {text}")
                return await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise GatewayError(f"GET {path} failed: {exc.__class__.__name__}: {exc}") from exc

    async def user(self, user_id: str) -> dict[str, Any]:
        """The user record (mod-users ``GET /users/{id}``)."""
        found = await self.get_json(f"/users/{quote(user_id, safe='')}")
        if not isinstance(found, dict):
            raise GatewayError(f"GET /users/{user_id} did not answer a user")
        return found

    async def pages(self, path: str, key: str, query: str) -> AsyncIterator[list[dict[str, Any]]]:
        """Every record matching the CQL ``query``, a page at a time, in id order, paging by the last id
        seen (``id > last``) as mod-patron-blocks does: offsets get slow on large tables."""
        last: str | None = None
        while True:
            cql = query if last is None else f"{query} and id > {last}"
            answer = await self.get_json(path, {"limit": str(PAGE_SIZE), "query": f"{cql} sortBy id"})
            records = answer.get(key) if isinstance(answer, dict) else None
            if not isinstance(records, list):
                raise GatewayError(f"GET {path} did not answer a {key} list")
            records = [r for r in records if isinstance(r, dict)]
            if records:
                yield records
            if len(records) < PAGE_SIZE:
                return
            last = str(records[-1].get("id"))


class PatronGroups:
    """Users' patron groups, each kept for :data:`PATRON_GROUP_SECONDS` (per tenant and gateway)."""

    def __init__(self, seconds: float = PATRON_GROUP_SECONDS, entries: int = PATRON_GROUP_ENTRIES) -> None:
        self.seconds, self.entries = seconds, entries
        self._kept: OrderedDict[tuple[str, str, str], tuple[float, str | None]] = OrderedDict()

    async def of(self, gateway: Gateway, user_id: str) -> str | None:
        """The user's patron group id (None: the user has none); GatewayError when it cannot be had."""
        key = (gateway.tenant, gateway.url or "", user_id)
        found = self._kept.get(key)
        now = time.monotonic()
        if found is not None and now - found[0] < self.seconds:
            return found[1]
        group = (await gateway.user(user_id)).get("patronGroup")
        group = group if isinstance(group, str) else None
        self._kept[key] = (now, group)
        self._kept.move_to_end(key)
        while len(self._kept) > self.entries:
            self._kept.popitem(last=False)
        return group
