"""The configuration of the Polaris-style API: sample data, CRUD with CQL, derived and allocated Polaris
ids, references that must hold, and what goes with a deleted patron."""

from __future__ import annotations

import json
import uuid

import pytest

from mod_users.config import PROJECT_ROOT
from mod_users.resources.polaris.ids import BLOCK_DESCRIPTION, COUNTRY, ORGANIZATION, PATRON, WORKSTATION, row_id
from tests.polaris.support import (
    BRANCH,
    admin_headers,
    associate,
    free_text_block,
    headers,
    new_patron,
    url,
)

SAMPLE = PROJECT_ROOT / "sample-data"
REFERENCE = PROJECT_ROOT / "reference-data"
KINDS = {
    "polaris-organizations": ORGANIZATION,
    "polaris-block-descriptions": BLOCK_DESCRIPTION,
    "polaris-workstations": WORKSTATION,
    "polaris-patrons": PATRON,
    "polaris-countries": COUNTRY,
}


def _abbreviation() -> str:
    return f"T{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("folder", sorted(KINDS))
def test_sample_and_reference_records_carry_the_id_derived_from_their_polaris_id(folder):
    kind = KINDS[folder]
    files = sorted((SAMPLE / folder).glob("*.json")) + sorted((REFERENCE / folder).glob("*.json"))
    assert files
    for path in files:
        record = json.loads(path.read_text())
        assert record["id"] == kind.row_id(record[kind.field]), path.name


async def test_sample_data_is_loaded(app_client, sample_tenant):
    h = admin_headers(sample_tenant)
    organizations = (
        await (
            await app_client.get("/polaris/organizations", params={"query": "OrganizationID==(1 or 2 or 3)"}, headers=h)
        ).json()
    )["organizations"]
    by_id = {o["OrganizationID"]: o for o in organizations}
    assert by_id[1]["OrganizationCodeID"] == 1 and by_id[1]["ParentOrganizationID"] is None
    assert (by_id[2]["ParentOrganizationID"], by_id[3]["ParentOrganizationID"]) == (1, 2)
    workstations = (
        await (
            await app_client.get(
                "/polaris/workstations",
                params={"query": "WorkstationID==(1 or 2 or 3 or 4) and Enabled==false"},
                headers=h,
            )
        ).json()
    )["workstations"]
    assert [w["WorkstationID"] for w in workstations] == [3]
    patron = await (await app_client.get(f"/polaris/patrons/{row_id('patron', 1003)}", headers=h)).json()
    assert patron["RecordStatusID"] == 3 and patron["_version"] == 1


async def test_sample_loading_keeps_edits_and_is_isolated_per_tenant(fresh_tenant, sample_tenant, app_client):
    h = admin_headers(fresh_tenant)
    resp = await app_client.get("/polaris/patrons", headers=h)
    assert (await resp.json())["totalRecords"] == 0  # fresh_tenant has no sample data
    resp = await app_client.post(
        "/_/tenant",
        json={"module_to": "mod-users-0.1.0", "parameters": [{"key": "loadSample", "value": "true"}]},
        headers=h,
    )
    job = await (await app_client.get(resp.headers["Location"], params={"wait": "30000"}, headers=h)).json()
    assert "polaris-patrons: 6 of 6 records added" in job["messages"]
    renamed = await (await app_client.get(f"/polaris/organizations/{row_id('organization', 3)}", headers=h)).json()
    renamed["Name"] = "Renamed branch"
    renamed.pop("metadata")
    assert (await app_client.put(f"/polaris/organizations/{renamed['id']}", json=renamed, headers=h)).status == 204
    resp = await app_client.post(
        "/_/tenant",
        json={"module_to": "mod-users-0.1.0", "parameters": [{"key": "loadSample", "value": "true"}]},
        headers=h,
    )
    job = await (await app_client.get(resp.headers["Location"], params={"wait": "30000"}, headers=h)).json()
    assert "polaris-organizations: 0 of 6 records added" in job["messages"]
    stored = await (await app_client.get(f"/polaris/organizations/{renamed['id']}", headers=h)).json()
    assert stored["Name"] == "Renamed branch"
    other = await (
        await app_client.get(f"/polaris/organizations/{renamed['id']}", headers=admin_headers(sample_tenant))
    ).json()
    assert other["Name"] == "Riverside Main Branch"


async def test_a_new_record_gets_a_polaris_id_and_the_id_derived_from_it(app_client, sample_tenant):
    h = admin_headers(sample_tenant)
    resp = await app_client.post(
        "/polaris/organizations",
        json={
            "OrganizationCodeID": 3,
            "ParentOrganizationID": 2,
            "Name": "Pop-up branch",
            "Abbreviation": _abbreviation(),
        },
        headers=h,
    )
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["OrganizationID"] > 6 and created["id"] == row_id("organization", created["OrganizationID"])
    assert resp.headers["Location"] == f"/polaris/organizations/{created['id']}"
    again = await app_client.post(
        "/polaris/organizations",
        json={"OrganizationCodeID": 3, "ParentOrganizationID": 2, "Name": "Pop-up 2", "Abbreviation": _abbreviation()},
        headers=h,
    )
    assert (await again.json())["OrganizationID"] > created["OrganizationID"]


async def test_an_explicit_polaris_id_is_kept_and_never_handed_out_again(app_client, fresh_tenant):
    h = admin_headers(fresh_tenant)
    system = {"OrganizationCodeID": 1, "Name": "System", "Abbreviation": "SYS"}
    resp = await app_client.post("/polaris/organizations", json={**system, "OrganizationID": 1}, headers=h)
    assert resp.status == 201
    library = {"OrganizationCodeID": 2, "ParentOrganizationID": 1, "Name": "Library", "Abbreviation": "LIB"}
    resp = await app_client.post("/polaris/organizations", json={**library, "OrganizationID": 40}, headers=h)
    assert (await resp.json())["OrganizationID"] == 40
    resp = await app_client.post("/polaris/organizations", json={**library, "Abbreviation": "LIB2"}, headers=h)
    assert (await resp.json())["OrganizationID"] == 41
    resp = await app_client.post(
        "/polaris/organizations", json={**library, "Abbreviation": "LIB3", "OrganizationID": 40}, headers=h
    )
    assert resp.status == 422
    assert "OrganizationID 40 already exists" in await resp.text()


async def test_after_the_largest_32_bit_id_allocation_starts_over_at_the_first_free_one(app_client, fresh_tenant):
    """Polaris ids are 32-bit: an explicit 2147483647 must not make the next allocated id unrepresentable
    (schemathesis found a CountryID of 2147483648 in a 201)."""
    h = admin_headers(fresh_tenant)
    country = {"Name": "Edge", "PostalCodeFormats": ["9999"]}
    top = await app_client.post("/polaris/countries", json={**country, "CountryID": 2147483647}, headers=h)
    assert top.status == 201
    one = await app_client.post("/polaris/countries", json={**country, "Name": "One", "CountryID": 1}, headers=h)
    assert one.status == 201
    resp = await app_client.post("/polaris/countries", json={**country, "Name": "Next"}, headers=h)
    assert resp.status == 201
    assert (await resp.json())["CountryID"] == 2  # wrapped past the top, 1 being taken


async def test_allocation_skips_ids_taken_by_sample_data(fresh_tenant, app_client):
    h = admin_headers(fresh_tenant)
    # Sample data is stored as it is, without moving the sequences: allocation must step over it.
    resp = await app_client.post(
        "/_/tenant",
        json={"module_to": "mod-users-0.1.0", "parameters": [{"key": "loadSample", "value": "true"}]},
        headers=h,
    )
    await app_client.get(resp.headers["Location"], params={"wait": "30000"}, headers=h)
    resp = await app_client.post(
        "/polaris/organizations",
        json={"OrganizationCodeID": 3, "ParentOrganizationID": 2, "Name": "New", "Abbreviation": "NEW"},
        headers=h,
    )
    assert (await resp.json())["OrganizationID"] == 7


async def test_the_id_must_be_the_derived_one(app_client, sample_tenant):
    resp = await app_client.post(
        "/polaris/workstations",
        json={"id": str(uuid.uuid4()), "Name": "X", "OrganizationID": BRANCH, "Enabled": True},
        headers=admin_headers(sample_tenant),
    )
    assert resp.status == 422
    assert "id is derived from WorkstationID" in await resp.text()


async def test_the_polaris_id_cannot_change_and_may_be_left_out(app_client, sample_tenant):
    h = admin_headers(sample_tenant)
    resp = await app_client.post(
        "/polaris/workstations", json={"Name": "Kiosk", "OrganizationID": BRANCH, "Enabled": True}, headers=h
    )
    created = await resp.json()
    path = f"/polaris/workstations/{created['id']}"
    changed = {"Name": "Kiosk 2", "OrganizationID": BRANCH, "Enabled": False, "_version": 1}
    resp = await app_client.put(path, json={**changed, "WorkstationID": created["WorkstationID"] + 1}, headers=h)
    assert resp.status == 422 and "WorkstationID cannot be changed" in await resp.text()
    assert (await app_client.put(path, json=changed, headers=h)).status == 204
    stored = await (await app_client.get(path, headers=h)).json()
    assert (stored["WorkstationID"], stored["Name"], stored["Enabled"]) == (created["WorkstationID"], "Kiosk 2", False)
    assert (await app_client.put(path, json={**changed, "_version": 1}, headers=h)).status == 409
    assert (await app_client.put(f"/polaris/workstations/{uuid.uuid4()}", json=changed, headers=h)).status == 404


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"OrganizationCodeID": 1, "ParentOrganizationID": 1}, "ParentOrganizationID"),
        ({"OrganizationCodeID": 2, "ParentOrganizationID": 2}, "ParentOrganizationID"),
        ({"OrganizationCodeID": 2}, "ParentOrganizationID"),
        ({"OrganizationCodeID": 3, "ParentOrganizationID": 1}, "ParentOrganizationID"),
        ({"OrganizationCodeID": 3, "ParentOrganizationID": 999999}, "ParentOrganizationID"),
    ],
)
async def test_the_hierarchy_is_system_library_branch(app_client, sample_tenant, record, field):
    resp = await app_client.post(
        "/polaris/organizations",
        json={"Name": "Misplaced", "Abbreviation": _abbreviation(), **record},
        headers=admin_headers(sample_tenant),
    )
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["parameters"][0]["key"] == field


@pytest.mark.parametrize(
    ("path", "record", "message"),
    [
        ("/polaris/block-descriptions", {"OrganizationID": 999999, "Description": "x"}, "Organization does not exist"),
        (
            "/polaris/workstations",
            {"OrganizationID": 999999, "Name": "x", "Enabled": True},
            "Organization does not exist",
        ),
        (
            "/polaris/patrons",
            {"OrganizationID": 2, "Barcode": "X1", "Registration": {"NameLast": "L"}},
            "must be a branch",
        ),
        (
            "/polaris/patrons",
            {"OrganizationID": 3, "Barcode": "X1", "SystemBlocks": 65, "Registration": {"NameLast": "L"}},
            "multiple of 64",
        ),
        (
            "/polaris/patrons",
            {"OrganizationID": 3, "Barcode": "21001000000011", "Registration": {"NameLast": "L"}},
            "already exists",
        ),
        (
            "/polaris/patrons",
            {"OrganizationID": 3, "Barcode": "X1", "RecordStatusID": 9, "Registration": {"NameLast": "L"}},
            "RecordStatusID",
        ),
    ],
)
async def test_references_and_values_must_hold(app_client, sample_tenant, path, record, message):
    resp = await app_client.post(path, json=record, headers=admin_headers(sample_tenant))
    assert resp.status == 422
    assert message in await resp.text()


async def test_patrons_are_searchable_by_barcode_and_name(app_client, sample_tenant):
    resp = await app_client.get(
        "/polaris/patrons", params={"query": 'Registration.NameLast=="Babb*"'}, headers=admin_headers(sample_tenant)
    )
    assert [p["PatronID"] for p in (await resp.json())["patrons"]] == [1002]
    resp = await app_client.get(
        "/polaris/patrons", params={"query": "21001000000035"}, headers=admin_headers(sample_tenant)
    )
    assert [p["PatronID"] for p in (await resp.json())["patrons"]] == [1003]


async def test_deleting_a_patron_removes_its_blocks_and_both_sides_of_its_associations(app_client, sample_tenant):
    a, b = await new_patron(app_client, sample_tenant), await new_patron(app_client, sample_tenant)
    await free_text_block(app_client, sample_tenant, a)
    await associate(app_client, sample_tenant, a, b)
    resp = await app_client.delete(f"/polaris/patrons/{row_id('patron', a)}", headers=admin_headers(sample_tenant))
    assert resp.status == 204
    h = headers(sample_tenant)
    assert await (await app_client.get(url(f"/patrons/{b}/associations"), headers=h)).json() == []
    # the PatronID is not reused, so a new patron cannot inherit the old one's blocks
    c = await new_patron(app_client, sample_tenant)
    assert c != a
    resp = await app_client.get(
        url(f"/patrons/{a}/blockssummary"), params={"logonBranchID": "3", "associatedblocks": "false"}, headers=h
    )
    assert resp.status == 404
    assert (
        await app_client.delete(f"/polaris/patrons/{row_id('patron', a)}", headers=admin_headers(sample_tenant))
    ).status == 404


async def test_a_barcode_is_stored_trimmed_as_registration_stores_it(app_client, sample_tenant):
    h = admin_headers(sample_tenant)
    barcode = f"T{uuid.uuid4().int % 10**12:012d}"
    registration = {"NameLast": "Trimmed"}
    resp = await app_client.post(
        "/polaris/patrons",
        json={"Barcode": f" {barcode}\r\n", "OrganizationID": BRANCH, "Registration": registration},
        headers=h,
    )
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["Barcode"] == barcode
    resp = await app_client.post(
        "/polaris/patrons", json={"Barcode": barcode, "OrganizationID": BRANCH, "Registration": registration}, headers=h
    )
    assert resp.status == 422 and "already exists" in await resp.text()
    created.pop("metadata")
    resp = await app_client.put(
        f"/polaris/patrons/{created['id']}", json={**created, "Barcode": f"{barcode}9 "}, headers=h
    )
    assert resp.status == 204, await resp.text()
    stored = await (await app_client.get(f"/polaris/patrons/{created['id']}", headers=h)).json()
    assert stored["Barcode"] == f"{barcode}9"
    resp = await app_client.post(
        "/polaris/patrons", json={"Barcode": " \t ", "OrganizationID": BRANCH, "Registration": registration}, headers=h
    )
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["parameters"][0]["key"] == "Barcode"


@pytest.mark.parametrize(
    "path",
    [
        "/polaris/organizations",
        "/polaris/block-descriptions",
        "/polaris/workstations",
        "/polaris/patrons",
        "/polaris/countries",
    ],
)
async def test_a_version_beyond_32_bits_is_refused_by_the_schema(app_client, sample_tenant, path):
    h = admin_headers(sample_tenant)
    key = path.rsplit("/", 1)[1].replace("-d", "D")
    [record] = (await (await app_client.get(path, params={"limit": "1"}, headers=h)).json())[key]
    record.pop("metadata")
    resp = await app_client.put(f"{path}/{record['id']}", json={**record, "_version": 10**20}, headers=h)
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["errors"][0]["parameters"][0]["key"] == "_version"


async def _organization(client, tenant, level, parent, **fields):
    resp = await client.post(
        "/polaris/organizations",
        json={
            "OrganizationCodeID": level,
            "ParentOrganizationID": parent,
            "Name": "Moving",
            "Abbreviation": _abbreviation(),
            **fields,
        },
        headers=admin_headers(tenant),
    )
    assert resp.status == 201, await resp.text()
    record = await resp.json()
    record.pop("metadata")
    return record


async def _move(client, tenant, organization, **changes):
    resp = await client.put(
        f"/polaris/organizations/{organization['id']}", json={**organization, **changes}, headers=admin_headers(tenant)
    )
    if resp.status == 204:
        organization["_version"] += 1
    return resp


async def test_an_organisation_others_belong_to_keeps_its_level_and_parent(app_client, sample_tenant):
    h = admin_headers(sample_tenant)
    library = await _organization(app_client, sample_tenant, 2, 1)
    branch = await _organization(app_client, sample_tenant, 3, library["OrganizationID"])
    # a library with a branch cannot become a branch
    resp = await _move(app_client, sample_tenant, library, OrganizationCodeID=3, ParentOrganizationID=2)
    assert resp.status == 422
    error = (await resp.json())["errors"][0]
    assert error["message"] == (
        "OrganizationCodeID and ParentOrganizationID cannot change while organizations "
        f"belong to organization {library['OrganizationID']}"
    )
    assert error["parameters"][0] == {"key": "OrganizationCodeID", "value": "3"}
    # nothing belongs to the branch yet: it may move, and other fields change as before
    assert (await _move(app_client, sample_tenant, branch, ParentOrganizationID=2)).status == 204
    assert (await _move(app_client, sample_tenant, library, Name="Renamed")).status == 204
    resp = await app_client.post(
        "/polaris/workstations",
        json={"Name": "Moving", "OrganizationID": branch["OrganizationID"], "Enabled": True},
        headers=h,
    )
    assert resp.status == 201
    patron = await new_patron(app_client, sample_tenant, branch["OrganizationID"])
    resp = await _move(app_client, sample_tenant, branch, ParentOrganizationID=5)
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["message"] == (
        f"ParentOrganizationID cannot change while patrons and workstations belong to organization "
        f"{branch['OrganizationID']}"
    )
    stored = await (await app_client.get(f"/polaris/organizations/{branch['id']}", headers=h)).json()
    assert stored["ParentOrganizationID"] == 2
    assert (await app_client.delete(f"/polaris/patrons/{row_id('patron', patron)}", headers=h)).status == 204
    resp = await _move(app_client, sample_tenant, branch, OrganizationCodeID=2, ParentOrganizationID=1)
    assert resp.status == 422 and "while workstations belong" in await resp.text()


async def test_the_sample_branch_with_patrons_cannot_become_a_library(app_client, fresh_tenant):
    # A tenant of its own: were the rule broken, the session's sample branch would become a library.
    h = admin_headers(fresh_tenant)
    resp = await app_client.post(
        "/_/tenant",
        json={"module_to": "mod-users-0.1.0", "parameters": [{"key": "loadSample", "value": "true"}]},
        headers=h,
    )
    await app_client.get(resp.headers["Location"], params={"wait": "30000"}, headers=h)
    branch = await (await app_client.get(f"/polaris/organizations/{row_id('organization', 3)}", headers=h)).json()
    branch.pop("metadata")
    resp = await app_client.put(
        f"/polaris/organizations/{branch['id']}",
        json={**branch, "OrganizationCodeID": 2, "ParentOrganizationID": 1},
        headers=h,
    )
    assert resp.status == 422
    assert "cannot change while patrons and workstations belong to organization 3" in await resp.text()


async def _delete(client, tenant, organization_id):
    return await client.delete(
        f"/polaris/organizations/{row_id('organization', organization_id)}", headers=admin_headers(tenant)
    )


async def test_an_organisation_others_belong_to_cannot_be_deleted(app_client, sample_tenant):
    h = admin_headers(sample_tenant)
    library = await _organization(app_client, sample_tenant, 2, 1)
    branch = await _organization(app_client, sample_tenant, 3, library["OrganizationID"])
    resp = await app_client.post(
        "/polaris/block-descriptions",
        json={"OrganizationID": library["OrganizationID"], "Description": "Library's own"},
        headers=h,
    )
    description = (await resp.json())["id"]
    resp = await app_client.post(
        "/polaris/workstations",
        json={"Name": "Desk", "OrganizationID": branch["OrganizationID"], "Enabled": True},
        headers=h,
    )
    workstation = (await resp.json())["id"]
    patron = await new_patron(app_client, sample_tenant, branch["OrganizationID"])

    resp = await _delete(app_client, sample_tenant, branch["OrganizationID"])
    assert resp.status == 422
    assert (await resp.json())["errors"] == [
        {
            "message": f"Organization {branch['OrganizationID']} cannot be deleted while patrons and workstations "
            "belong to it",
            "type": "1",
            "code": "-1",
            "parameters": [{"key": "OrganizationID", "value": str(branch["OrganizationID"])}],
        }
    ]
    resp = await _delete(app_client, sample_tenant, library["OrganizationID"])
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["message"] == (
        f"Organization {library['OrganizationID']} cannot be deleted while organizations and block descriptions "
        "belong to it"
    )
    assert (await app_client.get(f"/polaris/organizations/{branch['id']}", headers=h)).status == 200

    # once nothing belongs to them they go, the branch first
    assert (await app_client.delete(f"/polaris/patrons/{row_id('patron', patron)}", headers=h)).status == 204
    assert (await app_client.delete(f"/polaris/workstations/{workstation}", headers=h)).status == 204
    assert (await _delete(app_client, sample_tenant, branch["OrganizationID"])).status == 204
    resp = await _delete(app_client, sample_tenant, library["OrganizationID"])
    assert resp.status == 422 and "while block descriptions belong to it" in await resp.text()
    assert (await app_client.delete(f"/polaris/block-descriptions/{description}", headers=h)).status == 204
    assert (await _delete(app_client, sample_tenant, library["OrganizationID"])).status == 204
    assert (await _delete(app_client, sample_tenant, library["OrganizationID"])).status == 404


async def test_the_sample_hierarchy_survives_deletes_of_its_organisations(app_client, fresh_tenant):
    # A tenant of its own: were the rule broken, the session's sample library and branch would be gone.
    h = admin_headers(fresh_tenant)
    resp = await app_client.post(
        "/_/tenant",
        json={"module_to": "mod-users-0.1.0", "parameters": [{"key": "loadSample", "value": "true"}]},
        headers=h,
    )
    await app_client.get(resp.headers["Location"], params={"wait": "30000"}, headers=h)
    for organization_id, what in (
        (5, "organizations and block descriptions"),
        (6, "patrons and workstations"),
        (1, "organizations and block descriptions"),
    ):
        resp = await _delete(app_client, fresh_tenant, organization_id)
        assert resp.status == 422
        assert f"cannot be deleted while {what} belong to it" in await resp.text()
    # branch 6 still offers the system's block and its library's, as before
    resp = await app_client.get(
        url("/patronblocks", org=6, workstation=4), params={"orgID": "6"}, headers=headers(fresh_tenant)
    )
    assert [b["BlockID"] for b in await resp.json()] == [1, 4]
