"""Events over HTTP (as mod-pubsub delivers them) against a real database: each handler, the event log,
idempotency, bad events, and hundreds of concurrent events for one user (MODPATBLK-91's race)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from mod_users.app import init_app
from mod_users.resources.automated_blocks import ingest
from mod_users.storage.database import connect_kwargs
from mod_users.storage.tenants import TenantSchema
from tests.automated_blocks.support import HANDLERS, checked_out, new_id, post_event, summary_of
from tests.conftest import contract_of


async def logged_events(db, tenant: str, user_id: str | None = None) -> list[dict]:
    con = await asyncpg.connect(**connect_kwargs(db))
    try:
        table = TenantSchema(tenant).table("patron_block_events")
        rows = await con.fetch(f"SELECT jsonb::text FROM {table}")
    finally:
        await con.close()
    import json

    events = [json.loads(r[0]) for r in rows]
    return [e for e in events if user_id is None or e["userId"] == user_id]


async def test_every_handler_changes_the_summary_as_mod_patron_blocks_does(app_client, tenant, db_settings):
    user, loan, fee = new_id(), new_id(), new_id()
    ok = [
        ("item-checked-out", checked_out(user, loan, gracePeriod={"duration": 2, "intervalId": "Days"})),
        ("item-declared-lost", {"userId": user, "loanId": loan}),
        ("item-claimed-returned", {"userId": user, "loanId": loan}),
        ("item-aged-to-lost", {"userId": user, "loanId": loan}),
        (
            "loan-due-date-changed",
            {"userId": user, "loanId": loan, "dueDate": "2031-01-01T00:00:00Z", "dueDateChangedByRecall": True},
        ),
        (
            "fee-fine-balance-changed",
            {"userId": user, "feeFineId": fee, "feeFineTypeId": new_id(), "loanId": loan, "balance": 7.25},
        ),
    ]
    for handler, body in ok:
        resp = await post_event(app_client, tenant, handler, body)
        assert resp.status == 204, (handler, await resp.text())
    summary = await summary_of(app_client, tenant, user)
    (open_loan,) = summary["openLoans"]
    assert open_loan == {
        "loanId": loan,
        "dueDate": "2031-01-01T00:00:00Z",
        "recall": True,
        "itemLost": True,
        "itemClaimedReturned": False,
        "gracePeriod": {"duration": 2, "intervalId": "Days"},
    }
    assert summary["openFeesFines"][0]["balance"] == 7.25 and summary["id"] == user
    await post_event(app_client, tenant, "item-checked-in", {"userId": user, "loanId": loan})
    await post_event(app_client, tenant, "fee-fine-balance-changed", {"feeFineId": fee, "balance": 0})  # no userId
    assert await summary_of(app_client, tenant, user) is None  # nothing open: no summary
    logged = await logged_events(db_settings, tenant, user)
    assert sorted(e["eventType"] for e in logged) == sorted(
        [
            "ITEM_CHECKED_OUT",
            "ITEM_DECLARED_LOST",
            "ITEM_CLAIMED_RETURNED",
            "ITEM_AGED_TO_LOST",
            "LOAN_DUE_DATE_CHANGED",
            "FEE_FINE_BALANCE_CHANGED",
            "ITEM_CHECKED_IN",
            "FEE_FINE_BALANCE_CHANGED",
        ]
    )
    assert all(e["source"] == "http" and e["payload"] for e in logged)


async def test_loan_closed_removes_the_loan(app_client, tenant):
    user, keep, close = new_id(), new_id(), new_id()
    for loan in (keep, close):
        await post_event(app_client, tenant, "item-checked-out", checked_out(user, loan))
    assert (await post_event(app_client, tenant, "loan-closed", {"userId": user, "loanId": close})).status == 204
    assert [x["loanId"] for x in (await summary_of(app_client, tenant, user))["openLoans"]] == [keep]


async def test_the_same_event_twice_changes_nothing(app_client, tenant, db_settings):
    user, loan = new_id(), new_id()
    checkout = checked_out(user, loan)
    await post_event(app_client, tenant, "item-checked-out", checkout)
    await post_event(app_client, tenant, "item-checked-in", {"userId": user, "loanId": loan})
    # mod-pubsub delivers the check-out again, late: the loan must not come back
    assert (await post_event(app_client, tenant, "item-checked-out", checkout)).status == 204
    assert await summary_of(app_client, tenant, user) is None
    # an event with an id, twice: applied once, logged once
    fee = new_id()
    event = {"id": new_id(), "userId": user, "feeFineId": fee, "balance": 5}
    await post_event(app_client, tenant, "fee-fine-balance-changed", event)
    await post_event(app_client, tenant, "fee-fine-balance-changed", dict(event, id=new_id(), balance=2))
    await post_event(app_client, tenant, "fee-fine-balance-changed", event)  # the first one, redelivered
    assert (await summary_of(app_client, tenant, user))["openFeesFines"][0]["balance"] == 2
    assert len([e for e in await logged_events(db_settings, tenant, user) if e["eventType"] == "ITEM_CHECKED_OUT"]) == 1
    assert len([e for e in await logged_events(db_settings, tenant, user) if e["payload"].get("id")]) == 2


async def test_a_fee_fine_event_without_user_finds_the_summary_holding_the_fee(app_client, tenant):
    user, fee = new_id(), new_id()
    await post_event(app_client, tenant, "fee-fine-balance-changed", {"userId": user, "feeFineId": fee, "balance": 9})
    assert (
        await post_event(app_client, tenant, "fee-fine-balance-changed", {"feeFineId": fee, "balance": 4})
    ).status == 204
    assert (await summary_of(app_client, tenant, user))["openFeesFines"][0]["balance"] == 4
    # a fee no summary holds, without a user: logged, nothing else
    assert (
        await post_event(app_client, tenant, "fee-fine-balance-changed", {"feeFineId": new_id(), "balance": 4})
    ).status == 204


BAD = [
    ("item-checked-out", {"loanId": "L", "dueDate": "2030-01-01T00:00:00Z"}, 422),  # missing userId, bad UUID
    ("item-checked-out", {"userId": "not-a-uuid", "loanId": None, "dueDate": "2030-01-01T00:00:00Z"}, 422),
    ("item-checked-out", {"userId": None, "loanId": None, "dueDate": "tomorrow"}, 422),
    ("item-checked-out", {"userId": None, "loanId": None, "dueDate": "9999-12-31T23:59:59-23:00"}, 422),
    ("fee-fine-balance-changed", {"userId": None, "feeFineId": None, "balance": "10.00"}, 422),  # a string
    ("fee-fine-balance-changed", {"userId": None, "balance": 10}, 422),  # no feeFineId
    ("loan-due-date-changed", {"userId": None, "loanId": None, "dueDate": "2030-01-01T00:00:00Z"}, 422),
    ("item-declared-lost", [], 422),
    ("item-declared-lost", b'{"userId": ', 400),
]


@pytest.mark.parametrize(("handler", "body", "status"), BAD, ids=[f"{h}-{i}" for i, (h, _, _) in enumerate(BAD)])
async def test_bad_events_are_refused_and_change_nothing(app_client, tenant, db_settings, handler, body, status):
    user, loan = new_id(), new_id()
    await post_event(app_client, tenant, "item-checked-out", checked_out(user, loan))
    before = await summary_of(app_client, tenant, user)
    logged = len(await logged_events(db_settings, tenant))
    if isinstance(body, dict):
        body = {
            k: ({"userId": user, "loanId": loan, "feeFineId": new_id()}[k] if v is None else v) for k, v in body.items()
        }
        resp = await post_event(app_client, tenant, handler, body)
    elif isinstance(body, list):
        resp = await post_event(app_client, tenant, handler, body)
    else:
        resp = await app_client.post(f"{HANDLERS}/{handler}", data=body, headers={"X-Okapi-Tenant": tenant})
    assert resp.status == status, await resp.text()
    assert await summary_of(app_client, tenant, user) == before
    assert len(await logged_events(db_settings, tenant)) == logged


async def test_an_unknown_event_type_is_no_route(app_client, tenant, db_settings):
    logged = len(await logged_events(db_settings, tenant))
    resp = await post_event(app_client, tenant, "item-renewed", checked_out(new_id()))
    assert resp.status == 404  # as Okapi answers: no module provides it
    assert len(await logged_events(db_settings, tenant)) == logged


async def test_events_need_an_initialised_tenant(app_client):
    resp = await post_event(app_client, "nosuchtenant", "item-checked-out", checked_out(new_id()))
    assert resp.status == 400 and "not initialised" in await resp.text()


async def test_hundreds_of_concurrent_events_for_one_user_lose_no_update(
    app_client, aiohttp_client, settings, db_settings, tenant, monkeypatch
):
    # Two instances of the module (two pools), as two workers or two containers would be: within one,
    # events for a user queue; between them only optimistic locking keeps the summary whole.
    other = await aiohttp_client(init_app(settings, db_settings, contract_of(settings.contract_dir)))
    conflicts = []
    write = ingest.write_summary

    async def counting(*args, **kwargs):
        try:
            return await write(*args, **kwargs)
        except Exception as exc:
            conflicts.append(type(exc).__name__)
            raise

    monkeypatch.setattr(ingest, "write_summary", counting)
    user = new_id()
    loans = [new_id() for _ in range(300)]
    fees = [new_id() for _ in range(60)]
    clients = (app_client, other)
    sends = [
        post_event(clients[i % 2], tenant, "item-checked-out", checked_out(user, loan)) for i, loan in enumerate(loans)
    ]
    sends += [
        post_event(clients[i % 2], tenant, "fee-fine-balance-changed", {"userId": user, "feeFineId": f, "balance": 1.5})
        for i, f in enumerate(fees)
    ]
    answers = await asyncio.gather(*sends)
    assert {r.status for r in answers} == {204}
    summary = await summary_of(app_client, tenant, user)
    assert sorted(x["loanId"] for x in summary["openLoans"]) == sorted(loans)
    assert sorted(x["feeFineId"] for x in summary["openFeesFines"]) == sorted(fees)
    # every change was one version: 360 writes, none lost, though writers collided and tried again
    assert summary["_version"] == 360
    assert conflicts, "the two instances never collided: the test proved nothing about optimistic locking"
    answers = await asyncio.gather(
        *(
            post_event(clients[i % 2], tenant, "item-checked-in", {"userId": user, "loanId": loan})
            for i, loan in enumerate(loans)
        )
    )
    assert {r.status for r in answers} == {204}
    assert (await summary_of(app_client, tenant, user))["openLoans"] == []


async def test_contention_that_never_ends_is_reported_not_swallowed(app_client, tenant, monkeypatch):
    async def always_conflicting(*args, **kwargs):
        raise ingest.SummaryConflict("someone else")

    monkeypatch.setattr(ingest, "MAX_ATTEMPTS", 3)
    monkeypatch.setattr(ingest, "write_summary", always_conflicting)
    user = new_id()
    resp = await post_event(app_client, tenant, "item-checked-out", checked_out(user))
    assert resp.status == 500  # mod-pubsub delivers it again later
    monkeypatch.undo()
    assert await summary_of(app_client, tenant, user) is None
