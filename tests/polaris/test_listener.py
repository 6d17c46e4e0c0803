"""The Polaris listener as a whole: what it serves and what it does not, site domains that name tenants, 403s
that say which check failed, the Polaris permissions the descriptor pairs with FOLIO ones, and who a call's
staff user is on either port."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mod_users.app import init_app
from mod_users.config import PROJECT_ROOT, ConfigError, load_settings
from mod_users.descriptor import render_descriptor
from mod_users.resources.polaris.listener import init_polaris_app
from mod_users.resources.polaris.permissions import PolarisPermissions
from tests.conftest import contract_of
from tests.polaris.dcb import Dcb, DcbConfig
from tests.polaris.staff import LOGIN, basic, log_in, new_staff_user, pas, site_url
from tests.polaris.support import (
    USER,
    admin_headers,
    free_text_block,
    headers,
    is_polaris_error,
    json_log,
    new_patron,
    url,
)

QUERY = {"logonBranchID": "3", "associatedblocks": "false"}


async def test_the_listener_serves_only_what_polaris_clients_call(app_client, listener, sample_tenant):
    for method, path in (
        ("GET", "/patron-block-conditions"),
        ("GET", "/polaris/staff-users"),
        ("POST", "/_/tenant"),
        ("GET", "/_/openapi"),
    ):
        resp = await listener.request(method, path, headers={"X-Okapi-Tenant": sample_tenant})
        assert resp.status == 404, (method, path)
    resp = await listener.get(site_url(sample_tenant, "/nothing/here"))
    assert resp.status == 404 and is_polaris_error(await resp.json(), -1)
    # and the FOLIO port does not serve the listener's own routes
    resp = await app_client.post(LOGIN, headers={"Authorization": basic("D", "u", "p")})
    assert resp.status == 404 and is_polaris_error(await resp.json(), -1)
    resp = await app_client.get("/PAPIService/REST/public/v1/1033/100/1/patron/x/circulationblocks")
    assert resp.status == 404


async def test_site_domains_name_tenants_through_the_mapping(aiohttp_client, settings, db_settings, sample_tenant):
    mapped = dataclasses.replace(settings, polaris_domains={"polaris": sample_tenant, "stlouis": sample_tenant})
    folio = await aiohttp_client(init_app(mapped, db_settings, contract_of(mapped.contract_dir)))
    listener = await aiohttp_client(init_polaris_app(folio.server.app))
    user, password = await new_staff_user(folio, sample_tenant, UserDomain="STLOUIS")
    auth = await log_in(listener, user, password)
    assert (auth["SiteDomain"], auth["UserDomain"]) == ("polaris", "STLOUIS")
    # DCB with its defaults (site domain "polaris") works unchanged
    dcb = Dcb(listener, DcbConfig(domain_id="STLOUIS", staff_username=user["UserName"], staff_password=password))
    assert [r["BlockID"] for r in await dcb.get_patron_blocks(1002)] == [64, 1024]
    # the header's and the URL's site domains may differ as long as they name the same tenant
    for header_site, url_site in (("polaris", sample_tenant), (sample_tenant, "polaris"), ("STLOUIS", "Polaris")):
        resp = await listener.get(
            site_url(url_site, "/patrons/1002/blockssummary"), params=QUERY, headers=pas(header_site, auth)
        )
        assert resp.status == 200, (header_site, url_site)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("polaris", "domain=tenant"),
        ("a=b,=c", "domain=tenant"),
        ("a\\b=c", "domain=tenant"),
        ("a b=c", "domain=tenant"),
    ],
)
def test_a_malformed_domain_mapping_is_refused_at_start(value, message):
    with pytest.raises(ConfigError, match=message):
        load_settings({"MOD_USERS_POLARIS_DOMAINS": value})


def test_the_settings_read_the_listener_port_and_the_mapping():
    settings = load_settings({"POLARIS_PORT": "0", "MOD_USERS_POLARIS_DOMAINS": "Polaris = diku, STLOUIS=diku"})
    assert settings.polaris_port == 0 and dict(settings.polaris_domains) == {"polaris": "diku", "stlouis": "diku"}
    assert load_settings({}).polaris_port == 8082
    with pytest.raises(ConfigError, match="POLARIS_PORT"):
        load_settings({"POLARIS_PORT": "70000"})


async def test_403s_say_which_check_failed(app_client, listener, sample_tenant):
    viewer, password = await new_staff_user(app_client, sample_tenant, permissions=["PatronStatus_Access"])
    auth = await log_in(listener, viewer, password)
    cases = [
        (
            site_url(sample_tenant, "/patrons/1002/blockssummary"),
            "permission: PatronStatus_DisplayPatronBlocks (ID 71) required",
        ),
        (site_url(sample_tenant, "/patrons/1002", workstation=3), "workstation: WorkstationID 3 is disabled"),
        (site_url(sample_tenant, "/patrons/1002", workstation=999), "workstation: WorkstationID 999 is unknown"),
        (site_url(sample_tenant, "/patrons/1002", org=999), "organization: OrganizationID 999 is unknown"),
    ]
    for path, detail in cases:
        resp = await listener.get(path, params=QUERY, headers=pas(sample_tenant, auth))
        body = await resp.json()
        assert resp.status == 403 and is_polaris_error(body, -2) and body["MessageDetail"] == detail, body
    # through the gateway, the FOLIO permission the gateway did not grant
    resp = await app_client.get(
        url("/patrons/1002/blockssummary"),
        params=QUERY,
        headers=headers(sample_tenant, ("polaris.patron-status.view",)),
    )
    body = await resp.json()
    assert resp.status == 403 and body["MessageDetail"] == "permission: polaris.patron-status.blocks.view required"


async def test_the_staff_user_is_who_changed_a_block_on_either_port(app_client, listener, sample_tenant):
    linked, _ = await new_staff_user(app_client, sample_tenant, FolioUserID=USER)
    patron = await new_patron(app_client, sample_tenant)
    with json_log("mod_users.resources.polaris") as lines:
        block = await free_text_block(app_client, sample_tenant, patron)  # through the gateway, as USER
        resp = await app_client.delete(
            url(f"/patrons/{patron}/blocks/1/{block['BlockID']}"), headers=headers(sample_tenant)
        )
        assert resp.status == 200
        other, other_password = await new_staff_user(app_client, sample_tenant)
        auth = await log_in(listener, other, other_password)
        block = await free_text_block(app_client, sample_tenant, patron)
        resp = await listener.delete(
            site_url(sample_tenant, f"/patrons/{patron}/blocks/1/{block['BlockID']}"), headers=pas(sample_tenant, auth)
        )
        assert resp.status == 200
        await app_client.delete(f"/polaris/staff-users/{linked['id']}", headers=admin_headers(sample_tenant))
        block = await free_text_block(app_client, sample_tenant, patron)
        resp = await app_client.delete(
            url(f"/patrons/{patron}/blocks/1/{block['BlockID']}"), headers=headers(sample_tenant)
        )
        assert resp.status == 200
    deleted = [(line["userId"], line["polarisUserId"]) for line in lines if line["message"] == "patron block deleted"]
    assert deleted == [(USER, linked["PolarisUserID"]), (None, other["PolarisUserID"]), (USER, None)]


def test_polaris_permissions_are_paired_by_the_descriptor():
    descriptor = render_descriptor(PROJECT_ROOT / "descriptors" / "ModuleDescriptor-template.json", "0.1.0")
    paired = PolarisPermissions.from_descriptor(descriptor)
    assert paired.folio_of["PatronStatus_DisplayPatronBlocks"] == "polaris.patron-status.blocks.view"
    assert paired.label("PatronStatus_DisplayPatronBlocks") == "PatronStatus_DisplayPatronBlocks (ID 71)"
    assert paired.label("PatronStatus_Access") == "PatronStatus_Access"
    # a renamed FOLIO permission keeps its Polaris name, either way of writing its ID; only the displayName
    # pairs (an endpoint permission's description mentions what the call also needs); a set, or a displayName
    # naming two, pairs nothing
    renamed = {
        "permissionSets": [
            {
                "permissionName": "polaris.blocks.view",
                "displayName": "Blocks (PatronStatus_DisplayPatronBlocks, ID: 71)",
            },
            {"permissionName": "polaris.blocks.manage", "displayName": "PatronStatus_CreateDeletePatronBlocks (ID 72)"},
            {
                "permissionName": "polaris.status.view",
                "displayName": "Polaris: PatronStatus_Access - patron status",
                "description": "PatronStatus_Access (with AccessPatronServices_Allow, needed to list associations)",
            },
            {
                "permissionName": "polaris.patron-blocks.summary.get",
                "displayName": "Polaris-style API - GET patrons/{id}/blockssummary",
                "description": "Endpoint permission; the call also needs PatronStatus_DisplayPatronBlocks (ID 71)",
            },
            {"permissionName": "polaris.all", "displayName": "All (PatronStatus_Access)", "subPermissions": ["x"]},
            {
                "permissionName": "polaris.two.get",
                "displayName": "PatronRegistration_Create and PatronRegistration_Modify",
            },
        ]
    }
    other = PolarisPermissions.from_descriptor(renamed)
    assert dict(other.folio_of) == {
        "PatronStatus_DisplayPatronBlocks": "polaris.blocks.view",
        "PatronStatus_CreateDeletePatronBlocks": "polaris.blocks.manage",
        "PatronStatus_Access": "polaris.status.view",
    }
    assert (other.ids["PatronStatus_DisplayPatronBlocks"], other.ids["PatronStatus_CreateDeletePatronBlocks"]) == (
        71,
        72,
    )
    assert other.granted(["PatronStatus_DisplayPatronBlocks", "Unknown_Name"]) == {"polaris.blocks.view"}


async def test_the_listener_refuses_to_start_when_a_route_desires_an_unpaired_permission(
    settings, db_settings, tmp_path
):
    import shutil

    for part in ("ramls", "schemas", "descriptors"):
        shutil.copytree(PROJECT_ROOT / part, tmp_path / part)
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    template = tmp_path / "descriptors" / "ModuleDescriptor-template.json"
    descriptor = json.loads(template.read_text())
    for entry in descriptor["permissionSets"]:
        if entry["permissionName"] == "polaris.patron-status.blocks.view":
            entry["displayName"] = entry["description"] = "Display blocks"
    template.write_text(json.dumps(descriptor))
    elsewhere = dataclasses.replace(settings, contract_dir=tmp_path)
    folio = init_app(elsewhere, db_settings, contract_of(elsewhere.contract_dir))
    with pytest.raises(RuntimeError, match=r"polaris\.patron-status\.blocks\.view"):
        init_polaris_app(folio)
