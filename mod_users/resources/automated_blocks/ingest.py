"""Receiving one event: keep it in the event log and apply it to its user's summary, exactly once.

Both happen in one transaction, and the summary is written under optimistic locking (its ``_version``):
when another event for the same user got there first (MODPATBLK-91's race), the transaction is undone
and tried again on the newer summary, so concurrent events never overwrite each other. A second delivery
of an event finds its event log row and changes nothing.

Events that arrive together are stored together (group commit): per store and tenant, events go to one of
:data:`LANES` lanes by their user, and each lane's writer takes whatever events are waiting and stores
them, one after another, in one transaction; the caller of :func:`receive` is answered when that
transaction has committed. This saves each event its own transaction, keeps :data:`LANES` connections
busy in parallel, and queues the events of one user in one lane instead of letting them retry against
each other.
When a batch fails as a whole (a summary changed by another instance, the database away), its events are
stored one by one, each with its own retries, so that each caller gets its own outcome.

Used by the HTTP handlers, the Kafka consumer and the tests alike; it knows nothing of HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any

from mod_users.resources.automated_blocks import events as ev
from mod_users.resources.automated_blocks.summary import apply_event, same_content
from mod_users.storage.errors import DuplicateRecord, VersionConflict
from mod_users.storage.records import RecordStore, now_iso
from mod_users.storage.tables import PATRON_BLOCK_EVENTS, USER_SUMMARIES
from mod_users.storage.tenants import TenantSchema

log = logging.getLogger(__name__)

# Enough for hundreds of concurrent events for one user: each round one writer wins per pool connection.
MAX_ATTEMPTS = 200
_BACKOFF_CAP_SECONDS = 0.05


# The most events one transaction stores, and the writers (connections) of one store and tenant.
MAX_BATCH = 200
LANES = 8


@dataclass
class _Waiting:
    """One event waiting for its batch, and its caller's answer."""

    event_type: ev.EventType
    payload: dict[str, Any]
    source: str
    log_id: uuid.UUID | None
    answer: asyncio.Future[Outcome] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass
class _Queue:
    """The events of one (store, tenant) waiting to be stored, and whether a writer is at work."""

    waiting: list[_Waiting] = field(default_factory=list)
    writing: bool = False
    writer: asyncio.Task[None] | None = None  # kept: a task nobody refers to may be collected


# Queues of the stores (applications) alive, by (tenant, lane): a store that goes takes its queues along.
_QUEUES: weakref.WeakKeyDictionary[RecordStore, dict[tuple[str, int], _Queue]] = weakref.WeakKeyDictionary()


class SummaryConflict(Exception):
    """Another writer changed the summary between our read and our write."""


class TooMuchContention(Exception):
    """The summary kept changing under us; the event was not applied (the caller may redeliver it)."""


@dataclass(frozen=True)
class Outcome:
    """What receiving an event did: ``applied`` (the summary changed), ``unchanged`` (it was about
    nothing the summary holds, or changed nothing), ``duplicate`` (seen before) or ``no-user`` (a fee/fine
    event without a user, for a fee/fine no summary holds)."""

    result: str
    user_id: str | None
    attempts: int = 1


async def receive(
    store: RecordStore,
    ts: TenantSchema,
    event_type: ev.EventType,
    payload: dict[str, Any],
    source: str,
    delivery: str | None = None,
) -> Outcome:
    """Log and apply one valid event (checked against its schema and :func:`events.date_problems`);
    return when it is stored."""
    item = _Waiting(event_type, payload, source, ev.event_log_id(event_type, payload, delivery))
    lane = hash(str(payload.get("userId") or payload.get("feeFineId")).lower()) % LANES
    queue = _QUEUES.setdefault(store, {}).setdefault((ts.tenant, lane), _Queue())
    queue.waiting.append(item)
    if not queue.writing:
        queue.writing = True
        queue.writer = asyncio.create_task(_write(store, ts, queue))
    return await asyncio.shield(item.answer)  # a caller that leaves does not take its event along


async def _write(store: RecordStore, ts: TenantSchema, queue: _Queue) -> None:
    """Store batches of the queue's events until none are waiting."""
    try:
        while queue.waiting:
            batch, queue.waiting[:] = queue.waiting[:MAX_BATCH], queue.waiting[MAX_BATCH:]
            try:
                outcomes = []
                async with store.transaction(ts) as tx:
                    for item in batch:
                        outcomes.append(
                            await _receive_once(tx, ts, item.event_type, item.payload, item.source, item.log_id, 1)
                        )
            except Exception:  # the batch failed as a whole: each event on its own, with its own retries
                for item in batch:
                    try:
                        _answer(item, await _receive_alone(store, ts, item))
                    except Exception as exc:
                        if not item.answer.done():
                            item.answer.set_exception(exc)
                continue
            for item, outcome in zip(batch, outcomes, strict=True):
                _answer(item, outcome)
    finally:
        queue.writing = False


def _answer(item: _Waiting, outcome: Outcome) -> None:
    log.info(
        "patron block event",
        extra={
            "eventType": item.event_type.name,
            "source": item.source,
            "userId": outcome.user_id,
            "loanId": item.payload.get("loanId"),
            "feeFineId": item.payload.get("feeFineId"),
            "result": outcome.result,
            "attempts": outcome.attempts,
        },
    )
    if not item.answer.done():
        item.answer.set_result(outcome)


async def _receive_alone(store: RecordStore, ts: TenantSchema, item: _Waiting) -> Outcome:
    """One event in its own transaction, tried again while another writer changed its summary first."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            async with store.transaction(ts) as tx:
                return await _receive_once(tx, ts, item.event_type, item.payload, item.source, item.log_id, attempt)
        except (SummaryConflict, VersionConflict, DuplicateRecord):
            await asyncio.sleep(random.uniform(0, min(_BACKOFF_CAP_SECONDS, 0.001 * 2**attempt)))
    raise TooMuchContention(
        f"{item.event_type.name} for user {item.payload.get('userId')}: summary changed {MAX_ATTEMPTS} times"
    )


async def _receive_once(
    tx: RecordStore,
    ts: TenantSchema,
    event_type: ev.EventType,
    payload: dict[str, Any],
    source: str,
    log_id: uuid.UUID | None,
    attempt: int,
) -> Outcome:
    user_id = payload.get("userId")
    if user_id is None:  # only a fee/fine event may come without one: its summary is the fee/fine's
        user_id = await _holder_of_fee(tx, ts, payload["feeFineId"])
    entry = {
        "id": str(log_id or uuid.uuid4()),
        "eventType": event_type.name,
        "userId": user_id,
        "source": source,
        "receivedDate": now_iso(),
        "payload": payload,
    }
    if log_id is not None:
        if not await tx.upsert_missing(ts, PATRON_BLOCK_EVENTS, entry):
            return Outcome("duplicate", user_id, attempt)
    else:
        await tx.insert(ts, PATRON_BLOCK_EVENTS, entry, None)
    if user_id is None:
        return Outcome("no-user", None, attempt)
    user_id = str(user_id).lower()
    stored = await tx.get(ts, USER_SUMMARIES, user_id)
    after = apply_event(stored, user_id, event_type, payload)
    if same_content(stored, after):
        return Outcome("unchanged", user_id, attempt)
    await write_summary(tx, ts, user_id, stored, after)
    return Outcome("applied", user_id, attempt)


async def write_summary(
    tx: RecordStore, ts: TenantSchema, user_id: str, stored: dict[str, Any] | None, after: dict[str, Any] | None
) -> None:
    """Replace ``stored`` (the summary as read, None if there was none) by ``after`` (None: delete it);
    raise :class:`SummaryConflict` (or DuplicateRecord) when someone else wrote it since it was read."""
    if after is None:
        if stored is not None:
            gone = await tx.delete_where(
                ts,
                USER_SUMMARIES,
                "id = $1::uuid AND (jsonb->>'_version')::bigint = $2",
                [user_id, stored["_version"]],
            )
            if gone != 1:
                raise SummaryConflict(user_id)
        return
    if stored is None:
        await tx.insert(ts, USER_SUMMARIES, after, None)  # a concurrent first insert: DuplicateRecord
        return
    after = dict(after, _version=stored["_version"])
    if await tx.update(ts, USER_SUMMARIES, user_id, after, None) is None:
        raise SummaryConflict(user_id)  # deleted meanwhile


async def _holder_of_fee(tx: RecordStore, ts: TenantSchema, fee_fine_id: str) -> str | None:
    """The user whose summary holds the fee/fine (mod-patron-blocks' findByFeeFineId)."""
    page = await tx.search_where(
        ts,
        USER_SUMMARIES,
        "jsonb->'openFeesFines' @> jsonb_build_array(jsonb_build_object('feeFineId', $1::text))",
        [fee_fine_id],
        "",
        0,
        1,
    )
    return page.records[0]["userId"] if page.records else None
