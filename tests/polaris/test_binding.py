"""Polaris-style bodies bound as Polaris' Json.NET binds them (docs/polaris.md lists the rules and where they
come from): strings for Int32, Decimal, Boolean and DateTime fields, numbers and booleans for String fields,
"" as null, left-out Booleans and Ints that are not nullable as false and 0; what Json.NET refuses is left
for the schema to refuse (400 -1). The FOLIO-style routes stay strict JSON Schema."""

from __future__ import annotations

import copy
import uuid

import pytest

from mod_users.config import PROJECT_ROOT
from mod_users.contract.schemas import SchemaRegistry
from mod_users.resources.polaris.binding import Binder
from tests.polaris.support import (
    admin_headers,
    headers,
    is_polaris_error,
    new_patron,
    registration_body,
    stored_patron,
    url,
)

SCHEMAS = SchemaRegistry(PROJECT_ROOT / "schemas")
UPDATE = "polaris/patron-registration-update.json"


def _bound(field: str, value, registration: bool = False):
    """``value`` sent as ``field`` of a registration (or of its Registration), as the binding reads it."""
    body = {"ProcedureStep": 1, "Registration": {"NameLast": "X"}}
    (body["Registration"] if registration else body)[field] = value
    bound = Binder(SCHEMAS).bind(UPDATE, body)
    return (bound["Registration"] if registration else bound)[field], SCHEMAS.errors(UPDATE, bound)


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("0", 0),
        ("1", 1),
        (" 12 ", 12),  # NumberStyles.Integer: white space around
        ("\t7\n", 7),
        ("+5", 5),  # and a leading sign
        ("-2147483648", -(2**31)),
        ("2147483647", 2**31 - 1),
        ("", None),  # Json.NET reads "" as null
        (42, 42),
    ],
)
def test_an_int32_binds_from_a_string(sent, read):
    value, errors = _bound("SystemBlocks", sent)
    assert value == read and type(value) is type(read) and errors == []


@pytest.mark.parametrize(
    "sent",
    ["1.0", "1e3", "0x10", "1,000", "١٢", "2147483648", "-2147483649", "one", "1 2", "5-", 1.0, 1.5, True, [1], {}],
)
def test_what_json_net_does_not_bind_to_an_int32_is_refused(sent):
    value, errors = _bound("SystemBlocks", sent)
    assert value == sent and [e.field for e in errors] == ["SystemBlocks"]


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("true", True),
        ("False", False),
        (" TRUE ", True),  # Boolean.TryParse: any letter case, white space around
        (1, True),  # Convert.ToBoolean of a number: not zero is true
        (0, False),
        (2, True),
        (0.5, True),
        ("", None),
        (True, True),
    ],
)
def test_a_boolean_binds_from_a_string_or_a_number(sent, read):
    value, errors = _bound("EnableSMS", sent, registration=True)
    assert value is read and errors == []


@pytest.mark.parametrize("sent", ["yes", "1", "t", "on", "truth", [True]])
def test_what_json_net_does_not_bind_to_a_boolean_is_refused(sent):
    value, errors = _bound("EnableSMS", sent, registration=True)
    assert value == sent and [e.field for e in errors] == ["Registration.EnableSMS"]


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("4/11/2013", "2013-04-11T00:00:00+00:00"),  # the seed's RegistrationDate: invariant culture M/d/yyyy
        ("04/11/2013", "2013-04-11T00:00:00+00:00"),
        ("12/31/1999 11:59 PM", "1999-12-31T23:59:00+00:00"),
        ("4/11/2013 10:05:30", "2013-04-11T10:05:30+00:00"),
        ("2013-04-11", "2013-04-11T00:00:00+00:00"),
        ("2013-04-11 10:05", "2013-04-11T10:05:00+00:00"),
        ("2016-12-11T08:43:23.743-04:00", "2016-12-11T08:43:23.743-04:00"),  # the seed's CreationDate
        ("2016-05-17T08:00:00Z", "2016-05-17T08:00:00+00:00"),  # the seed's ExpirationDate
        ("2016-05-17T08:00:00", "2016-05-17T08:00:00+00:00"),  # Unspecified: read as UTC
        ("2016-05-17T08:00:00.1234567+05:30", "2016-05-17T08:00:00.123456+05:30"),
        ("/Date(1365638400000)/", "2013-04-11T00:00:00+00:00"),
        ("/Date(1365638400000-0500)/", "2013-04-10T19:00:00-05:00"),
        ("", None),
        (None, None),
    ],
)
def test_a_date_time_binds_from_the_forms_json_net_reads(sent, read):
    value, errors = _bound("Birthdate", sent, registration=True)
    assert value == read and errors == []


@pytest.mark.parametrize(
    "sent",
    ["4/31/2013", "13/1/2013", "2013-02-30", "April 11, 2013", "11.04.2013", "2013-04-11T25:00:00", 20130411, True],
)
def test_what_is_not_a_date_time_is_refused(sent):
    value, errors = _bound("Birthdate", sent, registration=True)
    assert value == sent and [e.field for e in errors] == ["Registration.Birthdate"]


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("2.50", 2.5),
        (" 1,000.50 ", 1000.5),  # NumberStyles.Number: group separators
        ("5-", None),  # a trailing sign: -5, below RegistrationPayment's minimum (checked below)
        (".5", 0.5),
        ("5.", 5),
        ("96.014e-05", 0.00096014),  # Json.NET's own parser: exponents
        ("3", 3),
        ("", None),
    ],
)
def test_a_decimal_binds_from_a_string(sent, read):
    value, errors = _bound("ChargesAmount", sent)
    expected = -5 if sent == "5-" else read
    assert value == expected and errors == []


@pytest.mark.parametrize("sent", ["1.2.3", "-5-", "$5", "1e", "five", "1e999"])
def test_what_is_not_a_decimal_is_refused(sent):
    value, errors = _bound("ChargesAmount", sent)
    assert value == sent and [e.field for e in errors] == ["ChargesAmount"]


@pytest.mark.parametrize(("sent", "read"), [(21756003332022, "21756003332022"), (True, "true"), ("x", "x")])
def test_a_string_binds_from_an_integer_or_a_boolean(sent, read):
    value, errors = _bound("Barcode", sent)
    assert value == read and errors == []


def test_a_number_with_a_fraction_for_a_string_is_refused():
    """Json.NET would keep the number's text as written; the JSON parser here does not keep it."""
    value, errors = _bound("Barcode", 1.5)
    assert value == 1.5 and [e.field for e in errors] == ["Barcode"]


def test_left_out_booleans_and_ints_that_are_not_nullable_take_their_default():
    body = {"ProcedureStep": 1, "Registration": {"NameLast": "X", "Addresses": [{"StreetOne": "1 Main"}]}}
    bound = Binder(SCHEMAS).bind(UPDATE, copy.deepcopy(body))
    assert (bound["ReturnReceiptUrl"], bound["PatronCodeID"], bound["OrganizationID"]) == (False, 0, 0)
    registration = bound["Registration"]
    for flag in (
        "ExcludeFromAlmostOverdueAutoRenew",
        "ExcludeFromPatronRecExpiration",
        "ExcludeFromInactivePatron",
        "StaffAcceptedUseSingleName",
    ):
        assert registration[flag] is False
    assert registration["PatronID"] == 0 and registration["Addresses"][0]["AddressTypeID"] == 0
    # nullable ones stay out, and so does a required one (the schema asks for it)
    assert "ExcludeFromOverdues" not in registration and "Answer" not in bound
    assert "ProcedureStep" not in Binder(SCHEMAS).bind(UPDATE, {"Registration": {}})
    assert SCHEMAS.errors(UPDATE, bound) == []


def test_binding_does_not_change_the_parsed_body():
    body = {"ProcedureStep": "1", "Registration": {"NameLast": "X", "Birthdate": "4/11/2013"}}
    before = copy.deepcopy(body)
    Binder(SCHEMAS).bind(UPDATE, body)
    assert body == before


# -- on the routes ----------------------------------------------------------------------------------------
async def test_a_registration_with_json_net_values_is_saved_normalised(app_client, sample_tenant):
    body = registration_body(
        step="1",
        answer="0",
        PatronCodeID=" 1 ",
        registration={
            "DeliveryOptionID": "1",
            "RegistrationDate": "4/11/2013",
            "Birthdate": "4/11/1980",
            "ExcludeFromOverdues": "True",
            "EnableSMS": 0,
            "LanguageID": "",
        },
    )
    body["OrganizationID"] = str(body["OrganizationID"])
    del body["Registration"]["StaffAcceptedUseSingleName"]
    resp = await app_client.post(url("/patrons"), json=body, headers=headers(sample_tenant))
    result = await resp.json()
    assert resp.status == 200 and result["Success"], result
    assert result["Answer"] == 0
    stored = await stored_patron(app_client, sample_tenant, result["PatronID"])
    registration = stored["Registration"]
    assert (stored["PatronCodeID"], stored["OrganizationID"]) == (1, 3)
    assert (registration["DeliveryOptionID"], registration["Birthdate"]) == (1, "1980-04-11T00:00:00+00:00")
    assert (registration["ExcludeFromOverdues"], registration["EnableSMS"], registration["LanguageID"]) == (
        True,
        False,
        None,
    )
    assert registration["StaffAcceptedUseSingleName"] is False
    # RegistrationDate is the server's: the one sent was bound (a valid DateTime), then replaced
    assert registration["RegistrationDate"] != "2013-04-11T00:00:00+00:00"


async def test_blocks_and_associations_bind_too(app_client, sample_tenant):
    patron, other = await new_patron(app_client, sample_tenant), await new_patron(app_client, sample_tenant)
    h = headers(sample_tenant)
    resp = await app_client.post(
        url(f"/patrons/{patron}/blocks"), json={"BlockType": "1", "BlockDescription": 404}, headers=h
    )
    block = await resp.json()
    assert (resp.status, block["BlockType"], block["BlockDescription"]) == (200, 1, "404")
    resp = await app_client.post(
        url(f"/patrons/{patron}/associations"),
        json=[{"LinkedPatronId": str(other), "BlockMe": "true", "AllowMe": 1}],
        headers=h,
    )
    [association] = await resp.json()
    assert (resp.status, association["LinkedPatronID"], association["BlockMe"], association["AllowMe"]) == (
        200,
        other,
        True,
        True,
    )


@pytest.mark.parametrize(
    "body",
    [{"BlockType": "one", "BlockDescription": "x"}, {"BlockType": 1, "BlockDescription": 1.5}],
)
async def test_what_json_net_refuses_stays_refused_on_the_polaris_routes(app_client, sample_tenant, body):
    resp = await app_client.post(url("/patrons/1001/blocks"), json=body, headers=headers(sample_tenant))
    assert resp.status == 400 and is_polaris_error(await resp.json(), -1)


async def test_the_folio_style_routes_stay_strict(app_client, sample_tenant):
    """A string for a boolean or an integer is a 422 there, as JSON Schema has it."""
    condition = {
        "name": f"Strict {uuid.uuid4().hex[:8]}",
        "blockBorrowing": "true",
        "blockRenewals": False,
        "blockRequests": False,
        "valueType": "Integer",
    }
    h = admin_headers(sample_tenant)
    resp = await app_client.post("/patron-block-conditions", json=condition, headers=h)
    assert resp.status == 422, await resp.text()
    patron = {"Barcode": f"S{uuid.uuid4().hex[:10]}", "OrganizationID": "3", "Registration": {"NameLast": "Strict"}}
    resp = await app_client.post("/polaris/patrons", json=patron, headers=h)
    assert resp.status == 422, await resp.text()
