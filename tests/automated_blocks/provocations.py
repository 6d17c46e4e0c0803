"""How to provoke every documented answer of the automated patron blocks routes, for
``tests/test_contract_coverage.py`` (503 and 408 are provoked there for every route). Each provocation
gets (client, tenant, monkeypatch); the tenant is a fresh one without reference data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mod_users.resources.automated_blocks import events as ev
from mod_users.resources.automated_blocks import ingest
from mod_users.resources.automated_blocks.computation import MAX_NUMBER_OF_LOST_ITEMS
from mod_users.storage.records import RecordStore
from tests.automated_blocks.support import checked_out, condition_body, new_id
from tests.faults import injected_failure

Provocation = Callable[..., Awaitable[Any]]
H = "X-Okapi-Tenant"
HUGE = "x" * 2_000_000
LIMITS = "/patron-block-limits"
LIMIT = LIMITS + "/{patronBlockLimitId}"
BLOCKS = "/automated-patron-blocks/{userId}"
EXPLANATION = BLOCKS + "/explanation"
SUMMARY = "/user-summary/{userId}"
JOB = "/automated-patron-blocks/synchronization/job"
JOB_ITEM = JOB + "/{syncJobId}"


def _broken(monkeypatch: Any, target: Any, name: str) -> None:
    monkeypatch.setattr(target, name, injected_failure)


def _limit(condition: str = MAX_NUMBER_OF_LOST_ITEMS, **extra: Any) -> dict[str, Any]:
    return {"patronGroupId": new_id(), "conditionId": condition, "value": 1, **extra}


async def _with_condition(c: Any, t: str) -> None:
    await c.post("/patron-block-conditions", json=condition_body(MAX_NUMBER_OF_LOST_ITEMS), headers={H: t})


async def _created_limit(c: Any, t: str) -> str:
    await _with_condition(c, t)
    return (await (await c.post(LIMITS, json=_limit(), headers={H: t})).json())["id"]


async def _post_limit(c, t, mp):
    await _with_condition(c, t)
    return await c.post(LIMITS, json=_limit(), headers={H: t})


async def _post_limit_failing(c, t, mp):
    await _with_condition(c, t)
    _broken(mp, RecordStore, "insert")
    return await c.post(LIMITS, json=_limit(), headers={H: t})


async def _get_limit(c, t, mp):
    return await c.get(f"{LIMITS}/{await _created_limit(c, t)}", headers={H: t})


async def _put_limit(c, t, mp):
    rid = await _created_limit(c, t)
    return await c.put(f"{LIMITS}/{rid}", json=_limit(_version=1), headers={H: t})


async def _put_limit_stale(c, t, mp):
    rid = await _created_limit(c, t)
    await c.put(f"{LIMITS}/{rid}", json=_limit(_version=1), headers={H: t})
    return await c.put(f"{LIMITS}/{rid}", json=_limit(_version=1), headers={H: t})


async def _put_limit_failing(c, t, mp):
    rid = await _created_limit(c, t)
    _broken(mp, RecordStore, "update")
    return await c.put(f"{LIMITS}/{rid}", json=_limit(), headers={H: t})


async def _delete_limit(c, t, mp):
    return await c.delete(f"{LIMITS}/{await _created_limit(c, t)}", headers={H: t})


async def _delete_used_condition(c, t, mp):
    await _created_limit(c, t)
    return await c.delete(f"/patron-block-conditions/{MAX_NUMBER_OF_LOST_ITEMS}", headers={H: t})


async def _failing(mp: Any, name: str, call: Callable[[], Awaitable[Any]]) -> Any:
    _broken(mp, RecordStore, name)
    return await call()


def _failing_get(c: Any, t: str, mp: Any, url: str, name: str = "get") -> Awaitable[Any]:
    return _failing(mp, name, lambda: c.get(url, headers={H: t}))


def _any_event(user: str) -> dict[str, Any]:
    """A body every event schema takes (each takes more than it requires)."""
    return checked_out(user, feeFineId=new_id(), balance=1, dueDateChangedByRecall=False)


async def _summary(c, t, mp):
    user = new_id()
    await c.post(ev.ITEM_CHECKED_OUT.path, json=checked_out(user), headers={H: t})
    return await c.get(f"/user-summary/{user}", headers={H: t})


async def _job(c, t):
    return (await (await c.post(JOB, json={"scope": "full"}, headers={H: t})).json())["id"]


async def _get_job(c, t, mp):
    return await c.get(f"{JOB}/{await _job(c, t)}", headers={H: t})


async def _event_failing(handler_path: str, c, t, mp):
    _broken(mp, ingest, "receive")
    return await c.post(handler_path, json=_any_event(new_id()), headers={H: t})


PROVOKE: dict[tuple[str, str, int], Provocation] = {
    ("GET", LIMITS, 200): lambda c, t, mp: c.get(LIMITS, headers={H: t}),
    ("GET", LIMITS, 400): lambda c, t, mp: c.get(LIMITS, params={"query": "patronGroupId=="}, headers={H: t}),
    ("GET", LIMITS, 500): lambda c, t, mp: _failing(mp, "open_page", lambda: c.get(LIMITS, headers={H: t})),
    ("POST", LIMITS, 201): _post_limit,
    ("POST", LIMITS, 400): lambda c, t, mp: c.post(LIMITS, data=b"{", headers={H: t}),
    ("POST", LIMITS, 413): lambda c, t, mp: c.post(LIMITS, json=_limit(x=HUGE), headers={H: t}),
    ("POST", LIMITS, 422): lambda c, t, mp: c.post(LIMITS, json=_limit(), headers={H: t}),  # no such condition
    ("POST", LIMITS, 500): _post_limit_failing,
    ("GET", LIMIT, 200): _get_limit,
    ("GET", LIMIT, 400): lambda c, t, mp: c.get(f"{LIMITS}/{new_id()}"),
    ("GET", LIMIT, 404): lambda c, t, mp: c.get(f"{LIMITS}/{new_id()}", headers={H: t}),
    ("GET", LIMIT, 500): lambda c, t, mp: _failing_get(c, t, mp, f"{LIMITS}/{new_id()}"),
    ("PUT", LIMIT, 204): _put_limit,
    ("PUT", LIMIT, 400): lambda c, t, mp: c.put(f"{LIMITS}/{new_id()}", data=b"[", headers={H: t}),
    ("PUT", LIMIT, 404): lambda c, t, mp: c.put(f"{LIMITS}/{new_id()}", json=_limit(), headers={H: t}),
    ("PUT", LIMIT, 409): _put_limit_stale,
    ("PUT", LIMIT, 413): lambda c, t, mp: c.put(f"{LIMITS}/{new_id()}", json=_limit(x=HUGE), headers={H: t}),
    ("PUT", LIMIT, 422): lambda c, t, mp: c.put(f"{LIMITS}/{new_id()}", json={"value": "1"}, headers={H: t}),
    ("PUT", LIMIT, 500): _put_limit_failing,
    ("DELETE", LIMIT, 204): _delete_limit,
    ("DELETE", "/patron-block-conditions/{patronBlockConditionId}", 422): _delete_used_condition,
    ("DELETE", LIMIT, 400): lambda c, t, mp: c.delete(f"{LIMITS}/{new_id()}"),
    ("DELETE", LIMIT, 404): lambda c, t, mp: c.delete(f"{LIMITS}/{new_id()}", headers={H: t}),
    ("DELETE", LIMIT, 500): lambda c, t, mp: _failing(
        mp, "delete", lambda: c.delete(f"{LIMITS}/{new_id()}", headers={H: t})
    ),
    ("GET", SUMMARY, 200): _summary,
    ("GET", SUMMARY, 400): lambda c, t, mp: c.get("/user-summary/not-a-uuid", headers={H: t}),
    ("GET", SUMMARY, 404): lambda c, t, mp: c.get(f"/user-summary/{new_id()}", headers={H: t}),
    ("GET", SUMMARY, 500): lambda c, t, mp: _failing(
        mp, "get", lambda: c.get(f"/user-summary/{new_id()}", headers={H: t})
    ),
    ("POST", JOB, 201): lambda c, t, mp: c.post(JOB, json={"scope": "full"}, headers={H: t}),
    ("POST", JOB, 400): lambda c, t, mp: c.post(JOB, data=b"{", headers={H: t}),
    ("POST", JOB, 413): lambda c, t, mp: c.post(JOB, json={"scope": "full", "x": HUGE}, headers={H: t}),
    ("POST", JOB, 422): lambda c, t, mp: c.post(JOB, json={"scope": "user"}, headers={H: t}),
    ("POST", JOB, 500): lambda c, t, mp: _failing(
        mp, "insert", lambda: c.post(JOB, json={"scope": "full"}, headers={H: t})
    ),
    ("GET", JOB_ITEM, 200): _get_job,
    ("GET", JOB_ITEM, 400): lambda c, t, mp: c.get(f"{JOB}/{new_id()}"),
    ("GET", JOB_ITEM, 404): lambda c, t, mp: c.get(f"{JOB}/{new_id()}", headers={H: t}),
    ("GET", JOB_ITEM, 500): lambda c, t, mp: _failing_get(c, t, mp, f"{JOB}/{new_id()}"),
}
for path in (BLOCKS, EXPLANATION):

    def url(user: str, path: str = path) -> str:
        return path.replace("{userId}", user)

    PROVOKE.update(
        {
            ("GET", path, 200): lambda c, t, mp, url=url: c.get(url(new_id()), headers={H: t}),
            ("GET", path, 400): lambda c, t, mp, url=url: c.get(url("not-a-uuid"), headers={H: t}),
            ("GET", path, 404): lambda c, t, mp, url=url: c.get(url("{" + new_id() + "}"), headers={H: t}),
            ("GET", path, 500): lambda c, t, mp, url=url: _failing(
                mp, "get", lambda: c.get(url(new_id()), headers={H: t})
            ),
        }
    )
for event_type in ev.EVENT_TYPES:
    p = event_type.path
    PROVOKE.update(
        {
            ("POST", p, 204): lambda c, t, mp, p=p: c.post(
                p,
                json=checked_out(new_id(), feeFineId=new_id(), balance=1, dueDateChangedByRecall=False),
                headers={H: t},
            ),
            ("POST", p, 400): lambda c, t, mp, p=p: c.post(p, data=b"{", headers={H: t}),
            ("POST", p, 413): lambda c, t, mp, p=p: c.post(p, json={"x": HUGE}, headers={H: t}),
            ("POST", p, 422): lambda c, t, mp, p=p: c.post(p, json={}, headers={H: t}),
            ("POST", p, 500): lambda c, t, mp, p=p: _event_failing(p, c, t, mp),
        }
    )
