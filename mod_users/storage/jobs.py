"""Tenant jobs (``/_/tenant`` 2.0): each init runs as a job whose state lives in the tenant's schema.

Keeping the job in the database, not in memory, lets any instance behind the gateway answer
``GET /_/tenant/{id}`` for a job another instance runs.

A job's runner renews a lease while it works (the ``heartbeat`` column, in the database's clock, so that
instances need not agree on the time). A job still incomplete whose lease has run out has lost its runner
(the service was killed, or its host died): the first GET that finds it so ends it with an error saying
it was interrupted, instead of answering ``complete: false`` for ever to an Okapi install that polls it
(issue 12). A lease, not a session lock held by the runner, because a lease survives a connection pooler
(PgBouncer in transaction mode) and several service instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from mod_users.storage.database import BoundedPool
from mod_users.storage.errors import CONNECTION_ERRORS
from mod_users.storage.tenants import TenantSchema, lock_tenant

log = logging.getLogger(__name__)

_JOBS = "tenant_jobs"
_INCOMPLETE = "NOT coalesce((jsonb->>'complete')::boolean, false)"
# How many times a lease is renewed within its length: a runner misses a few renewals (a busy pool, a
# slow database) before its job is taken for lost.
RENEWALS_PER_LEASE = 5


def interrupted(lease_ms: int) -> str:
    """The error of a job whose runner stopped renewing its lease."""
    return (
        f"Interrupted: the service running this job stopped before it finished (no sign of it for "
        f"{lease_ms / 1000:g} s); run the install again"
    )


async def create_job(con: asyncpg.Connection, ts: TenantSchema, attributes: dict[str, Any]) -> dict[str, Any]:
    """Make sure the schema and its job table exist, record a new incomplete job and return it.

    Under the tenant's schema lock (the one ``upgrade_tenant`` takes): CREATE ... IF NOT EXISTS is not
    safe against a concurrent creation of the same schema. A job table made before leases existed gets
    its ``heartbeat`` column here; its jobs' leases start now."""
    job = {"id": str(uuid.uuid4()), "tenant": ts.tenant, "tenantAttributes": attributes, "complete": False}
    table = ts.table(_JOBS)
    async with con.transaction():
        await lock_tenant(con, ts)
        await con.execute(f"CREATE SCHEMA IF NOT EXISTS {ts.schema}")
        await con.execute(f"CREATE TABLE IF NOT EXISTS {table} (id uuid PRIMARY KEY, jsonb jsonb NOT NULL)")
        await con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS heartbeat timestamptz NOT NULL DEFAULT now()")
        await con.execute(f"INSERT INTO {table} (id, jsonb) VALUES ($1, $2)", uuid.UUID(job["id"]), job)
    return job


@contextlib.asynccontextmanager
async def lease(pool: BoundedPool, ts: TenantSchema, job: dict[str, Any], lease_ms: int) -> AsyncIterator[None]:
    """Renew the job's lease in the background while the block runs (the job is being worked on)."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease_ms / 1000 / RENEWALS_PER_LEASE)
            try:
                await pool.execute(
                    f"UPDATE {ts.table(_JOBS)} SET heartbeat = now() WHERE id = $1", uuid.UUID(job["id"])
                )
            except (asyncpg.PostgresError, *CONNECTION_ERRORS) as exc:  # the next renewal may get through
                log.warning("tenant job lease not renewed", extra={"job": job["id"], "error": repr(exc)})

    renewing = asyncio.create_task(renew())
    try:
        yield
    finally:
        renewing.cancel()
        await asyncio.gather(renewing, return_exceptions=True)


async def finish_job(
    con: asyncpg.Connection, ts: TenantSchema, job: dict[str, Any], messages: list[str], error: str | None
) -> None:
    """Record the outcome of a job (``error`` None means it succeeded). A job already ended (declared
    interrupted while its runner was too slow to renew the lease) keeps the outcome a poller may have
    seen."""
    done = dict(job, complete=True, messages=messages)
    if error is not None:
        done["error"] = error
    await con.execute(
        f"UPDATE {ts.table(_JOBS)} SET jsonb = $2 WHERE id = $1 AND {_INCOMPLETE}", uuid.UUID(job["id"]), done
    )


async def get_job(
    pool: BoundedPool, ts: TenantSchema, job_id: uuid.UUID, wait_ms: int = 0, lease_ms: int = 30_000
) -> dict[str, Any] | None:
    """The job, waiting up to ``wait_ms`` for it to complete; None when there is no such job. A job whose
    lease ran out more than ``lease_ms`` ago is ended here as interrupted."""
    deadline = time.monotonic() + wait_ms / 1000
    delay = 0.01
    table = ts.table(_JOBS)
    lapsed = "heartbeat < now() - make_interval(secs => $2::float8 / 1000)"
    while True:
        try:
            row = await pool.fetchrow(f"SELECT jsonb, {lapsed} AS lapsed FROM {table} WHERE id = $1", job_id, lease_ms)
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            return None
        except asyncpg.UndefinedColumnError:  # a job table from before leases, and no job created since
            row = await pool.fetchrow(f"SELECT jsonb, false AS lapsed FROM {table} WHERE id = $1", job_id)
        job = None if row is None else row["jsonb"]
        if job is not None and not job.get("complete") and row["lapsed"]:
            ended = await pool.fetchval(
                f"UPDATE {table} SET jsonb = jsonb || jsonb_build_object('complete', true, 'error', $3::text) "
                f"WHERE id = $1 AND {_INCOMPLETE} AND {lapsed} RETURNING jsonb",
                job_id,
                lease_ms,
                interrupted(lease_ms),
            )
            if ended is not None:
                log.warning("tenant job interrupted: its runner is gone", extra={"job": str(job_id)})
            job = ended or await pool.fetchval(f"SELECT jsonb FROM {table} WHERE id = $1", job_id)
        if job is None or job.get("complete") or time.monotonic() >= deadline:
            return job
        await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.2)


async def delete_job(pool: BoundedPool, ts: TenantSchema, job_id: uuid.UUID) -> bool:
    """Forget a job; False when there was none."""
    try:
        status = await pool.execute(f"DELETE FROM {ts.table(_JOBS)} WHERE id = $1", job_id)
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return False
    return status == "DELETE 1"
