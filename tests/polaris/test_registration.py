"""Patron registration and update in Polaris' conversational model, against a real database: each step's
prompt or stop, replies resuming after the answered step, answer 0 saving nothing, the conversation kept by
the client alone (two app instances answer one conversation), the atomic save, concurrent registrations of
one barcode, and the documented failures."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from typing import Any

import pytest

from mod_users.app import init_app
from mod_users.resources.polaris import organizations
from mod_users.storage.records import RecordStore
from tests.conftest import contract_of
from tests.polaris.support import (
    DISABLED_WORKSTATION,
    HILLVIEW_BRANCH,
    OTHER_BRANCH,
    REGISTRATION_ACCESS,
    REGISTRATION_CREATE,
    REGISTRATION_MODIFY,
    SECURED_PATRON,
    UNKNOWN,
    USER,
    admin_headers,
    headers,
    is_polaris_error,
    new_patron,
    registration_body,
    secure,
    stored_patron,
    url,
)
from tests.seeds.documents import registration_page

# The seed's PAPI values: PAPIAction, PAPIPromptType, PAPIProcedureStatus, PAPIStopType, PAPIPromptResult.
SEED = registration_page()  # tests/seeds' copy of the registration document
PROMPT, STOP, NONE = 2, 1, 0
YES_NO, ACKNOWLEDGE = 4, 6
CONTINUE, EXIT, ERROR = 1, 0, -1
STOPPED_BY_USER, STOPPED_BY_ERROR = 1, 2
OK, CANCEL, ABORT, RETRY, IGNORE = 2, 3, 4, 5, 6
DUPLICATES = -3608
PAST, FUTURE = "2020-01-01T00:00:00+00:00", "2999-01-01T00:00:00+00:00"


async def _post(client, tenant, body, **kw) -> dict[str, Any]:
    resp = await client.post(url("/patrons", **kw), json=body, headers=headers(tenant))
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _put(client, tenant, patron_id, body) -> dict[str, Any]:
    resp = await client.put(url(f"/patrons/{patron_id}"), json=body, headers=headers(tenant))
    assert resp.status == 200, await resp.text()
    return await resp.json()


def _reply(body: dict[str, Any], answered: dict[str, Any], answer: int = 1, **fields: Any) -> dict[str, Any]:
    """The same body again, replying to the prompt ``answered``."""
    return {**copy.deepcopy(body), "ProcedureStep": answered["PAPIProcedureStep"], "Answer": answer, **fields}


def _prompted(result: dict[str, Any], step: int, code: int, kind: int = YES_NO) -> None:
    assert (
        result["PAPIProcedureStep"],
        result["PAPIReturnCode"],
        result["PAPIAction"],
        result["PAPIPromptType"],
        result["PAPIProcedureStatus"],
        result["Success"],
    ) == (step, code, PROMPT, kind, CONTINUE, False), result
    assert result["PAPIProcedure"] == 0 and result["PAPIStopType"] == 0 and not result["DuplicateBarcodeExists"]


def _stopped(result: dict[str, Any], code: int, *, barcode_in_use: bool = False) -> None:
    """A stop: nothing to reply to (PAPIProcedureStep 0 None), PAPIStopType 2 Error."""
    assert (
        result["PAPIProcedureStep"],
        result["PAPIReturnCode"],
        result["PAPIAction"],
        result["PAPIStopType"],
        result["PAPIProcedureStatus"],
        result["Success"],
        result["DuplicateBarcodeExists"],
    ) == (0, code, STOP, STOPPED_BY_ERROR, ERROR, False, barcode_in_use), result


def _done(result: dict[str, Any]) -> None:
    assert (
        result["PAPIProcedureStep"],
        result["PAPIReturnCode"],
        result["PAPIAction"],
        result["PAPIProcedureStatus"],
        result["Success"],
    ) == (0, 0, NONE, EXIT, True), result


async def _by_barcode(client, tenant, barcode) -> list[dict[str, Any]]:
    found = await (
        await client.get("/polaris/patrons", params={"query": f'Barcode=="{barcode}"'}, headers=admin_headers(tenant))
    ).json()
    return found["patrons"]


async def _error(resp, status, code):
    body = await resp.json()
    assert resp.status == status, body
    assert is_polaris_error(body, code), body
    return body


# -- a registration that passes every check ---------------------------------------------------------------
async def test_a_registration_without_doubts_is_saved_in_one_call(app_client, sample_tenant):
    body = registration_body(registration={"Password": "secret", "EmailAddress": f"{uuid.uuid4().hex}@example.org"})
    result = await _post(app_client, sample_tenant, body)
    _done(result)
    patron_id = result["PatronID"]
    assert result["Message"] == f"Patron {patron_id} registered."
    # a FOLIO user has no Polaris staff user id: the integer fields are null, metadata names the user
    assert result["CreatorID"] is None and result["ModifierID"] is None
    assert (result["RecordStatusID"], result["SystemBlocks"], result["ChargesAmount"]) == (1, 0, 0)
    assert "Password" not in result["Registration"]
    stored = await stored_patron(app_client, sample_tenant, patron_id)
    assert stored["Barcode"] == body["Barcode"] and stored["OrganizationID"] == 3 and stored["PatronCodeID"] == 1
    assert stored["CreatorID"] is None and stored["ModifierID"] is None
    assert stored["metadata"]["createdByUserId"] == stored["metadata"]["updatedByUserId"] == USER
    registration = stored["Registration"]
    assert "Password" not in registration and registration["PatronID"] == patron_id
    assert registration["RegistrationDate"] == registration["UpdateDate"] == registration["EntryDate"]
    # the address as Json.NET binds it: AddressTypeID, an Int that is not nullable, 0 when left out
    assert registration["Addresses"] == [{**a, "AddressTypeID": 0} for a in body["Registration"]["Addresses"]]
    assert stored["id"] == (await stored_patron(app_client, sample_tenant, patron_id))["id"]


async def test_the_body_patron_id_is_ignored_when_registering(app_client, sample_tenant):
    result = await _post(app_client, sample_tenant, registration_body(PatronID=1001, ChargesAmount=99, SystemBlocks=64))
    _done(result)
    assert result["PatronID"] not in (1001, None) and result["ChargesAmount"] == 0 and result["SystemBlocks"] == 0


async def test_the_prefix_matches_in_any_case(app_client, sample_tenant):
    result = await _post(app_client, sample_tenant, registration_body(), prefix="/Polaris.ApplicationServices/api")
    _done(result)


# -- stops: required fields, barcode in use ---------------------------------------------------------------
async def test_required_fields_stop_listing_every_missing_one(app_client, sample_tenant):
    result = await _post(app_client, sample_tenant, {"ProcedureStep": 1})
    _stopped(result, -3100)
    # The required booleans are not among them: Json.NET binds a left-out Boolean as false.
    expected = ["Barcode", "PatronCodeID", "OrganizationID", "Registration.NameLast"]
    assert result["AdditionalMessages"] == expected
    assert result["Message"] == f"Required fields are missing: {', '.join(expected)}."
    assert result["PatronID"] is None


@pytest.mark.parametrize(
    ("change", "missing"),
    [
        ({"Barcode": "  "}, ["Barcode"]),
        ({"Barcode": None, "PatronCodeID": 0, "OrganizationID": 0}, ["Barcode", "PatronCodeID", "OrganizationID"]),
        ({"Registration": {"NameLast": " ", "NameFirst": "X"}}, ["Registration.NameLast"]),
    ],
)
async def test_each_required_field(app_client, sample_tenant, change, missing):
    body = registration_body()
    registration = {**body["Registration"], **change.pop("Registration", {})}
    result = await _post(app_client, sample_tenant, {**body, **change, "Registration": registration})
    _stopped(result, -3100)
    assert result["AdditionalMessages"] == missing
    assert await _by_barcode(app_client, sample_tenant, body["Barcode"]) == []


@pytest.mark.parametrize(
    ("branch", "single_name", "required"),
    [
        (3, False, True),  # the system requires a first name; branch 3 inherits it
        (3, True, False),  # staff accepted a single name
        (OTHER_BRANCH, False, False),  # branch 4 does not require one
    ],
)
async def test_the_first_name_is_required_where_the_branch_says_so(
    app_client, sample_tenant, branch, single_name, required
):
    body = registration_body(branch, registration={"NameFirst": None, "StaffAcceptedUseSingleName": single_name})
    result = await _post(app_client, sample_tenant, body)
    if required:
        _stopped(result, -3100)
        assert result["AdditionalMessages"] == ["Registration.NameFirst"]
    else:
        _done(result)


@pytest.mark.parametrize(
    ("organization", "why"),
    [
        (2, "is not a branch"),  # a library
        (1, "is not a branch"),  # the system
        (UNKNOWN, "is not a known organisation"),
    ],
)
async def test_a_registered_organisation_that_is_not_a_branch_stops(app_client, sample_tenant, organization, why):
    result = await _post(app_client, sample_tenant, registration_body(organization))
    _stopped(result, -5000)
    assert result["Message"] == "Invalid organization ID specified."
    assert result["AdditionalMessages"] == [f"OrganizationID {organization} {why}"]


async def test_a_barcode_another_patron_has_stops_ignoring_case(app_client, sample_tenant):
    patron = await new_patron(app_client, sample_tenant)
    barcode = (await stored_patron(app_client, sample_tenant, patron))["Barcode"]
    result = await _post(app_client, sample_tenant, registration_body(Barcode=f" {barcode.lower()} "))
    _stopped(result, -3505, barcode_in_use=True)
    assert barcode.lower() in result["Message"]
    # the patron's own barcode is no conflict when it is updated
    _done(await _put(app_client, sample_tenant, patron, registration_body(Barcode=barcode)))


async def test_a_sample_patrons_stored_registration_sent_back_as_is_passes_the_required_fields(
    app_client, fresh_sample_tenant
):
    """Read each sample patron and send its registration back unchanged, answering yes to any prompt: none
    stops (the sample registrations carry the required booleans). The secured one cannot be updated (409),
    so its registration is sent as a new patron's instead, which gets as far as its barcode being in use."""
    tenant = fresh_sample_tenant
    found = await (
        await app_client.get(
            "/polaris/patrons", params={"query": "cql.allRecords=1", "limit": 100}, headers=admin_headers(tenant)
        )
    ).json()
    assert found["totalRecords"] == 6
    for patron in found["patrons"]:
        body = {
            "ProcedureStep": 1,
            "Answer": None,
            **{k: patron[k] for k in ("Barcode", "PatronCodeID", "OrganizationID", "Registration")},
        }
        if patron["RecordStatusID"] == 3:
            _stopped(await _post(app_client, tenant, body), -3505, barcode_in_use=True)
            continue
        result = await _put(app_client, tenant, patron["PatronID"], body)
        while result["PAPIAction"] == PROMPT:
            result = await _put(app_client, tenant, patron["PatronID"], _reply(body, result))
        _done(result)


# -- prompts --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("addresses", [None, [], [{"State": "CA", "CountryID": 1}], [{"StreetOne": "  "}]])
async def test_an_empty_address_prompts(app_client, sample_tenant, addresses):
    body = registration_body(registration={"Addresses": addresses})
    result = await _post(app_client, sample_tenant, body)
    _prompted(result, 17, -3110)
    assert result["Message"] == "The patron has no address. Save the registration without one?"
    assert result["DuplicatePatrons"] is None and result["DuplicatePatronDisplayProperties"] is None
    _done(await _post(app_client, sample_tenant, _reply(body, result)))


async def test_answer_no_ends_the_conversation_and_saves_nothing(app_client, sample_tenant):
    body = registration_body(registration={"Addresses": []})
    prompt = await _post(app_client, sample_tenant, body)
    result = await _post(app_client, sample_tenant, _reply(body, prompt, 0))
    assert (
        result["PAPIProcedureStep"],
        result["PAPIReturnCode"],
        result["PAPIAction"],
        result["PAPIStopType"],
        result["PAPIProcedureStatus"],
        result["Success"],
    ) == (17, -3120, STOP, STOPPED_BY_USER, EXIT, False)
    assert result["Message"] == "Cancelled at step 17: nothing was saved."
    assert await _by_barcode(app_client, sample_tenant, body["Barcode"]) == []


@pytest.mark.parametrize(
    ("country", "code", "fits"),
    [
        (1, "92501", True),
        (1, "92501-1234", True),
        (1, "9250", False),
        (1, "92501 1234", False),
        (1, "ABCDE", False),
        (2, "K1A 0B1", True),
        (2, "k1a 0b1", True),
        (2, "K1A0B1", False),
        (2, "K1A-0B1", False),
        (3, "EC1A 1BB", True),
        (3, "M1 1AE", True),
        (3, "EC1A1BB", False),
        (8, "D6W XY12", True),
        (9, "anything", True),
        (UNKNOWN, "anything", True),
        (None, "anything", True),
    ],
)
async def test_postal_codes_are_checked_against_their_countrys_formats(app_client, sample_tenant, country, code, fits):
    address = {"StreetOne": "1 High Street", "PostalCode": code, "CountryID": country}
    body = registration_body(registration={"Addresses": [{"StreetOne": "2 Low Road"}, address]})
    result = await _post(app_client, sample_tenant, body)
    if fits:
        _done(result)
        return
    _prompted(result, 35, -3111)
    assert len(result["AdditionalMessages"]) == 1 and result["AdditionalMessages"][0].startswith(
        f"Address 2: postal code '{code}' does not have the format of "
    )
    _done(await _post(app_client, sample_tenant, _reply(body, result)))


@pytest.mark.parametrize(
    ("address", "checked_as"),
    [
        ({"CountryName": "USA"}, "United States"),  # the seed's example writes its country this way
        ({"CountryName": " usa "}, "United States"),
        ({"CountryName": "United States"}, "United States"),
        ({"CountryName": "CAN"}, "Canada"),
        ({"CountryName": "Ruritania"}, None),  # not a known country: not checked
        ({"CountryName": "USA", "CountryID": 2}, "Canada"),  # CountryID names the country first
        ({"CountryName": "USA", "CountryID": UNKNOWN}, None),
    ],
)
async def test_the_country_name_names_the_country_of_the_postal_code(app_client, sample_tenant, address, checked_as):
    bad = {"StreetOne": "1 Main Ave", "PostalCode": "1321", **address}
    body = registration_body(registration={"Addresses": [bad]})
    result = await _post(app_client, sample_tenant, body)
    if checked_as is None:
        _done(result)
        return
    _prompted(result, 35, -3111)
    assert result["AdditionalMessages"][0].startswith(
        f"Address 1: postal code '1321' does not have the format of {checked_as}"
    )
    fitting = {**bad, "PostalCode": "13210" if checked_as == "United States" else "K1A 0B1"}
    _done(await _post(app_client, sample_tenant, registration_body(registration={"Addresses": [fitting]})))


async def test_the_seeds_registration_fields_are_accepted(app_client, sample_tenant):
    """Gender, the Merge* fields, PatronFirstLastName and PatronFullName (the seed's DtoPatronRegistration):
    Gender is the client's, the others the server's (names derived, merge fields kept)."""
    body = registration_body(
        registration={
            "NameFirst": "Mary",
            "NameMiddle": "F",
            "Gender": 2,
            "MergeDate": "1/2/2020",
            "MergeUserID": 7,
            "MergeBarcode": "X1",
            "PatronFirstLastName": "Someone Else",
            "PatronFullName": "Else, Someone",
        }
    )
    result = await _post(app_client, sample_tenant, body)
    _done(result)
    last = body["Registration"]["NameLast"]
    registration = (await stored_patron(app_client, sample_tenant, result["PatronID"]))["Registration"]
    assert registration["Gender"] == 2
    assert (registration["PatronFullName"], registration["PatronFirstLastName"]) == (f"{last}, Mary F", f"Mary {last}")
    assert (registration["MergeDate"], registration["MergeUserID"], registration["MergeBarcode"]) == (None, None, None)
    assert result["Registration"]["PatronFullName"] == f"{last}, Mary F"


async def test_a_passed_address_check_date_asks_to_verify_the_patrons_data(app_client, sample_tenant):
    result = await _post(app_client, sample_tenant, registration_body(registration={"AddrCheckDate": FUTURE}))
    _done(result)
    body = registration_body(registration={"AddrCheckDate": PAST})
    result = await _post(app_client, sample_tenant, body)
    _prompted(result, 34, -3112, ACKNOWLEDGE)
    assert "2020-01-01" in result["Message"]
    _done(await _post(app_client, sample_tenant, _reply(body, result)))


@pytest.mark.parametrize(
    ("payment", "charges", "recorded"),
    [
        (
            {},
            5.0,
            {"PatronAccountTxnCode": 1, "PatronPaymentMethod": None, "RegistrationPayment": 0.0, "Outstanding": 5.0},
        ),
        (
            {"PatronAccountTxnCode": 2, "PatronPaymentMethod": 3, "RegistrationPayment": 2},
            3.0,
            {"PatronAccountTxnCode": 2, "PatronPaymentMethod": 3, "RegistrationPayment": 2.0, "Outstanding": 3.0},
        ),
        (
            {"PatronAccountTxnCode": 2, "PatronPaymentMethod": 1, "RegistrationPayment": 5.0},
            0.0,
            {"PatronAccountTxnCode": 2, "PatronPaymentMethod": 1, "RegistrationPayment": 5.0, "Outstanding": 0.0},
        ),
        # Polaris' PatronAccTxnCodes has two rows named Waive, 5 and 6: both waive, and are recorded as sent
        (
            {"PatronAccountTxnCode": 5},
            0.0,
            {"PatronAccountTxnCode": 5, "PatronPaymentMethod": None, "RegistrationPayment": 0.0, "Outstanding": 0.0},
        ),
        ({"PatronAccountTxnCode": 6, "RegistrationPayment": 1}, 0.0, {"PatronAccountTxnCode": 6, "Outstanding": 0.0}),
        # more than the charge is recorded as paying the charge, as it counts
        (
            {"PatronAccountTxnCode": 2, "PatronPaymentMethod": 1, "RegistrationPayment": 10},
            0.0,
            {"PatronAccountTxnCode": 2, "PatronPaymentMethod": 1, "RegistrationPayment": 5.0, "Outstanding": 0.0},
        ),
    ],
)
async def test_the_registration_charge_is_accepted_with_its_payment(
    app_client, sample_tenant, payment, charges, recorded
):
    body = registration_body(HILLVIEW_BRANCH)
    result = await _post(app_client, sample_tenant, body)
    _prompted(result, 15, -3113)
    assert result["Message"] == "A registration charge of 5.00 applies. Accept it?"
    result = await _post(app_client, sample_tenant, _reply(body, result, **payment))
    _done(result)
    assert result["ChargesAmount"] == charges
    stored = await stored_patron(app_client, sample_tenant, result["PatronID"])
    [charge] = stored["RegistrationCharges"]
    assert {k: charge[k] for k in recorded} == recorded
    assert (charge["Amount"], charge["OrganizationID"]) == (5.0, HILLVIEW_BRANCH)


@pytest.mark.parametrize("number", ["1e400", "-1.5e999"])
async def test_a_payment_json_cannot_hold_is_a_polaris_error_naming_it(app_client, sample_tenant, number):
    # Python reads 1e400 as infinity, which no JSON (nor jsonb) holds: refused as the body is read.
    body = {**registration_body(HILLVIEW_BRANCH), "PatronAccountTxnCode": 2, "PatronPaymentMethod": 1}
    data = json.dumps({**body, "RegistrationPayment": 12345}).replace("12345", number)
    resp = await app_client.post(
        url("/patrons"), data=data, headers={**headers(sample_tenant), "Content-Type": "application/json"}
    )
    assert resp.status == 400
    answer = await resp.json()
    assert is_polaris_error(answer, -1), answer
    assert answer["Message"].startswith(f"Number {number} in the request body is out of range"), answer
    assert await _by_barcode(app_client, sample_tenant, body["Barcode"]) == []


@pytest.mark.parametrize(
    ("code", "name"), [(3, "Return"), (4, "Deposit"), (7, "Forfeit"), (8, "Credit"), (9, "Refund"), (10, "Auto-waive")]
)
async def test_polaris_txn_codes_that_do_not_settle_a_charge_are_refused(app_client, sample_tenant, code, name):
    patron = await new_patron(app_client, sample_tenant, HILLVIEW_BRANCH)
    body = registration_body(HILLVIEW_BRANCH, registration={"ExpirationDate": FUTURE})
    h = headers(sample_tenant)
    # refused at the first call as well as in the reply to the charge prompt, registering or updating
    for step, answer in ((1, None), (15, 1)):
        for method, path in (("POST", "/patrons"), ("PUT", f"/patrons/{patron}")):
            sent = {**body, "ProcedureStep": step, "Answer": answer, "PatronAccountTxnCode": code}
            error = await _error(await app_client.request(method, url(path), json=sent, headers=h), 400, -3004)
            assert error["Message"] == (
                f"PatronAccountTxnCode {code} ({name}) cannot settle a registration charge: "
                "send 1 (Charge), 2 (Pay), 5 (Waive) or 6 (Waive)."
            )
    assert await _by_barcode(app_client, sample_tenant, body["Barcode"]) == []
    assert "RegistrationCharges" not in await stored_patron(app_client, sample_tenant, patron)


async def test_the_charge_prompt_says_the_payment_fields_come_with_every_later_call(app_client, sample_tenant):
    result = await _post(app_client, sample_tenant, registration_body(HILLVIEW_BRANCH))
    _prompted(result, 15, -3113)
    assert result["AdditionalMessages"] == [
        "Answer 1 records the charge, owed on the patron's account unless the call says how it is settled: "
        "PatronAccountTxnCode (1 charge to the account, 2 pay, 5 or 6 waive), PatronPaymentMethod and "
        "RegistrationPayment.",
        "Send these payment fields with this reply and again with every later call until the patron is saved: the "
        "server keeps nothing between calls, and a later call without them records the whole charge as owed.",
    ]


@pytest.mark.parametrize(("resent", "owed"), [(True, 0.0), (False, 5.0)])
async def test_the_call_that_saves_records_the_payment_it_carries(app_client, sample_tenant, resent, owed):
    """Paid in full in the reply to step 15; the duplicate prompt (16) follows. The reply to it records the
    payment only if it carries the payment fields again: the server remembers nothing of the earlier reply."""
    email = f"{uuid.uuid4().hex}@example.org"
    await _post(app_client, sample_tenant, registration_body(registration={"EmailAddress": email}))
    body = registration_body(HILLVIEW_BRANCH, registration={"EmailAddress": email})
    payment = {"PatronAccountTxnCode": 2, "PatronPaymentMethod": 1, "RegistrationPayment": 5}
    charge = await _post(app_client, sample_tenant, body)
    _prompted(charge, 15, -3113)
    duplicate = await _post(app_client, sample_tenant, _reply(body, charge, **payment))
    _prompted(duplicate, 16, DUPLICATES)
    result = await _post(app_client, sample_tenant, _reply(body, duplicate, **(payment if resent else {})))
    _done(result)
    assert result["ChargesAmount"] == owed
    [recorded] = (await stored_patron(app_client, sample_tenant, result["PatronID"]))["RegistrationCharges"]
    assert recorded["Outstanding"] == owed


async def test_a_completing_call_works_the_charge_out_once(app_client, sample_tenant, monkeypatch):
    """Step 15 and the save both need the charge (here none: branch 3 charges nothing)."""
    looked_up = []
    inherited = organizations.inherited

    def counted(lineage, setting):
        looked_up.append(setting)
        return inherited(lineage, setting)

    monkeypatch.setattr(organizations, "inherited", counted)
    result = await _post(app_client, sample_tenant, registration_body())
    _done(result)
    assert result["AdditionalMessages"] == []
    assert looked_up.count("RegistrationCharge") == 1


async def test_an_update_is_charged_only_when_it_renews_the_registration(app_client, sample_tenant):
    patron = await new_patron(app_client, sample_tenant, HILLVIEW_BRANCH)
    body = registration_body(HILLVIEW_BRANCH, registration={"ExpirationDate": "2030-01-01T00:00:00+00:00"})
    first = await _put(app_client, sample_tenant, patron, body)  # no expiration date stored: a renewal
    _prompted(first, 15, -3113)
    _done(await _put(app_client, sample_tenant, patron, _reply(body, first)))
    _done(await _put(app_client, sample_tenant, patron, body))  # the same date: nothing to charge
    later = registration_body(HILLVIEW_BRANCH, registration={"ExpirationDate": "2031-01-01T00:00:00+00:00"})
    _prompted(await _put(app_client, sample_tenant, patron, later), 15, -3113)
    stored = await stored_patron(app_client, sample_tenant, patron)
    assert stored["ChargesAmount"] == 5.0 and len(stored["RegistrationCharges"]) == 1


async def test_possible_duplicates_prompt_with_their_display_properties(app_client, sample_tenant):
    email, phone, last = f"{uuid.uuid4().hex}@example.org", f"555-{uuid.uuid4().int % 10**6}", f"Dup{uuid.uuid4().hex}"
    original = registration_body(
        registration={
            "NameFirst": "Émilie",
            "NameLast": last,
            "Birthdate": "1706-12-17T00:00:00+00:00",
            "EmailAddress": email,
            "PhoneVoice2": phone,
        }
    )
    first = (await _post(app_client, sample_tenant, original))["PatronID"]
    body = registration_body(
        registration={
            "NameFirst": "ÉMILIE",
            "NameLast": last.upper(),
            "Birthdate": "1706-12-17T12:00:00-05:00",
            "EmailAddress": f" {email.upper()}",
            "PhoneVoice1": phone,
        }
    )
    result = await _post(app_client, sample_tenant, body)
    _prompted(result, 16, DUPLICATES)
    [duplicate] = result["DuplicatePatrons"]
    address = original["Registration"]["Addresses"][0]
    # the shape of the seed's DuplicatePatrons entries ("" for what the patron does not have); MatchedOn is ours
    assert duplicate == {
        "PatronID": first,
        "PatronName": f"{last}, Émilie",
        "Barcode": original["Barcode"],
        "Street": address["StreetOne"],
        "City": "Riverside",
        "PostalCode": "92501",
        "Phone": "",
        "Email": email,
        "BirthDate": "1706-12-17T00:00:00+00:00",
        "BranchID": 3,
        "BranchName": "Riverside Main Branch",
        "BranchAbr": "RPL-MAIN",
        "User1": "",
        "User2": "",
        "User3": "",
        "User4": "",
        "User5": "",
        "MatchedOn": ["NameAndBirthdate", "EmailAddress", "Phone"],
    }
    # the seed's list, as its example answer gives it
    assert result["DuplicatePatronDisplayProperties"] == SEED.response_example["DuplicatePatronDisplayProperties"]
    assert result["Message"] == "Duplicate patrons are found, Do you want to continue?"  # the seed's text
    assert result["AdditionalMessages"] == [
        f"{last}, Émilie ({original['Barcode']}): same NameAndBirthdate, EmailAddress, Phone"
    ]
    saved = await _post(app_client, sample_tenant, _reply(body, result))
    _done(saved)
    # An update of the first patron finds the second, never the patron itself.
    result = await _put(app_client, sample_tenant, first, {**original, "Barcode": original["Barcode"]})
    _prompted(result, 16, DUPLICATES)
    assert [d["PatronID"] for d in result["DuplicatePatrons"]] == [saved["PatronID"]]


async def test_a_secured_duplicate_is_listed_without_its_details(app_client, sample_tenant):
    """Staff learn that a secured record may be the same person, but nothing of what it holds: reading its
    details is refused elsewhere (409)."""
    email = f"{uuid.uuid4().hex}@example.org"
    shown, hidden = [
        await new_patron(
            app_client,
            sample_tenant,
            Registration={"NameFirst": "Same", "NameLast": f"Email{n}", "EmailAddress": email},
        )
        for n in (1, 2)
    ]
    await secure(app_client, sample_tenant, hidden)
    result = await _post(app_client, sample_tenant, registration_body(registration={"EmailAddress": email}))
    _prompted(result, 16, DUPLICATES)
    first, second = result["DuplicatePatrons"]
    assert first["PatronID"] == shown and first["Barcode"] and first["PatronName"]
    assert second == {**dict.fromkeys(first), "PatronID": hidden, "MatchedOn": ["EmailAddress"]}
    assert result["Message"] == "Duplicate patrons are found, Do you want to continue?"
    assert result["AdditionalMessages"] == [
        f"{first['PatronName']} ({first['Barcode']}): same EmailAddress",
        f"A secured patron record (PatronID {hidden}): same EmailAddress; its details are not shown",
    ]
    # the sample's secured patron too (Grace Hopper, 1003: phone 555-0103), found by its phone
    result = await _post(app_client, sample_tenant, registration_body(registration={"PhoneVoice3": "555-0103"}))
    _prompted(result, 16, DUPLICATES)
    assert [
        (d["PatronID"], d["PatronName"], d["MatchedOn"])
        for d in result["DuplicatePatrons"]
        if d["PatronID"] == SECURED_PATRON
    ] == [(SECURED_PATRON, None, ["Phone"])]
    assert "Hopper" not in str(result["DuplicatePatrons"]) + str(result["AdditionalMessages"])


@pytest.mark.parametrize(
    ("change", "matched"),
    [
        (lambda last: {"NameFirst": "Émilie"}, False),  # accents count: only case is ignored
        (lambda last: {"Birthdate": "1706-12-18T00:00:00+00:00"}, False),
        (lambda last: {"Birthdate": None}, False),
        (lambda last: {"NameFirst": None, "StaffAcceptedUseSingleName": True}, False),
        (lambda last: {"NameFirst": "EMILIE", "NameLast": f"DU {last.upper()}"}, True),
    ],
)
async def test_a_duplicate_by_name_needs_the_same_names_and_birth_date(app_client, sample_tenant, change, matched):
    last = f"Chatelet{uuid.uuid4().hex[:8]}"
    stored = {"NameFirst": "Emilie", "NameLast": f"du {last}", "Birthdate": "1706-12-17T00:00:00+00:00"}
    await _post(app_client, sample_tenant, registration_body(registration=stored))
    result = await _post(app_client, sample_tenant, registration_body(registration={**stored, **change(last)}))
    if matched:
        _prompted(result, 16, DUPLICATES)
        assert result["DuplicatePatrons"][0]["MatchedOn"] == ["NameAndBirthdate"]
    else:
        _done(result)


async def test_the_result_carries_the_seeds_fields(app_client, sample_tenant):
    """RegCharge (the charge, not only inside the prompt's text), DuplicateBarcodeExists, SuggestedUserNames,
    PAPIActionProcedure, ProcedureStep and Answer, on prompts, stops and the saved answer."""
    body = registration_body(HILLVIEW_BRANCH)
    charge = await _post(app_client, sample_tenant, body)
    _prompted(charge, 15, -3113)
    assert (charge["RegCharge"], charge["SuggestedUserNames"], charge["PAPIActionProcedure"]) == (5.0, [], 0)
    assert (charge["ProcedureStep"], charge["Answer"], charge["DuplicateBarcodeExists"]) == (None, None, False)
    saved = await _post(app_client, sample_tenant, _reply(body, charge))
    _done(saved)
    assert (saved["RegCharge"], saved["Answer"], saved["DuplicateBarcodeExists"]) == (5.0, 1, False)
    taken = await _post(app_client, sample_tenant, {**registration_body(), "Barcode": body["Barcode"]})
    _stopped(taken, -3505, barcode_in_use=True)
    assert taken["RegCharge"] == 0.0  # branch 3 charges nothing
    # in the order of the seed's example answer (RecordStatusID and PAPIProcedureStatus, ours, among them)
    assert [name for name in saved if name in SEED.response_example] == list(SEED.response_example)


# -- the conversation --------------------------------------------------------------------------------------
def _doubtful(email: str) -> dict[str, Any]:
    """A registration at Hillview (a charge) that prompts at 17, 34, 15 and 16, in that order."""
    return registration_body(
        HILLVIEW_BRANCH, registration={"Addresses": [], "AddrCheckDate": PAST, "EmailAddress": email}
    )


async def test_each_answer_resumes_after_the_answered_step_and_asks_nothing_twice(app_client, sample_tenant):
    email = f"{uuid.uuid4().hex}@example.org"
    await _post(app_client, sample_tenant, registration_body(registration={"EmailAddress": email}))
    body = _doubtful(email)
    seen = []
    result = await _post(app_client, sample_tenant, body)
    while result["PAPIAction"] == PROMPT:
        seen.append((result["PAPIProcedureStep"], result["PAPIReturnCode"], result["PAPIPromptType"]))
        assert await _by_barcode(app_client, sample_tenant, body["Barcode"]) == []
        result = await _post(app_client, sample_tenant, _reply(body, result))
    assert seen == [(17, -3110, YES_NO), (34, -3112, ACKNOWLEDGE), (15, -3113, YES_NO), (16, DUPLICATES, YES_NO)]
    _done(result)
    assert result["ChargesAmount"] == 5.0
    assert len(await _by_barcode(app_client, sample_tenant, body["Barcode"])) == 1


@pytest.mark.parametrize(("answered", "next_step"), [(17, 34), (34, 15), (15, 16), (16, None)])
async def test_a_reply_skips_every_prompt_up_to_the_answered_one(app_client, sample_tenant, answered, next_step):
    email = f"{uuid.uuid4().hex}@example.org"
    await _post(app_client, sample_tenant, registration_body(registration={"EmailAddress": email}))
    body = _doubtful(email)
    result = await _post(app_client, sample_tenant, {**body, "ProcedureStep": answered, "Answer": 1})
    if next_step is None:
        _done(result)
    else:
        assert result["PAPIAction"] == PROMPT and result["PAPIProcedureStep"] == next_step


async def test_a_reply_cannot_answer_its_way_past_a_stop(app_client, sample_tenant):
    taken = (await _post(app_client, sample_tenant, registration_body()))["Barcode"]
    body = registration_body(Barcode=taken, registration={"Addresses": []})
    _stopped(
        await _post(app_client, sample_tenant, {**body, "ProcedureStep": 16, "Answer": 1}), -3505, barcode_in_use=True
    )
    body = registration_body(registration={"NameLast": None})
    _stopped(await _post(app_client, sample_tenant, {**body, "ProcedureStep": 17, "Answer": 1}), -3100)


@pytest.mark.parametrize("answer", [None, -1, 0, 3, 4, 5])
async def test_the_first_call_ignores_an_answer_that_does_not_go_on(app_client, sample_tenant, answer):
    """The seed's first call sends Answer "0" with ProcedureStep "1": it starts the conversation."""
    body = registration_body(answer=answer, registration={"Addresses": []})
    result = await _post(app_client, sample_tenant, body)
    _prompted(result, 17, -3110)
    assert result["Answer"] == answer  # given back, as the seed's example answer gives back its Answer


@pytest.mark.parametrize("answer", [1, 2, 6])
async def test_the_seeds_reply_example_after_a_duplicate_prompt_saves(app_client, sample_tenant, answer):
    """The seed answers a step-16 prompt with ProcedureStep 1 and Answer 1 (its text says the step "will be
    set to 2", a step that is not a registration's): a reply to step 1 that goes on accepts the prompt the same
    body raises first, the one the client was shown, and the patron is saved."""
    email = f"{uuid.uuid4().hex}@example.org"
    await _post(app_client, sample_tenant, registration_body(registration={"EmailAddress": email}))
    body = registration_body(registration={"EmailAddress": email})
    _prompted(await _post(app_client, sample_tenant, body), 16, DUPLICATES)
    result = await _post(app_client, sample_tenant, {**body, "ProcedureStep": 1, "Answer": answer})
    _done(result)
    assert len(await _by_barcode(app_client, sample_tenant, body["Barcode"])) == 1


async def test_a_reply_to_step_one_accepts_only_the_first_prompt(app_client, sample_tenant):
    """With several prompts ahead, a reply to step 1 accepts the first (17) and asks the next (34); it is the
    ProcedureStep of the answer that goes past 34."""
    email = f"{uuid.uuid4().hex}@example.org"
    body = _doubtful(email)
    reply = {**body, "ProcedureStep": 1, "Answer": 1}
    _prompted(await _post(app_client, sample_tenant, reply), 34, -3112, ACKNOWLEDGE)
    _prompted(await _post(app_client, sample_tenant, reply), 34, -3112, ACKNOWLEDGE)  # again: 17 again, only
    _prompted(await _post(app_client, sample_tenant, {**body, "ProcedureStep": 34, "Answer": OK}), 15, -3113)
    assert await _by_barcode(app_client, sample_tenant, body["Barcode"]) == []


@pytest.mark.parametrize(
    ("answer", "then"),
    [
        (1, "next"),  # Yes
        (OK, "next"),  # the answer to an Acknowledge prompt
        (IGNORE, "next"),
        (0, "cancelled"),  # No
        (CANCEL, "cancelled"),
        (ABORT, "cancelled"),
        (RETRY, "again"),
    ],
)
async def test_each_prompt_result_answers_a_prompt(app_client, sample_tenant, answer, then):
    body = registration_body(registration={"AddrCheckDate": PAST})
    _prompted(await _post(app_client, sample_tenant, body), 34, -3112, ACKNOWLEDGE)
    result = await _post(app_client, sample_tenant, {**body, "ProcedureStep": 34, "Answer": answer})
    if then == "next":
        _done(result)
    elif then == "again":
        _prompted(result, 34, -3112, ACKNOWLEDGE)
    else:
        assert (result["PAPIReturnCode"], result["PAPIStopType"], result["PAPIProcedureStatus"]) == (
            -3120,
            STOPPED_BY_USER,
            EXIT,
        )
    assert result["Answer"] == answer
    assert len(await _by_barcode(app_client, sample_tenant, body["Barcode"])) == (1 if then == "next" else 0)


async def test_a_reply_answering_none_is_refused(app_client, sample_tenant):
    body = registration_body(step=34, answer=-1, registration={"AddrCheckDate": PAST})
    await _error(await app_client.post(url("/patrons"), json=body, headers=headers(sample_tenant)), 400, -3003)


async def test_a_reply_without_an_answer_is_refused(app_client, sample_tenant):
    resp = await app_client.post(url("/patrons"), json=registration_body(step=17), headers=headers(sample_tenant))
    body = await _error(resp, 400, -3003)
    assert body["Message"] == (
        "An Answer (PAPIPromptResult: 1 Yes, 2 OK or 6 Ignore to go on, 0 No, 3 Cancel or 4 Abort to end, 5 Retry "
        "to ask again) is required when replying to step 17."
    )


async def test_two_instances_answer_the_steps_of_one_conversation(aiohttp_client, settings, db_settings, sample_tenant):
    contract = contract_of(settings.contract_dir)
    first = await aiohttp_client(init_app(settings, db_settings, contract))
    second = await aiohttp_client(init_app(settings, db_settings, contract))
    email = f"{uuid.uuid4().hex}@example.org"
    await _post(first, sample_tenant, registration_body(registration={"EmailAddress": email}))
    body = _doubtful(email)
    result = await _post(first, sample_tenant, body)
    steps = []
    for client in (second, first, second, first):
        steps.append(result["PAPIProcedureStep"])
        result = await _post(client, sample_tenant, _reply(body, result))
    assert steps == [17, 34, 15, 16]
    _done(result)
    assert (await stored_patron(second, sample_tenant, result["PatronID"]))["Barcode"] == body["Barcode"]


# -- updates ---------------------------------------------------------------------------------------------
async def test_an_update_replaces_the_registration_and_keeps_what_the_server_owns(app_client, sample_tenant):
    patron = await new_patron(
        app_client,
        sample_tenant,
        SystemBlocks=256,
        Registration={
            "NameFirst": "Old",
            "NameLast": "Name",
            "User1": "kept?",
            "RegistrationDate": "2024-01-01T00:00:00+00:00",
        },
    )
    before = await stored_patron(app_client, sample_tenant, patron)
    body = registration_body(
        OTHER_BRANCH,
        PatronID=patron,
        ChargesAmount=50,
        SystemBlocks=0,
        CreatorID=7,
        registration={"PatronID": 0, "Password": "x", "EmailAddress": "new@example.org"},
    )
    result = await _put(app_client, sample_tenant, patron, body)
    _done(result)
    assert result["Message"] == f"Patron {patron} updated."
    after = await stored_patron(app_client, sample_tenant, patron)
    assert after["Barcode"] == body["Barcode"] and after["OrganizationID"] == OTHER_BRANCH
    assert (after["SystemBlocks"], after.get("ChargesAmount"), after.get("CreatorID")) == (256, None, None)
    assert after["ModifierID"] is None and after["_version"] == before["_version"] + 1
    registration = after["Registration"]
    assert registration["EmailAddress"] == "new@example.org" and "User1" not in registration
    assert "Password" not in registration and registration["PatronID"] == patron
    assert registration["RegistrationDate"] == "2024-01-01T00:00:00+00:00"
    assert registration["UpdateDate"] > before["metadata"]["createdDate"][:19]
    assert after["metadata"]["updatedByUserId"] == USER


async def test_an_abandoned_update_changes_nothing(app_client, sample_tenant):
    patron = await new_patron(app_client, sample_tenant)
    before = await stored_patron(app_client, sample_tenant, patron)
    body = registration_body(registration={"Addresses": [], "AddrCheckDate": PAST})
    first = await _put(app_client, sample_tenant, patron, body)
    _prompted(first, 17, -3110)
    assert first["PatronID"] == patron and first["Registration"]["AddrCheckDate"] == PAST
    second = await _put(app_client, sample_tenant, patron, _reply(body, first))
    _prompted(second, 34, -3112, ACKNOWLEDGE)
    assert await stored_patron(app_client, sample_tenant, patron) == before  # the client walked away
    cancelled = await _put(app_client, sample_tenant, patron, _reply(body, second, 0))
    assert cancelled["PAPIReturnCode"] == -3120
    assert await stored_patron(app_client, sample_tenant, patron) == before


@pytest.mark.parametrize("sent", [{"PatronID": 1001}, {"Registration": {"PatronID": 1001}}])
async def test_an_update_refuses_another_patrons_id(app_client, sample_tenant, sent):
    patron = await new_patron(app_client, sample_tenant)
    body = registration_body()
    body["Registration"].update(sent.pop("Registration", {}))
    resp = await app_client.put(url(f"/patrons/{patron}"), json={**body, **sent}, headers=headers(sample_tenant))
    error = await _error(resp, 400, -3002)
    assert error["Message"] == f"PatronID 1001 in the body is not the patron of the URL ({patron})."


async def test_update_failures(app_client, sample_tenant):
    body = registration_body()
    h = headers(sample_tenant)
    await _error(await app_client.put(url(f"/patrons/{UNKNOWN}"), json=body, headers=h), 404, -3000)
    await _error(await app_client.put(url(f"/patrons/{SECURED_PATRON}"), json=body, headers=h), 409, -3001)
    patron = await new_patron(app_client, sample_tenant)
    first = await _put(app_client, sample_tenant, patron, registration_body(registration={"Addresses": []}))
    await secure(app_client, sample_tenant, patron)
    # secured midway: every later step is refused, an answer no as well
    for answer in (1, 0):
        resp = await app_client.put(url(f"/patrons/{patron}"), json=_reply(body, first, answer), headers=h)
        await _error(resp, 409, -3001)


@pytest.mark.parametrize(
    ("method", "path", "permissions", "workstation"),
    [
        ("POST", "/patrons", (), 1),
        ("POST", "/patrons", (REGISTRATION_ACCESS, REGISTRATION_MODIFY), 1),
        ("POST", "/patrons", (REGISTRATION_CREATE,), 1),
        ("POST", "/patrons", (REGISTRATION_ACCESS, REGISTRATION_CREATE), DISABLED_WORKSTATION),
        ("PUT", "/patrons/1001", (REGISTRATION_ACCESS, REGISTRATION_CREATE), 1),
        ("PUT", "/patrons/1001", (REGISTRATION_MODIFY,), 1),
        ("PUT", "/patrons/1001", (REGISTRATION_ACCESS, REGISTRATION_MODIFY), DISABLED_WORKSTATION),
        ("PUT", "/patrons/1001", (REGISTRATION_ACCESS, REGISTRATION_MODIFY), UNKNOWN),
    ],
)
async def test_unprivileged_calls_are_refused(app_client, sample_tenant, method, path, permissions, workstation):
    body = registration_body()
    resp = await app_client.request(
        method, url(path, workstation=workstation), json=body, headers=headers(sample_tenant, permissions)
    )
    await _error(resp, 403, -2)
    assert await _by_barcode(app_client, sample_tenant, body["Barcode"]) == []


async def test_the_right_permissions_are_enough(app_client, sample_tenant):
    resp = await app_client.post(
        url("/patrons"),
        json=registration_body(),
        headers=headers(sample_tenant, (REGISTRATION_ACCESS, REGISTRATION_CREATE)),
    )
    _done(await resp.json())


@pytest.mark.parametrize(
    "change",
    [
        # what Json.NET refuses to bind, and values the contract does not allow
        {"ProcedureStep": "one"},
        {"ProcedureStep": 2},
        {"ProcedureStep": None},
        {"ProcedureStep": ""},  # "" binds as null, and ProcedureStep is not nullable
        {"ProcedureStep": 36},
        {"ProcedureStep": 1.0},
        {"Answer": 7},
        {"Answer": "Yes"},  # Answer is an Int, not an enum: a name does not bind
        {"Answer": True},
        {"Answer": "1.5"},
        {"PatronCodeID": "1 2"},
        {"PatronCodeID": "2147483648"},
        {"OrganizationID": None},
        {"Registration": None},
        {"Registration": {"NameLast": 5.5}},
        {"Registration": {"ExcludeFromInactivePatron": None}},
        {"Registration": {"ExcludeFromInactivePatron": "yes"}},
        {"Registration": {"ExcludeFromInactivePatron": "1"}},
        {"Registration": {"Birthdate": "4/31/2013"}},
        {"Registration": {"Birthdate": 19900101}},
        {"Registration": {"TxtPhoneNumber": 256}},
        {"Registration": {"Addresses": [{"CountryID": "US"}]}},
        {"Registration": {"Addresses": [{"Country": "US"}]}},
        {"Registration": {"Addresses": [{"AddressTypeID": None}]}},
        {"Barcode": "1" * 21},
        {"RegistrationPayment": -1},
        {"RegistrationPayment": "1.2.3"},
        {"PatronAccountTxnCode": 11},
        {"PatronAccountTxnCode": "five"},
        {"Unknown": 1},
        {"ReturnReceiptUrl": None},
    ],
)
async def test_bad_types_are_refused_and_change_nothing(app_client, sample_tenant, change):
    body = registration_body()
    if isinstance(change.get("Registration"), dict):
        change = {**change, "Registration": {**body["Registration"], **change["Registration"]}}
    body.update(change)
    for method, path in (("POST", "/patrons"), ("PUT", "/patrons/1001")):
        resp = await app_client.request(method, url(path), json=body, headers=headers(sample_tenant))
        await _error(resp, 400, -1)
    assert await _by_barcode(app_client, sample_tenant, body["Barcode"]) == []


async def test_a_missing_procedure_step_is_refused(app_client, sample_tenant):
    body = registration_body()
    del body["ProcedureStep"]
    await _error(await app_client.post(url("/patrons"), json=body, headers=headers(sample_tenant)), 400, -1)


# -- saving ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("write", ["insert", "update"])
async def test_a_save_that_fails_midway_leaves_nothing(app_client, sample_tenant, monkeypatch, write):
    patron = await new_patron(app_client, sample_tenant, HILLVIEW_BRANCH) if write == "update" else None
    before = await stored_patron(app_client, sample_tenant, patron) if patron else None
    original = getattr(RecordStore, write)

    async def write_then_fail(self, *args, **kwargs):
        await original(self, *args, **kwargs)
        raise RuntimeError("injected failure after the write")

    body = registration_body(HILLVIEW_BRANCH, registration={"ExpirationDate": FUTURE})
    monkeypatch.setattr(RecordStore, write, write_then_fail)
    path = "/patrons" if patron is None else f"/patrons/{patron}"
    resp = await app_client.request(
        "POST" if patron is None else "PUT",
        url(path),
        json={**body, "ProcedureStep": 15, "Answer": 1},
        headers=headers(sample_tenant),
    )
    await _error(resp, 500, -4)
    monkeypatch.undo()
    if patron is None:
        assert await _by_barcode(app_client, sample_tenant, body["Barcode"]) == []
    else:
        assert await stored_patron(app_client, sample_tenant, patron) == before


async def test_concurrent_registrations_of_one_barcode_save_exactly_one(app_client, sample_tenant):
    barcode = f"C{uuid.uuid4().int % 10**12:012d}"
    bodies = [registration_body(Barcode=barcode) for _ in range(6)]
    results = await asyncio.gather(*(_post(app_client, sample_tenant, body) for body in bodies))
    saved = [r for r in results if r["Success"]]
    assert len(saved) == 1
    for result in results:
        if not result["Success"]:
            _stopped(result, -3505, barcode_in_use=True)
    [stored] = await _by_barcode(app_client, sample_tenant, barcode)
    assert stored["PatronID"] == saved[0]["PatronID"]


async def test_concurrent_updates_to_one_barcode_save_exactly_one(app_client, sample_tenant):
    patrons = [await new_patron(app_client, sample_tenant) for _ in range(4)]
    barcode = f"C{uuid.uuid4().int % 10**12:012d}"
    results = await asyncio.gather(
        *(_put(app_client, sample_tenant, p, registration_body(Barcode=barcode)) for p in patrons)
    )
    assert sum(r["Success"] for r in results) == 1
    assert len(await _by_barcode(app_client, sample_tenant, barcode)) == 1


async def test_concurrent_identical_renewals_charge_exactly_once(app_client, sample_tenant):
    """Ten identical replies renewing one patron at a charging branch, at once: the locked record decides,
    so the first to save charges and the others find the registration already renewed."""
    patron = await new_patron(app_client, sample_tenant, HILLVIEW_BRANCH)
    body = registration_body(
        HILLVIEW_BRANCH, step=16, answer=1, registration={"ExpirationDate": "2030-01-01T00:00:00+00:00"}
    )
    results = await asyncio.gather(*(_put(app_client, sample_tenant, patron, copy.deepcopy(body)) for _ in range(10)))
    for result in results:
        _done(result)
    charged = [r for r in results if r["AdditionalMessages"]]
    assert [r["AdditionalMessages"] for r in charged] == [
        ["Registration charge of 5.00 recorded; 5.00 added to the patron's charges."]
    ]
    stored = await stored_patron(app_client, sample_tenant, patron)
    assert len(stored["RegistrationCharges"]) == 1 and stored["ChargesAmount"] == 5.0
