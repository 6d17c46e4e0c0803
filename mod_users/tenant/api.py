"""The tenant API, interface ``_tenant`` 2.0, as RMB modules answer it.

``POST /_/tenant`` starts a job (201 + ``Location``) that creates or upgrades the schema and loads
reference/sample data; ``GET /_/tenant/{id}?wait=ms`` reports it; ``DELETE`` forgets it. ``purge`` drops
the tenant's schema at once (204), and a body without ``module_to`` (a disable) has nothing to do (204).

Only a caller that follows the job gets the 201 at once: Okapi, and a client that asks for it. Any other
caller gets it when the job has finished (a failed job answers 500 with its error): Eureka's entitlement
manager takes any status up to 300 as "done" and never polls, so business calls would otherwise reach a
tenant still being created (as they reach an RMB module, which answers before its tables exist).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from aiohttp import web

from mod_users.errors import NotFound
from mod_users.routing import Call, Route, json_response, text_response
from mod_users.state import BACKGROUND, CONTRACT, POOL, SETTINGS, STORE
from mod_users.storage import jobs
from mod_users.storage.migrations import MIGRATIONS, purge_tenant, upgrade_tenant
from mod_users.storage.tables import ALL_TABLES
from mod_users.storage.tenants import TenantSchema
from mod_users.tenant.data_sets import REFERENCE_DATA, SAMPLE_DATA, load_data_sets

log = logging.getLogger(__name__)
# The error of a job cut off by the service's shutdown.
SHUT_DOWN = "Interrupted: the service stopped before the job finished; run the install again"


def _flag(attributes: dict[str, Any], key: str) -> bool:
    for parameter in attributes.get("parameters") or ():
        if parameter.get("key") == key:
            return str(parameter.get("value", "")).strip().lower() == "true"
    return False


async def run_init(
    app: web.Application, ts: TenantSchema, attributes: dict[str, Any], messages: list[str] | None = None
) -> list[str]:
    """Create or upgrade the schema and load the requested data; return what was done (also appended,
    step by step, to ``messages`` when given, so that a failing job still tells what it did)."""
    messages = [] if messages is None else messages
    pool = app[POOL]
    async with pool.acquire() as con:
        messages += await upgrade_tenant(con, ts, ALL_TABLES, MIGRATIONS, attributes["module_to"])
    root = app[SETTINGS].contract_dir
    schemas = app[CONTRACT].schemas
    store = app[STORE]
    if _flag(attributes, "loadReference"):
        messages += await load_data_sets(store, ts, root / "reference-data", REFERENCE_DATA, schemas)
    if _flag(attributes, "loadSample"):
        messages += await load_data_sets(store, ts, root / "sample-data", SAMPLE_DATA, schemas)
    return messages


async def _run_job(app: web.Application, ts: TenantSchema, job: dict[str, Any]) -> None:
    messages: list[str] = []
    try:
        # The lease tells pollers that the job is being worked on; one that lapses means it never will.
        async with jobs.lease(app[POOL], ts, job, app[SETTINGS].tenant_job_lease_ms):
            await run_init(app, ts, job["tenantAttributes"], messages)
        error = None
        log.info("tenant init done", extra={"job": job["id"], "steps": len(messages)})
    except asyncio.CancelledError:  # shutdown ran out of time: say so now rather than when the lease lapses
        await _finish(app, ts, job, messages, SHUT_DOWN)
        raise
    except Exception as exc:  # the job reports any failure; nothing may escape a background task
        log.exception("tenant init failed", extra={"job": job["id"]})
        error = f"{exc.__class__.__name__}: {exc}"
    await _finish(app, ts, job, messages, error)


async def _finish(
    app: web.Application, ts: TenantSchema, job: dict[str, Any], messages: list[str], error: str | None
) -> None:
    try:
        async with app[POOL].acquire() as con:
            await jobs.finish_job(con, ts, job, messages, error)
    except Exception:  # the database went away, or the tenant was purged meanwhile: nowhere to report
        log.exception("tenant job outcome not recorded", extra={"job": job["id"], "error": error})


# Okapi names the module's URL in X-Okapi-Url-to on every system call since it speaks _tenant 2.0 (OKAPI-875,
# which brought both) and polls the job's Location; RFC 7240's "Prefer: respond-async" asks for it explicitly.
OKAPI_URL_TO = "X-Okapi-Url-to"


def caller_follows_jobs(request: web.Request) -> bool:
    """Whether the caller of ``POST /_/tenant`` polls the job it is given (Okapi, or ``Prefer: respond-async``)."""
    prefer = ",".join(request.headers.getall("Prefer", ())).lower()
    return OKAPI_URL_TO in request.headers or "respond-async" in prefer


async def _finished(
    app: web.Application, ts: TenantSchema, job: dict[str, Any], task: asyncio.Task[None]
) -> web.StreamResponse:
    """Wait for the job (a caller that leaves does not cancel it) and answer with its outcome."""
    await asyncio.shield(task)
    done = await jobs.get_job(app[POOL], ts, uuid.UUID(job["id"]))
    if done is None or not done.get("complete"):
        raise RuntimeError(f"tenant job {job['id']} left no outcome")
    if done.get("error"):
        return text_response(f"Tenant init failed: {done['error']}", 500)
    return json_response(done, status=201, headers={"Location": f"/_/tenant/{job['id']}"})


async def post_tenant(call: Call) -> web.StreamResponse:
    attributes: dict[str, Any] = call.body
    ts = call.tenant
    app = call.request.app
    if attributes.get("purge"):
        async with app[POOL].acquire() as con:
            await purge_tenant(con, ts)
        return web.Response(status=204)
    if not attributes.get("module_to"):
        return web.Response(status=204)
    async with app[POOL].acquire() as con:
        job = await jobs.create_job(con, ts, attributes)
    task = asyncio.create_task(_run_job(app, ts, job))
    app[BACKGROUND].add(task)
    task.add_done_callback(app[BACKGROUND].discard)
    if not caller_follows_jobs(call.request):
        return await _finished(app, ts, job, task)
    return json_response(job, status=201, headers={"Location": f"/_/tenant/{job['id']}"})


def _job_id(call: Call) -> uuid.UUID:
    return uuid.UUID(call.path("operationId"))  # the RAML pattern has already refused non-UUIDs


async def get_tenant_job(call: Call) -> web.StreamResponse:
    job_id = _job_id(call)
    lease_ms = call.request.app[SETTINGS].tenant_job_lease_ms
    job = await jobs.get_job(call.request.app[POOL], call.tenant, job_id, call.params["wait"] or 0, lease_ms)
    if job is None:
        raise NotFound(f"Job not found: {job_id}")
    return json_response(job)


async def delete_tenant_job(call: Call) -> web.StreamResponse:
    job_id = _job_id(call)
    if not await jobs.delete_job(call.request.app[POOL], call.tenant, job_id):
        raise NotFound(f"Job not found: {job_id}")
    return web.Response(status=204)


ROUTES = (
    Route("POST", "/_/tenant", post_tenant),
    Route("GET", "/_/tenant/{operationId}", get_tenant_job),
    Route("DELETE", "/_/tenant/{operationId}", delete_tenant_job),
)
