"""Behind Eureka: the entitlement manager's tenant calls and business calls through the module's sidecar
(stand-ins in tests/eureka.py send what the real ones send), and Okapi still getting _tenant 2.0 jobs."""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import aiohttp
import pytest

from mod_users.app import init_app
from mod_users.config import PROJECT_ROOT
from mod_users.descriptor import render_descriptor
from mod_users.okapi import context_from_headers
from mod_users.tenant import api as tenant_api
from tests.conftest import contract_of, unique_tenant
from tests.eureka import SIGNATURE, EntitlementManager, Sidecar, keycloak_token, reencoded_query, request_id
from tests.polaris.support import url

DESCRIPTOR = render_descriptor(PROJECT_ROOT / "descriptors" / "ModuleDescriptor-template.json", "0.1.0")
MODULE = "mod-users-0.1.0"
REFERENCE = [{"key": "loadReference", "value": "true"}]
USER = "7b1c1f0a-2c4b-4b7e-9d1e-3f6a2b9c8d71"
PBC = "/patron-block-conditions"
CONDITION_PERMISSIONS = {"patron-block-conditions.collection.get", "patron-block-conditions.item.post"}


def _condition(name: str) -> dict:
    """A new patron block condition of ``name``."""
    flags = {"blockBorrowing": False, "blockRenewals": False, "blockRequests": False}
    return {"id": str(uuid.uuid4()), "name": name, **flags, "valueType": "Integer"}


class Eureka:
    """The module served on loopback, its sidecar in front, the entitlement manager calling the sidecar."""

    def __init__(self, module_url: str, sidecar: Sidecar) -> None:
        self.module_url = module_url
        self.sidecar = sidecar
        self.manager = EntitlementManager(sidecar)

    async def call(self, method: str, path: str, tenant: str, *, token: str | None = None, **kwargs):
        """A client's call through the sidecar (as Kong passes it on): JSON body or None, and the status."""
        headers = {"X-Okapi-Tenant": tenant, **kwargs.pop("headers", {})}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.sidecar.url + path, headers=headers, **kwargs) as answer,
        ):
            text = await answer.text()
            body = json.loads(text) if answer.content_type == "application/json" else text
            return answer.status, body


@pytest.fixture
async def eureka(aiohttp_server, settings, db_settings):
    module = await aiohttp_server(init_app(settings, db_settings, contract_of(settings.contract_dir)))
    sidecar = Sidecar(DESCRIPTOR, str(module.make_url("")).rstrip("/"))
    front = await aiohttp_server(sidecar.app())
    sidecar.url = str(front.make_url("")).rstrip("/")
    return Eureka(sidecar.module_url, sidecar)


@pytest.fixture
def new_tenant(db_settings, settings):
    """A tenant name, purged afterwards whatever the test did."""
    from tests.conftest import _purge_tenant

    name = unique_tenant("e")
    yield name
    asyncio.run(_purge_tenant(db_settings, name))


@pytest.fixture
def held_init(monkeypatch):
    """Tenant inits wait at their data loading until the test sets the event."""
    release = asyncio.Event()
    load = tenant_api.load_data_sets

    async def held(*args, **kwargs):
        await release.wait()
        return await load(*args, **kwargs)

    monkeypatch.setattr(tenant_api, "load_data_sets", held)
    return release


async def test_an_install_as_the_entitlement_manager_sends_it_leaves_the_tenant_usable_when_it_returns(
    eureka, new_tenant
):
    eureka.sidecar.grants[USER] = CONDITION_PERMISSIONS
    done = await eureka.manager.install(new_tenant, MODULE, REFERENCE)
    assert done.succeeded and done.status == 201, done
    assert json.loads(done.body)["complete"] is True
    # What the module got was the sidecar's forward of the manager's call: chunked, no token, no user.
    sent = {k.lower(): v for k, v in eureka.sidecar.forwarded[-1].items()}
    assert set(sent) == {
        "content-type",
        "x-okapi-tenant",
        "x-okapi-request-id",
        "x-okapi-url",
        "x-okapi-sidecar-signature",
    }
    assert re.fullmatch(r"\d{6}/tenant", sent["x-okapi-request-id"])
    # The very next business call finds the schema and the reference data.
    status, body = await eureka.call("GET", PBC, new_tenant, token=keycloak_token(new_tenant, USER))
    assert (status, body["totalRecords"]) == (200, 6)


async def test_the_manager_waits_for_the_init_while_okapi_gets_its_job_at_once(eureka, new_tenant, held_init):
    install = asyncio.create_task(eureka.manager.install(new_tenant, MODULE, REFERENCE))
    try:
        await _okapi_follows_its_job(eureka, new_tenant, install, held_init)
    finally:
        held_init.set()  # never leave the manager's init hanging
    done = await install
    assert done.succeeded and json.loads(done.body)["complete"] is True


async def _okapi_follows_its_job(eureka, tenant, install, held_init):
    await asyncio.sleep(0.5)
    assert not install.done()  # the manager's call is still open: the tenant is not ready yet

    # Okapi's system call (ProxyService.sysReqHeaders, TenantManager): it polls the job it is given.
    okapi = {
        "X-Okapi-Tenant": tenant,
        "X-Okapi-Url": "http://okapi:9130",
        "X-Okapi-Url-to": eureka.module_url,
        "X-Okapi-Request-Id": "123456/tenant",
        "Accept": "*/*",
        "Content-Type": "application/json; charset=UTF-8",
    }
    body = json.dumps({"module_to": MODULE, "parameters": REFERENCE}, indent=2)  # Okapi sends it pretty-printed
    async with aiohttp.ClientSession() as session:
        async with session.post(eureka.module_url + "/_/tenant", data=body, headers=okapi) as answer:
            assert answer.status == 201
            job = await answer.json()
            assert job["complete"] is False and answer.headers["Location"] == f"/_/tenant/{job['id']}"
        held_init.set()
        location = eureka.module_url + f"/_/tenant/{job['id']}"
        async with session.get(location, params={"wait": "30000"}, headers=okapi) as answer:
            assert (await answer.json())["complete"] is True
        async with session.delete(location, headers=okapi) as answer:
            assert answer.status == 204


async def test_a_failing_init_is_a_failure_the_manager_sees(eureka, new_tenant, monkeypatch):
    async def broken(*args, **kwargs):
        raise ValueError("reference record max_number_of_lost_items.json is invalid")

    monkeypatch.setattr(tenant_api, "load_data_sets", broken)
    done = await eureka.manager.install(new_tenant, MODULE, REFERENCE)
    assert not done.succeeded and done.status == 500
    assert "Tenant init failed" in done.body and "max_number_of_lost_items.json is invalid" in done.body


async def test_upgrade_disable_and_purge_as_the_manager_sends_them(eureka, new_tenant):
    eureka.sidecar.grants[USER] = CONDITION_PERMISSIONS
    token = keycloak_token(new_tenant, USER)
    assert (await eureka.manager.install(new_tenant, MODULE, REFERENCE)).succeeded
    condition = _condition("Ours")
    assert (await eureka.call("POST", PBC, new_tenant, token=token, json=condition))[0] == 201
    # An upgrade carries module_to only; it keeps the data.
    assert (await eureka.manager.install(new_tenant, "mod-users-0.2.0", REFERENCE)).succeeded
    assert (await eureka.call("GET", PBC, new_tenant, token=token))[1]["totalRecords"] == 7
    # Disabling without purge sends nothing: the sidecar stops passing the tenant's calls, the data stays for
    # when it is enabled again.
    assert await eureka.manager.uninstall(new_tenant, "mod-users-0.2.0", purge=False) is None
    status, body = await eureka.call("GET", PBC, new_tenant, token=token)
    assert (status, body["errors"][0]["code"]) == (400, "tenant_not_enabled")
    assert (await eureka.manager.install(new_tenant, "mod-users-0.2.0", REFERENCE)).succeeded
    assert (await eureka.call("GET", PBC, new_tenant, token=token))[1]["totalRecords"] == 7
    purged = await eureka.manager.uninstall(new_tenant, "mod-users-0.2.0", purge=True)
    assert purged is not None and purged.status == 204
    eureka.sidecar.entitled.add(new_tenant)  # were it still enabled, the module itself says the data is gone
    status, body = await eureka.call("GET", PBC, new_tenant, token=token)
    assert status == 400 and "not initialised" in body


async def test_a_keycloak_token_gives_the_user_behind_the_sidecar(eureka, tenant):
    eureka.sidecar.entitled.add(tenant)
    eureka.sidecar.grants[USER] = CONDITION_PERMISSIONS
    condition = _condition("Made through the sidecar")
    status, body = await eureka.call("POST", PBC, tenant, token=keycloak_token(tenant, USER), json=condition)
    assert status == 201
    assert body["metadata"]["createdByUserId"] == USER  # user_id, not Keycloak's sub
    # The sidecar authorises the required permission: without it the module is never reached.
    eureka.sidecar.grants[USER] = {"patron-block-conditions.collection.get"}
    status, _ = await eureka.call("POST", PBC, tenant, token=keycloak_token(tenant, USER), json=condition)
    assert status == 403
    assert (await eureka.call("GET", PBC, tenant))[0] == 401  # no token


SUMMARY = "/patrons/1002/blockssummary?logonBranchID=3&associatedblocks=false"


@pytest.mark.parametrize(
    ("granted", "forged", "status"),
    [
        ({"polaris.patron-blocks.summary.get", "polaris.patron-status.blocks.view"}, False, 200),
        # Authorised by the sidecar, refused by the module: the Polaris permission was not granted ...
        ({"polaris.patron-blocks.summary.get"}, False, 403),
        # ... and one the client writes into X-Okapi-Permissions itself is dropped by the sidecar.
        ({"polaris.patron-blocks.summary.get"}, True, 403),
        # Without the endpoint's required permission the sidecar refuses before the module.
        ({"polaris.patron-status.blocks.view"}, False, 403),
    ],
)
async def test_polaris_calls_get_only_the_desired_permissions_the_user_holds(
    eureka, sample_tenant, granted, forged, status
):
    eureka.sidecar.entitled.add(sample_tenant)
    eureka.sidecar.grants[USER] = granted
    headers = {"X-Okapi-Permissions": '["polaris.patron-status.blocks.view"]'} if forged else {}
    got, body = await eureka.call(
        "GET", url(SUMMARY), sample_tenant, token=keycloak_token(sample_tenant, USER), headers=headers
    )
    assert got == status, body
    if status == 403 and "polaris.patron-blocks.summary.get" in granted:
        assert body["ErrorCode"] == -2  # the module's (Polaris-style) refusal, not the sidecar's


async def test_only_descriptor_routes_are_reachable_through_the_sidecar(eureka, tenant):
    eureka.sidecar.entitled.add(tenant)
    status, body = await eureka.call("GET", "/admin/health", tenant)
    assert (status, body["errors"][0]["code"]) == (404, "route_not_found_error")
    assert (await eureka.call("GET", "/patron-block-conditions/x/y", tenant))[0] == 404


async def test_a_tenant_the_module_is_not_entitled_for_is_refused_by_the_sidecar(eureka, tenant):
    eureka.sidecar.grants[USER] = CONDITION_PERMISSIONS
    status, body = await eureka.call("GET", PBC, tenant, token=keycloak_token(tenant, USER))
    assert status == 400 and body["errors"][0] == {
        "type": "TenantNotEnabledException",
        "code": "tenant_not_enabled",
        "message": f"Application is not enabled for tenant: {tenant}",
    }
    assert eureka.sidecar.forwarded == []  # the module never saw it


async def test_the_module_gets_the_sidecars_request_id_signature_and_query_string(eureka, tenant):
    eureka.sidecar.entitled.add(tenant)
    eureka.sidecar.grants[USER] = CONDITION_PERMISSIONS
    query = 'query=name=="Max*" sortby name&limit=2;offset=1&other=a+b~c'
    status, body = await eureka.call(
        "GET", f"{PBC}?{query}", tenant, token=keycloak_token(tenant, USER), headers={"X-Okapi-Request-Id": "987654/x"}
    )
    # The re-encoded query reached the module whole: the CQL with its spaces, and the ;-separated offset.
    assert status == 200 and (len(body["patronBlockConditions"]), body["totalRecords"]) == (2, 5), body
    assert eureka.sidecar.forwarded_urls[-1].endswith(
        f"{PBC}?query=name%3D%3D%22Max*%22%20sortby%20name&limit=2&offset=1&other=a%20b%7Ec"
    )
    sent = eureka.sidecar.forwarded[-1]
    assert re.fullmatch(r"987654/x;\d{6}/patron-block-conditions", sent["X-Okapi-Request-Id"])
    assert sent[SIGNATURE] and sent["X-Okapi-Url"] == eureka.sidecar.url


def test_the_sidecars_request_ids_and_query_strings():
    assert re.fullmatch(r"\d{6}/tenant", request_id("/_/tenant/abc", None))
    assert re.fullmatch(r"\d{6}/patron-block-conditions", request_id("/patron-block-conditions/1/2", None))
    assert re.fullmatch(r"1/a;\d{6}/", request_id("/", "1/a"))
    # Repeated names are grouped where the name first came; no value is an empty one; ; separates as & does.
    assert reencoded_query("a=1&b=2&a=3;c&d=%41+%2B") == "a=1&a=3&b=2&c=&d=A%20%2B"
    assert reencoded_query("") == ""


def test_a_keycloak_token_names_the_tenant_and_the_user():
    token = keycloak_token("diku", USER, "circ_admin")
    ctx = context_from_headers({"X-Okapi-Token": token})
    assert (ctx.tenant_name, ctx.user_id, ctx.username) == ("diku", USER, "circ_admin")
    # X-Okapi-Tenant wins (a cross-tenant call), X-Okapi-User-Id too.
    other = "0e5a0e1f-96c3-4b0e-8c2b-55a1f6a3d6a4"
    ctx = context_from_headers({"X-Okapi-Token": token, "X-Okapi-Tenant": "college", "X-Okapi-User-Id": other})
    assert (ctx.tenant_name, ctx.user_id) == ("college", other)


async def test_a_call_without_tenant_header_uses_the_tokens_realm(app_client, tenant):
    resp = await app_client.get(PBC, headers={"X-Okapi-Token": keycloak_token(tenant, USER)})
    assert resp.status == 200
    resp = await app_client.get(PBC, headers={"X-Okapi-Token": keycloak_token("nosuchtenant", USER)})
    assert resp.status == 400 and "not initialised" in await resp.text()
