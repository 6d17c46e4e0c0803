"""Tenant jobs (``/_/tenant`` 2.0): each init runs as a job whose state lives in the tenant's schema.

Keeping the job in the database, not in memory, lets any instance behind the gateway answer
``GET /_/tenant/{id}`` for a job another instance runs.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg

from mod_users.storage.database import BoundedPool
from mod_users.storage.tenants import TenantSchema, lock_tenant

_JOBS = "tenant_jobs"


async def create_job(con: asyncpg.Connection, ts: TenantSchema, attributes: dict[str, Any]) -> dict[str, Any]:
    """Make sure the schema and its job table exist, record a new incomplete job and return it.

    Under the tenant's schema lock (the one ``upgrade_tenant`` takes): CREATE ... IF NOT EXISTS is not
    safe against a concurrent creation of the same schema."""
    job = {"id": str(uuid.uuid4()), "tenant": ts.tenant, "tenantAttributes": attributes, "complete": False}
    async with con.transaction():
        await lock_tenant(con, ts)
        await con.execute(f"CREATE SCHEMA IF NOT EXISTS {ts.schema}")
        await con.execute(f"CREATE TABLE IF NOT EXISTS {ts.table(_JOBS)} (id uuid PRIMARY KEY, jsonb jsonb NOT NULL)")
        await con.execute(f"INSERT INTO {ts.table(_JOBS)} (id, jsonb) VALUES ($1, $2)", uuid.UUID(job["id"]), job)
    return job


async def finish_job(
    con: asyncpg.Connection, ts: TenantSchema, job: dict[str, Any], messages: list[str], error: str | None
) -> None:
    """Record the outcome of a job (``error`` None means it succeeded)."""
    done = dict(job, complete=True, messages=messages)
    if error is not None:
        done["error"] = error
    await con.execute(f"UPDATE {ts.table(_JOBS)} SET jsonb = $2 WHERE id = $1", uuid.UUID(job["id"]), done)


async def get_job(pool: BoundedPool, ts: TenantSchema, job_id: uuid.UUID, wait_ms: int = 0) -> dict[str, Any] | None:
    """The job, waiting up to ``wait_ms`` for it to complete; None when there is no such job."""
    deadline = time.monotonic() + wait_ms / 1000
    delay = 0.01
    while True:
        try:
            job = await pool.fetchval(f"SELECT jsonb FROM {ts.table(_JOBS)} WHERE id = $1", job_id)
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            return None
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
