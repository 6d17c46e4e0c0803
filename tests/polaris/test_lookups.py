"""Patron look-ups: the patron's record, a barcode's PatronID, a patron's barcode, a branch's defaults, with
their permissions and the secured-record rule, on both ports."""

from __future__ import annotations

import pytest

from tests.polaris.staff import log_in, new_staff_user, pas, site_url
from tests.polaris.support import SECURED_PATRON, UNKNOWN, headers, is_polaris_error, new_patron, stored_patron, url


async def _get(client, tenant, path, expected, code=None, **params):
    resp = await client.get(url(path), params=params, headers=headers(tenant))
    body = await resp.json()
    assert resp.status == expected, body
    if code is not None:
        assert is_polaris_error(body, code), body
    return body


@pytest.fixture
def folio(app_client):
    return app_client


async def test_the_patron_record(folio, sample_tenant):
    patron_id = await new_patron(
        folio,
        sample_tenant,
        PatronCodeID=2,
        CreatorID=7,
        Registration={"NameFirst": "Ada", "NameLast": "King", "NameTitle": "Countess", "Password": None},
    )
    data = await _get(folio, sample_tenant, f"/patrons/{patron_id}", 200)
    stored = await stored_patron(folio, sample_tenant, patron_id)
    assert (data["PatronID"], data["Barcode"], data["PatronCodeID"], data["OrganizationID"]) == (
        patron_id,
        stored["Barcode"],
        2,
        3,
    )
    assert data["PatronCode"] == {"PatronCodeID": 2, "Description": None}
    assert (data["CreatorID"], data["ModifierID"]) == (7, None)  # Polaris user ids
    assert (data["SystemBlocks"], data["RecordStatusID"], data["ChargesAmount"]) == (0, 1, 0)
    registration = data["Registration"]
    assert registration["NameTitle"] == {"NameTitleID": None, "Description": "Countess"}
    assert (registration["PatronFullName"], registration["PatronFirstLastName"]) == ("King, Ada", "Ada King")
    assert registration["Password"] is None and registration["PatronID"] == patron_id
    await _get(folio, sample_tenant, f"/patrons/{UNKNOWN}", 404, -3000)
    await _get(folio, sample_tenant, f"/patrons/{SECURED_PATRON}", 409, -3001)


async def test_a_barcodes_patron_id(folio, sample_tenant):
    patron_id = await new_patron(folio, sample_tenant, Barcode="Look-Up-0001")
    for sent in ("Look-Up-0001", "LOOK-UP-0001", " look-up-0001 "):
        assert await _get(folio, sample_tenant, "/ids/patrons", 200, id=sent, type="barcode") == patron_id
    # a secured patron's id is not one of its details
    secured = await stored_patron(folio, sample_tenant, SECURED_PATRON)
    assert (
        await _get(folio, sample_tenant, "/ids/patrons", 200, id=secured["Barcode"], type="barcode") == SECURED_PATRON
    )
    body = await _get(folio, sample_tenant, "/ids/patrons", 404, -3000, id="no*such?barcode", type="barcode")
    assert "no*such?barcode" in body["Message"]
    await _get(folio, sample_tenant, "/ids/patrons", 400, -1, id="Look-Up-0001", type="username")
    await _get(folio, sample_tenant, "/ids/patrons", 400, -1, type="barcode")


async def test_a_patrons_barcode(folio, sample_tenant):
    assert await _get(folio, sample_tenant, "/barcodes/patrons/1002", 200) == "21001000000028"
    await _get(folio, sample_tenant, f"/barcodes/patrons/{SECURED_PATRON}", 409, -3001)
    await _get(folio, sample_tenant, f"/barcodes/patrons/{UNKNOWN}", 404, -3000)


async def test_patron_defaults_are_inherited_field_by_field(folio, sample_tenant):
    riverside = {"City": "Riverside", "State": "CA", "PostalCode": "92501", "County": None, "CountryID": 1}
    assert await _get(folio, sample_tenant, "/patrondefaults", 200, orgid=3) == riverside
    assert await _get(folio, sample_tenant, "/patrondefaults", 200, orgid=1) == riverside
    hillview = await _get(folio, sample_tenant, "/patrondefaults", 200, orgid=6)
    assert hillview == {**riverside, "City": "Hillview", "PostalCode": "92555"}
    await _get(folio, sample_tenant, "/patrondefaults", 404, -5000, orgid=UNKNOWN)


@pytest.mark.parametrize(
    ("resource", "params", "polaris", "folio"),
    [
        ("/patrons/1002", {}, "PatronStatus_Access", "polaris.patron-status.view"),
        (
            "/ids/patrons",
            {"id": "21001000000028", "type": "barcode"},
            "PatronStatus_Access",
            "polaris.patron-status.view",
        ),
        ("/barcodes/patrons/1002", {}, "PatronStatus_Access", "polaris.patron-status.view"),
        ("/patrondefaults", {"orgid": "3"}, "PatronRegistration_Access", "polaris.patron-registration.view"),
    ],
)
async def test_each_look_up_needs_its_permission_on_both_ports(
    app_client, listener, sample_tenant, resource, params, polaris, folio
):
    others = [p for p in ("PatronStatus_Access", "PatronRegistration_Access") if p != polaris]
    lacking, password = await new_staff_user(app_client, sample_tenant, permissions=others)
    holding, holding_password = await new_staff_user(app_client, sample_tenant, permissions=[polaris])
    path = site_url(sample_tenant, resource)
    resp = await listener.get(
        path, params=params, headers=pas(sample_tenant, await log_in(listener, lacking, password))
    )
    assert resp.status == 403 and (await resp.json())["MessageDetail"].startswith(f"permission: {polaris}")
    auth = await log_in(listener, holding, holding_password)
    assert (await listener.get(path, params=params, headers=pas(sample_tenant, auth))).status == 200
    resp = await app_client.get(url(resource), params=params, headers=headers(sample_tenant, ()))
    assert resp.status == 403 and folio in (await resp.json())["MessageDetail"]
    assert (await app_client.get(url(resource), params=params, headers=headers(sample_tenant, (folio,)))).status == 200
