"""The HTTP side of automated patron blocks: event handlers, user summaries, blocks and their reasons,
synchronisation jobs. Each handler checks its input and calls the modules that do the work
(:mod:`ingest`, :mod:`computation`, :mod:`sync`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from mod_users.errors import NotFound, ValidationFailed, folio_error
from mod_users.resources.automated_blocks import computation, ingest, sync
from mod_users.resources.automated_blocks import events as ev
from mod_users.resources.automated_blocks.gateway import Gateway, GatewayError, PatronGroups
from mod_users.routing import Call, Handler, Route, json_response
from mod_users.state import STORE
from mod_users.storage.tables import PATRON_BLOCK_CONDITIONS, PATRON_BLOCK_LIMITS, SYNCHRONIZATION_JOBS, USER_SUMMARIES

log = logging.getLogger(__name__)

# What the application holds for this resource set (set up by :func:`lifetime`).
CLIENT = web.AppKey("patron_blocks_client", aiohttp.ClientSession)
PATRON_GROUPS = web.AppKey("patron_groups", PatronGroups)
SYNC_TASKS = web.AppKey("patron_blocks_sync_tasks", set[asyncio.Task[Any]])
SYNC_LOCKS = web.AppKey("patron_blocks_sync_locks", dict[str, asyncio.Lock])
# Other modules' answers are waited for this long (a synchronisation page, a user).
CALL_SECONDS = 30
# Shutdown lets running synchronisations finish for this long, then cancels them.
SYNC_GRACE_SECONDS = 10


async def lifetime(app: web.Application) -> AsyncIterator[None]:
    """The HTTP client for calls to other modules, the patron group cache, the synchronisation tasks."""
    app[CLIENT] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CALL_SECONDS))
    app[PATRON_GROUPS] = PatronGroups()
    app[SYNC_TASKS] = set()
    app[SYNC_LOCKS] = {}
    yield
    tasks = list(app[SYNC_TASKS])
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=SYNC_GRACE_SECONDS)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    await app[CLIENT].close()


def _user_id(call: Call) -> str:
    """The ``userId`` of the URL (its RAML pattern, a UUID, is checked before a handler runs)."""
    return str(call.uri["userId"]).lower()


# -- events --------------------------------------------------------------------------------------------
def _event_handler(event_type: ev.EventType) -> Handler:
    async def receive(call: Call) -> web.StreamResponse:
        problems = ev.date_problems(event_type, call.body)
        if problems:
            raise ValidationFailed(folio_error(f"{name} {ev.UNREPRESENTABLE_DATE}", name, v) for name, v in problems)
        await ingest.receive(call.store, call.tenant, event_type, call.body, "http")
        return web.Response(status=204)

    receive.__name__ = f"receive_{event_type.handler.replace('-', '_')}"
    return receive


# -- summaries and blocks ------------------------------------------------------------------------------
async def get_user_summary(call: Call) -> web.StreamResponse:
    user_id = _user_id(call)
    summary = await call.store.get(call.tenant, USER_SUMMARIES, user_id)
    if summary is None:
        raise NotFound(f"User summary for user ID {user_id} not found")
    return json_response(summary)


async def _evaluate(call: Call, user_id: str, explain: bool) -> tuple[computation.Evaluation, str | None]:
    """The user's blocks and their reasons, and the patron group they were computed for.

    As mod-patron-blocks, a user with no summary has no blocks (and the users module is not asked), and
    when the patron group cannot be found out the answer is "no blocks" rather than an error, so that
    circulation is not stopped by another module's outage; the explanation says what happened.
    """
    now = datetime.now(UTC)
    summary = await call.store.get(call.tenant, USER_SUMMARIES, user_id)
    if summary is None:
        return computation.evaluate(None, [], [], now, explain), None
    gateway = Gateway.of(call.request.app[CLIENT], call.okapi, call.tenant.tenant)
    try:
        group = await call.request.app[PATRON_GROUPS].of(gateway, user_id)
    except GatewayError as exc:
        log.warning("patron group unknown; no automated blocks", extra={"userId": user_id, "error": str(exc)})
        return computation.Evaluation([], [], [f"The user's patron group could not be found out ({exc})."]), None
    if group is None or not ev.is_uuid(group):
        note = "The user has no patron group." if group is None else f"The user's patron group {group!r} is no id."
        return computation.Evaluation([], [], [note]), None
    limits = await call.store.find(call.tenant, PATRON_BLOCK_LIMITS, f'patronGroupId=="{group}"', 1000)
    if not limits:  # MODPATBLK-117: nothing to compute, no conditions to read
        return computation.evaluate(summary, [], [], now, explain), group
    ids = sorted({str(limit["conditionId"]) for limit in limits})
    conditions = await call.store.get_many(call.tenant, PATRON_BLOCK_CONDITIONS, ids)
    return computation.evaluate(summary, limits, conditions, now, explain), group


async def get_blocks(call: Call) -> web.StreamResponse:
    evaluation, _ = await _evaluate(call, _user_id(call), explain=False)
    return json_response({"automatedPatronBlocks": evaluation.blocks})


async def get_explanation(call: Call) -> web.StreamResponse:
    user_id = _user_id(call)
    evaluation, group = await _evaluate(call, user_id, explain=True)
    document: dict[str, Any] = {
        "userId": user_id,
        "evaluatedDate": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "automatedPatronBlocks": evaluation.blocks,
        "conditions": evaluation.conditions,
        "notes": evaluation.notes,
    }
    if group is not None:
        document["patronGroupId"] = group
    return json_response(document)


# -- synchronisation -----------------------------------------------------------------------------------
async def post_sync_job(call: Call) -> web.StreamResponse:
    if call.body["scope"] == "user" and not call.body.get("userId"):
        raise ValidationFailed([folio_error(sync.USER_REQUIRED, "userId", None)])
    stored = await call.store.insert(call.tenant, SYNCHRONIZATION_JOBS, sync.new_job(call.body), call.okapi.user_id)
    app = call.request.app
    gateway = Gateway.of(app[CLIENT], call.okapi, call.tenant.tenant)
    lock = app[SYNC_LOCKS].setdefault(call.tenant.tenant, asyncio.Lock())

    async def run() -> None:
        async with lock:  # one job of a tenant at a time (mod-patron-blocks: one in progress)
            await sync.run_job(app[STORE], call.tenant, stored, gateway)

    task = asyncio.create_task(run())
    app[SYNC_TASKS].add(task)
    task.add_done_callback(app[SYNC_TASKS].discard)
    location = f"/automated-patron-blocks/synchronization/job/{stored['id']}"
    return json_response(stored, status=201, headers={"Location": location})


async def get_sync_job(call: Call) -> web.StreamResponse:
    job = await call.store.get(call.tenant, SYNCHRONIZATION_JOBS, call.path("syncJobId"))
    if job is None:
        raise NotFound(sync.NOT_FOUND)
    return json_response(job)


ROUTES: tuple[Route, ...] = (
    *(Route("POST", t.path, _event_handler(t)) for t in ev.EVENT_TYPES),
    Route("GET", "/user-summary/{userId}", get_user_summary),
    Route("GET", "/automated-patron-blocks/{userId}", get_blocks),
    Route("GET", "/automated-patron-blocks/{userId}/explanation", get_explanation),
    Route("POST", "/automated-patron-blocks/synchronization/job", post_sync_job),
    Route("GET", "/automated-patron-blocks/synchronization/job/{syncJobId}", get_sync_job),
)
