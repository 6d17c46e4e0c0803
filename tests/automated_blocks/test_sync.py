"""Synchronisation jobs against a real database, with loan-storage and feesfines as stand-ins on loopback."""

from __future__ import annotations

import asyncio

import pytest

from tests.automated_blocks.support import FolioStandIn, checked_out, gateway_headers, new_id, post_event, summary_of

JOB = "/automated-patron-blocks/synchronization/job"


@pytest.fixture
async def folio(aiohttp_server):
    stand_in = FolioStandIn()
    server = await aiohttp_server(stand_in.app())
    return stand_in, str(server.make_url("")).rstrip("/")


def open_loan(user: str, **extra) -> dict:
    return {
        "id": new_id(),
        "userId": user,
        "status": {"name": "Open"},
        "dueDate": "2030-01-01T10:00:00.000+00:00",
        **extra,
    }


def open_account(user: str, remaining, **extra) -> dict:
    return {
        "id": new_id(),
        "userId": user,
        "status": {"name": "Open"},
        "remaining": remaining,
        "feeFineId": new_id(),
        **extra,
    }


async def run(client, headers, body) -> dict:
    resp = await client.post(JOB, json=body, headers=headers)
    assert resp.status == 201, await resp.text()
    job = await resp.json()
    assert job["status"] == "open" and resp.headers["Location"] == f"{JOB}/{job['id']}"
    for _ in range(200):
        job = await (await client.get(f"{JOB}/{job['id']}", headers=headers)).json()
        if job["status"] in ("done", "failed"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job did not finish: {job}")


async def test_a_full_synchronisation_rebuilds_every_summary(app_client, fresh_tenant, folio):
    stand_in, url = folio
    h = gateway_headers(fresh_tenant, url)
    alice, bob, gone = new_id(), new_id(), new_id()
    # what events had built: a stale loan of alice's, bob's loan with its grace period, a summary for
    # someone who has nothing open any more (MODPATBLK-129)
    stale, graced = new_id(), new_id()
    await post_event(app_client, fresh_tenant, "item-checked-out", checked_out(alice, stale))
    grace = {"duration": 3, "intervalId": "Days"}
    await post_event(app_client, fresh_tenant, "item-checked-out", checked_out(bob, graced, gracePeriod=grace))
    await post_event(app_client, fresh_tenant, "item-checked-out", checked_out(gone))
    # what loan-storage and feesfines say (more than one page of loans)
    stand_in.loans = [open_loan(alice, itemStatus="Checked out") for _ in range(150)]
    stand_in.loans += [open_loan(alice, itemStatus="Declared lost"), open_loan(alice, itemStatus="Claimed returned")]
    stand_in.loans += [dict(open_loan(bob, dueDateChangedByRecall=True), id=graced)]
    stand_in.loans += [open_loan(bob, status={"name": "Closed"})]  # not open: not asked for
    stand_in.accounts = [open_account(alice, 12.5), open_account(bob, 0), open_account(bob, 3)]
    job = await run(app_client, h, {"scope": "full"})
    assert job["status"] == "done" and job["errors"] == []
    assert (job["totalNumberOfLoans"], job["numberOfProcessedLoans"]) == (153, 153)
    assert (job["totalNumberOfFeesFines"], job["numberOfProcessedFeesFines"]) == (3, 3)
    a = await summary_of(app_client, fresh_tenant, alice)
    assert len(a["openLoans"]) == 152 and stale not in {x["loanId"] for x in a["openLoans"]}
    assert (
        sum(x["itemLost"] for x in a["openLoans"]) == 1 and sum(x["itemClaimedReturned"] for x in a["openLoans"]) == 1
    )
    assert [f["balance"] for f in a["openFeesFines"]] == [12.5]
    b = await summary_of(app_client, fresh_tenant, bob)
    assert b["openLoans"][0]["gracePeriod"] == grace and b["openLoans"][0]["recall"] is True
    assert [f["balance"] for f in b["openFeesFines"]] == [3]
    assert await summary_of(app_client, fresh_tenant, gone) is None
    # the gateway was asked with the caller's token, in pages of 100 by id
    asked = [path for path, _ in stand_in.calls]
    assert sum(p.startswith("/loan-storage/loans") for p in asked) == 2


async def test_a_users_synchronisation_touches_that_user_only(app_client, fresh_tenant, folio):
    stand_in, url = folio
    h = gateway_headers(fresh_tenant, url)
    user, other = new_id(), new_id()
    await post_event(app_client, fresh_tenant, "item-checked-out", checked_out(user))
    await post_event(app_client, fresh_tenant, "item-checked-out", checked_out(other))
    stand_in.loans = [open_loan(user), open_loan(user), open_loan(other), open_loan(other)]
    job = await run(app_client, h, {"scope": "user", "userId": user})
    assert job["status"] == "done" and job["totalNumberOfLoans"] == 2
    assert len((await summary_of(app_client, fresh_tenant, user))["openLoans"]) == 2
    assert len((await summary_of(app_client, fresh_tenant, other))["openLoans"]) == 1
    stand_in.loans = []
    assert (await run(app_client, h, {"scope": "user", "userId": user}))["status"] == "done"
    assert await summary_of(app_client, fresh_tenant, user) is None


async def test_an_event_during_a_synchronisation_is_not_overwritten(app_client, fresh_tenant, folio):
    stand_in, url = folio
    h = gateway_headers(fresh_tenant, url)
    user = new_id()
    first = open_loan(user)
    stand_in.loans = [first]
    stand_in.hold_accounts = asyncio.Event()
    resp = await app_client.post(JOB, json={"scope": "full"}, headers=h)
    job = await resp.json()
    await asyncio.wait_for(stand_in.accounts_asked.wait(), 10)  # loans read: [first]
    # meanwhile a check-out: the event arrives, and loan-storage has the loan too
    second = open_loan(user)
    stand_in.loans.append(second)
    await post_event(app_client, fresh_tenant, "item-checked-out", checked_out(user, second["id"]))
    stand_in.hold_accounts.set()
    for _ in range(200):
        job = await (await app_client.get(f"{JOB}/{job['id']}", headers=h)).json()
        if job["status"] == "done":
            break
        await asyncio.sleep(0.05)
    assert job["status"] == "done", job
    loans = {x["loanId"] for x in (await summary_of(app_client, fresh_tenant, user))["openLoans"]}
    assert loans == {first["id"], second["id"]}


async def test_records_that_cannot_be_used_are_named_and_left_out(app_client, fresh_tenant, folio):
    stand_in, url = folio
    user = new_id()
    stand_in.loans = [open_loan(user), open_loan(user, dueDate="soon"), open_loan("someone")]
    stand_in.accounts = [open_account(user, "12")]
    job = await run(app_client, gateway_headers(fresh_tenant, url), {"scope": "full"})
    assert job["status"] == "done" and len(job["errors"]) == 3
    assert any("no valid dueDate" in e for e in job["errors"])
    assert len((await summary_of(app_client, fresh_tenant, user))["openLoans"]) == 1


@pytest.mark.parametrize(("change", "error"), [("no gateway", "X-Okapi-Url"), ("bad token", "401")])
async def test_a_job_that_cannot_reach_the_modules_fails_and_says_why(app_client, fresh_tenant, folio, change, error):
    _, url = folio
    h = gateway_headers(fresh_tenant, url)
    if change == "no gateway":
        h.pop("X-Okapi-Url")
    else:
        h["X-Okapi-Token"] = "expired"
    user = new_id()
    await post_event(app_client, fresh_tenant, "item-checked-out", checked_out(user))
    job = await run(app_client, h, {"scope": "full"})
    assert job["status"] == "failed" and error in job["errors"][0]
    assert await summary_of(app_client, fresh_tenant, user) is not None  # nothing was deleted


async def test_job_requests_and_lookups(app_client, fresh_tenant):
    h = {"X-Okapi-Tenant": fresh_tenant}
    resp = await app_client.post(JOB, json={"scope": "user"}, headers=h)
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["message"] == "UserId is required for synchronization job with scope: USER"
    assert (await app_client.post(JOB, json={"scope": "everything"}, headers=h)).status == 422
    resp = await app_client.get(f"{JOB}/{new_id()}", headers=h)
    assert resp.status == 404 and await resp.text() == "This synchronization request does not exist"
