"""schemathesis against the OpenAPI document the service serves (/_/openapi), on a live server:
generated requests, valid and invalid, never get a 500, and every answer matches the contract (a
documented status, its media type, its schema)."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Iterator

import asyncpg
import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from mod_users.app import init_app
from mod_users.config import PROJECT_ROOT
from mod_users.descriptor import handlers, render_descriptor
from mod_users.errors import POLARIS_MALFORMED_REQUEST
from mod_users.resources.automated_blocks import limits as patron_block_limits
from mod_users.resources.automated_blocks import sync as patron_blocks_sync
from mod_users.resources.automated_blocks.events import UNREPRESENTABLE_DATE
from mod_users.resources.patron_block_conditions import ACTION_REQUIRED, MESSAGE_REQUIRED, STILL_LIMITED
from mod_users.resources.polaris.admin import RULE_MESSAGES
from mod_users.resources.polaris.registration.api import RULE_MESSAGES as REGISTRATION_RULE_MESSAGES
from mod_users.storage.database import connect_kwargs
from mod_users.storage.embedded import free_port
from mod_users.storage.tenants import TenantSchema
from tests.conftest import unique_tenant


@pytest.fixture(scope="module")
def live_server(db_settings, settings) -> Iterator[str]:
    """The service on a real port, in its own thread and event loop."""
    app = init_app(settings, db_settings)
    runner = web.AppRunner(app)
    loop = asyncio.new_event_loop()
    port = free_port()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(30)
    yield f"http://127.0.0.1:{port}"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(30)


THROWAWAY_TENANTS: list[str] = []


def _init_tenant(live_server: str, name: str, *data: str) -> None:
    body = json.dumps(
        {"module_to": "mod-users-0.1.0", "parameters": [{"key": key, "value": "true"} for key in data]}
    ).encode()
    request = urllib.request.Request(
        f"{live_server}/_/tenant",
        data=body,
        method="POST",
        headers={"X-Okapi-Tenant": name, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as resp:
        location = resp.headers["Location"]
    request = urllib.request.Request(f"{live_server}{location}?wait=30000", headers={"X-Okapi-Tenant": name})
    with urllib.request.urlopen(request) as resp:
        assert json.load(resp)["complete"] is True


@pytest.fixture(scope="module")
def fuzz_tenant(live_server, db_settings) -> Iterator[str]:
    """A tenant with the reference and sample data: its workstation 1 at branch 3 gets past the
    Polaris-style routes' workstation check, so generated Polaris calls reach their rules."""
    name = unique_tenant("fz")
    _init_tenant(live_server, name, "loadReference", "loadSample")
    yield name
    asyncio.run(_drop_schemas(db_settings, [name, *THROWAWAY_TENANTS]))


async def _drop_schemas(db, tenants: list[str]) -> None:
    """Leave a configured database as we found it (the tenant API may have made schemas for them)."""
    con = await asyncpg.connect(**connect_kwargs(db))
    try:
        for tenant in tenants:
            await con.execute(f"DROP SCHEMA IF EXISTS {TenantSchema(tenant).schema} CASCADE")
    finally:
        await con.close()


def _semantic_rejection(response) -> bool:
    """A 400/422 for a reason no schema can state: a CQL query that does not parse, a business rule
    (a blocked action needs a message), a duplicate id, an id that differs from the path, a Polaris rule
    (its own ErrorCode). A rejection by the schema or parameter checks themselves is not one of these
    (FOLIO's jsonSchema codes, Polaris' -1): those must never hit valid data."""
    if response.status_code not in (400, 422):
        return False
    text = response.text
    try:
        polaris = json.loads(text)
    except ValueError:
        polaris = None
    # FOLIO's 422: a schema's failures carry jsonSchema.* codes, a business rule's its own (-1)
    folio_errors = polaris.get("errors") if response.status_code == 422 and isinstance(polaris, dict) else None
    if folio_errors and not any(str(e.get("code", "")).startswith("jsonSchema.") for e in folio_errors):
        return True
    named = any(
        reason in text
        for reason in (
            "malformed parameter 'query'",
            MESSAGE_REQUIRED,
            ACTION_REQUIRED,
            "already exists",
            "id field cannot be changed",
            "cannot be stored",
            *RULE_MESSAGES,
            *REGISTRATION_RULE_MESSAGES,
            *patron_block_limits.RULE_MESSAGES,
            patron_blocks_sync.USER_REQUIRED,
            UNREPRESENTABLE_DATE,
            STILL_LIMITED,
        )
    )
    if isinstance(polaris, dict) and "ErrorCode" in polaris:
        return polaris["ErrorCode"] != POLARIS_MALFORMED_REQUEST or named
    if "jsonSchema." in text or text.startswith(("Invalid value for parameter", "Malformed JSON")):
        return False
    return named


def _operations() -> list[str]:
    """Operation labels of the contract, for one parametrised test each (read from the RAML, as the
    served OpenAPI is generated from it), but for the Polaris listener's own routes, which the FOLIO port
    does not serve (tests/polaris test them)."""
    from mod_users.contract import load_contract
    from mod_users.resources.polaris import LISTENER_ROUTES

    contract = load_contract(PROJECT_ROOT / "ramls", PROJECT_ROOT / "schemas")
    listener = {(r.method, r.path) for r in LISTENER_ROUTES}
    return sorted(f"{e.method} {e.path}" for e in contract.endpoints() if (e.method, e.path) not in listener)


# Every permission a route of the descriptor desires, and the sample branch and workstation.
STAFF = json.dumps(
    sorted(
        {
            p
            for h in handlers(
                render_descriptor(PROJECT_ROOT / "descriptors" / "ModuleDescriptor-template.json", "0.1.0")
            )
            for p in h.permissions_desired
        }
    )
)
SAMPLE_ROUTE = {
    "version": "v1",
    "lang": "eng",
    "productId": 19,
    "siteDomain": "polaris",
    "orgId": 3,
    "workstationId": 1,
}


def _as_staff(case, tenant: str, *, route: bool) -> None:
    """Send a generated call as a staff user holding every permission (as Okapi grants them: more than
    the route desires); with ``route``, at the sample branch and workstation (not for invalid data: there
    the route parts may be the invalid part)."""
    case.headers = {**(case.headers or {}), "X-Okapi-Tenant": tenant, "X-Okapi-Permissions": STAFF}
    if route and "workstationId" in (case.path_parameters or {}):
        case.path_parameters = {**case.path_parameters, **SAMPLE_ROUTE}


def _call_and_check(case) -> int:
    """Send the case; no 5xx, and the answer must conform (semantic rejections of valid data allowed)."""
    response = case.call()
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"
    excluded = [positive_data_acceptance] if _semantic_rejection(response) else []
    case.validate_response(response, excluded_checks=excluded)
    return response.status_code


@pytest.fixture(scope="module")
def api_schema(live_server):
    return schemathesis.openapi.from_url(f"{live_server}/_/openapi")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize("label", _operations())
def test_generated_requests_conform_to_the_contract(api_schema, fuzz_tenant, label, mode):
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is missing from /_/openapi"
    # The tenant API would purge or re-init the fuzzing tenant: there, throwaway names only (its
    # answers for real tenants are covered by tests/test_contract_coverage.py).
    throwaway = label.split(" ", 1)[1].startswith("/_/tenant")
    calls = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def run(case):
        name = fuzz_tenant
        if throwaway:
            name = unique_tenant("fzt")
            THROWAWAY_TENANTS.append(name)
        _as_staff(case, name, route=mode == GenerationMode.POSITIVE)
        calls.append(_call_and_check(case))

    run()
    assert calls


# The registration routes with more examples and an existing patron to update, so that generated bodies
# reach the end of the conversation (a saved registration), not only its checks.
REGISTRATION = (
    "POST /polaris.applicationservices/api/{version}/{lang}/{productId}/{siteDomain}/{orgId}/{workstationId}/patrons",
    "PUT /polaris.applicationservices/api/{version}/{lang}/{productId}/{siteDomain}/{orgId}/"
    "{workstationId}/patrons/{patronId}",
)


@pytest.mark.parametrize("label", REGISTRATION)
def test_generated_registrations_reach_the_conversation(api_schema, fuzz_tenant, label):
    operation = api_schema.find_operation_by_label(label)
    statuses = []

    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    @hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def run(case):
        _as_staff(case, fuzz_tenant, route=True)
        if "patronId" in case.path_parameters:
            case.path_parameters = {**case.path_parameters, "patronId": 1001}
        statuses.append(_call_and_check(case))

    run()
    assert 200 in statuses
