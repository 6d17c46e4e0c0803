"""Countries and their postal code formats: the reference data, the configuration API, and the mask rules."""

from __future__ import annotations

import uuid

import pytest

from mod_users.resources.polaris.ids import COUNTRY
from mod_users.resources.polaris.registration.postal_codes import fits, fits_any
from tests.polaris.support import admin_headers, headers, registration_body, url


@pytest.mark.parametrize(
    ("code", "mask", "expected"),
    [
        ("92501", "99999", True),
        ("92501-1234", "99999-9999", True),
        ("9250", "99999", False),
        ("925012", "99999", False),
        ("9250A", "99999", False),
        ("\u0669\u0662\u0665\u0660\u0661", "99999", False),
        ("K1A 0B1", "Z9Z 9Z9", True),
        ("k1a 0b1", "Z9Z 9Z9", True),
        ("K1A-0B1", "Z9Z 9Z9", False),
        ("\u00e91A 0B1", "Z9Z 9Z9", False),
        ("D6W XY12", "ZAA AAAA", True),
        ("D6W XY-2", "ZAA AAAA", False),
        ("1234 AB", "9999 ZZ", True),
        ("1234AB", "9999 ZZ", False),
        ("", "9", False),
    ],
)
def test_a_mask_is_digits_letters_and_literal_dashes_and_spaces(code, mask, expected):
    assert fits(code, mask) is expected


def test_a_country_without_formats_accepts_any_code():
    assert fits_any("anything", []) and fits_any("92501", ["Z9Z 9Z9", "99999"])
    assert not fits_any("9250", ["99999", "99999-9999"])


async def test_the_reference_countries_are_loaded(app_client, sample_tenant):
    resp = await app_client.get(
        "/polaris/countries",
        params={"query": "CountryID==(1 or 2)", "limit": "10"},
        headers=admin_headers(sample_tenant),
    )
    found = {c["CountryID"]: c for c in (await resp.json())["countries"]}
    assert found[1]["Name"] == "United States" and found[1]["PostalCodeFormats"] == ["99999", "99999-9999"]
    assert found[2]["Name"] == "Canada" and found[2]["PostalCodeFormats"] == ["Z9Z 9Z9"]


async def test_a_country_of_ones_own_checks_registrations(app_client, sample_tenant):
    h = admin_headers(sample_tenant)
    resp = await app_client.post(
        "/polaris/countries",
        json={"Name": f"Freedonia {uuid.uuid4().hex[:6]}", "PostalCodeFormats": ["FR-999"]},
        headers=h,
    )
    assert resp.status == 422  # F and R are no mask characters
    resp = await app_client.post(
        "/polaris/countries",
        json={"Name": f"Freedonia {uuid.uuid4().hex[:6]}", "PostalCodeFormats": ["ZZ-999"]},
        headers=h,
    )
    assert resp.status == 201, await resp.text()
    country = await resp.json()
    assert country["CountryID"] > 9 and country["id"] == COUNTRY.row_id(country["CountryID"])
    address = {"StreetOne": "1 Duck Soup Lane", "PostalCode": "FR-12", "CountryID": country["CountryID"]}
    result = await (
        await app_client.post(
            url("/patrons"),
            json=registration_body(registration={"Addresses": [address]}),
            headers=headers(sample_tenant),
        )
    ).json()
    assert (result["PAPIProcedureStep"], result["PAPIReturnCode"]) == (35, -3111)
    assert result["AdditionalMessages"] == [
        f"Address 1: postal code 'FR-12' does not have the format of {country['Name']} (ZZ-999)"
    ]
    address["PostalCode"] = "fr-123"
    result = await (
        await app_client.post(
            url("/patrons"),
            json=registration_body(registration={"Addresses": [address]}),
            headers=headers(sample_tenant),
        )
    ).json()
    assert result["Success"] is True
