"""Synchronisation jobs: summaries rebuilt from the source of truth (loan-storage and feesfines).

Summaries built from events drift when an event is lost or misapplied (MODPATBLK-41, -116, -129); a job
reads every open loan and open fee/fine (scope ``full``) or one user's (scope ``user``) through the
gateway and replaces the summaries with what they amount to, deleting the summaries of users with
nothing open. Events keep arriving meanwhile: a summary an event changed after the job started is not
overwritten with what the job read before; that user's loans and fees/fines are read again and the
summary replaced only if no event changed it between that read and the write (optimistic locking).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from typing import Any

from mod_users.resources.automated_blocks.events import is_uuid, parse_instant
from mod_users.resources.automated_blocks.gateway import Gateway, GatewayError
from mod_users.resources.automated_blocks.ingest import SummaryConflict, write_summary
from mod_users.resources.automated_blocks.summary import summary_from_records
from mod_users.storage.errors import DuplicateRecord, StorageError, VersionConflict
from mod_users.storage.records import RecordStore, now_iso
from mod_users.storage.tables import SYNCHRONIZATION_JOBS, USER_SUMMARIES
from mod_users.storage.tenants import TenantSchema

log = logging.getLogger(__name__)

LOANS = ("/loan-storage/loans", "loans")
ACCOUNTS = ("/accounts", "accounts")
OPEN = "status.name==Open"
USER_REQUIRED = "UserId is required for synchronization job with scope: USER"
NOT_FOUND = "This synchronization request does not exist"
# A user whose summary keeps changing while it is rebuilt is tried this often, then reported.
USER_ATTEMPTS = 5


def new_job(request: dict[str, Any]) -> dict[str, Any]:
    """The job record for a request (scope and userId are the client's; the rest is the server's)."""
    job: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "scope": request["scope"],
        "status": "open",
        "totalNumberOfLoans": 0,
        "totalNumberOfFeesFines": 0,
        "numberOfProcessedLoans": 0,
        "numberOfProcessedFeesFines": 0,
        "errors": [],
    }
    if request.get("userId"):
        job["userId"] = request["userId"].lower()
    return job


async def _save(store: RecordStore, ts: TenantSchema, job: dict[str, Any]) -> None:
    await store.update(ts, SYNCHRONIZATION_JOBS, job["id"], job, None)


async def run_job(store: RecordStore, ts: TenantSchema, job: dict[str, Any], gateway: Gateway) -> dict[str, Any]:
    """Run the job to its end (``done``, or ``failed`` with its errors) and return its last state."""
    job = dict(job, status="in-progress", errors=list(job.get("errors", [])))
    log.info("synchronization started", extra={"job": job["id"], "scope": job["scope"]})
    try:
        await _save(store, ts, job)
        if job["scope"] == "user":
            await _rebuild_user(store, ts, gateway, job, job["userId"])
        else:
            await _rebuild_all(store, ts, gateway, job)
        job["status"] = "done"
    except (GatewayError, StorageError, OSError, TimeoutError) as exc:
        job["status"] = "failed"
        job["errors"].append(f"{exc.__class__.__name__}: {exc}")
    except Exception as exc:  # a background job reports every failure; nothing may escape it
        log.exception("synchronization failed", extra={"job": job["id"]})
        job["status"] = "failed"
        job["errors"].append(f"{exc.__class__.__name__}: {exc}")
    try:
        await _save(store, ts, job)
    except StorageError:
        log.exception("synchronization outcome not recorded", extra={"job": job["id"]})
    log.info("synchronization finished", extra={"job": job["id"], "status": job["status"], "errors": job["errors"]})
    return job


async def _read(
    gateway: Gateway, job: dict[str, Any], query: str, kind: tuple[str, str], count: bool = True
) -> dict[str, list[dict[str, Any]]]:
    """Every usable record of ``kind`` (loans or accounts) matching ``query``, by user; a record that
    cannot be used is named in the job's errors and left out. ``count``: add them to the job's numbers
    (not when a full job reads one user again)."""
    by_user: dict[str, list[dict[str, Any]]] = defaultdict(list)
    loans = kind is LOANS
    total, processed = (
        ("totalNumberOfLoans", "numberOfProcessedLoans")
        if loans
        else (
            "totalNumberOfFeesFines",
            "numberOfProcessedFeesFines",
        )
    )
    async for page in gateway.pages(*kind, query):
        job[total] += len(page) if count else 0
        for record in page:
            problem = _unusable_loan(record) if loans else _unusable_account(record)
            if problem:
                job["errors"].append(f"{kind[1][:-1]} {str(record.get('id'))[:64]}: {problem}; left out")
                continue
            by_user[str(record["userId"]).lower()].append(record)
        job[processed] += len(page) if count else 0
    return by_user


def _has_ids(record: dict[str, Any]) -> bool:
    return isinstance(record.get("id"), str) and isinstance(record.get("userId"), str) and is_uuid(record["userId"])


def _unusable_loan(loan: dict[str, Any]) -> str | None:
    if not _has_ids(loan):
        return "no id or no valid userId"
    if parse_instant(loan.get("dueDate")) is None:
        return "no valid dueDate"
    return None


def _unusable_account(account: dict[str, Any]) -> str | None:
    if not _has_ids(account):
        return "no id or no valid userId"
    remaining = account.get("remaining")
    if isinstance(remaining, bool) or not isinstance(remaining, (int, float)):
        return "no numeric remaining amount"
    return None


async def _rebuild_all(store: RecordStore, ts: TenantSchema, gateway: Gateway, job: dict[str, Any]) -> None:
    started = now_iso()
    loans = await _read(gateway, job, OPEN, LOANS)
    await _save(store, ts, job)
    accounts = await _read(gateway, job, OPEN, ACCOUNTS)
    await _save(store, ts, job)
    users = sorted(loans.keys() | accounts.keys())
    for user_id in users:
        if not await _replace_if_untouched(
            store, ts, user_id, loans.get(user_id, []), accounts.get(user_id, []), started
        ):
            await _rebuild_user(store, ts, gateway, job, user_id)
    # Users with nothing open have no summary (MODPATBLK-129), unless an event gave them one meanwhile.
    kept = [uuid.UUID(u) for u in users]
    await store.delete_where(
        ts,
        USER_SUMMARIES,
        "NOT (id = ANY($1::uuid[])) AND jsonb->'metadata'->>'updatedDate' < $2",
        [kept, started],
    )


async def _replace_if_untouched(
    store: RecordStore,
    ts: TenantSchema,
    user_id: str,
    loans: list[dict[str, Any]],
    accounts: list[dict[str, Any]],
    started: str,
) -> bool:
    """Write what the job read for the user, unless an event changed the summary since ``started``
    (then False: the user is read again)."""
    try:
        async with store.transaction(ts) as tx:
            stored = await tx.get(ts, USER_SUMMARIES, user_id)
            if stored is not None and stored.get("metadata", {}).get("updatedDate", "") >= started:
                return False
            await write_summary(tx, ts, user_id, stored, summary_from_records(user_id, loans, accounts, stored))
    except (SummaryConflict, VersionConflict, DuplicateRecord):
        return False
    return True


async def _rebuild_user(
    store: RecordStore, ts: TenantSchema, gateway: Gateway, job: dict[str, Any], user_id: str
) -> None:
    """Read one user's open loans and fees/fines and replace the summary, unless an event changed it
    between that read and the write (then read again)."""
    query = f"{OPEN} and userId=={user_id}"
    for attempt in range(USER_ATTEMPTS):
        count = job["scope"] == "user" and attempt == 0
        before = await store.get(ts, USER_SUMMARIES, user_id)
        loans = (await _read(gateway, job, query, LOANS, count)).get(user_id, [])
        accounts = (await _read(gateway, job, query, ACCOUNTS, count)).get(user_id, [])
        try:
            async with store.transaction(ts) as tx:
                stored = await tx.get(ts, USER_SUMMARIES, user_id)
                if _version(stored) != _version(before):
                    raise SummaryConflict(user_id)
                await write_summary(tx, ts, user_id, stored, summary_from_records(user_id, loans, accounts, stored))
            return
        except (SummaryConflict, VersionConflict, DuplicateRecord):
            continue
    job["errors"].append(f"user {user_id}: summary kept changing while it was rebuilt; synchronise it again")


def _version(summary: dict[str, Any] | None) -> int | None:
    return None if summary is None else summary.get("_version")
