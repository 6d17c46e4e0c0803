"""The seed document of Polaris-style patron registration (``002_04ea5ab52a4d83cb.txt``), table by table:
DtoPatronRegUpdateData, DtoPatronRegistration and DtoPatronAddress are the request schemas (types and
nullability), the example answer is the DtoPatronResult schema, every PAPI enum is papi.py's, the schemas'
and the RAML's, and the document's example bodies work as written: its request (Strings for Ints, "4/11/2013"
for a DateTime, the required Booleans left out) prompts about duplicates as its example answer does, its
reply (ProcedureStep 1, Answer 1) saves the patron.

Where the document contradicts itself, docs/polaris.md says which reading was taken (``READINGS`` below
holds the cases the tables meet).
"""

from __future__ import annotations

import copy
import json
import re

import pytest

from mod_users.config import PROJECT_ROOT
from mod_users.resources.polaris.registration import duplicates, papi
from tests.polaris.support import admin_headers, headers, is_polaris_error, url
from tests.seeds.contract import CONTRACT, SCHEMAS, SEED_TYPES, endpoint, fits, json_type, properties, types_of
from tests.seeds.documents import REGISTRATION, Property, registration_page, text

PAGE = registration_page()
UPDATE = "polaris/patron-registration-update.json"
RESULT = "polaris/patron-result.json"
# The .NET value types of the tables: their "Nullable" decides whether null is allowed (strings, objects and
# lists are references: Json.NET binds null to them whatever the table says).
VALUE_TYPES = {"Int", "Integer", "Byte", "Bool", "Boolean", "Decimal", "DateTime", "Datetime"}
INT32 = (-(2**31), 2**31 - 1)
# Rows whose nullability the document's own example contradicts: its request sends null.
READINGS = {("DtoPatronAddress", "PatronID"): "nullable: the example request sends null"}
TABLES = {
    "DtoPatronRegUpdateData": (PAGE.update_data, ()),
    "DtoPatronRegistration": (PAGE.registration, ("Registration",)),
    "DtoPatronAddress": (PAGE.address, ("Registration", "Addresses")),
}
ENUM_CLASSES = {
    "PAPIProcedureStatus": papi.ProcedureStatus,
    "PAPIProcedure": papi.Procedure,
    "PAPIProcedureStep": papi.Step,
    "PAPIAction": papi.Action,
    "PAPIStopType": papi.StopType,
    "PAPIPromptType": papi.PromptType,
    "PAPIPromptResult": papi.PromptResult,
}


def _snake(name: str) -> str:
    """A seed enum member's name as papi.py writes it (CheckOut -> CHECK_OUT, CreateOTFItem -> CREATE_OTF_ITEM)."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).upper()


def _rows():
    for table, (rows, path) in TABLES.items():
        for row in rows:
            yield pytest.param(table, path, row, id=f"{table}.{row.name}")


@pytest.mark.parametrize(("table", "path", "row"), list(_rows()))
def test_each_dto_property_is_in_the_request_schema_with_its_type_and_nullability(table, path, row: Property):
    props = properties(UPDATE, *path)
    assert row.name in props, row
    node = props[row.name]
    types = types_of(node)
    assert SEED_TYPES[row.type] in types, (row, types)
    if (table, row.name) in READINGS:
        assert "null" in types
    elif row.type in VALUE_TYPES:
        assert ("null" in types) == row.nullable, (row, types)
    if SEED_TYPES[row.type] == "integer":
        low, high = (0, 255) if row.type == "Byte" else INT32
        bounds = node.get("enum") or [node.get("minimum"), node.get("maximum")]
        assert None not in bounds and low <= min(bounds) and max(bounds) <= high, (row, node)


def test_the_tables_list_what_the_example_request_sends():
    """The example request names only properties of the tables (the required Booleans it leaves out)."""
    names = {table: {p.name for p in rows} for table, (rows, _) in TABLES.items()}
    request = PAGE.request_example
    assert set(request) <= names["DtoPatronRegUpdateData"]
    assert set(request["Registration"]) <= names["DtoPatronRegistration"]
    assert set(request["Registration"]["Addresses"][0]) <= names["DtoPatronAddress"]
    assert not {"ExcludeFromAlmostOverdueAutoRenew", "StaffAcceptedUseSingleName"} & set(request["Registration"])


def test_the_example_answer_is_the_result_schema():
    answer = PAGE.response_example
    for path, example in (
        ((), answer),
        (("Registration",), answer["Registration"]),
        (("Registration", "Addresses"), answer["Registration"]["Addresses"][0]),
        (("DuplicatePatrons",), answer["DuplicatePatrons"][0]),
        (("DuplicatePatronDisplayProperties",), answer["DuplicatePatronDisplayProperties"][0]),
    ):
        props = properties(RESULT, *path)
        for name, value in example.items():
            assert name in props, (path, name)
            assert fits(json_type(value), types_of(props[name])), (path, name, value, props[name])
    # a duplicate entry has exactly the example's fields, and MatchedOn (ours)
    assert set(properties(RESULT, "DuplicatePatrons")) == set(answer["DuplicatePatrons"][0]) | {"MatchedOn"}
    assert list(duplicates.DISPLAY_PROPERTIES) == answer["DuplicatePatronDisplayProperties"]


@pytest.mark.parametrize("enum", sorted(ENUM_CLASSES))
def test_each_papi_enum_is_papis_the_schemas_and_the_ramls(enum):
    members = PAGE.enums[enum]
    assert {_snake(name): value for name, value in members.items()} == {m.name: m.value for m in ENUM_CLASSES[enum]}
    values = sorted(members.values())
    result = properties(RESULT)
    if enum == "PAPIPromptResult":  # the Answer, given and given back: every value, as a range
        for node in (properties(UPDATE)["Answer"], result["Answer"]):
            assert (node["minimum"], node["maximum"]) == (values[0], values[-1]) == (-1, 6)
            assert values == list(range(values[0], values[-1] + 1))
    else:
        assert sorted(result[enum]["enum"]) == values
    if enum == "PAPIProcedure":
        assert sorted(result["PAPIActionProcedure"]["enum"]) == values
    raml = (PROJECT_ROOT / "ramls" / "polaris-patron-registration.raml").read_text()
    row = next(line for line in raml.splitlines() if line.count("|") > 2 and line.split("|")[1].split()[0] == enum)
    assert row.split("|")[2].strip() == ", ".join(f"{v} {n}" for n, v in members.items()), row


def test_the_code_table_is_in_the_raml():
    for method, path in (("PUT", "patrons/id"), ("POST", "patrons")):
        end = endpoint(method, path)
        assert set(PAGE.codes) <= set(end.responses)


def test_the_readings_of_its_contradictions_are_still_what_it_says():
    """The document's prose against its example answer and enums: these are the sentences docs/polaris.md
    decides between; if the copy changes, the decisions must be looked at again."""
    page = text(REGISTRATION)
    assert "a -3001 was returned" in page and PAGE.response_example["PAPIReturnCode"] == -3608
    assert "Given the value 2 (Prompt)" in page and PAGE.response_example["PAPIAction"] == 1
    assert "the procedure step will be set to 2" in page and PAGE.reply_example["ProcedureStep"] == 1
    assert PAGE.enums["PAPIAction"]["Prompt"] == 2 and PAGE.enums["PAPIProcedureStep"]["CheckPatronBlocks"] == 2


# -- the example bodies, live ---------------------------------------------------------------------------
JOHN = {
    "PatronID": 356950,  # the example request's PatronID and Barcode
    "Barcode": "21756003332022",
    "PatronCodeID": 1,
    "OrganizationID": 3,
    "Registration": {"NameFirst": "John", "NameLast": "Smith"},
}
JANE = {  # sharing John's email address: a possible duplicate, as in the example answer
    "Barcode": "21756003332099",
    "OrganizationID": 3,
    "Registration": {"NameFirst": "Jane", "NameLast": "Smith", "EmailAddress": "abc@gmail.com"},
}


async def _stored(client, tenant, patron_id):
    found = await (
        await client.get("/polaris/patrons", params={"query": f"PatronID=={patron_id}"}, headers=admin_headers(tenant))
    ).json()
    return found["patrons"][0]


async def test_the_example_bodies_work_as_written(app_client, fresh_sample_tenant):
    tenant, h = fresh_sample_tenant, headers(fresh_sample_tenant)
    for patron in (JOHN, JANE):
        resp = await app_client.post("/polaris/patrons", json=patron, headers=admin_headers(tenant))
        assert resp.status == 201, await resp.text()
    before = await _stored(app_client, tenant, 356950)
    example = PAGE.response_example

    # The example request, exactly as written, updating patron 356950: the duplicate prompt of the example.
    resp = await app_client.put(url("/patrons/356950"), json=copy.deepcopy(PAGE.request_example), headers=h)
    answer = await resp.json()
    assert resp.status == 200, answer
    assert set(example) <= set(answer)
    for name in ("PAPIProcedure", "PAPIProcedureStep", "PAPIPromptType", "PAPIStopType", "PAPIReturnCode"):
        assert answer[name] == example[name], name
    for name in ("PAPIActionProcedure", "Success", "Message", "DuplicateBarcodeExists", "SuggestedUserNames"):
        assert answer[name] == example[name], name
    assert (answer["ProcedureStep"], answer["Answer"], answer["RegCharge"]) == (None, 0, 0.0)
    assert answer["PAPIAction"] == 2  # Prompt, as the prose and the enum have it (the example writes 1)
    assert answer["DuplicatePatronDisplayProperties"] == example["DuplicatePatronDisplayProperties"]
    [duplicate] = answer["DuplicatePatrons"]
    assert set(duplicate) == set(example["DuplicatePatrons"][0]) | {"MatchedOn"}
    assert (duplicate["PatronName"], duplicate["Email"], duplicate["BranchAbr"]) == (
        "Smith, Jane",
        "abc@gmail.com",
        "RPL-MAIN",
    )
    registration = answer["Registration"]
    assert (registration["DeliveryOptionID"], registration["Gender"]) == (1, 1)  # "1" bound as an Int
    assert registration["ExcludeFromInactivePatron"] is False  # left out: Json.NET's false
    _valid(answer)
    assert await _stored(app_client, tenant, 356950) == before

    # The example reply: ProcedureStep 1, Answer 1, the same registration: saved.
    resp = await app_client.put(url("/patrons/356950"), json=copy.deepcopy(PAGE.reply_example), headers=h)
    saved = await resp.json()
    assert (resp.status, saved["Success"], saved["PAPIReturnCode"], saved["Message"]) == (
        200,
        True,
        0,
        "Patron 356950 updated.",
    )
    _valid(saved)
    stored = (await _stored(app_client, tenant, 356950))["Registration"]
    assert (stored["Username"], stored["EmailAddress"], stored["Gender"], stored["DeliveryOptionID"]) == (
        "ramarao",
        "abc@gmail.com",
        1,
        1,
    )
    assert stored["Addresses"][0]["CountryName"] == "USA" and "Password" not in stored

    # The reply as the prose has it (the step "set to 2"): 2 is CheckPatronBlocks, not a step of a registration.
    resp = await app_client.put(url("/patrons/356950"), json={**PAGE.reply_example, "ProcedureStep": 2}, headers=h)
    assert resp.status == 400 and is_polaris_error(await resp.json(), -1)

    # The example request posted as a new registration: the barcode is now John's.
    resp = await app_client.post(url("/patrons"), json=copy.deepcopy(PAGE.request_example), headers=h)
    stopped = await resp.json()
    assert (stopped["DuplicateBarcodeExists"], stopped["PAPIAction"], stopped["PAPIStopType"]) == (True, 1, 2)
    _valid(stopped)


def _valid(answer) -> None:
    """The live answer against the answer schema of the contract."""
    assert SCHEMAS.errors(RESULT, answer) == [], SCHEMAS.errors(RESULT, answer)


def test_the_walk_through_sends_the_example_request_as_written():
    """docs/polaris.md's walk-through writes the example request out: it is the document's, byte for byte."""
    docs = (PROJECT_ROOT / "docs" / "polaris.md").read_text()
    written = docs.split("cat > seed-request.json <<'END'\n", 1)[1].split("END\n", 1)[0]
    page = text(REGISTRATION)
    assert written in page and json.loads(written) == PAGE.request_example


def test_the_result_schema_is_the_answer_of_both_calls():
    for method, path in (("PUT", "patrons/id"), ("POST", "patrons")):
        assert CONTRACT.schema_key(endpoint(method, path).responses[200].bodies["application/json"]) == RESULT
