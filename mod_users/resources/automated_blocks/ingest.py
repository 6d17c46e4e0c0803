"""Receiving one event: keep it in the event log and apply it to its user's summary, exactly once.

Both happen in one transaction, and the summary is written under optimistic locking (its ``_version``):
when another event for the same user got there first (MODPATBLK-91's race), the transaction is undone
and tried again on the newer summary, so concurrent events never overwrite each other. Within one
process, events for one user also wait for each other (a lock per user), so that coroutines queue
instead of retrying against each other; optimistic locking settles the rest (other workers, instances).
A second delivery of an event finds its event log row and changes nothing. Used by the HTTP handlers, the Kafka consumer
and the tests alike; it knows nothing of HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
import weakref
from dataclasses import dataclass
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


# One lock per (store, tenant, user) while anyone holds it (a store is one application's pool: one per
# process in production); unused locks go with their last holder.
_USER_LOCKS: weakref.WeakValueDictionary[tuple[int, str, str], asyncio.Lock] = weakref.WeakValueDictionary()


def _user_lock(store: RecordStore, ts: TenantSchema, user_id: Any) -> asyncio.Lock:
    key = (id(store), ts.tenant, str(user_id).lower())
    lock = _USER_LOCKS.get(key)
    if lock is None:
        lock = _USER_LOCKS[key] = asyncio.Lock()
    return lock


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
    """Log and apply one valid event (checked against its schema and :func:`events.date_problems`)."""
    log_id = ev.event_log_id(event_type, payload, delivery)
    async with _user_lock(store, ts, payload.get("userId") or payload.get("feeFineId")):
        return await _receive(store, ts, event_type, payload, source, log_id)


async def _receive(
    store: RecordStore,
    ts: TenantSchema,
    event_type: ev.EventType,
    payload: dict[str, Any],
    source: str,
    log_id: uuid.UUID | None,
) -> Outcome:
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            async with store.transaction(ts) as tx:
                outcome = await _receive_once(tx, ts, event_type, payload, source, log_id, attempt)
        except (SummaryConflict, VersionConflict, DuplicateRecord):
            await asyncio.sleep(random.uniform(0, min(_BACKOFF_CAP_SECONDS, 0.001 * 2**attempt)))
            continue
        log.info(
            "patron block event",
            extra={
                "eventType": event_type.name,
                "source": source,
                "userId": outcome.user_id,
                "loanId": payload.get("loanId"),
                "feeFineId": payload.get("feeFineId"),
                "result": outcome.result,
                "attempts": attempt,
            },
        )
        return outcome
    raise TooMuchContention(f"{event_type.name} for user {payload.get('userId')}: summary changed {MAX_ATTEMPTS} times")


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
