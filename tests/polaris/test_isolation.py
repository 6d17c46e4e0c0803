"""Tenant isolation of the Polaris-style resources: the same Polaris ids in two tenants are two records,
and nothing one tenant stores can be read, changed or removed through another."""

from __future__ import annotations

from mod_users.resources.polaris.ids import row_id
from tests.polaris.support import (
    admin_headers,
    associate,
    free_text_block,
    headers,
    new_patron,
    url,
)

QUERY = {"logonBranchID": "3", "associatedblocks": "false"}


async def test_another_tenant_sees_none_of_a_tenants_patrons_blocks_and_associations(
    fresh_tenant, sample_tenant, app_client
):
    a, b = await new_patron(app_client, sample_tenant), await new_patron(app_client, sample_tenant)
    block = await free_text_block(app_client, sample_tenant, a, "tenant A's secret")
    await associate(app_client, sample_tenant, a, b, Note="tenant A's note")
    other = fresh_tenant
    h = {"X-Okapi-Tenant": other}
    resp = await app_client.post(
        "/_/tenant",
        json={"module_to": "mod-users-0.1.0", "parameters": [{"key": "loadSample", "value": "true"}]},
        headers=h,
    )
    await app_client.get(resp.headers["Location"], params={"wait": "30000"}, headers=h)
    hb = headers(other)
    for path in (
        f"/patrons/{a}/blockssummary",
        f"/patrons/{a}/associations",
        f"/patrons/{a}/blocks/freetext/{block['BlockID']}",
    ):
        resp = await app_client.get(url(path), params=QUERY, headers=hb)
        assert resp.status == 404, path
    assert (await app_client.delete(url(f"/patrons/{a}/blocks/1/{block['BlockID']}"), headers=hb)).status == 404
    assert (await app_client.delete(url(f"/patrons/{a}/associations/{b}"), headers=hb)).status == 404
    assert (await app_client.get(f"/polaris/patrons/{row_id('patron', a)}", headers=admin_headers(other))).status == 404
    resp = await app_client.get(
        "/polaris/patrons", params={"query": "Registration.NameLast=Patron*"}, headers=admin_headers(other)
    )
    assert (await resp.json())["totalRecords"] == 0
    # the same sample patron id is the other tenant's own record, untouched by tenant A's changes
    own = await new_patron(app_client, other)
    assert own == 1  # tenant B's sequence is its own
    resp = await app_client.get(url("/patrons/1001/associations"), headers=hb)
    assert await resp.json() == []
    # and tenant A still has everything
    resp = await app_client.get(url(f"/patrons/{a}/associations"), headers=headers(sample_tenant))
    assert [x["Note"] for x in await resp.json()] == ["tenant A's note"]
    resp = await app_client.get(url(f"/patrons/{a}/blockssummary"), params=QUERY, headers=headers(sample_tenant))
    assert [r["BlockDescription"] for r in await resp.json()] == ["tenant A's secret"]


async def test_a_workstation_of_one_tenant_is_unknown_to_another(app_client, sample_tenant, fresh_tenant):
    created = await (
        await app_client.post(
            "/polaris/workstations",
            json={"Name": "Only in A", "OrganizationID": 3, "Enabled": True},
            headers=admin_headers(sample_tenant),
        )
    ).json()
    resp = await app_client.get(
        url("/patronblocks", workstation=created["WorkstationID"]), params={"orgID": "3"}, headers=headers(fresh_tenant)
    )
    assert resp.status == 403
