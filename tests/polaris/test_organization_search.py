"""Range searches on the Polaris ids of /polaris/organizations: numbers in numeric order, although the table
declares b-tree indexes on OrganizationID and ParentOrganizationID (which hold their text)."""

from __future__ import annotations

from tests.polaris.support import admin_headers

# The sample organisations: 1 (system) > 2 (library) > 3, 4 (branches); 1 > 5 (library) > 6 (branch).
SAMPLE = "OrganizationID==(1 or 2 or 3 or 4 or 5 or 6)"


async def _organizations(client, tenant, query):
    resp = await client.get(
        "/polaris/organizations", params={"query": query, "limit": "100"}, headers=admin_headers(tenant)
    )
    assert resp.status == 200, await resp.text()
    return sorted(o["OrganizationID"] for o in (await resp.json())["organizations"])


async def test_parent_ranges_compare_numbers(app_client, sample_tenant):
    # As text "2" and "5" sort after "10": the branches 3, 4 and 6 must not be found.
    found = await _organizations(app_client, sample_tenant, f"{SAMPLE} and ParentOrganizationID>=10")
    assert found == []
    assert await _organizations(app_client, sample_tenant, f"{SAMPLE} and ParentOrganizationID>=2") == [3, 4, 6]
    assert await _organizations(app_client, sample_tenant, f"{SAMPLE} and ParentOrganizationID<2") == [2, 5]


async def test_id_ranges_compare_numbers(app_client, sample_tenant):
    assert await _organizations(app_client, sample_tenant, f"{SAMPLE} and OrganizationID<10") == [1, 2, 3, 4, 5, 6]
    assert await _organizations(app_client, sample_tenant, f"{SAMPLE} and OrganizationID>5") == [6]
