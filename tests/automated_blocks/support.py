"""What the automated patron blocks tests share: a stand-in for the FOLIO modules this module calls
(users, loan-storage, feesfines) as a real aiohttp server on loopback, and small builders."""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from mod_users.resources.automated_blocks.computation import (
    MAX_NUMBER_OF_ITEMS_CHARGED_OUT,
    MAX_NUMBER_OF_LOST_ITEMS,
    MAX_NUMBER_OF_OVERDUE_ITEMS,
    MAX_NUMBER_OF_OVERDUE_RECALLS,
    MAX_OUTSTANDING_FEE_FINE_BALANCE,
    RECALL_OVERDUE_BY_MAX_NUMBER_OF_DAYS,
)

TOKEN = "stand-in-token"
HANDLERS = "/automated-patron-blocks/handlers"
SIX_CONDITIONS = (
    MAX_NUMBER_OF_ITEMS_CHARGED_OUT,
    MAX_NUMBER_OF_LOST_ITEMS,
    MAX_NUMBER_OF_OVERDUE_ITEMS,
    MAX_NUMBER_OF_OVERDUE_RECALLS,
    RECALL_OVERDUE_BY_MAX_NUMBER_OF_DAYS,
    MAX_OUTSTANDING_FEE_FINE_BALANCE,
)


def new_id() -> str:
    return str(uuid.uuid4())


def _matches(record: dict[str, Any], query: str) -> bool:
    """The few CQL forms the synchronisation sends: ``a.b==v``, ``id > v``, joined by ``and``."""
    for term in query.split(" and "):
        found = re.fullmatch(r"\s*([\w.]+)\s*(==|>)\s*(\S+)\s*", term)
        assert found, f"stand-in cannot read CQL {term!r}"
        name, relation, wanted = found.groups()
        value: Any = record
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if relation == "==" and str(value) != wanted:
            return False
        if relation == ">" and not str(value) > wanted:
            return False
    return True


@dataclass
class FolioStandIn:
    """Users, loans and accounts, answered as mod-users, mod-circulation-storage and mod-feesfines do;
    every call is recorded with its headers. ``hold_accounts``, when set, is awaited before answering
    an accounts call (to let a test act in the middle of a synchronisation)."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    loans: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    hold_accounts: asyncio.Event | None = None
    accounts_asked: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/users/{id}", self._user)
        app.router.add_get("/loan-storage/loans", self._collection("loans"))
        app.router.add_get("/accounts", self._collection("accounts"))
        return app

    def user_calls(self) -> int:
        return sum(1 for path, _ in self.calls if path.startswith("/users/"))

    async def _user(self, request: web.Request) -> web.StreamResponse:
        self.calls.append((request.path, dict(request.headers)))
        if request.headers.get("X-Okapi-Token") != TOKEN:
            return web.Response(status=401, text="Invalid token")
        user = self.users.get(request.match_info["id"])
        if user is None:
            return web.Response(status=404, text="User not found")
        return web.json_response(user)

    def _collection(self, key: str) -> Any:
        async def answer(request: web.Request) -> web.StreamResponse:
            self.calls.append((request.path_qs, dict(request.headers)))
            if request.headers.get("X-Okapi-Token") != TOKEN:
                return web.Response(status=401, text="Invalid token")
            if key == "accounts":
                self.accounts_asked.set()
                if self.hold_accounts is not None:
                    await self.hold_accounts.wait()
            query, _, sort = request.query["query"].partition(" sortBy ")
            assert sort == "id"
            records = sorted((r for r in getattr(self, key) if _matches(r, query)), key=lambda r: r["id"])
            page = records[: int(request.query["limit"])]
            return web.json_response({key: page, "totalRecords": len(records)})

        return answer


def gateway_headers(tenant: str, url: str, **extra: str) -> dict[str, str]:
    return {"X-Okapi-Tenant": tenant, "X-Okapi-Url": url, "X-Okapi-Token": TOKEN, **extra}


def checked_out(user_id: str, loan_id: str | None = None, due: str = "2030-01-01T12:00:00.000Z", **extra: Any) -> dict:
    return {"userId": user_id, "loanId": loan_id or new_id(), "dueDate": due, **extra}


def condition_body(condition_id: str, value_type: str = "Integer", **flags: bool) -> dict[str, Any]:
    blocks = {"blockBorrowing": True, "blockRenewals": True, "blockRequests": True, **flags}
    return {
        "id": condition_id,
        "name": f"condition {condition_id[:8]}",
        **blocks,
        "valueType": value_type,
        "message": f"Blocked by {condition_id[:8]}" if any(blocks.values()) else "",
    }


async def post_event(client: Any, tenant: str, handler: str, body: Any) -> Any:
    return await client.post(f"{HANDLERS}/{handler}", json=body, headers={"X-Okapi-Tenant": tenant})


async def summary_of(client: Any, tenant: str, user_id: str) -> dict[str, Any] | None:
    resp = await client.get(f"/user-summary/{user_id}", headers={"X-Okapi-Tenant": tenant})
    if resp.status == 404:
        return None
    assert resp.status == 200, await resp.text()
    return await resp.json()
