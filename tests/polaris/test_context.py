"""What every Polaris-style route shares: the URL prefix in any letter case, checked route parts, the
staff user's permissions and workstation, and Polaris-shaped answers for every failure."""

from __future__ import annotations

import pytest

from mod_users.app import init_app
from mod_users.config import DatabaseSettings
from mod_users.storage.embedded import free_port
from mod_users.storage.records import RecordStore
from tests.conftest import contract_of
from tests.polaris.support import (
    BLOCKS_DISPLAY,
    DISABLED_WORKSTATION,
    UNKNOWN,
    headers,
    is_polaris_error,
    new_patron,
    template,
    url,
)

SUMMARY = "/patrons/1002/blockssummary"
SUMMARY_QUERY = {"logonBranchID": "3", "associatedblocks": "false"}


@pytest.mark.parametrize(
    "prefix",
    [
        "/polaris.applicationservices/api",
        "/Polaris.ApplicationServices/api",
        "/POLARIS.APPLICATIONSERVICES/API",
        "/polaris.ApplicationServices/Api",
    ],
)
async def test_the_prefix_matches_in_any_letter_case(app_client, sample_tenant, prefix):
    resp = await app_client.get(url(SUMMARY, prefix=prefix), params=SUMMARY_QUERY, headers=headers(sample_tenant))
    assert resp.status == 200, await resp.text()
    assert [row["BlockID"] for row in await resp.json()] == [64, 1024]


async def test_only_the_prefix_is_case_insensitive(app_client, sample_tenant):
    resp = await app_client.get(
        url("/Patrons/1002/BlocksSummary"), params=SUMMARY_QUERY, headers=headers(sample_tenant)
    )
    assert resp.status == 404
    assert is_polaris_error(await resp.json(), -1)


@pytest.mark.parametrize(
    ("method", "resource", "status"),
    [
        ("GET", "/patrons/1001/nosuch", 404),
        ("DELETE", "/patrons/1001/associations/", 404),
        ("DELETE", "/patrons/1001/associations", 405),
    ],
)
async def test_a_call_no_route_serves_answers_a_polaris_error(app_client, sample_tenant, method, resource, status):
    # A Polaris client reads Polaris error objects, also for a URL or method the module does not serve.
    resp = await app_client.request(method, url(resource), headers=headers(sample_tenant))
    assert resp.status == status
    body = await resp.json()
    assert is_polaris_error(body, -1) and "No such call" in body["Message"]
    if status == 405:
        assert "GET" in resp.headers["Allow"]


@pytest.mark.parametrize(
    ("part", "value"),
    [
        ("version", "v2"),
        ("lang", "en"),
        ("lang", "ENG"),
        ("product", "x"),
        ("org", "main"),
        ("workstation", "1.5"),
        # int() reads these as 3, 1 and 19: only ASCII digits name an id
        ("org", "\u0663"),
        ("org", "+3"),
        ("org", " 3"),
        ("org", "3 "),
        ("workstation", "\uff11"),
        ("product", "+19"),
        ("product", "-0"),
    ],
)
async def test_route_parts_are_checked(app_client, sample_tenant, part, value):
    parts = {"lang": "eng", "product": "19", "org": "3", "workstation": "1", "version": "v1"}
    parts[part] = value
    path = (
        f"/polaris.applicationservices/api/{parts['version']}/{parts['lang']}/{parts['product']}/polaris/"
        f"{parts['org']}/{parts['workstation']}{SUMMARY}"
    )
    resp = await app_client.get(path, params=SUMMARY_QUERY, headers=headers(sample_tenant))
    assert resp.status == 400
    body = await resp.json()
    assert is_polaris_error(body, -1)
    assert "Invalid value for parameter" in body["Message"]


@pytest.mark.parametrize("lang", ["ara", "chi", "eng", "fas", "fre", "hat", "haw", "kor", "rus", "spa", "vie"])
async def test_every_iso_639_2_language_is_accepted(app_client, sample_tenant, lang):
    resp = await app_client.get(url(SUMMARY, lang=lang), params=SUMMARY_QUERY, headers=headers(sample_tenant))
    assert resp.status == 200


@pytest.mark.parametrize("workstation", [UNKNOWN, DISABLED_WORKSTATION])
async def test_an_unknown_or_disabled_workstation_is_not_privileged(app_client, sample_tenant, workstation):
    resp = await app_client.get(
        url(SUMMARY, workstation=workstation), params=SUMMARY_QUERY, headers=headers(sample_tenant)
    )
    assert resp.status == 403
    body = await resp.json()
    assert is_polaris_error(body, -2) and body["Message"] == "User or workstation is not privileged."


async def test_a_missing_permission_is_not_privileged(app_client, sample_tenant):
    for granted in ((), ("polaris.patron-status.view",)):
        resp = await app_client.get(url(SUMMARY), params=SUMMARY_QUERY, headers=headers(sample_tenant, granted))
        assert resp.status == 403
        assert is_polaris_error(await resp.json(), -2)
    resp = await app_client.get(url(SUMMARY), params=SUMMARY_QUERY, headers=headers(sample_tenant, (BLOCKS_DISPLAY,)))
    assert resp.status == 200


async def test_tenant_failures_are_polaris_errors(app_client, sample_tenant):
    resp = await app_client.get(url(SUMMARY), params=SUMMARY_QUERY)
    assert resp.status == 400 and is_polaris_error(await resp.json(), -1)
    resp = await app_client.get(url(SUMMARY), params=SUMMARY_QUERY, headers=headers("neverinitialised"))
    assert resp.status == 400
    body = await resp.json()
    assert is_polaris_error(body, -1) and "not initialised" in body["Message"]


async def test_a_too_large_body_is_a_polaris_error(app_client, sample_tenant):
    body = {"BlockType": 1, "BlockDescription": "x" * 2_000_000}
    resp = await app_client.post(url("/patrons/1001/blocks"), json=body, headers=headers(sample_tenant))
    assert resp.status == 413
    assert is_polaris_error(await resp.json(), -3)


@pytest.mark.parametrize("data", [b"{", b"", b"[]", b'{"BlockType": "one"}', b'{"BlockType": 1, "Color": 2}'])
async def test_a_malformed_body_is_a_polaris_error(app_client, sample_tenant, data):
    resp = await app_client.post(
        url("/patrons/1001/blocks"), data=data, headers={**headers(sample_tenant), "Content-Type": "application/json"}
    )
    assert resp.status == 400
    assert is_polaris_error(await resp.json(), -1)


async def test_our_own_failures_are_polaris_errors_without_details(app_client, sample_tenant, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(RecordStore, "get", broken)
    resp = await app_client.get(url(SUMMARY), params=SUMMARY_QUERY, headers=headers(sample_tenant))
    assert resp.status == 500
    body = await resp.json()
    assert is_polaris_error(body, -4) and "secret" not in await resp.text()
    assert body["StackTrace"] is None


@pytest.mark.parametrize(
    ("method", "resource", "path", "params"),
    [
        ("GET", "/patronblocks", "/patronblocks", {"orgID": "3"}),
        ("GET", "/patrons/{patronId}/blockssummary", SUMMARY, SUMMARY_QUERY),
        # a change: the workstation is looked up before its transaction begins, and that is what fails here
        ("DELETE", "/patrons/{patronId}/blocks/{blockType}/{blockId}", "/patrons/1001/blocks/1/1", {}),
    ],
)
async def test_without_a_database_a_route_answers_503_database_unavailable(
    aiohttp_client, settings, method, resource, path, params
):
    nowhere = DatabaseSettings(host="127.0.0.1", port=free_port(), password="x")  # nothing listens there
    contract = contract_of(settings.contract_dir)
    client = await aiohttp_client(init_app(settings, nowhere, contract))
    resp = await client.request(method, url(path), params=params, headers=headers("diku"))
    assert resp.status == 503
    body = await resp.json()
    assert is_polaris_error(body, -5) and body["Message"] == "Database unavailable, try again later"
    # the Polaris error type the route's RAML declares for its failures (503 is in its ErrorCode table)
    declared = contract.endpoint(method, template(resource)).responses[500].bodies["application/json"]
    assert contract.schemas.errors(contract.schema_key(declared), body) == []


async def test_folio_routes_keep_their_text_answers(app_client):
    resp = await app_client.get("/polaris/patrons")
    assert resp.status == 400 and resp.content_type == "text/plain"


async def test_a_body_with_a_nul_character_is_refused_before_storage(app_client, sample_tenant):
    resp = await app_client.post(
        url("/patrons/1001/blocks"), json={"BlockType": 1, "BlockDescription": "a\x00b"}, headers=headers(sample_tenant)
    )
    assert resp.status == 400
    body = await resp.json()
    assert is_polaris_error(body, -1) and "\\u0000" in body["Message"]
    resp = await app_client.post(
        "/polaris/organizations",
        json={"OrganizationCodeID": 1, "Name": "x", "Abbreviation": "\x00"},
        headers={"X-Okapi-Tenant": sample_tenant},
    )
    assert resp.status == 400 and resp.content_type == "text/plain"


async def test_an_unknown_logon_organisation_is_not_privileged_and_nothing_is_stored(app_client, sample_tenant):
    patron = await new_patron(app_client, sample_tenant)
    resp = await app_client.post(
        url(f"/patrons/{patron}/blocks", org=UNKNOWN),
        json={"BlockType": 1, "BlockDescription": "placed from nowhere"},
        headers=headers(sample_tenant),
    )
    assert resp.status == 403
    body = await resp.json()
    assert is_polaris_error(body, -2) and body["Message"] == "User or workstation is not privileged."
    resp = await app_client.get(url(SUMMARY, org=UNKNOWN), params=SUMMARY_QUERY, headers=headers(sample_tenant))
    assert resp.status == 403 and is_polaris_error(await resp.json(), -2)
    resp = await app_client.get(
        url(f"/patrons/{patron}/blockssummary"), params=SUMMARY_QUERY, headers=headers(sample_tenant)
    )
    assert await resp.json() == []
