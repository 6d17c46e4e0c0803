"""GET /automated-patron-blocks/{userId}, its explanation and /user-summary, with the users module as a
stand-in on loopback (reached through X-Okapi-Url, as through the gateway)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mod_users.resources.automated_blocks import computation as c
from mod_users.resources.automated_blocks import gateway
from mod_users.resources.automated_blocks.api import PATRON_GROUPS
from mod_users.resources.automated_blocks.computation import (
    MAX_NUMBER_OF_ITEMS_CHARGED_OUT,
    MAX_NUMBER_OF_OVERDUE_ITEMS,
    MAX_OUTSTANDING_FEE_FINE_BALANCE,
)
from tests.automated_blocks.support import (
    SIX_CONDITIONS,
    TOKEN,
    FolioStandIn,
    checked_out,
    condition_body,
    gateway_headers,
    new_id,
    post_event,
)


@pytest.fixture
async def folio(aiohttp_server):
    """The stand-in modules, served on a loopback port: (stand-in, its URL)."""
    stand_in = FolioStandIn()
    server = await aiohttp_server(stand_in.app())
    return stand_in, str(server.make_url("")).rstrip("/")


@pytest.fixture
async def blocking(app_client, fresh_tenant):
    """A tenant of its own whose six FOLIO conditions block everything (the reference data blocks
    nothing), except that charged-out items do not block requests."""
    for condition_id in SIX_CONDITIONS:
        flags = {"blockRequests": False} if condition_id == MAX_NUMBER_OF_ITEMS_CHARGED_OUT else {}
        value_type = "Double" if condition_id == MAX_OUTSTANDING_FEE_FINE_BALANCE else "Integer"
        body = condition_body(condition_id, value_type, **flags)
        resp = await app_client.post("/patron-block-conditions", json=body, headers={"X-Okapi-Tenant": fresh_tenant})
        assert resp.status == 201, await resp.text()
    return fresh_tenant


def ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


async def limit(client, tenant, group, condition, value):
    resp = await client.post(
        "/patron-block-limits",
        json={"patronGroupId": group, "conditionId": condition, "value": value},
        headers={"X-Okapi-Tenant": tenant},
    )
    assert resp.status == 201, await resp.text()


async def test_blocks_come_from_the_summary_the_groups_limits_and_the_conditions(app_client, blocking, folio):
    tenant = blocking
    stand_in, url = folio
    user, group = new_id(), new_id()
    stand_in.users[user] = {"id": user, "patronGroup": group, "active": True}
    await limit(app_client, tenant, group, MAX_NUMBER_OF_ITEMS_CHARGED_OUT, 2)
    await limit(app_client, tenant, group, MAX_NUMBER_OF_OVERDUE_ITEMS, 0)
    await limit(app_client, tenant, group, MAX_OUTSTANDING_FEE_FINE_BALANCE, 100)
    overdue = new_id()
    await post_event(app_client, tenant, "item-checked-out", checked_out(user, overdue, due=ago(3)))
    await post_event(app_client, tenant, "item-checked-out", checked_out(user))
    await post_event(
        app_client, tenant, "fee-fine-balance-changed", {"userId": user, "feeFineId": new_id(), "balance": 20}
    )
    h = gateway_headers(tenant, url, **{"X-Okapi-Request-Id": "123456"})
    resp = await app_client.get(f"/automated-patron-blocks/{user}", headers=h)
    assert resp.status == 200
    blocks = {b["patronBlockConditionId"]: b for b in (await resp.json())["automatedPatronBlocks"]}
    # 2 loans at a limit of 2: borrowing is blocked (reached), renewals not (not exceeded), requests never
    # (the condition's flag); 1 overdue item over a limit of 0 blocks everything; 20 is below 100.
    assert blocks[MAX_NUMBER_OF_ITEMS_CHARGED_OUT] == {
        "patronBlockConditionId": MAX_NUMBER_OF_ITEMS_CHARGED_OUT,
        "blockBorrowing": True,
        "blockRenewals": False,
        "blockRequests": False,
        "message": condition_body(MAX_NUMBER_OF_ITEMS_CHARGED_OUT)["message"],
    }
    assert set(blocks) == {MAX_NUMBER_OF_ITEMS_CHARGED_OUT, MAX_NUMBER_OF_OVERDUE_ITEMS}
    assert blocks[MAX_NUMBER_OF_OVERDUE_ITEMS]["blockRequests"] is True
    assert blocks[MAX_NUMBER_OF_OVERDUE_ITEMS]["blockBorrowing"] is True
    # the users module was asked through the gateway, as this module, for this tenant and request
    path, headers = stand_in.calls[-1]
    assert path == f"/users/{user}"
    assert headers["X-Okapi-Tenant"] == tenant and headers["X-Okapi-Token"] == TOKEN
    assert headers["X-Okapi-Request-Id"] == "123456" and headers["X-Okapi-Url"] == url

    resp = await app_client.get(f"/automated-patron-blocks/{user}/explanation", headers=h)
    assert resp.status == 200
    explanation = await resp.json()
    assert explanation["patronGroupId"] == group and explanation["notes"] == []
    assert (
        explanation["automatedPatronBlocks"]
        == (await (await app_client.get(f"/automated-patron-blocks/{user}", headers=h)).json())["automatedPatronBlocks"]
    )
    reasons = {x["patronBlockConditionId"]: x for x in explanation["conditions"]}
    overdue_reason = reasons[MAX_NUMBER_OF_OVERDUE_ITEMS]
    assert overdue_reason["currentValue"] == 1 and overdue_reason["limit"] == 0
    assert [x["loanId"] for x in overdue_reason["loans"]] == [overdue]
    assert overdue_reason["loans"][0]["overdueDays"] == 3
    assert overdue_reason["actions"]["borrowing"] == {
        "comparison": ">",
        "limitReached": True,
        "conditionBlocks": True,
        "blocked": True,
    }
    balance = reasons[MAX_OUTSTANDING_FEE_FINE_BALANCE]
    assert balance["currentValue"] == 20 and balance["actions"]["borrowing"]["limitReached"] is False
    assert reasons[MAX_NUMBER_OF_ITEMS_CHARGED_OUT]["actions"]["borrowing"]["comparison"] == ">="
    assert reasons[MAX_NUMBER_OF_ITEMS_CHARGED_OUT]["actions"]["borrowing"]["limitReached"] is True


async def test_the_patron_group_is_kept_briefly(app_client, tenant, folio, monkeypatch):
    stand_in, url = folio
    user, group = new_id(), new_id()
    stand_in.users[user] = {"id": user, "patronGroup": group}
    await post_event(app_client, tenant, "item-checked-out", checked_out(user))
    h = gateway_headers(tenant, url)
    for _ in range(3):
        assert (await app_client.get(f"/automated-patron-blocks/{user}", headers=h)).status == 200
    assert stand_in.user_calls() == 1
    cache = app_client.app[PATRON_GROUPS]
    cache.seconds = 0  # as if the time had passed
    assert (await app_client.get(f"/automated-patron-blocks/{user}", headers=h)).status == 200
    assert stand_in.user_calls() == 2


async def test_a_user_without_summary_has_no_blocks_and_the_users_module_is_not_asked(app_client, tenant, folio):
    stand_in, url = folio
    resp = await app_client.get(f"/automated-patron-blocks/{new_id()}", headers=gateway_headers(tenant, url))
    assert (await resp.json()) == {"automatedPatronBlocks": []}
    assert stand_in.calls == []


@pytest.mark.parametrize(
    ("how", "note"),
    [
        ("no gateway", "no X-Okapi-Url"),
        ("unknown user", "answered 404"),
        ("no group", "has no patron group"),
        ("gateway down", "failed"),
    ],
)
async def test_when_the_patron_group_cannot_be_had_there_are_no_blocks_and_the_reason_says_why(
    app_client, blocking, folio, how, note
):
    tenant = blocking
    stand_in, url = folio
    user, group = new_id(), new_id()
    await limit(app_client, tenant, group, MAX_NUMBER_OF_ITEMS_CHARGED_OUT, 0)
    await post_event(app_client, tenant, "item-checked-out", checked_out(user))
    stand_in.users[user] = {"id": user, "patronGroup": group}
    h = gateway_headers(tenant, url)
    if how == "no gateway":
        h.pop("X-Okapi-Url")
    elif how == "unknown user":
        stand_in.users.clear()
    elif how == "no group":
        stand_in.users[user] = {"id": user}
    else:
        h["X-Okapi-Url"] = "http://127.0.0.1:9"  # nothing listens there
    resp = await app_client.get(f"/automated-patron-blocks/{user}", headers=h)
    assert resp.status == 200 and (await resp.json()) == {"automatedPatronBlocks": []}
    explanation = await (await app_client.get(f"/automated-patron-blocks/{user}/explanation", headers=h)).json()
    assert note in explanation["notes"][0] and "patronGroupId" not in explanation
    # with the group known, the same user is blocked
    stand_in.users[user] = {"id": user, "patronGroup": group}
    app_client.app[PATRON_GROUPS].seconds = 0  # forget what was learnt (a user without a group)
    blocked = await (
        await app_client.get(f"/automated-patron-blocks/{user}", headers=gateway_headers(tenant, url))
    ).json()
    assert [b["patronBlockConditionId"] for b in blocked["automatedPatronBlocks"]] == [MAX_NUMBER_OF_ITEMS_CHARGED_OUT]


@pytest.mark.parametrize(
    "route", ["/automated-patron-blocks/{}", "/automated-patron-blocks/{}/explanation", "/user-summary/{}"]
)
@pytest.mark.parametrize(
    "bad", ["not-a-uuid", "urn:uuid:2205005b-ca51-4a04-87fd-938eefa8f6de", "2205005bca514a0487fd938eefa8f6de"]
)
async def test_a_user_id_that_is_no_uuid_is_a_400(app_client, tenant, route, bad):
    resp = await app_client.get(route.format(bad), headers={"X-Okapi-Tenant": tenant})
    assert resp.status == 400
    assert (await resp.text()).startswith("Invalid value for parameter 'userId': must match the pattern")
    # braces are no path segment aiohttp routes: no route at all
    resp = await app_client.get(
        route.format("{2205005b-ca51-4a04-87fd-938eefa8f6de}"), headers={"X-Okapi-Tenant": tenant}
    )
    assert resp.status == 404


async def test_user_summary(app_client, tenant):
    user = new_id()
    resp = await app_client.get(f"/user-summary/{user}", headers={"X-Okapi-Tenant": tenant})
    assert resp.status == 404 and await resp.text() == f"User summary for user ID {user} not found"
    await post_event(app_client, tenant, "item-checked-out", checked_out(user.upper()))
    summary = await (await app_client.get(f"/user-summary/{user.upper()}", headers={"X-Okapi-Tenant": tenant})).json()
    assert summary["userId"] == user and len(summary["openLoans"]) == 1 and summary["_version"] == 1


async def test_the_cache_is_bounded(folio, aiohttp_client):
    import aiohttp

    stand_in, url = folio
    users = [new_id() for _ in range(5)]
    stand_in.users.update({u: {"id": u, "patronGroup": new_id()} for u in users})
    cache = gateway.PatronGroups(seconds=60, entries=3)
    async with aiohttp.ClientSession() as session:
        way = gateway.Gateway(session, url, "t", TOKEN)
        for u in users:
            assert await cache.of(way, u) == stand_in.users[u]["patronGroup"]
        assert await cache.of(way, users[-1]) == stand_in.users[users[-1]]["patronGroup"]
        assert stand_in.user_calls() == 5 and len(cache._kept) == 3
        await cache.of(way, users[0])  # forgotten: asked again
        assert stand_in.user_calls() == 6


def _loans(user: str, *due_days_ago: float) -> list[tuple[str, dict]]:
    return [("item-checked-out", checked_out(user, due=ago(days))) for days in due_days_ago]


RULE_CASES = {
    # condition: (limit, events for the user (built from its id), blocked?)
    "charged out, reached": (MAX_NUMBER_OF_ITEMS_CHARGED_OUT, 2, lambda u: _loans(u, -5, -5), True),
    "charged out, below": (MAX_NUMBER_OF_ITEMS_CHARGED_OUT, 3, lambda u: _loans(u, -5, -5), False),
    "lost, exceeded": (c.MAX_NUMBER_OF_LOST_ITEMS, 1, lambda u: _lost(u, 2), True),
    "lost, reached only": (c.MAX_NUMBER_OF_LOST_ITEMS, 2, lambda u: _lost(u, 2), False),
    "overdue, exceeded": (MAX_NUMBER_OF_OVERDUE_ITEMS, 1, lambda u: _loans(u, 1, 2, -1), True),
    "overdue, one claimed returned": (MAX_NUMBER_OF_OVERDUE_ITEMS, 1, lambda u: _claimed(u), False),
    "overdue recalls, exceeded": (c.MAX_NUMBER_OF_OVERDUE_RECALLS, 0, lambda u: _recalled(u, 1), True),
    "recall overdue 3 days > 2": (c.RECALL_OVERDUE_BY_MAX_NUMBER_OF_DAYS, 2, lambda u: _recalled(u, 2.5), True),
    "recall overdue 2 days, not > 2": (c.RECALL_OVERDUE_BY_MAX_NUMBER_OF_DAYS, 2, lambda u: _recalled(u, 1.5), False),
    "balance 10.01 > 10": (MAX_OUTSTANDING_FEE_FINE_BALANCE, 10, lambda u: _fees(u, 6, 4.01), True),
    "balance 10, not > 10": (MAX_OUTSTANDING_FEE_FINE_BALANCE, 10, lambda u: _fees(u, 6, 4), False),
}


def _lost(user: str, count: int) -> list[tuple[str, dict]]:
    out = []
    for _ in range(count):
        loan = new_id()
        out += [("item-checked-out", checked_out(user, loan)), ("item-declared-lost", {"userId": user, "loanId": loan})]
    return out


def _claimed(user: str) -> list[tuple[str, dict]]:
    returned = new_id()
    return [
        *_loans(user, 3),
        ("item-checked-out", checked_out(user, returned, due=ago(3))),
        ("item-claimed-returned", {"userId": user, "loanId": returned}),
    ]


def _recalled(user: str, days_overdue: float) -> list[tuple[str, dict]]:
    loan = new_id()
    recall = {"userId": user, "loanId": loan, "dueDate": ago(days_overdue), "dueDateChangedByRecall": True}
    return [("item-checked-out", checked_out(user, loan)), ("loan-due-date-changed", recall)]


def _fees(user: str, *balances: float) -> list[tuple[str, dict]]:
    return [("fee-fine-balance-changed", {"userId": user, "feeFineId": new_id(), "balance": b}) for b in balances]


@pytest.mark.parametrize("case", list(RULE_CASES))
async def test_each_rule_through_the_database(app_client, blocking, folio, case):
    condition_id, value, events, blocked = RULE_CASES[case]
    stand_in, url = folio
    user, group = new_id(), new_id()
    stand_in.users[user] = {"id": user, "patronGroup": group}
    await limit(app_client, blocking, group, condition_id, value)
    for handler, body in events(user):
        assert (await post_event(app_client, blocking, handler, body)).status == 204
    answer = await (
        await app_client.get(f"/automated-patron-blocks/{user}", headers=gateway_headers(blocking, url))
    ).json()
    assert [b["patronBlockConditionId"] for b in answer["automatedPatronBlocks"]] == ([condition_id] if blocked else [])
