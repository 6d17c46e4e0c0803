"""Staff users through the gateway: passwords never come back, only Polaris permission names the descriptor
knows, logins unique ignoring case, and what their records must point at."""

from __future__ import annotations

import uuid

import pytest

from mod_users.resources.polaris.passwords import _matches, hash_password
from tests.polaris.staff import new_staff_user
from tests.polaris.support import admin_headers


def _body(tenant: str, **fields):
    return {
        "UserDomain": tenant,
        "UserName": f"u-{uuid.uuid4().hex[:8]}",
        "OrganizationID": 1,
        "Enabled": True,
        "Permissions": ["PatronStatus_Access"],
        "Password": "a-long-enough-password",
        **fields,
    }


async def test_a_password_is_never_returned(app_client, sample_tenant):
    user, password = await new_staff_user(app_client, sample_tenant)
    h = admin_headers(sample_tenant)
    read = await (await app_client.get(f"/polaris/staff-users/{user['id']}", headers=h)).json()
    listed = await (
        await app_client.get("/polaris/staff-users", params={"query": f"UserName=={user['UserName']}"}, headers=h)
    ).json()
    for record in (user, read, listed["staffUsers"][0]):
        assert "Password" not in record and password not in str(record)
        assert not any("scrypt" in str(v) for v in record.values())


async def test_staff_user_rules(app_client, sample_tenant):
    h = admin_headers(sample_tenant)
    taken, _ = await new_staff_user(app_client, sample_tenant)
    cases = [
        (_body(sample_tenant, Permissions=["PatronStatus_Access", "Circulation_Everything"]), "Circulation_Everything"),
        ({k: v for k, v in _body(sample_tenant).items() if k != "Password"}, "Password is required"),
        (
            _body(sample_tenant, UserDomain=taken["UserDomain"].lower(), UserName=taken["UserName"].upper()),
            "already exists",
        ),
        (_body(sample_tenant, OrganizationID=999), "Organization does not exist"),
        (_body(sample_tenant, BranchID=2), "BranchID must be a branch"),
        (_body(sample_tenant, UserName="back\\slash"), "pattern"),
        (_body(sample_tenant, Password="short"), "Password"),
        (_body(sample_tenant, FolioUserID="not-a-uuid"), "FolioUserID"),
    ]
    for body, message in cases:
        resp = await app_client.post("/polaris/staff-users", json=body, headers=h)
        text = await resp.text()
        assert resp.status == 422 and message in text, (message, text)
    linked = await app_client.post(
        "/polaris/staff-users", json=_body(sample_tenant, FolioUserID=str(uuid.uuid4())), headers=h
    )
    again = await app_client.post(
        "/polaris/staff-users", json=_body(sample_tenant, FolioUserID=(await linked.json())["FolioUserID"]), headers=h
    )
    assert again.status == 422 and "FolioUserID" in await again.text()


async def test_ids_are_allocated_and_derived(app_client, sample_tenant):
    first, _ = await new_staff_user(app_client, sample_tenant)
    second, _ = await new_staff_user(app_client, sample_tenant)
    assert second["PolarisUserID"] > first["PolarisUserID"] >= 1
    h = admin_headers(sample_tenant)
    resp = await app_client.post(
        "/polaris/staff-users", json=_body(sample_tenant, PolarisUserID=first["PolarisUserID"]), headers=h
    )
    assert resp.status == 422
    record = {k: v for k, v in first.items() if k != "metadata"}
    resp = await app_client.put(
        f"/polaris/staff-users/{first['id']}", json={**record, "PolarisUserID": 77777}, headers=h
    )
    assert resp.status == 422 and "cannot be changed" in await resp.text()


def test_hashes_are_salted_and_verify():
    one, two = hash_password("a-long-enough-password"), hash_password("a-long-enough-password")
    assert one != two and one.startswith("scrypt$16384$8$1$")
    assert _matches("a-long-enough-password", one) and not _matches("a-long-enough-passworD", one)
    assert not _matches("anything", "not a hash")


@pytest.mark.parametrize("missing", ["UserDomain", "UserName", "OrganizationID", "Enabled", "Permissions"])
async def test_required_fields(app_client, sample_tenant, missing):
    body = {k: v for k, v in _body(sample_tenant).items() if k != missing}
    resp = await app_client.post("/polaris/staff-users", json=body, headers=admin_headers(sample_tenant))
    assert resp.status == 422 and missing in await resp.text()
